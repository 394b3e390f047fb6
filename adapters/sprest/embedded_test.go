package sprest_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/manoctl/manoctl/adapters/embedded"
	"github.com/manoctl/manoctl/adapters/emulator"
	"github.com/manoctl/manoctl/adapters/sprest"
	"github.com/manoctl/manoctl/adapters/sprest/spresttest"
	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/mano"
	"github.com/manoctl/manoctl/reconcile/slm"
)

// jsonEqual compares a record the workflow produced with what the
// repository received.
func jsonEqual(t *testing.T, a, b any) bool {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, _ := json.Marshal(b)
	var va, vb any
	json.Unmarshal(ja, &va)
	json.Unmarshal(jb, &vb)
	return reflect.DeepEqual(va, vb)
}

// TestSonataDemoThroughEmbeddedPlatform runs the real workflows of the
// embedded platform (SLM, FLM, placement, IA emulator) with the REST
// decorator and monitor: instantiation while the repository and the
// monitoring manager are down, which still ends READY, with the failures
// reported and retried until they are back; then termination during a
// second outage.
func TestSonataDemoThroughEmbeddedPlatform(t *testing.T) {
	srv := spresttest.New()
	defer srv.Close()
	srv.SetDown(true, 503)
	rest, ev := newClient(t, srv, nil)
	local := slm.NewMemRecords()
	p, err := embedded.Start(context.Background(), embedded.Config{
		Inventory: emulator.Inventory{VIMs: []emulator.VIMConfig{
			{Name: "athens", City: "Athens", Endpoint: "10.100.32.200", Cores: 32, MemoryMB: 65536},
			{Name: "aveiro", City: "Aveiro", Endpoint: "10.1.10.0", Cores: 32, MemoryMB: 65536},
		}},
		MANO: mano.Config{Placer: embedded.DefaultPlacer(), Records: rest.Records(local), Monitor: rest.Monitor()},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	req, err := embedded.SonataDemo("../embedded/testdata/sonata-demo")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// Instantiate while everything REST is down.
	res, err := p.GK.Create(ctx, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() || res.Final.Status != bus.StatusReady {
		t.Fatalf("instantiation ended %s: %v", res.Final.Status, res.Final.Error)
	}
	servID := res.Final.NSR["id"].(string)
	if st, err := local.LoadService(ctx, servID); err != nil || st.Status != slm.StatusReady {
		t.Fatalf("local record %v %v", st, err)
	}
	// The outage was reported, for both neighbours, and is being retried.
	ev.wait(t, "failures of both neighbours retried", func() bool {
		var rec, mon int
		for _, f := range ev.of(sprest.EventFailed) {
			if f.ServiceID != servID || f.StatusCode != 503 {
				t.Fatalf("failure %+v", f)
			}
			if f.Target == sprest.TargetMonitoring {
				mon = max(mon, f.Attempt)
			} else {
				rec = max(rec, f.Attempt)
			}
		}
		return rec >= 2 && mon >= 2
	})

	// Back up: the records and the monitoring message arrive.
	srv.SetDown(false, 0)
	flush(t, rest)
	var records, monitoring []spresttest.Request
	for _, r := range srv.Requests(false) {
		if strings.HasPrefix(r.Path, spresttest.MonitoringBase) {
			monitoring = append(monitoring, r)
		} else {
			records = append(records, r)
		}
	}
	wantRequests(t, records,
		"POST /records/vnfr/vnf-instances", "POST /records/vnfr/vnf-instances", "POST /records/vnfr/vnf-instances",
		"POST /records/nsr/ns-instances")
	wantRequests(t, monitoring, "POST /api/v1/service/new")
	// What the repository received is what the gatekeeper was told.
	for i, v := range res.Final.VNFRs {
		if !jsonEqual(t, records[i].Body, v) {
			t.Fatalf("vnfr %d sent %s, workflow has %v", i, records[i].Raw, v)
		}
		if v["status"] != "normal operation" || v["version"] != "2" {
			t.Fatalf("vnfr %v", v)
		}
	}
	if !jsonEqual(t, records[3].Body, res.Final.NSR) {
		t.Fatalf("nsr sent %s, workflow has %v", records[3].Raw, res.Final.NSR)
	}
	if nf := records[3].Body["network_functions"].([]any); len(nf) != 3 {
		t.Fatalf("network_functions %v", nf)
	}
	// The monitoring message (§10.3).
	msg := monitoring[0].Body
	svc := msg["service"].(map[string]any)
	if svc["sonata_srv_id"] != servID || svc["name"] != "sonata-demo" || svc["host_id"] != nil || svc["pop_id"] != nil {
		t.Fatalf("monitoring service %v", svc)
	}
	funcs := msg["functions"].([]any)
	if len(funcs) < 3 {
		t.Fatalf("monitoring functions %v", funcs)
	}
	vnfrIDs := map[string]bool{}
	for _, v := range res.Final.VNFRs {
		vnfrIDs[v["id"].(string)] = true
	}
	for _, f := range funcs {
		f := f.(map[string]any)
		if !vnfrIDs[f["sonata_func_id"].(string)] || f["pop_id"] == "" || f["host_id"] == "" {
			t.Fatalf("monitoring function %v", f)
		}
	}
	rules := msg["rules"].([]any)
	if len(rules) < 4 {
		t.Fatalf("monitoring rules %v (the firewall has 4)", rules)
	}
	for _, r := range rules {
		r := r.(map[string]any)
		if r["notification_type"] != float64(2) || !strings.Contains(r["condition"].(string), ":") {
			t.Fatalf("rule %v", r)
		}
	}
	if d := ev.of(sprest.EventDelivered); len(d) != 5 || d[0].Attempt < 2 {
		t.Fatalf("deliveries %v", d)
	}

	// Terminate during a second outage: still READY (§4.5 step 10).
	srv.Reset()
	srv.SetDown(true, 502)
	failed := len(ev.of(sprest.EventFailed))
	res, err = p.GK.Terminate(ctx, servID, nil)
	if err != nil || !res.OK() {
		t.Fatalf("terminate: %v %+v", err, res)
	}
	ev.wait(t, "termination failures reported", func() bool { return len(ev.of(sprest.EventFailed)) >= failed+2 })
	srv.SetDown(false, 0)
	flush(t, rest)
	records, monitoring = nil, nil
	for _, r := range srv.Requests(false) {
		if strings.HasPrefix(r.Path, spresttest.MonitoringBase) {
			monitoring = append(monitoring, r)
		} else {
			records = append(records, r)
		}
	}
	wantRequests(t, monitoring, "DELETE /api/v1/services/"+servID)
	want := []string{"PUT /records/nsr/ns-instances/" + servID}
	st, _ := local.LoadService(ctx, servID)
	for _, f := range st.Functions {
		want = append(want, "PUT /records/vnfr/vnf-instances/"+f.ID)
	}
	wantRequests(t, records, want...)
	for _, r := range records {
		if r.Body["status"] != "terminated" {
			t.Fatalf("%s: %v", r, r.Body)
		}
		for _, k := range []string{"uuid", "created_at", "updated_at"} {
			if _, ok := r.Body[k]; ok {
				t.Fatalf("%s: repository key %q sent back", r, k)
			}
		}
	}
	if nsr := srv.NSR(servID); nsr["status"] != "terminated" || nsr["version"] != "2" {
		t.Fatalf("repository nsr %v", nsr)
	}
	for _, f := range st.Functions {
		if v := srv.VNFR(f.ID); v["status"] != "terminated" || v["version"] != "3" {
			t.Fatalf("repository vnfr %v", v)
		}
	}
	if srv.Monitored(servID) != nil {
		t.Fatal("service still monitored")
	}
	if st.Status != slm.StatusTerminated || !jsonEqual(t, st.NSR, records[0].Body) {
		t.Fatalf("local %v vs sent %s", st.NSR, records[0].Raw)
	}
	if n := len(ev.of(sprest.EventAbandoned)) + len(ev.of(sprest.EventDropped)); n != 0 {
		t.Fatalf("%d writes lost", n)
	}
}
