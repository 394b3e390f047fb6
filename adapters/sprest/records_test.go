package sprest_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/manoctl/manoctl/adapters/sprest"
	"github.com/manoctl/manoctl/adapters/sprest/spresttest"
	"github.com/manoctl/manoctl/reconcile/slm"
)

// events collects what a client reports.
type events struct {
	mu  sync.Mutex
	all []sprest.Event
}

func (e *events) add(ev sprest.Event) {
	e.mu.Lock()
	e.all = append(e.all, ev)
	e.mu.Unlock()
}

func (e *events) of(kind sprest.EventKind) []sprest.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []sprest.Event
	for _, ev := range e.all {
		if ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}

func (e *events) wait(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			e.mu.Lock()
			t.Fatalf("timed out waiting for %s; events: %v", what, e.all)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// newClient returns a client writing to srv with fast retries.
func newClient(t *testing.T, srv *spresttest.Server, mut func(*sprest.Config)) (*sprest.Client, *events) {
	t.Helper()
	cfg, err := sprest.FromURLs(srv.URL+"/api/v2/", "", srv.URL+spresttest.MonitoringBase)
	if err != nil {
		t.Fatal(err)
	}
	ev := &events{}
	cfg.OnEvent = ev.add
	cfg.MinBackoff, cfg.MaxBackoff = 5*time.Millisecond, 40*time.Millisecond
	cfg.Timeout = 2 * time.Second
	if mut != nil {
		mut(&cfg)
	}
	c := sprest.New(cfg)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c.Close(ctx)
	})
	return c, ev
}

func flush(t *testing.T, c *sprest.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// demoState is a service as the SLM saves it in store_nsr: three VNFRs at
// version "2" in normal operation, the NSR at version "1".
func demoState() *slm.ServiceState {
	s := &slm.ServiceState{ID: "serv-1", Status: slm.StatusInstantiating}
	var nfs []any
	for i, name := range []string{"vnf_firewall", "vnf_iperf", "vnf_tcpdump"} {
		id := fmt.Sprintf("func-%d", i)
		s.Functions = append(s.Functions, slm.FunctionState{ID: id, VNFID: name, VIM: "vim-1", Status: "normal operation",
			VNFR: map[string]any{"id": id, "descriptor_version": "vnfr-schema-01", "status": "normal operation", "version": "2",
				"descriptor_reference":     "vnfd-" + name,
				"virtual_deployment_units": []any{map[string]any{"id": "vdu01", "vnfc_instance": []any{map[string]any{"id": "0", "vc_id": "vc-" + id}}}}}})
		nfs = append(nfs, map[string]any{"vnfr_id": id})
	}
	s.NSR = map[string]any{"id": "serv-1", "descriptor_version": "nsr-schema-01", "status": "normal operation", "version": "1",
		"descriptor_reference": "005606ed-be7d-4ce3-983c-847039e3a5a2", "network_functions": nfs}
	return s
}

// terminated is the state update_records_to_terminated saves.
func terminated(s *slm.ServiceState) *slm.ServiceState {
	s = s.Copy()
	s.Status = slm.StatusTerminated
	nsr := copyDoc(s.NSR)
	nsr["status"], nsr["version"] = "terminated", "2"
	s.NSR = nsr
	for i := range s.Functions {
		v := copyDoc(s.Functions[i].VNFR)
		v["status"], v["version"] = "terminated", "3"
		s.Functions[i].VNFR = v
		s.Functions[i].Status = "terminated"
	}
	return s
}

func copyDoc(d map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range d {
		out[k] = v
	}
	return out
}

func paths(reqs []spresttest.Request) []string {
	var out []string
	for _, r := range reqs {
		out = append(out, r.String())
	}
	return out
}

func wantRequests(t *testing.T, got []spresttest.Request, want ...string) {
	t.Helper()
	if !slices.Equal(paths(got), want) {
		t.Fatalf("requests\n  %s\nwant\n  %s", strings.Join(paths(got), "\n  "), strings.Join(want, "\n  "))
	}
	for _, r := range got {
		if len(r.Raw) > 0 && r.ContentType != "application/json" {
			t.Errorf("%s: Content-Type %q", r, r.ContentType)
		}
		if _, bad := r.Body["_invalid_json"]; bad {
			t.Errorf("%s: body is not JSON: %s", r, r.Raw)
		}
	}
}

func TestRecordsWrittenAsTheOriginal(t *testing.T) {
	srv := spresttest.New()
	defer srv.Close()
	c, ev := newClient(t, srv, nil)
	local := slm.NewMemRecords()
	rec := c.Records(local)
	ctx := context.Background()

	// Before store_nsr the state has no records: nothing to write.
	early := demoState()
	early.NSR = nil
	for i := range early.Functions {
		early.Functions[i].VNFR = nil
	}
	if err := rec.SaveService(ctx, early); err != nil {
		t.Fatal(err)
	}
	flush(t, c)
	wantRequests(t, srv.Requests(true))

	// store_nsr: the VNFRs, then the NSR that references them.
	st := demoState()
	if err := rec.SaveService(ctx, st); err != nil {
		t.Fatal(err)
	}
	flush(t, c)
	wantRequests(t, srv.Requests(true),
		"POST /records/vnfr/vnf-instances", "POST /records/vnfr/vnf-instances", "POST /records/vnfr/vnf-instances",
		"POST /records/nsr/ns-instances")
	reqs := srv.Requests(true)
	for i, r := range reqs[:3] {
		if r.Body["id"] != fmt.Sprintf("func-%d", i) || r.Body["status"] != "normal operation" || r.Body["version"] != "2" {
			t.Fatalf("vnfr %d body %v", i, r.Body)
		}
	}
	if b := reqs[3].Body; b["id"] != "serv-1" || b["status"] != "normal operation" || b["version"] != "1" ||
		b["descriptor_version"] != "nsr-schema-01" || len(b["network_functions"].([]any)) != 3 {
		t.Fatalf("nsr body %v", b)
	}
	// The local records hold the state (the source of truth).
	if got, err := local.LoadService(ctx, "serv-1"); err != nil || got.NSR["version"] != "1" {
		t.Fatalf("local %v %v", got, err)
	}

	// READY saves the same records again: nothing is re-sent.
	srv.Reset()
	st.Status = slm.StatusReady
	rec.SaveService(ctx, st)
	flush(t, c)
	wantRequests(t, srv.Requests(true))

	// Termination: the NSR, then each VNFR, PUT with the repository's
	// keys stripped (the records here carry them, as records read back
	// from a repository would).
	term := terminated(st)
	term.NSR["uuid"], term.NSR["created_at"], term.NSR["updated_at"] = "repo-4", "2017-09-08", "2017-09-08"
	term.Functions[0].VNFR["uuid"] = "repo-1"
	rec.SaveService(ctx, term)
	flush(t, c)
	wantRequests(t, srv.Requests(true),
		"PUT /records/nsr/ns-instances/serv-1",
		"PUT /records/vnfr/vnf-instances/func-0", "PUT /records/vnfr/vnf-instances/func-1", "PUT /records/vnfr/vnf-instances/func-2")
	for _, r := range srv.Requests(true) {
		for _, k := range []string{"uuid", "created_at", "updated_at"} {
			if _, ok := r.Body[k]; ok {
				t.Errorf("%s: %q not stripped: %v", r, k, r.Body)
			}
		}
		if r.Body["status"] != "terminated" {
			t.Errorf("%s: status %v", r, r.Body["status"])
		}
	}
	if srv.NSR("serv-1")["version"] != "2" || srv.VNFR("func-2")["version"] != "3" {
		t.Fatalf("repository holds %v / %v", srv.NSR("serv-1"), srv.VNFR("func-2"))
	}
	if n := len(ev.of(sprest.EventFailed)); n != 0 {
		t.Fatalf("%d failures", n)
	}
	if n := len(ev.of(sprest.EventDelivered)); n != 8 {
		t.Fatalf("%d deliveries, want 8", n)
	}
	if c.Pending() != 0 {
		t.Fatal("pending after flush")
	}
}

func TestMonitoringRequests(t *testing.T) {
	srv := spresttest.New()
	defer srv.Close()
	c, ev := newClient(t, srv, nil)
	mon := c.Monitor()
	msg := map[string]any{
		"service":   map[string]any{"sonata_srv_id": "serv-1", "name": "sonata-demo", "description": "d", "host_id": nil, "pop_id": nil, "sonata_usr_id": nil},
		"functions": []any{map[string]any{"sonata_func_id": "func-0", "pop_id": "vim-1", "host_id": "vc-1", "metrics": []any{}}},
		"rules":     []any{map[string]any{"name": "r", "summary": "", "duration": "10s", "condition": "vc-1:cpu > 10", "notification_type": 2}},
	}
	if err := mon.ServiceStarted(context.Background(), "serv-1", msg); err != nil {
		t.Fatal(err)
	}
	flush(t, c)
	if err := mon.ServiceStopped(context.Background(), "serv-1"); err != nil {
		t.Fatal(err)
	}
	flush(t, c)
	wantRequests(t, srv.Requests(true), "POST /api/v1/service/new", "DELETE /api/v1/services/serv-1")
	post := srv.Requests(true)[0]
	if svc := post.Body["service"].(map[string]any); svc["sonata_srv_id"] != "serv-1" || svc["host_id"] != nil {
		t.Fatalf("message %v", post.Body)
	}
	if r := post.Body["rules"].([]any)[0].(map[string]any); r["notification_type"] != float64(2) || r["condition"] != "vc-1:cpu > 10" {
		t.Fatalf("rules %v (HTML characters must not be escaped: %s)", r, post.Raw)
	}
	del := ev.of(sprest.EventDelivered)
	if len(del) != 2 || del[1].StatusCode != 204 || del[1].Target != sprest.TargetMonitoring {
		t.Fatalf("events %v", del)
	}
	// Stopping a service the manager does not know counts as done.
	mon.ServiceStopped(context.Background(), "serv-unknown")
	flush(t, c)
	if n := len(ev.of(sprest.EventFailed)); n != 0 {
		t.Fatalf("%d failures", n)
	}
}

func TestNothingConfiguredOnlyForwards(t *testing.T) {
	c := sprest.New(sprest.Config{})
	defer c.Close(context.Background())
	local := slm.NewMemRecords()
	if err := c.Records(local).SaveService(context.Background(), demoState()); err != nil {
		t.Fatal(err)
	}
	c.Monitor().ServiceStarted(context.Background(), "serv-1", map[string]any{})
	c.Monitor().ServiceStopped(context.Background(), "serv-1")
	if c.Pending() != 0 || len(local.Services()) != 1 {
		t.Fatal("writes queued without configuration, or local save skipped")
	}
}

type failingRecords struct{ slm.Records }

func (failingRecords) SaveService(context.Context, *slm.ServiceState) error {
	return errors.New("disk full")
}

func TestLocalFailureIsReturnedAndNotWritten(t *testing.T) {
	srv := spresttest.New()
	defer srv.Close()
	c, _ := newClient(t, srv, nil)
	err := c.Records(failingRecords{slm.NewMemRecords()}).SaveService(context.Background(), demoState())
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("err %v", err)
	}
	flush(t, c)
	if n := len(srv.Requests(true)); n != 0 {
		t.Fatalf("%d requests for a state the local records refused", n)
	}
}

// TestRepositoryDownThenBack is the outage case: the repository answers
// 503, SaveService still returns at once, the failures are reported and
// retried, and the records arrive once it is back.
func TestRepositoryDownThenBack(t *testing.T) {
	srv := spresttest.New()
	defer srv.Close()
	srv.SetDown(true, 503)
	c, ev := newClient(t, srv, nil)
	rec := c.Records(slm.NewMemRecords())
	start := time.Now()
	if err := rec.SaveService(context.Background(), demoState()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Fatalf("SaveService blocked %s", d)
	}
	ev.wait(t, "three failed attempts", func() bool { return len(ev.of(sprest.EventFailed)) >= 3 })
	fails := ev.of(sprest.EventFailed)
	for i, f := range fails[:3] {
		if f.Attempt != i+1 || f.StatusCode != 503 || f.Delay <= 0 || f.Delay > 40*time.Millisecond || f.Err == nil ||
			f.Target != sprest.TargetVNFR || f.Method != "POST" || f.ServiceID != "serv-1" {
			t.Fatalf("failure %d: %+v", i, f)
		}
		var he *sprest.HTTPError
		if !errors.As(f.Err, &he) || he.StatusCode != 503 {
			t.Fatalf("failure %d: err %v", i, f.Err)
		}
	}
	if c.Pending() != 1 {
		t.Fatalf("pending %d, want 1", c.Pending())
	}
	srv.SetDown(false, 0)
	flush(t, c)
	wantRequests(t, srv.Requests(false),
		"POST /records/vnfr/vnf-instances", "POST /records/vnfr/vnf-instances", "POST /records/vnfr/vnf-instances",
		"POST /records/nsr/ns-instances")
	got := ev.of(sprest.EventDelivered)
	if len(got) != 4 || got[0].Attempt < 2 || got[1].Attempt != 1 {
		t.Fatalf("deliveries %v", got)
	}
	if srv.NSR("serv-1") == nil {
		t.Fatal("NSR not in the repository")
	}
}

// TestRepositoryRefusesConnections: nothing listens at the address until
// a server starts there again.
func TestRepositoryRefusesConnections(t *testing.T) {
	srv := spresttest.New()
	addr := srv.Listener.Addr().String()
	srv.Close()
	cfg, err := sprest.FromURLs("http://"+addr+"/api/v2/", "", "http://"+addr+"/api/v1")
	if err != nil {
		t.Fatal(err)
	}
	ev := &events{}
	cfg.OnEvent, cfg.MinBackoff, cfg.MaxBackoff = ev.add, 5*time.Millisecond, 20*time.Millisecond
	c := sprest.New(cfg)
	defer c.Close(context.Background())
	st := demoState()
	c.Records(slm.NewMemRecords()).SaveService(context.Background(), st)
	c.Monitor().ServiceStarted(context.Background(), st.ID, map[string]any{"service": map[string]any{"sonata_srv_id": st.ID}})
	ev.wait(t, "refused attempts", func() bool { return len(ev.of(sprest.EventFailed)) >= 2 })
	if f := ev.of(sprest.EventFailed)[0]; f.StatusCode != 0 || f.Err == nil {
		t.Fatalf("failure %+v", f)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", addr, err)
	}
	back := spresttest.NewOnListener(ln)
	defer back.Close()
	flush(t, c)
	// Records and monitoring are queued apart: each in order, the two in
	// any order.
	var records, monitoring []spresttest.Request
	for _, r := range back.Requests(true) {
		if strings.HasPrefix(r.Path, "/api/v1/") {
			monitoring = append(monitoring, r)
		} else {
			records = append(records, r)
		}
	}
	wantRequests(t, records,
		"POST /records/vnfr/vnf-instances", "POST /records/vnfr/vnf-instances", "POST /records/vnfr/vnf-instances",
		"POST /records/nsr/ns-instances")
	wantRequests(t, monitoring, "POST /api/v1/service/new")
}

func TestTimeoutIsAFailure(t *testing.T) {
	srv := spresttest.New()
	defer srv.Close()
	srv.SetDelay(300 * time.Millisecond)
	c, ev := newClient(t, srv, func(cfg *sprest.Config) { cfg.Timeout = 50 * time.Millisecond })
	c.Records(slm.NewMemRecords()).SaveService(context.Background(), demoState())
	ev.wait(t, "a timeout", func() bool { return len(ev.of(sprest.EventFailed)) >= 1 })
	f := ev.of(sprest.EventFailed)[0]
	if f.StatusCode != 0 || !strings.Contains(f.Err.Error(), "Timeout when contacting VNFR repo") {
		t.Fatalf("failure %+v", f)
	}
	srv.SetDelay(0)
	flush(t, c)
}

// While the repository is down, successive states of a service coalesce:
// it receives the latest one only.
func TestWritesCoalesceWhileDown(t *testing.T) {
	srv := spresttest.New()
	defer srv.Close()
	srv.SetDown(true, 500)
	c, ev := newClient(t, srv, nil)
	rec := c.Records(slm.NewMemRecords())
	st := demoState()
	rec.SaveService(context.Background(), st)
	ev.wait(t, "a failure", func() bool { return len(ev.of(sprest.EventFailed)) >= 1 })
	rec.SaveService(context.Background(), st)
	rec.SaveService(context.Background(), terminated(st))
	if c.Pending() != 1 {
		t.Fatalf("pending %d, want 1 (coalesced)", c.Pending())
	}
	srv.SetDown(false, 0)
	flush(t, c)
	wantRequests(t, srv.Requests(false),
		"POST /records/vnfr/vnf-instances", "POST /records/vnfr/vnf-instances", "POST /records/vnfr/vnf-instances",
		"POST /records/nsr/ns-instances")
	for _, r := range srv.Requests(false) {
		if r.Body["status"] != "terminated" {
			t.Fatalf("%s wrote %v, want the latest (terminated) state", r, r.Body["status"])
		}
	}
}

func TestRepositoryLostOrHasRecords(t *testing.T) {
	srv := spresttest.New()
	defer srv.Close()
	c, _ := newClient(t, srv, nil)
	rec := c.Records(slm.NewMemRecords())
	st := demoState()
	rec.SaveService(context.Background(), st)
	flush(t, c)

	// The repository was wiped: each PUT finds nothing, so the record is
	// created again (VNFRs before the NSR, as for a new service).
	srv.DropRecords()
	srv.Reset()
	rec.SaveService(context.Background(), terminated(st))
	flush(t, c)
	wantRequests(t, srv.Requests(true),
		"PUT /records/nsr/ns-instances/serv-1",
		"PUT /records/vnfr/vnf-instances/func-0", "POST /records/vnfr/vnf-instances",
		"PUT /records/vnfr/vnf-instances/func-1", "POST /records/vnfr/vnf-instances",
		"PUT /records/vnfr/vnf-instances/func-2", "POST /records/vnfr/vnf-instances",
		"POST /records/nsr/ns-instances")
	if srv.NSR("serv-1")["status"] != "terminated" {
		t.Fatal("NSR not recreated")
	}

	// A new writer (manoctl restarted) finds the records there already:
	// each POST conflicts, so it updates the record instead.
	c2, ev2 := newClient(t, srv, nil)
	srv.Reset()
	st2 := demoState()
	st2.NSR["version"] = "7"
	c2.Records(slm.NewMemRecords()).SaveService(context.Background(), st2)
	flush(t, c2)
	wantRequests(t, srv.Requests(true),
		"POST /records/vnfr/vnf-instances", "PUT /records/vnfr/vnf-instances/func-0",
		"POST /records/vnfr/vnf-instances", "PUT /records/vnfr/vnf-instances/func-1",
		"POST /records/vnfr/vnf-instances", "PUT /records/vnfr/vnf-instances/func-2",
		"POST /records/nsr/ns-instances", "PUT /records/nsr/ns-instances/serv-1")
	if srv.NSR("serv-1")["version"] != "7" {
		t.Fatalf("NSR %v", srv.NSR("serv-1"))
	}
	if n := len(ev2.of(sprest.EventFailed)); n != 0 {
		t.Fatalf("%d failures", n)
	}
}

func TestRemovedFunctionIsTerminated(t *testing.T) {
	srv := spresttest.New()
	defer srv.Close()
	c, _ := newClient(t, srv, nil)
	rec := c.Records(slm.NewMemRecords())
	st := demoState()
	rec.SaveService(context.Background(), st)
	flush(t, c)
	srv.Reset()
	// Scale-in removed func-1; the NSR lists two functions now.
	in := st.Copy()
	in.Functions = []slm.FunctionState{st.Functions[0], st.Functions[2]}
	nsr := copyDoc(st.NSR)
	nsr["version"] = "2"
	nsr["network_functions"] = []any{map[string]any{"vnfr_id": "func-0"}, map[string]any{"vnfr_id": "func-2"}}
	in.NSR = nsr
	rec.SaveService(context.Background(), in)
	flush(t, c)
	wantRequests(t, srv.Requests(true), "PUT /records/nsr/ns-instances/serv-1", "PUT /records/vnfr/vnf-instances/func-1")
	if v := srv.VNFR("func-1"); v["status"] != "terminated" || v["version"] != "3" {
		t.Fatalf("removed vnfr %v", v)
	}
	// Saving again changes nothing.
	srv.Reset()
	rec.SaveService(context.Background(), in)
	flush(t, c)
	wantRequests(t, srv.Requests(true))
}

func TestMaxAttemptsAbandons(t *testing.T) {
	srv := spresttest.New()
	defer srv.Close()
	srv.SetDown(true, 500)
	c, ev := newClient(t, srv, func(cfg *sprest.Config) { cfg.MaxAttempts = 3 })
	c.Monitor().ServiceStopped(context.Background(), "serv-1")
	flush(t, c)
	if n := len(ev.of(sprest.EventFailed)); n != 2 {
		t.Fatalf("%d failures before giving up, want 2", n)
	}
	ab := ev.of(sprest.EventAbandoned)
	if len(ab) != 1 || ab[0].Attempt != 3 || ab[0].Method != "DELETE" {
		t.Fatalf("abandoned %v", ab)
	}
}

func TestQueueBoundDrops(t *testing.T) {
	srv := spresttest.New()
	defer srv.Close()
	srv.SetDown(true, 500)
	c, ev := newClient(t, srv, func(cfg *sprest.Config) { cfg.QueueSize = 2 })
	mon := c.Monitor()
	for i := range 4 {
		mon.ServiceStopped(context.Background(), fmt.Sprintf("serv-%d", i))
	}
	if c.Pending() != 2 {
		t.Fatalf("pending %d, want the bound 2", c.Pending())
	}
	if d := ev.of(sprest.EventDropped); len(d) != 2 || d[0].Err == nil || !strings.Contains(d[0].Err.Error(), "queue full") {
		t.Fatalf("dropped %v", d)
	}
	// Records of a service coalesce and do not grow the queue.
	rec := c.Records(slm.NewMemRecords())
	srv.SetDown(false, 0)
	flush(t, c)
	for range 5 {
		rec.SaveService(context.Background(), demoState())
	}
	if c.Pending() > 2 {
		t.Fatalf("pending %d", c.Pending())
	}
	flush(t, c)
}

func TestCloseDrainsOrDrops(t *testing.T) {
	srv := spresttest.New()
	defer srv.Close()
	srv.SetDown(true, 500)
	c, ev := newClient(t, srv, func(cfg *sprest.Config) { cfg.MinBackoff, cfg.MaxBackoff = time.Hour, time.Hour })
	c.Records(slm.NewMemRecords()).SaveService(context.Background(), demoState())
	ev.wait(t, "a failure", func() bool { return len(ev.of(sprest.EventFailed)) == 1 })
	// Back up, but the retry is an hour away: Close tries at once.
	srv.SetDown(false, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Requests(false)); n != 4 {
		t.Fatalf("%d requests delivered at close, want 4", n)
	}
	// Closed: later writes are dropped and reported, the local save
	// still happens.
	local := slm.NewMemRecords()
	if err := c.Records(local).SaveService(context.Background(), demoState()); err != nil || len(local.Services()) != 1 {
		t.Fatal("local save after close", err)
	}
	if len(ev.of(sprest.EventDropped)) != 1 {
		t.Fatalf("dropped %v", ev.of(sprest.EventDropped))
	}

	// Down at close: the last attempt fails and the write is dropped.
	srv.SetDown(true, 500)
	c2, ev2 := newClient(t, srv, func(cfg *sprest.Config) { cfg.MinBackoff, cfg.MaxBackoff = time.Hour, time.Hour })
	c2.Monitor().ServiceStopped(context.Background(), "serv-1")
	ev2.wait(t, "a failure", func() bool { return len(ev2.of(sprest.EventFailed)) == 1 })
	if err := c2.Close(ctx); err == nil {
		// Dropped in the final attempt: reported as an event; Close
		// reports only what was never attempted.
		if len(ev2.of(sprest.EventDropped)) != 1 {
			t.Fatalf("events %v", ev2.all)
		}
	}

	// A hung server: Close gives up when its context ends.
	srv.SetDown(false, 0)
	srv.SetDelay(time.Hour)
	c3, _ := newClient(t, srv, nil)
	c3.Monitor().ServiceStopped(context.Background(), "serv-1")
	short, cancel3 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel3()
	start := time.Now()
	c3.Close(short)
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Close took %s", d)
	}
	srv.SetDelay(0)
}

// Many services saved concurrently through a flapping repository end with
// the repository holding each service's latest state.
func TestConcurrentServicesConverge(t *testing.T) {
	srv := spresttest.New()
	defer srv.Close()
	c, _ := newClient(t, srv, func(cfg *sprest.Config) { cfg.MaxBackoff = 10 * time.Millisecond })
	rec := c.Records(slm.NewMemRecords())
	stop := make(chan struct{})
	go func() {
		for down := true; ; down = !down {
			select {
			case <-stop:
				srv.SetDown(false, 0)
				return
			case <-time.After(3 * time.Millisecond):
				srv.SetDown(down, 503)
			}
		}
	}()
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := demoState()
			st.ID = fmt.Sprintf("serv-%d", i)
			st.NSR["id"] = st.ID
			for j := range st.Functions {
				id := fmt.Sprintf("%s-func-%d", st.ID, j)
				st.Functions[j].ID = id
				st.Functions[j].VNFR = copyDoc(st.Functions[j].VNFR)
				st.Functions[j].VNFR["id"] = id
			}
			for v := 1; v <= 5; v++ {
				nsr := copyDoc(st.NSR)
				nsr["version"] = fmt.Sprint(v)
				st.NSR = nsr
				rec.SaveService(context.Background(), st)
				time.Sleep(time.Millisecond)
			}
		}()
	}
	wg.Wait()
	close(stop)
	flush(t, c)
	for i := range 20 {
		id := fmt.Sprintf("serv-%d", i)
		if nsr := srv.NSR(id); nsr == nil || nsr["version"] != "5" {
			t.Fatalf("%s: repository holds %v", id, nsr)
		}
		for j := range 3 {
			if srv.VNFR(fmt.Sprintf("%s-func-%d", id, j)) == nil {
				t.Fatalf("%s: vnfr %d missing", id, j)
			}
		}
	}
}

// After a restart the daemon resyncs its services: the repository, which
// already holds them, gets them updated; nothing is saved locally.
func TestResyncAfterRestart(t *testing.T) {
	srv := spresttest.New()
	defer srv.Close()
	c, _ := newClient(t, srv, nil)
	st := demoState()
	c.Records(slm.NewMemRecords()).SaveService(context.Background(), st)
	flush(t, c)
	srv.Reset()

	c2, ev := newClient(t, srv, nil)
	local := slm.NewMemRecords()
	c2.Records(local).Resync(terminated(st))
	flush(t, c2)
	if len(local.Services()) != 0 {
		t.Fatal("Resync saved locally")
	}
	if srv.NSR("serv-1")["status"] != "terminated" || srv.VNFR("func-0")["status"] != "terminated" {
		t.Fatalf("repository %v", srv.NSR("serv-1"))
	}
	if n := len(ev.of(sprest.EventFailed)); n != 0 {
		t.Fatalf("%d failures", n)
	}
}

// Records that cannot be encoded are reported, not sent; the others are.
func TestUnencodableRecordReported(t *testing.T) {
	srv := spresttest.New()
	defer srv.Close()
	c, ev := newClient(t, srv, nil)
	st := demoState()
	bad := copyDoc(st.Functions[1].VNFR)
	bad["broken"] = func() {}
	st.Functions[1].VNFR = bad
	if err := c.Records(slm.NewMemRecords()).SaveService(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	flush(t, c)
	if d := ev.of(sprest.EventDropped); len(d) != 1 || d[0].Target != sprest.TargetRecords || !strings.Contains(d[0].Err.Error(), "func-1") {
		t.Fatalf("dropped %v", d)
	}
	wantRequests(t, srv.Requests(true),
		"POST /records/vnfr/vnf-instances", "POST /records/vnfr/vnf-instances", "POST /records/nsr/ns-instances")
}
