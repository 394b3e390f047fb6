package bustest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/manoctl/manoctl/reconcile/bus"
)

// Every subscription receives the messages published to it in publish
// order, whether the publisher shares its connection or not, and handlers
// get a live context.
func testOrdering(t *testing.T, env Env) {
	pub, sub := connect(t, env, 0), connect(t, env, 0)
	exact, star, local := NewRecorder(), NewRecorder(), NewRecorder()
	var deadCtx atomic.Bool
	subscribe(t, sub, "ord.x", func(ctx context.Context, m *bus.Message) {
		if ctx == nil || ctx.Err() != nil {
			deadCtx.Store(true)
		}
		exact.Handle(ctx, m)
	})
	subscribe(t, sub, "ord.*", star.Handle)
	subscribe(t, pub, "ord.#", local.Handle)
	const n = 200
	for i := range n {
		publish(t, pub, &bus.Message{Topic: "ord.x", AppID: "bustest", Payload: probe{Seq: i}})
	}
	for name, r := range map[string]*Recorder{"ord.x": exact, "ord.*": star, "ord.# (publisher's connection)": local} {
		msgs := r.WaitN(t, n)
		if len(msgs) != n {
			t.Fatalf("%s: %d messages, want %d", name, len(msgs), n)
		}
		for i, m := range msgs {
			if p := probeOf(t, m); p.Seq != i {
				t.Fatalf("%s: message %d has seq %d: out of order", name, i, p.Seq)
			}
			if m.Topic != "ord.x" || m.Vhost != env.Vhosts[0] || m.Time.IsZero() {
				t.Fatalf("%s: message %d: topic %q vhost %q time %v", name, i, m.Topic, m.Vhost, m.Time)
			}
		}
	}
	if deadCtx.Load() {
		t.Fatal("a handler got a nil or cancelled context")
	}
}

// Every subscription gets its own copy of every matching message, exactly
// once.
func testFanOut(t *testing.T, env Env) {
	a, b := connect(t, env, 0), connect(t, env, 0)
	rs := []*Recorder{NewRecorder(), NewRecorder(), NewRecorder()}
	subscribe(t, a, "fan.t", rs[0].Handle)
	subscribe(t, a, "fan.t", rs[1].Handle)
	subscribe(t, b, "fan.t", rs[2].Handle)
	const n = 20
	for i := range n {
		publish(t, a, &bus.Message{Topic: "fan.t", Payload: probe{Seq: i}})
	}
	publish(t, b, &bus.Message{Topic: "fan.t", Payload: probe{Barrier: true}})
	for i, r := range rs {
		got := r.waitBarrier(t)
		if len(got) != n {
			t.Fatalf("subscription %d got %d copies before the barrier, want %d", i, len(got), n)
		}
		for j, m := range got {
			if probeOf(t, m).Seq != j {
				t.Fatalf("subscription %d: message %d out of order", i, j)
			}
		}
	}
}

// Binding keys follow RabbitMQ topic semantics: '*' is exactly one word,
// '#' zero or more.
func testWildcards(t *testing.T, env Env) {
	pub, sub := connect(t, env, 0), connect(t, env, 0)
	topicsSent := []string{"w", "w.a", "w.a.b", "w.a.c", "w.a.b.c", "x.c", "c"}
	want := map[string][]string{
		"w.*":   {"w.a"},
		"w.#":   {"w", "w.a", "w.a.b", "w.a.c", "w.a.b.c"},
		"w.*.c": {"w.a.c"},
		"#.c":   {"w.a.c", "w.a.b.c", "x.c", "c"},
		"w.#.c": {"w.a.c", "w.a.b.c"},
		"*":     {"w", "c"},
		"#":     topicsSent,
		"w.a":   {"w.a"},
		"*.*.b": {"w.a.b"},
	}
	recs := map[string]*Recorder{}
	for p := range want {
		recs[p] = NewRecorder()
		subscribe(t, sub, p, recs[p].Handle)
	}
	for i, topic := range topicsSent {
		publish(t, pub, &bus.Message{Topic: topic, Payload: probe{Seq: i}})
	}
	// One barrier topic per pattern, all published after the test topics.
	for _, topic := range []string{"w.bar", "w.bar.c", "bar", "w.a", "w.a.b"} {
		publish(t, pub, &bus.Message{Topic: topic, Payload: probe{Barrier: true}})
	}
	for p, r := range recs {
		got := topics(r.waitBarrier(t))
		if !slices.Equal(got, want[p]) {
			t.Errorf("pattern %q received %v, want %v", p, got, want[p])
		}
	}
}

// A message no binding matches is dropped without an error, requests
// included.
func testUnroutable(t *testing.T, env Env) {
	b := connect(t, env, 0)
	a, z := NewRecorder(), NewRecorder()
	subscribe(t, b, "un.a", a.Handle)
	subscribe(t, b, "un.*.z", z.Handle)
	publish(t, b, &bus.Message{Topic: "un.b", Payload: probe{Seq: 1}})
	publish(t, b, &bus.Message{Topic: "un.a.b", Payload: probe{Seq: 2}})
	publish(t, b, &bus.Message{Topic: "un.req", ReplyTo: "un.req", CorrelationID: "c-1", AppID: "bustest", Payload: probe{Seq: 3}})
	publish(t, b, &bus.Message{Topic: "un.a", Payload: probe{Barrier: true}})
	publish(t, b, &bus.Message{Topic: "un.q.z", Payload: probe{Barrier: true}})
	if got := a.waitBarrier(t); len(got) != 0 {
		t.Fatalf("un.a received unroutable messages %v", topics(got))
	}
	if got := z.waitBarrier(t); len(got) != 0 {
		t.Fatalf("un.*.z received unroutable messages %v", topics(got))
	}
}

// Subscribe returns only when the binding is in place: a message published
// right after it is delivered (wire-protocol §14.1 T3).
func testBindingBeforeReturn(t *testing.T, env Env) {
	pub, sub := connect(t, env, 0), connect(t, env, 0)
	for i := range 10 {
		r := NewRecorder()
		topic := fmt.Sprintf("bind.%d", i)
		s := subscribe(t, sub, topic, r.Handle)
		publish(t, pub, &bus.Message{Topic: topic, Payload: probe{Seq: i}})
		r.WaitN(t, 1)
		if err := s.Unsubscribe(); err != nil {
			t.Fatal(err)
		}
	}
}

// Subscriptions on one shared queue compete: each message goes to exactly
// one of them, and each gets some. A private subscription on the same topic
// still gets every message.
func testSharedQueue(t *testing.T, env Env) {
	s1, s2, pub := connect(t, env, 0), connect(t, env, 0), connect(t, env, 0)
	q := "manoctl.bustest." + randomID()
	var mu sync.Mutex
	seen := map[int]int{}
	total := make(chan struct{}, 1000)
	// Each consumer holds its first message until the other has one too,
	// so that competition is certain, not likely, however the transport
	// schedules them.
	type consumer struct {
		count atomic.Int64
		first sync.Once
		got   chan struct{}
	}
	a, b := &consumer{got: make(chan struct{})}, &consumer{got: make(chan struct{})}
	handler := func(self, other *consumer) bus.Handler {
		return func(_ context.Context, m *bus.Message) {
			self.count.Add(1)
			self.first.Do(func() {
				close(self.got)
				select {
				case <-other.got:
				case <-time.After(Patience):
					t.Error("only one consumer of the shared queue got messages")
				}
			})
			mu.Lock()
			seen[probeOf(t, m).Seq]++
			mu.Unlock()
			total <- struct{}{}
		}
	}
	subscribe(t, s1, "work.t", handler(a, b), bus.WithQueue(q))
	subscribe(t, s2, "work.t", handler(b, a), bus.WithQueue(q))
	private := NewRecorder()
	subscribe(t, s1, "work.t", private.Handle)
	if _, err := s1.Subscribe(context.Background(), "work.other", func(context.Context, *bus.Message) {}, bus.WithQueue(q)); err == nil {
		t.Fatal("a shared queue was bound to a second pattern")
	}

	const n = 50
	for i := range n {
		publish(t, pub, &bus.Message{Topic: "work.t", Payload: probe{Seq: i}})
	}
	deadline := time.After(Patience)
	for i := range n {
		select {
		case <-total:
		case <-deadline:
			t.Fatalf("shared queue delivered %d of %d messages", i, n)
		}
	}
	private.WaitN(t, n)
	// The first n deliveries are n distinct messages: none was lost and
	// none was handled twice.
	mu.Lock()
	defer mu.Unlock()
	for i := range n {
		if seen[i] != 1 {
			t.Fatalf("message %d handled %d times by the shared queue's consumers", i, seen[i])
		}
	}
	if a.count.Load() == 0 || b.count.Load() == 0 {
		t.Fatalf("no competition: %d/%d", a.count.Load(), b.count.Load())
	}
}

// After Unsubscribe returns, the handler gets nothing more; Unsubscribe is
// idempotent and may be called from the handler itself.
func testUnsubscribe(t *testing.T, env Env) {
	b := connect(t, env, 0)
	gone, control := NewRecorder(), NewRecorder()
	s := subscribe(t, b, "uns.t", gone.Handle)
	subscribe(t, b, "uns.t", control.Handle)
	var self bus.Subscription
	var selfCount atomic.Int64
	ready, selfDone := make(chan struct{}), make(chan struct{})
	self = subscribe(t, b, "uns.t", func(context.Context, *bus.Message) {
		<-ready
		if selfCount.Add(1) == 1 {
			if err := self.Unsubscribe(); err != nil {
				t.Errorf("unsubscribe from the handler: %v", err)
			}
			close(selfDone)
		}
	})
	close(ready)
	publish(t, b, &bus.Message{Topic: "uns.t", Payload: probe{Seq: 0}})
	gone.WaitN(t, 1)
	control.WaitN(t, 1)
	if err := s.Unsubscribe(); err != nil {
		t.Fatalf("unsubscribe: %v", err)
	}
	if err := s.Unsubscribe(); err != nil {
		t.Fatalf("second unsubscribe: %v", err)
	}
	publish(t, b, &bus.Message{Topic: "uns.t", Payload: probe{Seq: 1}})
	publish(t, b, &bus.Message{Topic: "uns.t", Payload: probe{Seq: 2, Barrier: true}})
	control.waitBarrier(t)
	select {
	case <-selfDone:
	case <-time.After(Patience):
		t.Fatal("the handler that unsubscribes itself never ran")
	}
	if n := len(gone.Messages()); n != 1 {
		t.Fatalf("unsubscribed handler got %d messages, want 1", n)
	}
	if n := selfCount.Load(); n != 1 {
		t.Fatalf("handler that unsubscribed itself ran %d times, want 1", n)
	}
}

// Virtual hosts are separate namespaces, and connecting to a missing one
// fails with bus.ErrNoVhost.
func testVhostIsolation(t *testing.T, env Env) {
	a, b := connect(t, env, 0), connect(t, env, 1)
	ra, rb := NewRecorder(), NewRecorder()
	subscribe(t, a, "#", ra.Handle)
	subscribe(t, b, "#", rb.Handle)
	publish(t, a, &bus.Message{Topic: "iso.x", Payload: probe{Seq: 1}})
	publish(t, b, &bus.Message{Topic: "iso.y", Payload: probe{Seq: 2}})
	publish(t, a, &bus.Message{Topic: "iso.end", Payload: probe{Barrier: true}})
	publish(t, b, &bus.Message{Topic: "iso.end", Payload: probe{Barrier: true}})
	if got := ra.waitBarrier(t); len(got) != 1 || got[0].Topic != "iso.x" || got[0].Vhost != env.Vhosts[0] {
		t.Fatalf("vhost %q received %v", env.Vhosts[0], topics(got))
	}
	if got := rb.waitBarrier(t); len(got) != 1 || got[0].Topic != "iso.y" || got[0].Vhost != env.Vhosts[1] {
		t.Fatalf("vhost %q received %v", env.Vhosts[1], topics(got))
	}

	ctx, cancel := context.WithTimeout(context.Background(), Patience)
	defer cancel()
	missing := "bustest-missing-" + randomID()
	c, err := env.Connector.Connect(ctx, missing)
	if err == nil {
		c.Close()
		t.Fatalf("connected to missing vhost %q", missing)
	}
	if !errors.Is(err, bus.ErrNoVhost) {
		t.Fatalf("connect to missing vhost: %v, want bus.ErrNoVhost", err)
	}
}

// A handler that panics loses that message only; the subscription lives.
func testHandlerPanic(t *testing.T, env Env) {
	b := connect(t, env, 0)
	r := NewRecorder()
	var calls atomic.Int64
	subscribe(t, b, "panic.t", func(ctx context.Context, m *bus.Message) {
		if calls.Add(1) == 1 {
			panic("bustest: bad message")
		}
		r.Handle(ctx, m)
	})
	publish(t, b, &bus.Message{Topic: "panic.t", Payload: probe{Seq: 1}})
	publish(t, b, &bus.Message{Topic: "panic.t", Payload: probe{Seq: 2}})
	if m := r.WaitN(t, 1); probeOf(t, m[0]).Seq != 2 {
		t.Fatalf("after the panic got seq %d", probeOf(t, m[0]).Seq)
	}
}

// WithConcurrency(n) runs up to n handlers at once.
func testConcurrency(t *testing.T, env Env) {
	b := connect(t, env, 0)
	var running atomic.Int64
	both := make(chan struct{})
	var once sync.Once
	done := make(chan struct{}, 8)
	subscribe(t, b, "conc.t", func(context.Context, *bus.Message) {
		if running.Add(1) >= 2 {
			once.Do(func() { close(both) })
		}
		select {
		case <-both:
		case <-time.After(Patience):
			t.Error("handlers of a WithConcurrency(4) subscription never ran two at a time")
		}
		running.Add(-1)
		done <- struct{}{}
	}, bus.WithConcurrency(4))
	for i := range 4 {
		publish(t, b, &bus.Message{Topic: "conc.t", Payload: probe{Seq: i}})
	}
	for range 4 {
		select {
		case <-done:
		case <-time.After(Patience):
			t.Fatal("concurrent handlers did not finish")
		}
	}
}

// An observer bound to "#" sees a message before any message a handler
// publishes in reaction to it.
func testCausalOrder(t *testing.T, env Env) {
	pub, reactor, observer := connect(t, env, 0), connect(t, env, 0), connect(t, env, 0)
	tap := NewRecorder()
	subscribe(t, observer, "#", tap.Handle)
	subscribe(t, reactor, "ping", func(ctx context.Context, m *bus.Message) {
		if err := reactor.Publish(ctx, &bus.Message{Topic: "pong", Body: m.Body, Payload: m.Payload}); err != nil {
			t.Errorf("pong: %v", err)
		}
	})
	const n = 30
	for i := range n {
		publish(t, pub, &bus.Message{Topic: "ping", Payload: probe{Seq: i}})
	}
	msgs := tap.WaitN(t, 2*n)
	seen := map[int]bool{}
	for _, m := range msgs {
		p := probeOf(t, m)
		if m.Topic == "ping" {
			seen[p.Seq] = true
		} else if !seen[p.Seq] {
			t.Fatalf("pong %d before its ping", p.Seq)
		}
	}
}

// Request/reply through bus.Endpoint between two connections: the first
// reply wins, duplicates are ignored, the reply carries the request's
// correlation id and no reply_to.
func testRequestReply(t *testing.T, env Env) {
	server, client := connect(t, env, 0), connect(t, env, 0)
	srv := bus.NewEndpoint(server, "bustest.server")
	defer srv.Close()
	ctx := context.Background()
	_, err := srv.Handle(ctx, "rr.echo", bus.SkipOwn|bus.RequestsOnly, func(ctx context.Context, m *bus.Message) {
		var in map[string]any
		if err := m.Decode(&in); err != nil {
			t.Errorf("server decode: %v", err)
			return
		}
		for i := range 3 { // duplicates must be harmless
			if err := srv.Reply(ctx, m, map[string]any{"echo": in["v"], "n": i}); err != nil {
				t.Errorf("reply: %v", err)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	cl := bus.NewEndpoint(client, "bustest.client")
	defer cl.Close()
	for i := range 10 {
		m, err := cl.Request(ctx, "rr.echo", map[string]any{"v": i}, bus.WithTimeout(Patience))
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		var out map[string]any
		if err := m.Decode(&out); err != nil {
			t.Fatal(err)
		}
		if out["echo"] != i || out["n"] != 0 {
			t.Fatalf("request %d got %v: the first reply must win", i, out)
		}
		if m.ReplyTo != "" || m.AppID != "bustest.server" || m.CorrelationID == "" || m.Topic != "rr.echo" {
			t.Fatalf("reply properties: topic %q app_id %q correlation_id %q reply_to %q", m.Topic, m.AppID, m.CorrelationID, m.ReplyTo)
		}
	}
	m, err := cl.Request(ctx, "rr.echo", map[string]any{"v": "fixed"}, bus.WithCorrelationID("bustest-fixed-id"), bus.WithTimeout(Patience))
	if err != nil {
		t.Fatal(err)
	}
	if m.CorrelationID != "bustest-fixed-id" {
		t.Fatalf("reply correlation id %q", m.CorrelationID)
	}
}

// A request nobody answers ends with a timeout error.
func testRequestTimeout(t *testing.T, env Env) {
	cl := bus.NewEndpoint(connect(t, env, 0), "bustest.client")
	defer cl.Close()
	_, err := cl.Request(context.Background(), "rr.nobody", map[string]any{}, bus.WithTimeout(100*time.Millisecond))
	if !bus.IsTimeout(err) {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if err.Error() != "Timeout waiting for rr.nobody reply" {
		t.Fatalf("message %q", err)
	}
}

// A streaming call (the gatekeeper's view of service.instances.create)
// receives every reply in order.
func testStreamedReplies(t *testing.T, env Env) {
	server, client := connect(t, env, 0), connect(t, env, 0)
	srv := bus.NewEndpoint(server, "bustest.slm")
	defer srv.Close()
	statuses := []string{bus.StatusInstantiating, "WORKING", bus.StatusReady}
	_, err := srv.Handle(context.Background(), "rr.stream", bus.SkipOwn|bus.RequestsOnly, func(ctx context.Context, m *bus.Message) {
		for _, s := range statuses {
			if err := srv.Reply(ctx, m, map[string]any{"status": s}); err != nil {
				t.Errorf("reply: %v", err)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	cl := bus.NewEndpoint(client, "bustest.gk")
	defer cl.Close()
	call, err := cl.Start(context.Background(), "rr.stream", map[string]any{"service": "x"})
	if err != nil {
		t.Fatal(err)
	}
	defer call.Close()
	for _, want := range statuses {
		select {
		case m := <-call.Replies():
			var out map[string]any
			if err := m.Decode(&out); err != nil {
				t.Fatal(err)
			}
			if out["status"] != want {
				t.Fatalf("status %v, want %s", out["status"], want)
			}
			if m.CorrelationID != call.CorrelationID {
				t.Fatalf("reply correlation id %q, want %q", m.CorrelationID, call.CorrelationID)
			}
		case <-time.After(Patience):
			t.Fatalf("no %s reply", want)
		}
	}
}

// The AMQP properties of §1.4 survive the trip, and an absent property
// reads as empty.
func testProperties(t *testing.T, env Env) {
	pub, sub := connect(t, env, 0), connect(t, env, 0)
	r := NewRecorder()
	subscribe(t, sub, "prop.#", r.Handle)
	headers := map[string]any{
		"key": "default", "type": "request", "n": 7, "flag": true,
		"nested": map[string]any{"a": "b"}, "empty": "",
	}
	publish(t, pub, &bus.Message{
		Topic: "prop.full", AppID: "son-plugin.Bustest", CorrelationID: "corr-1", ReplyTo: "prop.full",
		ContentType: "text/yaml", Headers: headers, Payload: probe{Seq: 1}, Persistent: true,
	})
	publish(t, pub, &bus.Message{Topic: "prop.bare", Payload: probe{Seq: 2}})
	publish(t, pub, &bus.Message{Topic: "prop.empty", Headers: map[string]any{}, Payload: probe{Seq: 3}})
	msgs := r.WaitN(t, 3)

	full := msgs[0]
	if full.Topic != "prop.full" || full.AppID != "son-plugin.Bustest" || full.CorrelationID != "corr-1" ||
		full.ReplyTo != "prop.full" || full.ContentType != "text/yaml" || !full.Persistent || !full.IsRequest() {
		t.Fatalf("properties changed in transit: %+v", full)
	}
	if !reflect.DeepEqual(full.Headers, headers) {
		t.Fatalf("headers %#v, want %#v", full.Headers, headers)
	}
	for _, m := range msgs[1:] {
		if m.AppID != "" || m.CorrelationID != "" || m.ReplyTo != "" || len(m.Headers) != 0 || m.Persistent || m.IsRequest() {
			t.Fatalf("%s: absent properties must read as empty: %+v", m.Topic, m)
		}
	}
	for i, m := range msgs {
		if p := probeOf(t, m); p.Seq != i+1 {
			t.Fatalf("%s: body seq %d", m.Topic, p.Seq)
		}
	}
}

// Payload is the record a receiver decodes in the payload round trip.
type payload struct {
	Name   string            `json:"name" yaml:"name"`
	Count  int               `json:"count" yaml:"count"`
	Ratio  float64           `json:"ratio" yaml:"ratio"`
	Flag   bool              `json:"flag" yaml:"flag"`
	Tags   []string          `json:"tags" yaml:"tags"`
	Labels map[string]string `json:"labels" yaml:"labels"`
	Nested nested            `json:"nested" yaml:"nested"`
	Error  string            `json:"error" yaml:"error"`
	Absent *string           `json:"absent" yaml:"absent"`
}

type nested struct {
	ID    string `json:"id" yaml:"id"`
	Sizes []int  `json:"sizes" yaml:"sizes"`
}

// A typed payload decodes into the same type and into a generic map with
// the same values, on a YAML topic and on a JSON one (§1.8).
func testPayload(t *testing.T, env Env) {
	pub, sub := connect(t, env, 0), connect(t, env, 0)
	sent := payload{
		Name: "vnf-1", Count: 3, Ratio: 0.25, Flag: true,
		Tags:   []string{"a", "yes", "on", "None", "1.0", "=", "<<"}, // YAML 1.1 traps
		Labels: map[string]string{"k": "v"},
		Nested: nested{ID: "x", Sizes: []int{1, 2}},
		Error:  "None",
	}
	wantMap := map[string]any{
		"name": "vnf-1", "count": 3, "ratio": 0.25, "flag": true,
		"tags":   []any{"a", "yes", "on", "None", "1.0", "=", "<<"},
		"labels": map[string]any{"k": "v"},
		"nested": map[string]any{"id": "x", "sizes": []any{1, 2}},
		"error":  "None",
		"absent": nil,
	}
	for _, topic := range []string{"pay.yaml", "platform.management.plugin.bustest"} {
		r := NewRecorder()
		subscribe(t, sub, topic, r.Handle)
		publish(t, pub, &bus.Message{Topic: topic, Payload: sent})
		m := r.WaitN(t, 1)[0]
		var got payload
		if err := m.Decode(&got); err != nil {
			t.Fatalf("%s (%s): decode into %T: %v", topic, bus.EncodingFor(topic, false), got, err)
		}
		if !reflect.DeepEqual(got, sent) {
			t.Fatalf("%s (%s): decoded %#v, want %#v", topic, bus.EncodingFor(topic, false), got, sent)
		}
		var generic map[string]any
		if err := m.Decode(&generic); err != nil {
			t.Fatalf("%s: decode into a map: %v", topic, err)
		}
		if !reflect.DeepEqual(generic, wantMap) {
			t.Fatalf("%s (%s): decoded map %#v, want %#v", topic, bus.EncodingFor(topic, false), generic, wantMap)
		}
	}
}

// A closed bus refuses to publish and to subscribe with bus.ErrClosed;
// Close is idempotent.
func testClosed(t *testing.T, env Env) {
	ctx, cancel := context.WithTimeout(context.Background(), Patience)
	defer cancel()
	b, err := env.Connector.Connect(ctx, env.Vhosts[0])
	if err != nil {
		t.Fatal(err)
	}
	r := NewRecorder()
	subscribe(t, b, "closed.t", r.Handle)
	if err := b.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if err := b.Publish(ctx, &bus.Message{Topic: "closed.t"}); !errors.Is(err, bus.ErrClosed) {
		t.Fatalf("publish after close: %v, want bus.ErrClosed", err)
	}
	if _, err := b.Subscribe(ctx, "closed.t", r.Handle); !errors.Is(err, bus.ErrClosed) {
		t.Fatalf("subscribe after close: %v, want bus.ErrClosed", err)
	}
}

func randomID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
