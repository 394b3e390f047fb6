package amqp_test

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

	"github.com/manoctl/manoctl/adapters/amqp"
	"github.com/manoctl/manoctl/adapters/amqp/amqptest"
	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/bus/bustest"
)

// The SMR's preparation of a specific manager's vhost (§7.1), through
// whichever VhostManager the test broker offers: a user like
// specific-management, a vhost ssm-<id> with full permissions, a Connector
// with that user's credentials reaching it; then the clean-up. Every step
// is idempotent.
func TestSpecificManagerVhost(t *testing.T) {
	m := amqptest.Manager(t)
	t.Logf("vhost manager: %T", m)
	testSMVhost(t, m)
}

// The same through the management HTTP API of the test broker, when its
// plugin is enabled (it is optional; TestManagementAPI covers the client
// against a fake of the API either way).
func TestManagementAPIAgainstBroker(t *testing.T) {
	amqptest.Require(t)
	api := amqp.NewManagementAPI(amqp.ManagerConfig{})
	if err := api.Probe(context.Background()); err != nil {
		t.Skipf("the management plugin is not enabled on the test broker (%v)", err)
	}
	testSMVhost(t, api)
}

func testSMVhost(t *testing.T, m amqp.VhostManager) {
	ctx := context.Background()
	user := amqptest.Name(t, "manoctl-test-sm-")
	const password = "sonata-test-Pw"
	vhost := bus.SSMVhost(amqptest.Name(t, ""))
	t.Cleanup(func() {
		if err := m.DeleteVhost(ctx, vhost); err != nil {
			t.Error(err)
		}
		if err := m.DeleteUser(ctx, user); err != nil {
			t.Error(err)
		}
	})
	for range 2 {
		if err := m.CreateUser(ctx, user, password, amqp.DefaultSMUserTag); err != nil {
			t.Fatalf("create user: %v", err)
		}
		if err := amqp.EnsureVhost(ctx, m, vhost, user); err != nil {
			t.Fatalf("ensure vhost: %v", err)
		}
	}
	base := strings.Replace(amqptest.URL(), "guest:guest@", user+":"+password+"@", 1)
	events := newEventLog()
	conn := amqp.NewConnector(amqp.Config{URL: base, Exchange: bus.DefaultExchange, Logger: amqptest.Logger(t), OnEvent: events.on})
	b, err := conn.Connect(ctx, vhost)
	if err != nil {
		t.Fatalf("connect as %s to %s: %v", user, vhost, err)
	}
	defer b.Close()
	r := bustest.NewRecorder()
	subscribe(t, b, bus.TopicSMRegistration, r.Handle)
	publish(t, b, &bus.Message{Topic: bus.TopicSMRegistration, AppID: "sonssmservice1dumb1", Payload: map[string]any{"specific_manager_type": "ssm"}})
	if got := r.WaitN(t, 1)[0]; got.Vhost != vhost {
		t.Fatalf("vhost %q", got.Vhost)
	}
	if err := m.CloseConnections(ctx, vhost, "manoctl test"); err != nil {
		t.Fatalf("close connections: %v", err)
	}
	if _, ok := m.(*amqp.Rabbitmqctl); ok {
		// The management API lists connections from its statistics,
		// which lag behind; rabbitmqctl asks the broker itself.
		events.wait(t, amqp.EventDisconnected, 1)
		events.wait(t, amqp.EventReconnected, 1)
	}
	// A changed password takes effect.
	if err := m.CreateUser(ctx, user, password+"2", amqp.DefaultSMUserTag); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, patience)
	defer cancel()
	if _, err := conn.Connect(short, vhost); err == nil || short.Err() != nil || strings.Contains(err.Error(), password) {
		t.Fatalf("connect with the old password: %v", err)
	}
	if err := m.DeleteVhost(ctx, vhost); err != nil {
		t.Fatal(err)
	}
	if err := m.DeleteVhost(ctx, vhost); err != nil {
		t.Fatalf("deleting a deleted vhost: %v", err)
	}
}

// The rabbitmqctl fallback on the real broker, whatever the auto-detection
// picked.
func TestRabbitmqctl(t *testing.T) {
	amqptest.Require(t)
	ctl, err := amqp.NewRabbitmqctl("", "")
	if err != nil {
		t.Skipf("rabbitmqctl is not installed here: %v", err)
	}
	ctx := context.Background()
	vhost := amqptest.Name(t, "manoctl-test-ctl-")
	t.Cleanup(func() { ctl.DeleteVhost(ctx, vhost) })
	if err := ctl.CreateVhost(ctx, vhost); err != nil {
		t.Fatal(err)
	}
	if err := ctl.CreateVhost(ctx, vhost); err != nil {
		t.Fatalf("create an existing vhost: %v", err)
	}
	err = ctl.SetPermissions(ctx, vhost, "manoctl-no-such-user", amqp.FullPermissions)
	var ce *amqp.CtlError
	if !errors.As(err, &ce) || !strings.Contains(ce.Output, "does not exist") {
		t.Fatalf("permissions for a missing user: %v", err)
	}
	if err := ctl.DeleteVhost(ctx, vhost); err != nil {
		t.Fatal(err)
	}
	if err := ctl.DeleteVhost(ctx, vhost); err != nil {
		t.Fatalf("delete a missing vhost: %v", err)
	}
	if err := ctl.DeleteUser(ctx, "manoctl-no-such-user"); err != nil {
		t.Fatalf("delete a missing user: %v", err)
	}
}

// fakeManagement is the subset of the RabbitMQ management API the
// VhostManager uses, with the real API's status codes.
type fakeManagement struct {
	mu          sync.Mutex
	vhosts      map[string]bool
	users       map[string]map[string]string
	perms       map[string]amqp.Permissions
	conns       map[string]string // name -> vhost
	reasons     []string
	user, pass  string
	failNextPut bool
}

func newFakeManagement() *fakeManagement {
	return &fakeManagement{
		vhosts: map[string]bool{"/": true}, users: map[string]map[string]string{},
		perms: map[string]amqp.Permissions{}, conns: map[string]string{"127.0.0.1:1 -> 127.0.0.1:5672": "ssm-x"},
		user: "admin", pass: "adm1n-Secret",
	}
}

func (f *fakeManagement) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if u, p, ok := r.BasicAuth(); !ok || u != f.user || p != f.pass {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":"not_authorised","reason":"Login failed"}`)
		return
	}
	// The API addresses vhosts by escaped path segments: "/" is %2F.
	parts := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/api/"), "/")
	for i, p := range parts {
		parts[i] = strings.ReplaceAll(p, "%2F", "/")
	}
	created := func(existed bool) {
		if existed {
			w.WriteHeader(http.StatusNoContent)
		} else {
			w.WriteHeader(http.StatusCreated)
		}
	}
	if r.Method == http.MethodPut && f.failNextPut {
		f.failNextPut = false
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, `{"error":"internal_error","reason":"disk full"}`)
		return
	}
	switch {
	case r.Method == http.MethodGet && parts[0] == "whoami":
		io.WriteString(w, `{"name":"admin","tags":["administrator"]}`)
	case r.Method == http.MethodPut && parts[0] == "vhosts" && len(parts) == 2:
		created(f.vhosts[parts[1]])
		f.vhosts[parts[1]] = true
	case r.Method == http.MethodDelete && parts[0] == "vhosts" && len(parts) == 2:
		if !f.vhosts[parts[1]] {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		delete(f.vhosts, parts[1])
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodGet && parts[0] == "vhosts" && len(parts) == 3 && parts[2] == "connections":
		var list []map[string]string
		for name, v := range f.conns {
			if v == parts[1] {
				list = append(list, map[string]string{"name": name})
			}
		}
		json.NewEncoder(w).Encode(list)
	case r.Method == http.MethodDelete && parts[0] == "connections" && len(parts) == 2:
		name := strings.ReplaceAll(parts[1], "%20", " ")
		name = strings.ReplaceAll(name, "%3E", ">")
		if _, ok := f.conns[name]; !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		delete(f.conns, name)
		f.reasons = append(f.reasons, r.Header.Get("X-Reason"))
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodPut && parts[0] == "users" && len(parts) == 2:
		var body map[string]string
		json.NewDecoder(r.Body).Decode(&body)
		_, existed := f.users[parts[1]]
		f.users[parts[1]] = body
		created(existed)
	case r.Method == http.MethodDelete && parts[0] == "users" && len(parts) == 2:
		if _, ok := f.users[parts[1]]; !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		delete(f.users, parts[1])
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodPut && parts[0] == "permissions" && len(parts) == 3:
		if !f.vhosts[parts[1]] {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":"bad_request","reason":"vhost_not_found"}`)
			return
		}
		var p amqp.Permissions
		json.NewDecoder(r.Body).Decode(&p)
		key := parts[1] + "|" + parts[2]
		_, existed := f.perms[key]
		f.perms[key] = p
		created(existed)
	default:
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error":"Object Not Found","reason":"Not Found"}`)
	}
}

// The management API client: the SMR's calls, their status codes (201 and
// 204 succeed, anything else fails, §14.6 M1), idempotent deletes,
// escaping of "/", and credentials kept out of errors.
func TestManagementAPI(t *testing.T) {
	f := newFakeManagement()
	srv := httptest.NewServer(f)
	defer srv.Close()
	ctx := context.Background()
	m := amqp.NewManagementAPI(amqp.ManagerConfig{URL: srv.URL, User: f.user, Password: f.pass})
	if err := m.Probe(ctx); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := m.CreateUser(ctx, amqp.DefaultSMUser, amqp.DefaultSMPassword, amqp.DefaultSMUserTag); err != nil {
			t.Fatal(err)
		}
		if err := amqp.EnsureVhost(ctx, m, "ssm-x", amqp.DefaultSMUser); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.users[amqp.DefaultSMUser]; got["password"] != "sonata" || got["tags"] != "son-sm" {
		t.Fatalf("user body %v", got)
	}
	if got := f.perms["ssm-x|specific-management"]; got != amqp.FullPermissions {
		t.Fatalf("permissions %+v", got)
	}
	if err := m.SetPermissions(ctx, "/", "guest", amqp.FullPermissions); err != nil {
		t.Fatalf("permissions on the default vhost (escaped as %%2F): %v", err)
	}
	if err := m.CloseConnections(ctx, "ssm-x", "sm terminated"); err != nil {
		t.Fatal(err)
	}
	if len(f.conns) != 0 || len(f.reasons) != 1 || f.reasons[0] != "sm terminated" {
		t.Fatalf("connections %v reasons %v", f.conns, f.reasons)
	}
	if err := m.DeleteVhost(ctx, "ssm-x"); err != nil || f.vhosts["ssm-x"] {
		t.Fatalf("delete vhost: %v", err)
	}
	if err := m.DeleteVhost(ctx, "ssm-x"); err != nil {
		t.Fatalf("delete a missing vhost: %v", err)
	}
	if err := m.DeleteUser(ctx, amqp.DefaultSMUser); err != nil {
		t.Fatal(err)
	}

	err := m.SetPermissions(ctx, "ssm-gone", "guest", amqp.FullPermissions)
	var he *amqp.HTTPError
	if !errors.As(err, &he) || he.Status != http.StatusBadRequest || !strings.Contains(err.Error(), "vhost_not_found") {
		t.Fatalf("permissions on a missing vhost: %v", err)
	}
	f.failNextPut = true
	if err := m.CreateVhost(ctx, "ssm-y"); !errors.As(err, &he) || he.Status != http.StatusInternalServerError {
		t.Fatalf("a failed creation must be reported (§14.6 M1): %v", err)
	}

	bad := amqp.NewManagementAPI(amqp.ManagerConfig{URL: srv.URL, User: "admin", Password: "wrong-Secret"})
	err = bad.CreateVhost(ctx, "ssm-z")
	if !errors.As(err, &he) || he.Status != http.StatusUnauthorized || strings.Contains(err.Error(), "wrong-Secret") {
		t.Fatalf("bad credentials: %v", err)
	}
	// Credentials may come in the URL, as broker_man_host might carry them.
	inURL := amqp.NewManagementAPI(amqp.ManagerConfig{URL: strings.Replace(srv.URL, "http://", "http://admin:adm1n-Secret@", 1)})
	if err := inURL.CreateVhost(ctx, "ssm-z"); err != nil {
		t.Fatalf("credentials from the URL: %v", err)
	}
}

// NewVhostManager prefers the management API, falls back to rabbitmqctl
// when the API does not answer, and refuses to fall back when the API
// rejects the credentials.
func TestNewVhostManagerChooses(t *testing.T) {
	ctx := context.Background()
	f := newFakeManagement()
	srv := httptest.NewServer(f)
	defer srv.Close()

	m, err := amqp.NewVhostManager(ctx, amqp.ManagerConfig{URL: srv.URL, User: f.user, Password: f.pass})
	if _, ok := m.(*amqp.ManagementAPI); err != nil || !ok {
		t.Fatalf("with the API up: %T, %v", m, err)
	}
	if _, err := amqp.NewVhostManager(ctx, amqp.ManagerConfig{URL: srv.URL, User: f.user, Password: "nope"}); err == nil {
		t.Fatal("fell back to rabbitmqctl although the API rejected the credentials")
	}
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	m, err = amqp.NewVhostManager(ctx, amqp.ManagerConfig{URL: deadURL})
	if _, lookErr := amqp.NewRabbitmqctl("", ""); lookErr != nil {
		if !errors.Is(err, amqp.ErrNoManager) {
			t.Fatalf("no API and no rabbitmqctl: %v", err)
		}
		return
	}
	if _, ok := m.(*amqp.Rabbitmqctl); err != nil || !ok {
		t.Fatalf("with the API down: %T, %v", m, err)
	}
	if _, err := amqp.NewVhostManager(ctx, amqp.ManagerConfig{URL: deadURL, Rabbitmqctl: "/nonexistent/rabbitmqctl"}); !errors.Is(err, amqp.ErrNoManager) {
		t.Fatalf("no API, rabbitmqctl missing: %v", err)
	}
}
