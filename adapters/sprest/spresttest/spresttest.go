// Package spresttest is a fake SONATA service platform for tests: an NSR
// and VNFR repository (son-catalogue-repos' records API) and a monitoring
// manager in one httptest server. It records every request, answers as
// the real services did (200 with the stored record plus the keys the
// repository adds; 204 for a monitoring DELETE), and can be taken down
// and brought back.
package spresttest

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Paths served, with the bases manoctl derives for this server (see
// sprest.FromURLs).
const (
	NSRPath        = "/records/nsr/ns-instances"
	VNFRPath       = "/records/vnfr/vnf-instances"
	MonitoringBase = "/api/v1/"
	MonitorNew     = MonitoringBase + "service/new"
	MonitorDelete  = MonitoringBase + "services/"
)

// Request is one request the server received.
type Request struct {
	Method      string
	Path        string
	ContentType string
	// Body is the decoded JSON body (nil without body).
	Body map[string]any
	// Raw is the body as sent.
	Raw []byte
	// Refused marks requests answered with DownStatus while down.
	Refused bool
}

// String is "METHOD path".
func (r Request) String() string { return r.Method + " " + r.Path }

// Server is the fake platform.
type Server struct {
	*httptest.Server

	mu       sync.Mutex
	reqs     []Request
	nsrs     map[string]map[string]any
	vnfrs    map[string]map[string]any
	monitors map[string]map[string]any
	down     bool
	// DownStatus is the answer while down (default 503).
	downStatus int
	delay      time.Duration
	seq        int
}

// New starts a server on a loopback port.
func New() *Server {
	s := newServer()
	s.Server = httptest.NewServer(s)
	return s
}

// NewOnListener serves on ln (to bring a server back on the address of
// one that was closed).
func NewOnListener(ln net.Listener) *Server {
	s := newServer()
	s.Server = httptest.NewUnstartedServer(s)
	s.Server.Listener.Close()
	s.Server.Listener = ln
	s.Server.Start()
	return s
}

func newServer() *Server {
	return &Server{
		nsrs: map[string]map[string]any{}, vnfrs: map[string]map[string]any{}, monitors: map[string]map[string]any{},
		downStatus: http.StatusServiceUnavailable,
	}
}

// SetDown makes the server answer every request with status (0: 503)
// until SetDown(false, 0).
func (s *Server) SetDown(down bool, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
	if status == 0 {
		status = http.StatusServiceUnavailable
	}
	s.downStatus = status
}

// SetDelay delays every answer (timeouts).
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
}

// Requests returns the requests received so far; withRefused includes
// those answered while down.
func (s *Server) Requests(withRefused bool) []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Request
	for _, r := range s.reqs {
		if withRefused || !r.Refused {
			out = append(out, r)
		}
	}
	return out
}

// Reset forgets the requests received (not the records).
func (s *Server) Reset() {
	s.mu.Lock()
	s.reqs = nil
	s.mu.Unlock()
}

// NSR returns the stored NSR id, as the repository holds it.
func (s *Server) NSR(id string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nsrs[id]
}

// VNFR returns the stored VNFR id.
func (s *Server) VNFR(id string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.vnfrs[id]
}

// Monitored returns the monitoring message stored for a service.
func (s *Server) Monitored(servID string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.monitors[servID]
}

// DropRecords forgets every stored record (a repository wiped).
func (s *Server) DropRecords() {
	s.mu.Lock()
	s.nsrs = map[string]map[string]any{}
	s.vnfrs = map[string]map[string]any{}
	s.mu.Unlock()
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	req := Request{Method: r.Method, Path: r.URL.Path, ContentType: r.Header.Get("Content-Type"), Raw: raw}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &req.Body); err != nil {
			req.Body = map[string]any{"_invalid_json": err.Error()}
		}
	}
	s.mu.Lock()
	delay := s.delay
	if s.down {
		req.Refused = true
		s.reqs = append(s.reqs, req)
		status := s.downStatus
		s.mu.Unlock()
		http.Error(w, "service unavailable", status)
		return
	}
	s.reqs = append(s.reqs, req)
	s.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}

	switch {
	case r.URL.Path == NSRPath || strings.HasPrefix(r.URL.Path, NSRPath+"/"):
		s.records(w, r, req, s.nsrs, NSRPath)
	case r.URL.Path == VNFRPath || strings.HasPrefix(r.URL.Path, VNFRPath+"/"):
		s.records(w, r, req, s.vnfrs, VNFRPath)
	case r.URL.Path == MonitorNew && r.Method == http.MethodPost:
		if req.Body == nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "no body"})
			return
		}
		svc, _ := req.Body["service"].(map[string]any)
		id, _ := svc["sonata_srv_id"].(string)
		s.mu.Lock()
		s.monitors[id] = req.Body
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"status": "success"})
	case strings.HasPrefix(r.URL.Path, MonitorDelete) && r.Method == http.MethodDelete:
		id := strings.TrimPrefix(r.URL.Path, MonitorDelete)
		s.mu.Lock()
		_, ok := s.monitors[id]
		delete(s.monitors, id)
		s.mu.Unlock()
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]any{"error": "not found"})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "no route " + r.Method + " " + r.URL.Path})
	}
}

// records serves POST <collection>, PUT and GET <collection>/<id> like
// son-catalogue-repos: the stored record gets uuid, created_at and
// updated_at.
func (s *Server) records(w http.ResponseWriter, r *http.Request, req Request, store map[string]map[string]any, collection string) {
	id := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, collection), "/")
	if req.Body != nil {
		if _, bad := req.Body["_invalid_json"]; bad {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid JSON"})
			return
		}
	}
	if r.Method != http.MethodGet && !strings.HasPrefix(req.ContentType, "application/json") {
		writeJSON(w, http.StatusUnsupportedMediaType, map[string]any{"error": "want application/json"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now().UTC().Format(time.RFC3339)
	switch {
	case r.Method == http.MethodPost && id == "":
		rid, _ := req.Body["id"].(string)
		if rid == "" {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "no id"})
			return
		}
		if _, dup := store[rid]; dup {
			writeJSON(w, http.StatusConflict, map[string]any{"error": "duplicated id"})
			return
		}
		s.seq++
		rec := copyMap(req.Body)
		rec["uuid"] = fmt.Sprintf("repo-%d", s.seq)
		rec["created_at"], rec["updated_at"] = now, now
		store[rid] = rec
		writeJSON(w, http.StatusOK, rec)
	case r.Method == http.MethodPut && id != "":
		old, ok := store[id]
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]any{"error": "not found"})
			return
		}
		rec := copyMap(req.Body)
		rec["uuid"], rec["created_at"], rec["updated_at"] = old["uuid"], old["created_at"], now
		store[id] = rec
		writeJSON(w, http.StatusOK, rec)
	case r.Method == http.MethodGet && id != "":
		rec, ok := store[id]
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]any{"error": "not found"})
			return
		}
		writeJSON(w, http.StatusOK, rec)
	default:
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"error": "method not allowed"})
	}
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+3)
	for k, v := range m {
		out[k] = v
	}
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
