package tui

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/manoctl/manoctl/adapters/embedded"
	"github.com/manoctl/manoctl/reconcile/desired"
	"github.com/manoctl/manoctl/reconcile/plan"
	"github.com/manoctl/manoctl/reconcile/records"
)

const demoManifest = `descriptors: [%s]
vims:
  - {name: athens, city: Athens, endpoint: 10.100.32.200, cores: 32, memory_mb: 65536}
  - {name: aveiro, city: Aveiro, endpoint: 10.1.10.0, cores: 16, memory_mb: 32768}
services:
  demo-1:
    nsd: {vendor: eu.sonata-nfv.service-descriptor, name: sonata-demo, version: "0.2.1"}
    ingresses: [{location: Athens, nap: 10.100.10.100}]
    egresses: [{location: Aveiro, nap: 10.1.10.1}]
`

// demoState writes the demo manifest in a temporary directory and
// resolves it.
func demoState(t testing.TB) (*desired.State, string) {
	t.Helper()
	dir := t.TempDir()
	descs, err := filepath.Abs(filepath.Join("..", "testdata", "demo", "descriptors"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "manoctl.yaml")
	if err := os.WriteFile(path, []byte(strings.Replace(demoManifest, "%s", descs, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := desired.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := desired.Resolve(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	return st, dir
}

// eventually runs frames until cond holds.
func eventually(t *testing.T, m *Model, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		m.onFrame(time.Now())
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s; screen:\n%s", what, m.View())
}

// TestEmbedded_Flow runs the model over the real embedded platform on a
// state directory, without a terminal: plugins register and beat, a
// service is planned, applied and destroyed, a plugin is paused and
// started (apply refuses meanwhile), and closing saves the infrastructure
// and keeps the plugin table as the run left it.
func TestEmbedded_Flow(t *testing.T) {
	st, dir := demoState(t)
	stateDir := filepath.Join(dir, ".manoctl")
	store, err := records.Open(stateDir, records.Options{Command: "tui test"})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	// A plugin left by a crashed run is replaced at start.
	if _, err := store.UpsertPlugin(&records.Plugin{UUID: "dead", Name: "son-plugin.Old", State: "RUNNING"}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	e, err := StartEmbedded(ctx, EmbeddedConfig{Store: store, Dir: stateDir, Desired: st})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			e.Close()
		}
	}()
	m := New(e, Options{})
	defer m.Close()
	m.Update(tea.WindowSizeMsg{Width: 100, Height: 30})
	done := make(chan error, 1)
	go func() { done <- e.Run(m.ctx, m.feed) }()

	// The lock is held: another writer is refused.
	if _, err := records.Open(stateDir, records.Options{}); !errors.As(err, new(*records.LockedError)) {
		t.Errorf("second writer: %v, want a LockedError", err)
	}

	eventually(t, m, "three plugins running", func() bool {
		n := 0
		for _, e := range m.lists[KindPlugin].all {
			if p := e.row.(*PluginRow); p.State == "RUNNING" && !p.LastHeartbeat.IsZero() {
				n++
			}
		}
		return n == 3 && m.lists[KindPlugin].byKey["dead"] == nil
	})
	eventually(t, m, "heartbeats on the bus", func() bool { return m.traffic.total >= 3 })
	eventually(t, m, "the VIMs", func() bool { return len(m.lists[KindVIM].all) == 2 })
	mustContain(t, m.View(), "demo-1", "NOT DEPLOYED")

	// Plan and apply demo-1.
	p, err := e.Plan(ctx, ActionApply, "demo-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Plan.Changes) != 1 || p.Plan.Changes[0].Action != plan.Create || !strings.Contains(p.Text, "demo-1 (create)") {
		t.Fatalf("plan: %+v\n%s", p.Plan.Changes, p.Text)
	}
	var lines []string
	if err := e.Apply(ctx, p, func(l string) { lines = append(lines, l) }); err != nil {
		t.Fatalf("apply: %v (progress %q)", err, lines)
	}
	if !strings.Contains(strings.Join(lines, "\n"), "demo-1: create complete") {
		t.Errorf("progress: %q", lines)
	}
	eventually(t, m, "demo-1 ready", func() bool {
		v := m.View()
		return strings.Contains(v, "READY") && !strings.Contains(v, "NOT DEPLOYED")
	})
	eventually(t, m, "functions and VIM use", func() bool {
		used := int64(0)
		for _, e := range m.lists[KindVIM].all {
			used += e.row.(*VIMRow).CoresUsed
		}
		return len(m.lists[KindFunction].all) == 3 && used == 3
	})
	eventually(t, m, "the operation", func() bool {
		for _, e := range m.lists[KindOperation].all {
			if o := e.row.(*OperationRow); o.Status == "succeeded" && len(o.Steps) > 3 {
				return true
			}
		}
		return false
	})
	// The infrastructure is saved after each apply, not only at exit.
	if data, err := embedded.ReadInfra(stateDir); err != nil || len(data) == 0 {
		t.Errorf("infrastructure not saved after the apply: %v", err)
	}
	// Nothing left to do; a plan made before another change is stale.
	p2, err := e.Plan(ctx, ActionApply, "demo-1")
	if err != nil || p2.Plan.HasChanges() {
		t.Fatalf("second plan: %v %+v", err, p2)
	}
	stale, err := e.Plan(ctx, ActionDestroy, "demo-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Plan(ctx, ActionApply, "nope"); err == nil || !strings.Contains(err.Error(), "not a service of the manifest") {
		t.Errorf("plan of an unknown service: %v", err)
	}

	// Destroy it.
	d, err := e.Plan(ctx, ActionDestroy, "demo-1")
	if err != nil || len(d.Plan.Changes) != 1 || d.Plan.Changes[0].Action != plan.Destroy {
		t.Fatalf("destroy plan: %v %+v", err, d)
	}
	if err := e.Apply(ctx, d, func(string) {}); err != nil {
		t.Fatal(err)
	}
	eventually(t, m, "demo-1 terminated", func() bool {
		v := m.View()
		return strings.Contains(v, "TERMINATED") && strings.Contains(v, "NOT DEPLOYED")
	})
	var se *plan.StaleError
	if err := e.Apply(ctx, stale, func(string) {}); !errors.As(err, &se) {
		t.Errorf("stale plan applied: %v", err)
	}

	// Pause a plugin, then start it again; its state follows.
	var slmUUID string
	for _, e := range m.lists[KindPlugin].all {
		if p := e.row.(*PluginRow); strings.Contains(p.Name, "ServiceLifecycle") {
			slmUUID = p.UUID
		}
	}
	if err := e.PluginLifecycle(ctx, slmUUID, "pause"); err != nil {
		t.Fatal(err)
	}
	state := func(want string) func() bool {
		return func() bool {
			p, _ := m.lists[KindPlugin].get(slmUUID).(*PluginRow)
			return p != nil && p.State == want
		}
	}
	eventually(t, m, "the SLM paused", state("PAUSED"))
	// While a plugin is paused the platform does not serve: apply
	// refuses, as manoctl apply does, naming the plugin.
	again, err := e.Plan(ctx, ActionApply, "demo-1")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Apply(ctx, again, func(string) {}); err == nil || !strings.Contains(err.Error(), "ServiceLifecycleManager is PAUSED") {
		t.Errorf("apply with the SLM paused: %v", err)
	}
	if err := e.PluginLifecycle(ctx, slmUUID, "start"); err != nil {
		t.Fatal(err)
	}
	eventually(t, m, "the SLM running", state("RUNNING"))

	m.Close()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	closed = true
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	// The plugin table stays as the run left it (embedded.PluginTable):
	// the three plugins, idle now that nothing runs (the SLM was started
	// again, so it is not STOPPED), and not the row of the crashed run.
	it, _ := store.Plugins(nil)
	var rows []string
	for p := range it {
		rows = append(rows, p.Name+" "+p.State)
	}
	slices.Sort(rows)
	want := []string{"son-plugin.FunctionLifecycleManager IDLE", "son-plugin.PlacementPlugin IDLE", "son-plugin.ServiceLifecycleManager IDLE"}
	if !slices.Equal(rows, want) {
		t.Errorf("plugin table after close: %q, want %q", rows, want)
	}
}
