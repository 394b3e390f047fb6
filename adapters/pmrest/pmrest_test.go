package pmrest_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/manoctl/manoctl/adapters/membus"
	"github.com/manoctl/manoctl/adapters/pmrest"
	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/pm"
	"github.com/manoctl/manoctl/reconcile/wire"
)

// platform is a plugin manager on an in-process bus with one registered
// plugin, the REST interface in front of it, and a tap on the bus.
type platform struct {
	srv  *httptest.Server
	pm   *pm.Manager
	uuid string

	mu   sync.Mutex
	seen []*bus.Message
}

func newPlatform(t *testing.T) *platform {
	t.Helper()
	br := membus.New()
	m := pm.New(br.Default(), pm.Config{})
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	p := &platform{pm: m}
	br.Default().Subscribe(context.Background(), "platform.management.plugin.*.lifecycle.*", func(_ context.Context, msg *bus.Message) {
		p.mu.Lock()
		p.seen = append(p.seen, msg)
		p.mu.Unlock()
	})
	ep := bus.NewEndpoint(br.Default(), "test-plugin")
	desc := "description"
	r, err := ep.Request(context.Background(), bus.TopicPluginRegister,
		wire.RegisterRequest{Name: "test-plugin", Version: "v0.01", Description: &desc}, bus.WithTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var reply wire.RegisterReply
	if err := r.Decode(&reply); err != nil || reply.Status != "OK" {
		t.Fatalf("register: %+v %v", reply, err)
	}
	p.uuid = reply.UUID
	p.srv = httptest.NewServer(pmrest.NewHandler(m, nil))
	t.Cleanup(func() { p.srv.Close(); ep.Close(); m.Close(); br.Close() })
	return p
}

// lifecycleSent waits for the lifecycle notification topic and checks its
// body is the original's {}.
func (p *platform) lifecycleSent(t *testing.T, action string) {
	t.Helper()
	topic := bus.PluginLifecycleTopic(p.uuid, action)
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		for _, m := range p.seen {
			if m.Topic == topic {
				p.mu.Unlock()
				var body map[string]any
				if err := m.Decode(&body); err != nil || len(body) != 0 || m.AppID != bus.AppPluginManager || m.ReplyTo != "" {
					t.Fatalf("lifecycle message %s: app_id %q reply_to %q body %v (%v)", topic, m.AppID, m.ReplyTo, body, err)
				}
				return
			}
		}
		p.mu.Unlock()
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("no %s message", topic)
}

func (p *platform) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.seen)
}

// do sends a request and returns status, the raw body and its JSON.
func do(t *testing.T, method, url, contentType, body string) (int, string, any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if method != http.MethodHead && method != http.MethodOptions {
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("%s %s: Content-Type %q", method, url, ct)
		}
	}
	var v any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s %s: body %q is not JSON: %v", method, url, b, err)
		}
	}
	return resp.StatusCode, string(b), v
}

// doubleEncoded is what son-pm-cli and the original test send:
// requests.put(url, json=json.dumps(req)).
func doubleEncoded(t *testing.T, v any) string {
	inner, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	outer, _ := json.Marshal(string(inner))
	return string(outer)
}

func TestListPlugins(t *testing.T) {
	p := newPlatform(t)
	status, raw, v := do(t, "GET", p.srv.URL+"/api/plugins", "", "")
	if status != 200 {
		t.Fatalf("status %d", status)
	}
	list, ok := v.([]any)
	if !ok || len(list) != 1 || list[0] != p.uuid {
		t.Fatalf("list %v", v)
	}
	// Flask-RESTful in debug mode: indent 4, trailing newline.
	if want := "[\n    \"" + p.uuid + "\"\n]\n"; raw != want {
		t.Fatalf("body %q, want %q", raw, want)
	}
}

func TestListPluginsEmpty(t *testing.T) {
	srv := httptest.NewServer(pmrest.NewHandler(&fakeManager{}, nil))
	defer srv.Close()
	status, raw, _ := do(t, "GET", srv.URL+"/api/plugins", "", "")
	if status != 200 || raw != "[]\n" {
		t.Fatalf("%d %q", status, raw)
	}
}

func TestGetPlugin(t *testing.T) {
	p := newPlatform(t)
	status, raw, v := do(t, "GET", p.srv.URL+"/api/plugins/"+p.uuid, "", "")
	if status != 200 {
		t.Fatalf("status %d", status)
	}
	info := v.(map[string]any)
	// The original test's keys, with the values of the registration.
	for _, k := range []string{"version", "name", "uuid", "description", "state", "registered_at", "last_heartbeat_at"} {
		if _, ok := info[k]; !ok {
			t.Errorf("no %q in %v", k, info)
		}
	}
	if len(info) != 7 {
		t.Errorf("fields %v, want the 7 of plugin_dict", info)
	}
	if info["uuid"] != p.uuid || info["name"] != "test-plugin" || info["version"] != "v0.01" ||
		info["description"] != "description" || info["state"] != pm.StateRegistered || info["last_heartbeat_at"] != "None" {
		t.Fatalf("info %v", info)
	}
	if _, err := time.Parse("2006-01-02 15:04:05.000000", info["registered_at"].(string)); err != nil {
		t.Fatalf("registered_at %q is not str(datetime): %v", info["registered_at"], err)
	}
	// to_dict's key order.
	if !strings.HasPrefix(raw, "{\n    \"uuid\": ") || strings.Index(raw, "\"registered_at\"") > strings.Index(raw, "\"last_heartbeat_at\"") {
		t.Fatalf("body layout %q", raw)
	}
	// The entry equals the status broadcast's plugin_dict entry.
	want, _ := json.Marshal(p.pm.Status().PluginDict[p.uuid])
	got, _ := json.Marshal(info)
	var a, b map[string]any
	json.Unmarshal(want, &a)
	json.Unmarshal(got, &b)
	if len(a) != len(b) || a["registered_at"] != b["registered_at"] {
		t.Fatalf("REST %s vs broadcast %s", got, want)
	}
}

func TestGetPluginUnknown(t *testing.T) {
	p := newPlatform(t)
	status, raw, _ := do(t, "GET", p.srv.URL+"/api/plugins/no-such-uuid", "", "")
	if status != 404 || raw != "{}\n" {
		t.Fatalf("%d %q", status, raw)
	}
}

func TestDeletePlugin(t *testing.T) {
	p := newPlatform(t)
	status, raw, _ := do(t, "DELETE", p.srv.URL+"/api/plugins/"+p.uuid, "", "")
	if status != 200 || raw != "{}\n" {
		t.Fatalf("%d %q", status, raw)
	}
	p.lifecycleSent(t, "stop")
	// The record stays until the plugin deregisters.
	if _, ok := p.pm.Plugin(p.uuid); !ok {
		t.Fatal("record removed before deregistration")
	}
}

func TestDeletePluginUnknown(t *testing.T) {
	p := newPlatform(t)
	status, raw, _ := do(t, "DELETE", p.srv.URL+"/api/plugins/no-such-uuid", "", "")
	if status != 404 || raw != "{}\n" {
		t.Fatalf("%d %q", status, raw)
	}
	time.Sleep(20 * time.Millisecond)
	if p.count() != 0 {
		t.Fatal("a lifecycle message was sent for an unknown plugin")
	}
}

func TestPutLifecycle(t *testing.T) {
	p := newPlatform(t)
	url := func(id string) string { return p.srv.URL + "/api/plugins/" + id + "/lifecycle" }
	cases := []struct {
		name        string
		id          string
		contentType string
		body        string
		status      int
		answer      string
		sends       string // lifecycle action sent, if any
	}{
		// The original test: pause, double-encoded, answers 200.
		{"original pause", p.uuid, "application/json", doubleEncoded(t, map[string]string{"target_state": "pause"}), 200, "{}\n", "pause"},
		// The original test: target_state123 answers 500.
		{"original malformed", p.uuid, "application/json", doubleEncoded(t, map[string]string{"target_state123": "pause"}), 500, "{\n    \"message\": \"malformed request\"\n}\n", ""},
		{"double-encoded start", p.uuid, "application/json", doubleEncoded(t, map[string]string{"target_state": "start"}), 200, "{}\n", "start"},
		{"double-encoded stop", p.uuid, "application/json", doubleEncoded(t, map[string]string{"target_state": "stop"}), 200, "{}\n", "stop"},
		// §14.2 P7: a plain object works as well, whatever the content type.
		{"plain object start", p.uuid, "application/json", `{"target_state": "start"}`, 200, "{}\n", "start"},
		{"plain object no content type", p.uuid, "", `{"target_state":"pause"}`, 200, "{}\n", "pause"},
		{"plain object missing key", p.uuid, "application/json", `{"state": "start"}`, 500, "{\n    \"message\": \"malformed request\"\n}\n", ""},
		{"null target_state", p.uuid, "application/json", `{"target_state": null}`, 500, "{\n    \"message\": \"malformed request\"\n}\n", ""},
		{"unknown value", p.uuid, "application/json", doubleEncoded(t, map[string]string{"target_state": "explode"}), 500, "{\n    \"message\": \"Malformed request\"\n}\n", ""},
		{"unknown value plain", p.uuid, "application/json", `{"target_state": "START"}`, 500, "{\n    \"message\": \"Malformed request\"\n}\n", ""},
		{"non-string value", p.uuid, "application/json", `{"target_state": 1}`, 500, "{\n    \"message\": \"Malformed request\"\n}\n", ""},
		{"string without JSON", p.uuid, "application/json", `"start"`, 500, "{\n    \"message\": \"malformed request\"\n}\n", ""},
		{"array", p.uuid, "application/json", `["start"]`, 500, "{\n    \"message\": \"malformed request\"\n}\n", ""},
		{"not JSON", p.uuid, "application/json", `target_state=start`, 400, "", ""},
		{"empty body", p.uuid, "application/json", ``, 400, "", ""},
		{"unknown uuid", "no-such-uuid", "application/json", doubleEncoded(t, map[string]string{"target_state": "start"}), 404, "{}\n", ""},
		// The plugin is looked up before the body is read, as in the original.
		{"unknown uuid bad body", "no-such-uuid", "application/json", `garbage`, 404, "{}\n", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := p.count()
			status, raw, v := do(t, "PUT", url(c.id), c.contentType, c.body)
			if status != c.status {
				t.Fatalf("status %d, want %d (body %q)", status, c.status, raw)
			}
			if c.answer != "" && raw != c.answer {
				t.Fatalf("answer %q, want %q", raw, c.answer)
			}
			if c.status == 400 {
				if m, _ := v.(map[string]any); m["message"] == "" || m["message"] == nil {
					t.Fatalf("400 answer %q has no message", raw)
				}
			}
			if c.sends != "" {
				p.lifecycleSent(t, c.sends)
				p.mu.Lock()
				p.seen = nil
				p.mu.Unlock()
			} else {
				time.Sleep(10 * time.Millisecond)
				if p.count() != before {
					t.Fatal("a lifecycle message was sent")
				}
			}
		})
	}
}

func TestRoutingAndMethods(t *testing.T) {
	p := newPlatform(t)
	notFound := "{\n    \"message\": \"The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.\"\n}\n"
	notAllowed := "{\n    \"message\": \"The method is not allowed for the requested URL.\"\n}\n"
	cases := []struct {
		method, path string
		status       int
		answer       string
		allow        string
	}{
		{"GET", "/", 404, notFound, ""},
		{"GET", "/api/plugins/", 404, notFound, ""},
		{"GET", "/api/pluginsx", 404, notFound, ""},
		{"GET", "/api/plugins/" + p.uuid + "/", 404, notFound, ""},
		{"GET", "/api/plugins/" + p.uuid + "/lifecycle/", 404, notFound, ""},
		{"GET", "/api/plugins/" + p.uuid + "/other", 404, notFound, ""},
		{"POST", "/api/plugins", 405, notAllowed, "GET, HEAD, OPTIONS"},
		{"PUT", "/api/plugins/" + p.uuid, 405, notAllowed, "GET, DELETE, HEAD, OPTIONS"},
		{"GET", "/api/plugins/" + p.uuid + "/lifecycle", 405, notAllowed, "PUT, OPTIONS"},
		{"OPTIONS", "/api/plugins", 200, "", "GET, HEAD, OPTIONS"},
		{"HEAD", "/api/plugins", 200, "", ""},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, p.srv.URL+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || string(b) != c.answer {
			t.Errorf("%s %s: %d %q, want %d %q", c.method, c.path, resp.StatusCode, b, c.status, c.answer)
		}
		if c.allow != "" && resp.Header.Get("Allow") != c.allow {
			t.Errorf("%s %s: Allow %q, want %q", c.method, c.path, resp.Header.Get("Allow"), c.allow)
		}
	}
}

// fakeManager fails lifecycle sends as configured.
type fakeManager struct {
	plugins []pm.Plugin
	err     error
}

func (f *fakeManager) Plugins() []pm.Plugin { return f.plugins }
func (f *fakeManager) Plugin(id string) (pm.Plugin, bool) {
	for _, p := range f.plugins {
		if p.UUID == id {
			return p, true
		}
	}
	return pm.Plugin{}, false
}
func (f *fakeManager) Lifecycle(context.Context, string, string) error { return f.err }

func TestLifecycleSendFailures(t *testing.T) {
	f := &fakeManager{plugins: []pm.Plugin{{UUID: "u1", Name: "a", Version: "1", State: "RUNNING"}}}
	srv := httptest.NewServer(pmrest.NewHandler(f, nil))
	defer srv.Close()
	// The bus refuses: the original crashed, Flask answered 500.
	f.err = errors.New("broker gone")
	status, raw, _ := do(t, "DELETE", srv.URL+"/api/plugins/u1", "", "")
	if status != 500 || raw != "{\n    \"message\": \"Internal Server Error\"\n}\n" {
		t.Fatalf("%d %q", status, raw)
	}
	// Deregistered between lookup and send: 404 as for any unknown plugin.
	f.err = pm.ErrUnknownPlugin
	status, raw, _ = do(t, "PUT", srv.URL+"/api/plugins/u1/lifecycle", "application/json", `{"target_state":"start"}`)
	if status != 404 || raw != "{}\n" {
		t.Fatalf("%d %q", status, raw)
	}
}

func TestServerLoopbackOnly(t *testing.T) {
	for _, c := range []struct {
		addr  string
		allow bool
		ok    bool
	}{
		{"127.0.0.1:8001", false, true},
		{"localhost:0", false, true},
		{"[::1]:8001", false, true},
		{"0.0.0.0:8001", false, false},
		{":8001", false, false},
		{"192.0.2.1:8001", false, false},
		{"0.0.0.0:8001", true, true},
		{"nonsense", false, false},
	} {
		if err := pmrest.CheckAddr(c.addr, c.allow); (err == nil) != c.ok {
			t.Errorf("CheckAddr(%q, %v) = %v", c.addr, c.allow, err)
		}
	}
	s := pmrest.NewServer(&fakeManager{}, pmrest.ServerConfig{Addr: "0.0.0.0:0"})
	if err := s.Start(context.Background()); err == nil {
		s.Close(context.Background())
		t.Fatal("started on a non-loopback address")
	}
}

func TestServerServes(t *testing.T) {
	f := &fakeManager{plugins: []pm.Plugin{{UUID: "u1", Name: "a", Version: "1", State: "RUNNING"}}}
	s := pmrest.NewServer(f, pmrest.ServerConfig{Addr: "127.0.0.1:0"})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	status, raw, _ := do(t, "GET", s.URL()+"/api/plugins", "", "")
	if status != 200 || raw != "[\n    \"u1\"\n]\n" {
		t.Fatalf("%d %q", status, raw)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal("second Close:", err)
	}
	if _, err := http.Get(s.URL() + "/api/plugins"); err == nil {
		t.Fatal("still serving after Close")
	}
}
