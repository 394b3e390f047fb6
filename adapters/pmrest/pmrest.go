// Package pmrest serves the plugin manager's REST interface exactly as the
// original son-mano-pluginmanager did with Flask-RESTful on port 8001
// (wire-protocol §3.4), so that son-pm-cli, scripts and dashboards written
// for it keep working:
//
//	GET    /api/plugins                  200 ["<uuid>", ...]
//	GET    /api/plugins/<uuid>           200 {uuid, name, version, description, state,
//	                                          registered_at, last_heartbeat_at}; 404 {}
//	DELETE /api/plugins/<uuid>           sends lifecycle.stop; 200 {}; 404 {}
//	PUT    /api/plugins/<uuid>/lifecycle body "{\"target_state\": \"start\"}" (a JSON
//	                                     string holding JSON, as son-pm-cli sends it) or,
//	                                     manoctl's addition (§14.2 P7), the plain object
//	                                     {"target_state": "start"}; start|pause|stop: 200 {};
//	                                     no target_state: 500 {"message": "malformed request"};
//	                                     other value: 500 {"message": "Malformed request"};
//	                                     unknown uuid: 404 {}
//
// Responses are formatted as the original's Flask app in debug mode wrote
// them: JSON indented by four spaces, a trailing newline, Content-Type
// application/json. Unknown paths and methods get Flask's 404 and 405
// bodies.
//
// Differences from the original, none of which changes an answer the
// original gave with a 2xx or the documented 404/500 codes:
//   - the lifecycle body is read whatever its Content-Type (Flask ignored a
//     body not labelled application/json and failed with 500);
//   - a body that is not JSON at all gets Flask's 400 answer, a body that
//     is JSON but holds no object gets 500 "malformed request" (the original
//     crashed with 500 "Internal Server Error");
//   - the server listens on a loopback address unless told otherwise: the
//     interface has no authentication (the original bound 0.0.0.0).
package pmrest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/manoctl/manoctl/reconcile/pm"
)

// Manager is what the REST interface needs from the plugin manager;
// *pm.Manager implements it.
type Manager interface {
	// Plugins lists the plugin table.
	Plugins() []pm.Plugin
	// Plugin returns one row.
	Plugin(uuid string) (pm.Plugin, bool)
	// Lifecycle sends platform.management.plugin.<uuid>.lifecycle.<action>;
	// it returns an error wrapping pm.ErrUnknownPlugin for an unknown uuid.
	Lifecycle(ctx context.Context, uuid, action string) error
}

var _ Manager = (*pm.Manager)(nil)

// The texts of the original's answers, byte for byte.
const (
	// MsgMissingTargetState is the answer to a lifecycle body without
	// target_state.
	MsgMissingTargetState = "malformed request"
	// MsgUnknownTargetState is the answer to a target_state other than
	// start, pause or stop.
	MsgUnknownTargetState = "Malformed request"

	// Werkzeug's texts for the errors Flask-RESTful answers itself.
	msgNotFound         = "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again."
	msgMethodNotAllowed = "The method is not allowed for the requested URL."
	msgBadRequest       = "The browser (or proxy) sent a request that this server could not understand."
	msgInternal         = "Internal Server Error"
)

// Lifecycle target states accepted by PUT /api/plugins/<uuid>/lifecycle.
const (
	TargetStart = "start"
	TargetPause = "pause"
	TargetStop  = "stop"
)

// maxBody bounds a lifecycle request body; real ones are about 30 bytes.
const maxBody = 64 << 10

// Handler serves the REST interface over a Manager.
type Handler struct {
	m   Manager
	log *slog.Logger
}

var _ http.Handler = (*Handler)(nil)

// NewHandler returns the REST interface for m. A nil logger discards.
func NewHandler(m Manager, logger *slog.Logger) *Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{m: m, log: logger}
}

// empty is the original's {} answer.
var empty = struct{}{}

type message struct {
	Message string `json:"message"`
}

// ServeHTTP routes as the original's three Flask-RESTful resources did.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/api/plugins")
	if !ok {
		h.write(w, r, http.StatusNotFound, message{msgNotFound})
		return
	}
	switch {
	case rest == "":
		h.route(w, r, "GET", func() { h.list(w, r) })
	case strings.HasPrefix(rest, "/"):
		id, sub, _ := strings.Cut(rest[1:], "/")
		switch {
		case id == "":
			h.write(w, r, http.StatusNotFound, message{msgNotFound})
		case sub == "" && !strings.HasSuffix(rest, "/"):
			h.route(w, r, "GET, DELETE", func() {
				if r.Method == http.MethodDelete {
					h.delete(w, r, id)
				} else {
					h.get(w, r, id)
				}
			})
		case sub == "lifecycle":
			h.route(w, r, "PUT", func() { h.lifecycle(w, r, id) })
		default:
			h.write(w, r, http.StatusNotFound, message{msgNotFound})
		}
	default:
		h.write(w, r, http.StatusNotFound, message{msgNotFound})
	}
}

// route checks the method against allowed (Flask adds HEAD to GET and
// answers OPTIONS itself) and runs serve.
func (h *Handler) route(w http.ResponseWriter, r *http.Request, allowed string, serve func()) {
	methods := strings.Split(allowed, ", ")
	if contains(methods, "GET") {
		methods = append(methods, "HEAD")
	}
	methods = append(methods, "OPTIONS")
	switch {
	case r.Method == http.MethodOptions:
		w.Header().Set("Allow", strings.Join(methods, ", "))
		w.WriteHeader(http.StatusOK)
	case contains(methods, r.Method):
		serve()
	default:
		w.Header().Set("Allow", strings.Join(methods, ", "))
		h.write(w, r, http.StatusMethodNotAllowed, message{msgMethodNotAllowed})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// list answers GET /api/plugins: the uuids, in registration order.
func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	plugins := h.m.Plugins()
	ids := make([]string, 0, len(plugins))
	for _, p := range plugins {
		ids = append(ids, p.UUID)
	}
	h.write(w, r, http.StatusOK, ids)
}

// get answers GET /api/plugins/<uuid> with the plugin_dict entry.
func (h *Handler) get(w http.ResponseWriter, r *http.Request, id string) {
	p, ok := h.m.Plugin(id)
	if !ok {
		h.log.Debug("pmrest: lookup error", "uuid", id)
		h.write(w, r, http.StatusNotFound, empty)
		return
	}
	h.write(w, r, http.StatusOK, p.Info())
}

// delete answers DELETE /api/plugins/<uuid>: the plugin is asked to stop;
// its record goes when it deregisters.
func (h *Handler) delete(w http.ResponseWriter, r *http.Request, id string) {
	if _, ok := h.m.Plugin(id); !ok {
		h.write(w, r, http.StatusNotFound, empty)
		return
	}
	h.send(w, r, id, TargetStop)
}

// lifecycle answers PUT /api/plugins/<uuid>/lifecycle.
func (h *Handler) lifecycle(w http.ResponseWriter, r *http.Request, id string) {
	// The original looked the plugin up before it read the body.
	if _, ok := h.m.Plugin(id); !ok {
		h.write(w, r, http.StatusNotFound, empty)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		h.write(w, r, http.StatusBadRequest, message{msgBadRequest})
		return
	}
	target, status, msg := parseTargetState(body)
	if status != http.StatusOK {
		h.log.Warn("pmrest: malformed lifecycle request", "uuid", id, "body", truncate(body, 200))
		h.write(w, r, status, message{msg})
		return
	}
	h.send(w, r, id, target)
}

// parseTargetState reads target_state from a lifecycle body: a JSON
// string that holds a JSON object (the original's only form) or a JSON
// object. It returns 200 and the state, or the status and message to
// answer with.
func parseTargetState(body []byte) (string, int, string) {
	var v any
	if err := strictUnmarshal(body, &v); err != nil {
		return "", http.StatusBadRequest, msgBadRequest
	}
	if s, ok := v.(string); ok {
		// json.loads(request.json): the string holds the JSON document.
		v = nil
		if err := strictUnmarshal([]byte(s), &v); err != nil {
			return "", http.StatusInternalServerError, MsgMissingTargetState
		}
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return "", http.StatusInternalServerError, MsgMissingTargetState
	}
	ts, present := obj["target_state"]
	if !present || ts == nil { // dict.get returns None for both
		return "", http.StatusInternalServerError, MsgMissingTargetState
	}
	switch ts {
	case TargetStart, TargetPause, TargetStop:
		return ts.(string), http.StatusOK, ""
	}
	return "", http.StatusInternalServerError, MsgUnknownTargetState
}

// strictUnmarshal decodes exactly one JSON value.
func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after JSON value")
	}
	return nil
}

// send delivers the lifecycle notification and answers 200 {}.
func (h *Handler) send(w http.ResponseWriter, r *http.Request, id, action string) {
	if err := h.m.Lifecycle(r.Context(), id, action); err != nil {
		if errors.Is(err, pm.ErrUnknownPlugin) {
			// Deregistered between the lookup and the send.
			h.write(w, r, http.StatusNotFound, empty)
			return
		}
		h.log.Error("pmrest: lifecycle notification not sent", "uuid", id, "target_state", action, "err", err)
		h.write(w, r, http.StatusInternalServerError, message{msgInternal})
		return
	}
	h.log.Info("pmrest: lifecycle notification sent", "uuid", id, "target_state", action)
	h.write(w, r, http.StatusOK, empty)
}

// write answers as Flask-RESTful in debug mode: json.dumps(v, indent=4)
// plus a newline.
func (h *Handler) write(w http.ResponseWriter, r *http.Request, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "    ")
	if err := enc.Encode(v); err != nil {
		h.log.Error("pmrest: encode answer", "err", err)
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString("{\n    \"message\": \"" + msgInternal + "\"\n}\n")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
