package amqp_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/manoctl/manoctl/adapters/amqp"
	"github.com/manoctl/manoctl/adapters/amqp/amqptest"
	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/bus/bustest"
)

type seqMsg struct {
	Seq int `json:"seq" yaml:"seq"`
}

func seqOf(t *testing.T, m *bus.Message) int {
	t.Helper()
	var s seqMsg
	if err := m.Decode(&s); err != nil {
		t.Fatalf("decode %s: %v", m.Topic, err)
	}
	return s.Seq
}

// The broker closes every connection of the test's vhost in the middle of
// traffic (rabbitmqctl close_all_connections, or the management API): both
// buses reconnect, every publish completes, a durable role queue gets every
// message, private subscriptions get every message published after the
// reconnection, and requests in flight end with a reply or a timeout.
func TestBrokerClosesConnections(t *testing.T) {
	amqptest.Require(t)
	vhost := amqptest.Vhost(t)
	cfg := amqptest.Config(t, vhost)
	pubEvents, subEvents := newEventLog(), newEventLog()
	pcfg, scfg := cfg, cfg
	pcfg.OnEvent, scfg.OnEvent = pubEvents.on, subEvents.on
	pcfg.Name, scfg.Name = "manoctl test publisher", "manoctl test subscriber"
	pub, sub := dial(t, pcfg), dial(t, scfg)
	ctx := context.Background()

	var mu sync.Mutex
	got := map[int]int{}
	allIn := make(chan struct{})
	const n = 300
	subscribe(t, sub, "drop.work", func(_ context.Context, m *bus.Message) {
		mu.Lock()
		defer mu.Unlock()
		got[seqOf(t, m)]++
		if len(got) == n {
			close(allIn)
		}
	}, bus.WithQueue("test.drop.work"))
	after := bustest.NewRecorder()
	subscribe(t, sub, "drop.after", after.Handle)

	srv := bus.NewEndpoint(sub, "test.server")
	defer srv.Close()
	if _, err := srv.Handle(ctx, "drop.rr", bus.SkipOwn|bus.RequestsOnly, func(ctx context.Context, m *bus.Message) {
		_ = srv.Reply(ctx, m, map[string]any{"ok": true}) // may fail while the connection is down; the caller times out
	}); err != nil {
		t.Fatal(err)
	}
	cl := bus.NewEndpoint(pub, "test.client")
	defer cl.Close()

	published := make(chan int, n)
	pubErr := make(chan error, 1)
	go func() {
		defer close(published)
		for i := range n {
			ctx, cancel := context.WithTimeout(context.Background(), patience)
			err := pub.Publish(ctx, &bus.Message{Topic: "drop.work", AppID: "test", Payload: seqMsg{i}, Persistent: true})
			cancel()
			if err != nil {
				pubErr <- err
				return
			}
			published <- i
		}
	}()
	var wg sync.WaitGroup
	outcomes := make(chan error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := cl.Request(ctx, "drop.rr", map[string]any{"i": i}, bus.WithTimeout(5*time.Second))
			outcomes <- err
		}()
	}

	for range 50 {
		<-published
	}
	closeCtx, cancel := context.WithTimeout(ctx, patience)
	defer cancel()
	if err := amqptest.Manager(t).CloseConnections(closeCtx, vhost, "manoctl test: connection drop"); err != nil {
		t.Fatalf("close the vhost's connections: %v", err)
	}
	pubEvents.wait(t, amqp.EventReconnected, 1)
	subEvents.wait(t, amqp.EventReconnected, 1)

	for range published {
	}
	select {
	case err := <-pubErr:
		t.Fatalf("a publish failed across the drop: %v", err)
	default:
	}
	select {
	case <-allIn:
	case <-time.After(patience):
		mu.Lock()
		t.Fatalf("the role queue got %d of %d messages", len(got), n)
	}
	mu.Lock()
	dups := 0
	for _, c := range got {
		dups += c - 1
	}
	mu.Unlock()
	t.Logf("role queue: %d messages, %d duplicates (re-published or redelivered); publisher %+v; subscriber %+v",
		n, dups, pub.Stats(), sub.Stats())

	wg.Wait()
	close(outcomes)
	for err := range outcomes {
		if err != nil && !bus.IsTimeout(err) {
			t.Fatalf("a request in flight at the drop ended with %v, want a reply or a timeout", err)
		}
	}

	// After the reconnection nothing is lost, private queues included.
	for i := range 50 {
		publish(t, pub, &bus.Message{Topic: "drop.after", Payload: seqMsg{i}})
	}
	for i, m := range after.WaitN(t, 50) {
		if seqOf(t, m) != i {
			t.Fatalf("after the reconnection: message %d has seq %d", i, seqOf(t, m))
		}
	}
	if _, err := cl.Request(ctx, "drop.rr", map[string]any{}, bus.WithTimeout(patience)); err != nil {
		t.Fatalf("request after the reconnection: %v", err)
	}
	for _, b := range []*amqp.Bus{pub, sub} {
		if st := b.Stats(); st.Disconnects < 1 || st.Reconnects < 1 {
			t.Fatalf("stats %+v", st)
		}
	}
	for _, e := range append(pubEvents.events(), subEvents.events()...) {
		if e.Err != nil && strings.Contains(e.Err.Error(), "guest:guest") {
			t.Fatalf("event shows credentials: %v", e.Err)
		}
	}
}

// A longer outage, simulated by a relay the test cuts: publishes wait for
// the broker (or fail when their context ends), subscriptions made during
// the outage complete after it, reconnection attempts back off, and the
// held publishes go out only after the subscriptions are back.
func TestOutagePublishWaitsAndResumes(t *testing.T) {
	amqptest.Require(t)
	vhost := amqptest.Vhost(t)
	cfg := amqptest.Config(t, vhost)
	p := startProxy(t, brokerAddr(t, amqptest.URL()), nil)
	events := newEventLog()
	pcfg := cfg
	pcfg.OnEvent = events.on
	url, err := amqp.URLWithVhost("amqp://guest:guest@"+p.addr()+"/", vhost)
	if err != nil {
		t.Fatal(err)
	}
	pcfg.URL = url
	b := dial(t, pcfg)
	direct := dial(t, cfg)

	mine, seen := bustest.NewRecorder(), bustest.NewRecorder()
	subscribe(t, b, "out.#", mine.Handle)
	subscribe(t, direct, "out.#", seen.Handle)
	publish(t, b, &bus.Message{Topic: "out.0", Payload: seqMsg{0}})
	mine.WaitN(t, 1)
	seen.WaitN(t, 1)

	p.cut()
	events.wait(t, amqp.EventDisconnected, 1)
	short, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := b.Publish(short, &bus.Message{Topic: "out.lost", Payload: seqMsg{-1}}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("publish during the outage with a deadline: %v", err)
	}
	short2, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	if _, err := b.Subscribe(short2, "out.never", func(context.Context, *bus.Message) {}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("subscribe during the outage with a deadline: %v", err)
	}
	held := make(chan error, 1)
	go func() { held <- b.Publish(context.Background(), &bus.Message{Topic: "out.1", Payload: seqMsg{1}}) }()
	late := bustest.NewRecorder()
	subscribed := make(chan error, 1)
	go func() {
		_, err := b.Subscribe(context.Background(), "late.t", late.Handle)
		subscribed <- err
	}()
	events.wait(t, amqp.EventReconnectFailed, 2)
	if b.Connected() {
		t.Fatal("connected through a cut relay")
	}

	p.restore()
	events.wait(t, amqp.EventReconnected, 1)
	for name, ch := range map[string]chan error{"held publish": held, "subscribe during the outage": subscribed} {
		select {
		case err := <-ch:
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		case <-time.After(patience):
			t.Fatalf("%s never completed", name)
		}
	}
	// The Bus's own subscription was restored before the held publish went
	// out, so it got it.
	if m := mine.WaitN(t, 2); m[1].Topic != "out.1" {
		t.Fatalf("restored subscription got %s", m[1].Topic)
	}
	publish(t, b, &bus.Message{Topic: "out.end", Payload: seqMsg{2}})
	got := topicsOf(seen.WaitN(t, 3))
	if strings.Join(got, ",") != "out.0,out.1,out.end" {
		t.Fatalf("a publish whose context ended went out anyway, or one was lost: %v", got)
	}
	publish(t, direct, &bus.Message{Topic: "late.t", Payload: seqMsg{3}})
	late.WaitN(t, 1)
	if st := b.Stats(); st.Disconnects != 1 || st.Reconnects != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// A publish whose confirm is lost with the connection is published again
// after the reconnection, with the same correlation id (§14.1 T9): the
// relay holds the broker's confirm, then the connection drops.
func TestLostConfirmIsRepublished(t *testing.T) {
	amqptest.Require(t)
	vhost := amqptest.Vhost(t)
	cfg := amqptest.Config(t, vhost)
	p := startProxy(t, brokerAddr(t, amqptest.URL()), nil)
	events := newEventLog()
	pcfg := cfg
	pcfg.OnEvent = events.on
	pcfg.URL, _ = amqp.URLWithVhost("amqp://guest:guest@"+p.addr()+"/", vhost)
	b := dial(t, pcfg)
	direct := dial(t, cfg)
	got := bustest.NewRecorder()
	subscribe(t, direct, "rep.t", got.Handle, bus.WithQueue("test.republish"))

	p.hold()
	res := make(chan error, 1)
	go func() {
		res <- b.Publish(context.Background(), &bus.Message{Topic: "rep.t", CorrelationID: "rep-1", Payload: seqMsg{7}, Persistent: true})
	}()
	got.WaitN(t, 1) // routed by the broker, but its confirm is held
	p.cut()
	events.wait(t, amqp.EventDisconnected, 1)
	p.restore()
	select {
	case err := <-res:
		if err != nil {
			t.Fatalf("publish across the drop: %v", err)
		}
	case <-time.After(patience):
		t.Fatal("publish whose confirm was lost never completed")
	}
	msgs := got.WaitN(t, 2)
	for _, m := range msgs {
		if m.CorrelationID != "rep-1" || seqOf(t, m) != 7 || !m.Persistent {
			t.Fatalf("re-published message differs: %+v", m)
		}
	}
	if st := b.Stats(); st.Republished != 1 {
		t.Fatalf("stats %+v, want one re-publish", st)
	}
}

func topicsOf(msgs []*bus.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.Topic
	}
	return out
}

// Close lets running handlers finish, and publish, before it closes the
// connection; messages fetched but not handled go back to their shared
// queue for the next instance; handlers' context ends with the Bus.
func TestCloseDrains(t *testing.T) {
	amqptest.Require(t)
	vhost := amqptest.Vhost(t)
	cfg := amqptest.Config(t, vhost)
	b := dial(t, cfg)
	other := dial(t, cfg)

	done := bustest.NewRecorder()
	subscribe(t, other, "drain.done", done.Handle)
	started, release := make(chan struct{}), make(chan struct{})
	var handlerCtx context.Context
	var handlerErr error
	var calls int
	subscribe(t, b, "drain.work", func(ctx context.Context, m *bus.Message) {
		calls++
		if calls > 1 {
			return
		}
		handlerCtx = ctx
		close(started)
		<-release
		handlerErr = b.Publish(ctx, &bus.Message{Topic: "drain.done", Payload: seqMsg{seqOf(t, m)}})
	}, bus.WithQueue("test.drain.work"))
	for i := range 5 {
		publish(t, other, &bus.Message{Topic: "drain.work", Payload: seqMsg{i}})
	}
	<-started
	closed := make(chan struct{})
	go func() {
		b.Close()
		close(closed)
	}()
	close(release)
	select {
	case <-closed:
	case <-time.After(patience):
		t.Fatal("Close did not return")
	}
	if handlerErr != nil {
		t.Fatalf("a handler running at Close could not publish: %v", handlerErr)
	}
	if handlerCtx.Err() == nil {
		t.Fatal("handlers' context still live after Close")
	}
	if calls != 1 {
		t.Fatalf("%d handler calls after Close began", calls)
	}
	done.WaitN(t, 1)

	// The four messages b had fetched but not handled are back in the
	// shared queue.
	rest := bustest.NewRecorder()
	subscribe(t, other, "drain.work", rest.Handle, bus.WithQueue("test.drain.work"))
	seqs := map[int]bool{}
	for _, m := range rest.WaitN(t, 4) {
		seqs[seqOf(t, m)] = true
	}
	for i := 1; i < 5; i++ {
		if !seqs[i] {
			t.Fatalf("message %d lost at Close; got %v", i, seqs)
		}
	}
}

// Nothing of a Bus outlives Close, whatever it went through.
func TestNoGoroutineLeak(t *testing.T) {
	amqptest.Require(t)
	vhost := amqptest.Vhost(t)
	cfg := amqptest.Config(t, vhost)
	p := startProxy(t, brokerAddr(t, amqptest.URL()), nil)
	events := newEventLog()
	pcfg := cfg
	pcfg.OnEvent = events.on
	pcfg.URL, _ = amqp.URLWithVhost("amqp://guest:guest@"+p.addr()+"/", vhost)

	func() {
		ctx := context.Background()
		a, err := amqp.Dial(ctx, pcfg)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		b, err := amqp.Dial(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		srv := bus.NewEndpoint(b, "server")
		srv.Handle(ctx, "leak.rr", bus.RequestsOnly, func(ctx context.Context, m *bus.Message) { srv.Reply(ctx, m, "ok") }, bus.WithConcurrency(3))
		cl := bus.NewEndpoint(a, "client")
		subscribe(t, a, "leak.shared", func(context.Context, *bus.Message) {}, bus.WithQueue("test.leak"))
		s := subscribe(t, a, "leak.private", func(context.Context, *bus.Message) {})
		for range 5 {
			if _, err := cl.Request(ctx, "leak.rr", nil, bus.WithTimeout(patience)); err != nil {
				t.Fatal(err)
			}
		}
		p.cut()
		events.wait(t, amqp.EventReconnectFailed, 1)
		p.restore()
		events.wait(t, amqp.EventReconnected, 1)
		if _, err := cl.Request(ctx, "leak.rr", nil, bus.WithTimeout(patience)); err != nil {
			t.Fatal(err)
		}
		s.Unsubscribe()
		// A subscription abandoned by its context while the broker is away.
		p.cut()
		events.wait(t, amqp.EventDisconnected, 2)
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		a.Subscribe(short, "leak.abandoned", func(context.Context, *bus.Message) {})
	}()
	if leaked := leakedGoroutines(); len(leaked) > 0 {
		t.Fatalf("%d goroutines outlived Close:\n%s", len(leaked), strings.Join(leaked, "\n\n"))
	}
}
