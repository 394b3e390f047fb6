package pm_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/manoctl/manoctl/adapters/membus"
	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/plugin"
	"github.com/manoctl/manoctl/reconcile/pm"
	"github.com/manoctl/manoctl/reconcile/wire"
)

type tap struct {
	mu   sync.Mutex
	msgs []*bus.Message
}

func (t *tap) handle(_ context.Context, m *bus.Message) {
	t.mu.Lock()
	t.msgs = append(t.msgs, m)
	t.mu.Unlock()
}

func (t *tap) count(topic string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, m := range t.msgs {
		if m.Topic == topic {
			n++
		}
	}
	return n
}

func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func setup(t *testing.T, cfg pm.Config) (*membus.Broker, *pm.Manager, *tap) {
	t.Helper()
	br := membus.New()
	tp := &tap{}
	br.Default().Subscribe(context.Background(), "#", tp.handle)
	m := pm.New(br.Default(), cfg)
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); br.Close() })
	return br, m, tp
}

func TestRegisterHeartbeatStartDeregister(t *testing.T) {
	br, m, tp := setup(t, pm.Config{})
	ep := bus.NewEndpoint(br.Default(), bus.AppTestPlugin)
	started := make(chan struct{}, 4)
	base := plugin.New(ep, plugin.Info{Name: bus.AppTestPlugin, Version: "1.0-dev"}, plugin.Config{
		HeartbeatInterval: 20 * time.Millisecond,
		OnStart:           func(context.Context) { started <- struct{}{} },
	})
	if err := base.Register(context.Background()); err != nil {
		t.Fatal(err)
	}
	if base.UUID() == "" {
		t.Fatal("no uuid")
	}
	select {
	case <-started:
	case <-time.After(2 * time.Second):
		t.Fatal("plugin never got lifecycle.start")
	}
	eventually(t, "RUNNING stored", func() bool {
		p, ok := m.Plugin(base.UUID())
		return ok && p.State == pm.StateRunning
	})
	// READY was seen once, so start was sent once (§14.2 P3), even though
	// heartbeats continue.
	time.Sleep(100 * time.Millisecond)
	if n := tp.count(bus.PluginLifecycleTopic(base.UUID(), "start")); n != 1 {
		t.Fatalf("lifecycle.start sent %d times, want 1", n)
	}
	if tp.count(bus.TopicPluginStatus) < 2 {
		t.Fatal("no status broadcasts")
	}
	st := m.Status()
	info, ok := st.PluginDict[base.UUID()]
	if !ok || info.Name != bus.AppTestPlugin || info.LastHeartbeatAt == "None" || st.Timestamp == "" {
		t.Fatalf("status %+v", st)
	}
	// Deregistration is answered (§14.2 P1) and removes the plugin.
	if err := base.Deregister(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Plugin(base.UUID()); ok {
		t.Fatal("plugin still registered")
	}
}

func TestRegisterReplyShape(t *testing.T) {
	br, _, _ := setup(t, pm.Config{})
	ep := bus.NewEndpoint(br.Default(), "some-plugin")
	desc := "d"
	msg, err := ep.Request(context.Background(), bus.TopicPluginRegister, wire.RegisterRequest{Name: "x.Y", Version: "1", Description: &desc}, bus.WithTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := msg.Decode(&raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"status", "name", "version", "description", "uuid", "error"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("register reply lacks %q: %v", k, raw)
		}
	}
	if raw["status"] != "OK" || raw["error"] != nil || msg.AppID != bus.AppPluginManager || msg.ReplyTo != "" {
		t.Fatalf("reply %+v %v", msg, raw)
	}
	if bus.EncodingFor(msg.Topic, false) != bus.JSON {
		t.Fatal("PM replies must be JSON")
	}
}

func TestMalformedAndYAMLBodies(t *testing.T) {
	br, m, _ := setup(t, pm.Config{})
	c := br.Default()
	ep := bus.NewEndpoint(c, "p")
	// Not a registration: answered with an error, PM keeps working.
	r, err := ep.Request(context.Background(), bus.TopicPluginRegister, "garbage", bus.WithTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var reply wire.RegisterReply
	r.Decode(&reply)
	if reply.Status != "ERROR" {
		t.Fatalf("malformed registration answered %+v", reply)
	}
	// A YAML deregistration body (what PLEX and the SMR send) is read
	// (§14.2 P2).
	desc := ""
	r, _ = ep.Request(context.Background(), bus.TopicPluginRegister, wire.RegisterRequest{Name: "a.B", Version: "1", Description: &desc}, bus.WithTimeout(time.Second))
	r.Decode(&reply)
	pub := &bus.Message{Topic: bus.TopicPluginDeregister, AppID: "p", ReplyTo: bus.TopicPluginDeregister, CorrelationID: "c2", Body: []byte("uuid: " + reply.UUID + "\n")}
	got := make(chan *bus.Message, 1)
	c.Subscribe(context.Background(), bus.TopicPluginDeregister, func(_ context.Context, m *bus.Message) {
		if m.CorrelationID == "c2" && m.ReplyTo == "" {
			got <- m
		}
	})
	c.Publish(context.Background(), pub)
	select {
	case m := <-got:
		var pr wire.PMReply
		m.Decode(&pr)
		if pr.Status != "OK" {
			t.Fatalf("YAML deregistration: %+v", pr)
		}
	case <-time.After(time.Second):
		t.Fatal("YAML deregistration not answered")
	}
	if len(m.Plugins()) != 0 {
		t.Fatal("plugin not removed")
	}
}

func TestSilentPluginMarkedFailed(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	br, m, _ := setup(t, pm.Config{Now: clock, CheckInterval: time.Hour})
	ep := bus.NewEndpoint(br.Default(), "p")
	desc := ""
	r, err := ep.Request(context.Background(), bus.TopicPluginRegister, wire.RegisterRequest{Name: "a.B", Version: "1", Description: &desc}, bus.WithTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var reply wire.RegisterReply
	r.Decode(&reply)
	mu.Lock()
	now = now.Add(29 * time.Second)
	mu.Unlock()
	m.CheckLiveness(context.Background())
	if p, _ := m.Plugin(reply.UUID); p.State == pm.StateFailed {
		t.Fatal("marked FAILED before the minimum liveness window")
	}
	mu.Lock()
	now = now.Add(2 * time.Second)
	mu.Unlock()
	m.CheckLiveness(context.Background())
	if p, _ := m.Plugin(reply.UUID); p.State != pm.StateFailed {
		t.Fatalf("state %s, want FAILED after 31 s of silence", p.State)
	}
	if len(m.Plugins()) != 1 {
		t.Fatal("a FAILED plugin must stay registered until it deregisters")
	}
}

func TestLifecycleCommands(t *testing.T) {
	_, m, _ := setup(t, pm.Config{})
	if err := m.Lifecycle(context.Background(), "nope", "start"); err == nil {
		t.Fatal("unknown plugin accepted")
	}
	if err := m.Lifecycle(context.Background(), "nope", "explode"); err == nil {
		t.Fatal("unknown action accepted")
	}
}
