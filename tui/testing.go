package tui

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/manoctl/manoctl/reconcile/plan"
)

// Test constructors (Nomad's testing.go): a fake backend and fixed rows
// for the model's tests, goldens and benchmarks.

// FakeBackend is a Backend that delivers Initial, keeps the sink for the
// test to push more, and records the actions asked of it.
type FakeBackend struct {
	InfoValue Info
	Initial   []Change
	// Plans answers Plan by service name; a missing one gets a create.
	Plans map[string]*plan.Plan
	// ApplyErr is what Apply returns.
	ApplyErr error

	mu      sync.Mutex
	sink    Sink
	ready   chan struct{}
	once    sync.Once
	Actions []string
}

// NewFakeBackend returns a fake delivering initial.
func NewFakeBackend(info Info, initial []Change) *FakeBackend {
	return &FakeBackend{InfoValue: info, Initial: initial, ready: make(chan struct{})}
}

func (f *FakeBackend) Info() Info { return f.InfoValue }

func (f *FakeBackend) Run(ctx context.Context, sink Sink) error {
	f.mu.Lock()
	f.sink = sink
	f.mu.Unlock()
	sink.Reset(f.Initial)
	f.once.Do(func() { close(f.ready) })
	<-ctx.Done()
	return nil
}

// Sink waits for Run and returns its sink.
func (f *FakeBackend) Sink() Sink {
	<-f.ready
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sink
}

func (f *FakeBackend) record(s string) {
	f.mu.Lock()
	f.Actions = append(f.Actions, s)
	f.mu.Unlock()
}

// Recorded returns the actions asked so far.
func (f *FakeBackend) Recorded() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.Actions...)
}

func (f *FakeBackend) Plan(_ context.Context, action Action, service string) (*Proposal, error) {
	f.record(fmt.Sprintf("plan %s %s", action, service))
	pl := f.Plans[service]
	if pl == nil {
		a := plan.Create
		if action == ActionDestroy {
			a = plan.Destroy
		}
		pl = &plan.Plan{Changes: []*plan.Change{{Service: service, Action: a, Reasons: []string{"asked in a test"}}}}
		pl.Summary = plan.Summarize(pl.Changes)
	}
	return &Proposal{Action: action, Service: service, Plan: pl, Text: PlanText(pl)}, nil
}

func (f *FakeBackend) Apply(_ context.Context, p *Proposal, progress func(string)) error {
	f.record(fmt.Sprintf("apply %s %s", p.Action, p.Service))
	progress(p.Service + ": " + string(p.Action) + " started")
	return f.ApplyErr
}

func (f *FakeBackend) PluginLifecycle(_ context.Context, uuid, action string) error {
	f.record(fmt.Sprintf("plugin %s %s", action, uuid))
	return nil
}

// TestEpoch is the fixed "now" of the goldens.
var TestEpoch = time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC)

// TestRows returns a small platform as changes: four plugins (one
// stale), two VIMs, services demo-1 (ready, three functions) and demo-2
// (instantiating), and their operations, all relative to TestEpoch.
func TestRows() []Change {
	t0 := TestEpoch
	var out []Change
	add := func(k Kind, key string, row any) { out = append(out, Change{Kind: k, Key: key, Row: row}) }
	plugins := []struct{ name, uuid, state string }{
		{"son-plugin.SonPluginManager", "0a1b2c3d-0000-4000-8000-000000000001", "RUNNING"},
		{"son-plugin.ServiceLifecycleManager", "0a1b2c3d-0000-4000-8000-000000000002", "RUNNING"},
		{"son-plugin.FunctionLifecycleManager", "0a1b2c3d-0000-4000-8000-000000000003", "RUNNING"},
		{"son-plugin.PlacementPlugin", "0a1b2c3d-0000-4000-8000-000000000004", "RUNNING"},
	}
	for i, p := range plugins {
		hb := t0.Add(-time.Second)
		if i == 3 {
			hb = t0.Add(-42 * time.Second) // stale
		}
		add(KindPlugin, p.uuid, &PluginRow{UUID: p.uuid, Name: p.name, Version: "0.1-dev", State: p.state,
			RegisteredAt: t0.Add(-10 * time.Minute), LastHeartbeat: hb})
	}
	athens, aveiro := "5f1c0a4e-1111-4111-8111-000000000001", "5f1c0a4e-1111-4111-8111-000000000002"
	add(KindVIM, athens, &VIMRow{UUID: athens, Name: "athens", City: "Athens", Endpoint: "10.100.32.200", CoresTotal: 32, CoresUsed: 3,
		MemoryTotalMB: 65536, MemoryUsed: 6144})
	add(KindVIM, aveiro, &VIMRow{UUID: aveiro, Name: "aveiro", City: "Aveiro", Endpoint: "10.1.10.0", CoresTotal: 16, CoresUsed: 14,
		MemoryTotalMB: 32768, MemoryUsed: 30720})
	svc1, svc2 := "019a0000-0000-7000-8000-000000000001", "019a0000-0000-7000-8000-000000000002"
	vnfs := []string{"vnf_firewall", "vnf_iperf", "vnf_tcpdump"}
	var fns []string
	for i, vnf := range vnfs {
		id := fmt.Sprintf("019a0000-0000-7000-8000-0000000001%02d", i)
		fns = append(fns, id)
		add(KindFunction, id, &FunctionRow{ID: id, ServiceID: svc1, VNFID: vnf, VNFD: "eu.sonata-nfv." + vnf[4:] + "-vnf.0.2", VIM: athens,
			Status: "normal operation", Addresses: []string{fmt.Sprintf("vdu01:cp01=172.0.0.%d", 2+3*i), fmt.Sprintf("vdu01:cp02=172.0.0.%d", 3+3*i)},
			Cores: 1, MemoryMB: 2048})
	}
	add(KindService, svc1, &ServiceRow{ID: svc1, Name: "demo-1", Status: "ready", RecordStatus: "normal operation",
		NSD: "eu.sonata-nfv.service-descriptor.sonata-demo.0.2.1", NSDName: "sonata-demo 0.2.1", Functions: fns, Version: 2,
		CreatedAt: t0.Add(-5 * time.Minute), UpdatedAt: t0.Add(-4 * time.Minute)})
	add(KindService, svc2, &ServiceRow{ID: svc2, Name: "demo-2", Status: "instantiating", RecordStatus: "normal operation",
		NSD: "eu.sonata-nfv.service-descriptor.sonata-demo.0.2.1", NSDName: "sonata-demo 0.2.1", Version: 1, CreatedAt: t0.Add(-3 * time.Second)})
	steps := func(n int, failAt int) []StepRow {
		names := []string{"validate", "prepare_ia", "place", "deploy_vnfs", "chain", "record", "inform_gk"}
		var out []StepRow
		for i, name := range names[:n] {
			s := StepRow{Name: name, Status: "succeeded", StartedAt: t0.Add(time.Duration(i-300) * time.Second), EndedAt: t0.Add(time.Duration(i-299) * time.Second)}
			switch {
			case i == failAt:
				s.Status, s.Error = "failed", "infrastructure.function.deploy: VIM athens has 0 cores left, 1 needed"
			case i == n-1 && failAt < 0 && n < len(names):
				s.Status, s.EndedAt = "running", time.Time{}
			}
			out = append(out, s)
		}
		return out
	}
	op := func(id, svc, name, kind, status string, at time.Time, st []StepRow, failed, errText string) {
		add(KindOperation, id, &OperationRow{ID: id, ServiceID: svc, ServiceName: name, Kind: kind, Status: status, CorrelationID: "c0ffee00-" + id[len(id)-4:],
			RequestedAt: at, StartedAt: at, EndedAt: func() time.Time {
				if status == "running" {
					return time.Time{}
				}
				return at.Add(7 * time.Second)
			}(), Steps: st, FailedStep: failed, Error: errText})
	}
	op("019a0000-0000-7000-8000-00000000a001", svc1, "demo-1", "instantiate", "succeeded", t0.Add(-5*time.Minute), steps(7, -1), "", "")
	op("019a0000-0000-7000-8000-00000000a002", "", "demo-3", "instantiate", "rolled-back", t0.Add(-2*time.Minute), steps(4, 3), "deploy_vnfs",
		"infrastructure.function.deploy: VIM athens has 0 cores left, 1 needed")
	op("019a0000-0000-7000-8000-00000000a003", svc2, "demo-2", "instantiate", "running", t0.Add(-3*time.Second), steps(4, -1), "", "")
	return out
}

// TestServices returns n ready services with three functions each spread
// over the two VIMs of TestRows, for benchmarks.
func TestServices(n int) []Change {
	out := make([]Change, 0, 4*n)
	vims := []string{"5f1c0a4e-1111-4111-8111-000000000001", "5f1c0a4e-1111-4111-8111-000000000002"}
	for i := range n {
		id := fmt.Sprintf("019a%04x-%04x-7000-8000-%012x", i>>16, i&0xffff, i)
		var fns []string
		for j := range 3 {
			fid := fmt.Sprintf("019b%04x-%04x-7000-8000-%012x", i>>16, i&0xffff, i*3+j)
			fns = append(fns, fid)
			out = append(out, Change{Kind: KindFunction, Key: fid, Row: &FunctionRow{ID: fid, ServiceID: id, VNFID: fmt.Sprintf("vnf_%d", j),
				VNFD: "eu.sonata-nfv.x.0.2", VIM: vims[(i+j)%2], Status: "normal operation", Addresses: []string{"vdu01:cp01=172.16.0.1"}, Cores: 1, MemoryMB: 1024}})
		}
		out = append(out, Change{Kind: KindService, Key: id, Row: &ServiceRow{ID: id, Name: fmt.Sprintf("svc-%05d", i), Status: "ready",
			RecordStatus: "normal operation", NSD: "eu.sonata-nfv.service-descriptor.sonata-demo.0.2.1", NSDName: "sonata-demo 0.2.1", Functions: fns, Version: 2,
			CreatedAt: TestEpoch.Add(-time.Duration(n-i) * time.Second)}})
	}
	return out
}
