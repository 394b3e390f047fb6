package tui

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/manoctl/manoctl/adapters/amqp"
	"github.com/manoctl/manoctl/adapters/amqp/amqptest"
	"github.com/manoctl/manoctl/adapters/membus"
	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/control"
	"github.com/manoctl/manoctl/reconcile/desired"
	"github.com/manoctl/manoctl/reconcile/plan"
	"github.com/manoctl/manoctl/reconcile/records"
)

// fakeDaemon answers the control topics from a records store and
// publishes its changes on manoctl.events.<table>, standing in for
// `manoctl daemon` (which the end-to-end test in cmd/manoctl runs).
type fakeDaemon struct {
	t     testing.TB
	store *records.Store
	ep    *bus.Endpoint
	demo  *records.Demo
	vim   string

	mu      sync.Mutex
	actions []string
	// lateOnce publishes a change while the first Get of services is
	// being answered: the TUI must not lose it.
	lateOnce sync.Once
}

func startFakeDaemon(t testing.TB, b bus.Bus) *fakeDaemon {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	store := records.NewMemStore()
	d := &fakeDaemon{t: t, store: store, ep: bus.NewEndpoint(b, control.AppDaemon), demo: records.DemoDescriptors(),
		vim: "5f1c0a4e-1111-4111-8111-000000000001"}
	if _, err := store.Write(func(txn *records.WriteTxn) error { return d.demo.StoreTxn(store, txn) }); err != nil {
		t.Fatal(err)
	}
	must := func(_ uint64, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(store.UpsertVIM(&records.VIM{UUID: d.vim, Name: "athens", City: "Athens", CoresTotal: 32, MemoryTotalMB: 65536}))
	for i, n := range []string{"son-plugin.ServiceLifecycleManager", "son-plugin.FunctionLifecycleManager"} {
		must(store.UpsertPlugin(&records.Plugin{UUID: fmt.Sprintf("0a1b2c3d-0000-4000-8000-00000000000%d", i), Name: n, Version: "0.1-dev",
			State: "RUNNING", RegisteredAt: time.Now(), LastHeartbeatAt: time.Now()}))
	}
	d.addService("demo-0", 0)

	handle := func(topic string, h func(context.Context, *bus.Message) any) {
		if _, err := d.ep.Handle(ctx, topic, bus.RequestsOnly|bus.SkipOwn, func(ctx context.Context, m *bus.Message) {
			if r := h(ctx, m); r != nil {
				d.ep.Reply(ctx, m, r)
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	handle(control.TopicStatus, func(context.Context, *bus.Message) any {
		return control.StatusReply{Version: "test", Lineage: store.Lineage(), StartedAt: time.Now()}
	})
	handle(control.TopicGet, func(_ context.Context, m *bus.Message) any {
		var req control.GetRequest
		if err := m.Decode(&req); err != nil {
			return control.GetReply{Error: &control.Error{Code: 1, Message: err.Error()}}
		}
		items := d.items(req.Kind)
		if req.Kind == "services" {
			d.lateOnce.Do(func() { d.addService("late", 9) })
		}
		return control.GetReply{FormatVersion: control.FormatVersion, Kind: req.Kind, Items: items}
	})
	handle(control.TopicPlan, func(_ context.Context, m *bus.Message) any {
		var req control.PlanRequest
		if err := m.Decode(&req); err != nil {
			return control.PlanReply{Error: &control.Error{Code: 1, Message: err.Error()}}
		}
		pl, err := plan.Compute(plan.Input{Desired: req.Desired.State(), Records: plan.FromSnapshot(store.Snapshot(), false), Now: time.Now()})
		if err != nil {
			return control.PlanReply{Error: &control.Error{Code: 1, Message: err.Error()}}
		}
		return control.PlanReply{Plan: pl}
	})
	handle(control.TopicApply, func(ctx context.Context, m *bus.Message) any {
		var req control.ApplyRequest
		if err := m.Decode(&req); err != nil {
			return control.Progress{Kind: "result", Failure: &control.Error{Code: 1, Message: err.Error()}}
		}
		var results []control.ApplyResult
		for _, c := range req.Plan.Changes {
			d.record("apply " + string(c.Action) + " " + c.Service)
			d.ep.Reply(ctx, m, control.Progress{Kind: "started", Service: c.Service, Action: c.Action})
			d.ep.Reply(ctx, m, control.Progress{Kind: "status", Service: c.Service, Action: c.Action, Status: "INSTANTIATING"})
			if c.Action == plan.Create {
				d.addService(c.Service, 2)
			}
			d.ep.Reply(ctx, m, control.Progress{Kind: "done", Service: c.Service, Action: c.Action})
			results = append(results, control.ApplyResult{Service: c.Service, Action: c.Action})
		}
		return control.Progress{Kind: "result", Results: results}
	})
	handle(control.TopicPlugins, func(_ context.Context, m *bus.Message) any {
		var req control.PluginsRequest
		m.Decode(&req)
		d.record("plugin " + req.Action + " " + req.Target)
		return control.PluginsReply{}
	})

	// Record changes become events, the record as Go encodes it.
	sub := store.Subscribe(1024)
	go func() {
		for batch := range sub.C {
			for _, ev := range batch.Events {
				if ev.Table == records.TableDescriptors {
					continue
				}
				e := control.Event{Index: ev.Index, Table: ev.Table, Key: ev.Key, Op: string(ev.Op), Time: time.Now()}
				if ev.Op != records.EventDelete {
					e.Object, _ = json.Marshal(ev.Object)
				}
				d.ep.Notify(ctx, control.TopicEvents+"."+ev.Table, e, "")
			}
		}
	}()
	t.Cleanup(func() {
		sub.Close()
		cancel()
		d.ep.Close()
	})
	return d
}

func (d *fakeDaemon) record(s string) {
	d.mu.Lock()
	d.actions = append(d.actions, s)
	d.mu.Unlock()
}

func (d *fakeDaemon) recorded() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return strings.Join(d.actions, "; ")
}

func (d *fakeDaemon) addService(name string, n int) {
	svc, fns := d.demo.Service(name, d.vim, n)
	if _, err := d.store.Write(func(txn *records.WriteTxn) error {
		return d.store.UpsertServiceWithFunctionsTxn(txn, svc, fns)
	}); err != nil {
		d.t.Error(err)
	}
}

// items lists records as the daemon does (control.Items), through JSON
// as on the wire.
func (d *fakeDaemon) items(kind string) []map[string]any {
	items, err := control.Items(d.store.Snapshot().Reader(), kind, true)
	if err != nil {
		d.t.Error(err)
	}
	b, _ := json.Marshal(items)
	var back []map[string]any
	json.Unmarshal(b, &back)
	return back
}

// demoDesired is a desired state naming demo-1 and demo-2 with the demo
// descriptors of records.DemoDescriptors (enough for the fake's plan).
func demoDesired(d *fakeDaemon) *desired.State {
	st := &desired.State{ManifestDigest: "sha256:test", Manifest: &desired.Manifest{Path: "manoctl.yaml"}}
	for _, n := range []string{"demo-1", "demo-2"} {
		st.Services = append(st.Services, &desired.Service{Name: n, NSD: d.demo.NSD, NSDDigest: d.demo.NSDDigest, SpecDigest: "sha256:" + n})
	}
	return st
}

func testDaemonBackend(t *testing.T, serverBus, clientBus bus.Bus) {
	fd := startFakeDaemon(t, serverBus)
	client := control.NewClient(clientBus)
	client.Timeout = 10 * time.Second
	defer client.Close()
	ctx := context.Background()
	if _, err := client.Status(ctx); err != nil {
		t.Fatalf("status: %v", err)
	}
	d := NewDaemon(DaemonConfig{Bus: clientBus, Client: client, Source: "daemon test",
		Desired: func(context.Context) (*desired.State, error) { return demoDesired(fd), nil }, Services: []string{"demo-1", "demo-2"}})
	m := New(d, Options{})
	defer m.Close()
	m.Update(tea.WindowSizeMsg{Width: 100, Height: 30})
	done := make(chan error, 1)
	go func() { done <- d.Run(m.ctx, m.feed) }()

	eventually(t, m, "the daemon's records", func() bool {
		return len(m.lists[KindPlugin].all) == 2 && len(m.lists[KindVIM].all) == 1 && m.lists[KindService].byKey != nil &&
			m.serviceNamed("demo-0") && len(m.lists[KindFunction].all) >= 3
	})
	// The change made while the services were being listed was held and
	// replayed, not lost.
	eventually(t, m, "the late service", func() bool { return m.serviceNamed("late") })

	// Live changes: a plugin goes, a heartbeat moves.
	if _, err := fd.store.DeletePlugin("0a1b2c3d-0000-4000-8000-000000000001"); err != nil {
		t.Fatal(err)
	}
	hb := time.Now().Add(time.Hour).UTC()
	if _, err := fd.store.UpsertPlugin(&records.Plugin{UUID: "0a1b2c3d-0000-4000-8000-000000000000", Name: "son-plugin.ServiceLifecycleManager",
		State: "PAUSED", LastHeartbeatAt: hb}); err != nil {
		t.Fatal(err)
	}
	eventually(t, m, "the plugin changes", func() bool {
		p, _ := m.lists[KindPlugin].get("0a1b2c3d-0000-4000-8000-000000000000").(*PluginRow)
		return len(m.lists[KindPlugin].all) == 1 && p != nil && p.State == "PAUSED" && p.LastHeartbeat.Equal(hb)
	})

	// Plan and apply demo-1 through the daemon.
	p, err := d.Plan(ctx, ActionApply, "demo-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Plan.Changes) != 1 || p.Plan.Changes[0].Service != "demo-1" || p.Plan.Changes[0].Action != plan.Create {
		t.Fatalf("plan kept %+v", p.Plan.Changes)
	}
	var lines []string
	if err := d.Apply(ctx, p, func(l string) { lines = append(lines, l) }); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(lines, "|"); got != "demo-1: create started|demo-1: create INSTANTIATING|demo-1: create complete" {
		t.Errorf("progress %q", got)
	}
	eventually(t, m, "demo-1 ready", func() bool { return m.serviceNamed("demo-1") })
	if err := d.PluginLifecycle(ctx, "0a1b2c3d-0000-4000-8000-000000000000", "stop"); err != nil {
		t.Fatal(err)
	}
	if got := fd.recorded(); got != "apply create demo-1; plugin stop 0a1b2c3d-0000-4000-8000-000000000000" {
		t.Errorf("daemon saw %q", got)
	}

	// A resync (the daemon's "resync" event, or a reconnection) reloads
	// everything.
	fd.ep.Notify(ctx, control.TopicEvents+".resync", control.Event{Op: "resync", Time: time.Now()}, "")
	eventually(t, m, "the resync", func() bool { return strings.Contains(m.status, "reloading") })
	eventually(t, m, "the records after the resync", func() bool { return m.serviceNamed("demo-1") && m.serviceNamed("late") })

	// The bus traffic is seen, the control requests included.
	eventually(t, m, "the control traffic", func() bool {
		for i := 0; i < m.traffic.all.len(); i++ {
			if m.traffic.all.at(i).msg.Topic == control.TopicApply {
				return true
			}
		}
		return false
	})
	m.Close()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

func (m *Model) serviceNamed(name string) bool {
	for _, e := range m.lists[KindService].all {
		if s := e.row.(*ServiceRow); s.Name == name && !s.Placeholder {
			return true
		}
	}
	return false
}

func TestDaemon_Membus(t *testing.T) {
	b := membus.New()
	defer b.Close()
	testDaemonBackend(t, b.Default(), b.Default())
}

func TestDaemon_AMQP(t *testing.T) {
	amqptest.Require(t)
	exchange := amqptest.Exchange(t, "/")
	dial := func(name string) bus.Bus {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		b, err := amqp.Dial(ctx, amqp.Config{URL: amqptest.URL(), Exchange: exchange, Name: name})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	}
	testDaemonBackend(t, dial("fake daemon"), dial("manoctl tui test"))
}

func TestDaemon_NoManifest(t *testing.T) {
	d := NewDaemon(DaemonConfig{})
	if _, err := d.Plan(context.Background(), ActionApply, "x"); err != ErrNoManifest {
		t.Errorf("Plan without a manifest: %v", err)
	}
}
