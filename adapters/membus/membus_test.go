package membus

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/manoctl/manoctl/reconcile/bus"
)

type recorder struct {
	mu   sync.Mutex
	msgs []*bus.Message
	ch   chan struct{}
}

func newRecorder() *recorder { return &recorder{ch: make(chan struct{}, 1<<16)} }

func (r *recorder) handle(_ context.Context, m *bus.Message) {
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
	r.ch <- struct{}{}
}

func (r *recorder) wait(t *testing.T, n int) []*bus.Message {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for i := 0; i < n; i++ {
		select {
		case <-r.ch:
		case <-deadline:
			t.Fatalf("got %d of %d messages", i, n)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*bus.Message(nil), r.msgs...)
}

func (r *recorder) none(t *testing.T) {
	t.Helper()
	select {
	case <-r.ch:
		t.Fatal("unexpected delivery")
	case <-time.After(20 * time.Millisecond):
	}
}

func TestOrderAndFanOut(t *testing.T) {
	b := New()
	defer b.Close()
	c := b.Default()
	ctx := context.Background()
	r1, r2 := newRecorder(), newRecorder()
	if _, err := c.Subscribe(ctx, "t.x", r1.handle); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Subscribe(ctx, "t.*", r2.handle); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if err := c.Publish(ctx, &bus.Message{Topic: "t.x", AppID: "a", Payload: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []*recorder{r1, r2} {
		msgs := r.wait(t, 100)
		for i, m := range msgs {
			if m.Payload != fmt.Sprint(i) {
				t.Fatalf("message %d is %v: out of order", i, m.Payload)
			}
			if m.Vhost != "/" {
				t.Fatalf("vhost %q", m.Vhost)
			}
		}
	}
}

func TestUnroutableIsDropped(t *testing.T) {
	b := New()
	defer b.Close()
	c := b.Default()
	r := newRecorder()
	c.Subscribe(context.Background(), "a", r.handle)
	if err := c.Publish(context.Background(), &bus.Message{Topic: "b"}); err != nil {
		t.Fatal(err)
	}
	r.none(t)
}

func TestSharedQueueCompetes(t *testing.T) {
	b := New()
	defer b.Close()
	c := b.Default()
	ctx := context.Background()
	var n1, n2 atomic.Int64
	done := make(chan struct{}, 1000)
	h := func(n *atomic.Int64) bus.Handler {
		return func(context.Context, *bus.Message) { n.Add(1); time.Sleep(100 * time.Microsecond); done <- struct{}{} }
	}
	c.Subscribe(ctx, "work", h(&n1), bus.WithQueue("manoctl.test.work"))
	c.Subscribe(ctx, "work", h(&n2), bus.WithQueue("manoctl.test.work"))
	if _, err := c.Subscribe(ctx, "other", h(&n2), bus.WithQueue("manoctl.test.work")); err == nil {
		t.Fatal("shared queue rebound to another pattern")
	}
	for i := 0; i < 200; i++ {
		c.Publish(ctx, &bus.Message{Topic: "work"})
	}
	for i := 0; i < 200; i++ {
		<-done
	}
	if n1.Load()+n2.Load() != 200 {
		t.Fatalf("delivered %d+%d, want 200 in total", n1.Load(), n2.Load())
	}
	if n1.Load() == 0 || n2.Load() == 0 {
		t.Fatalf("no competition: %d/%d", n1.Load(), n2.Load())
	}
}

func TestUnsubscribeStopsDelivery(t *testing.T) {
	b := New()
	defer b.Close()
	c := b.Default()
	ctx := context.Background()
	r := newRecorder()
	s, _ := c.Subscribe(ctx, "a", r.handle)
	c.Publish(ctx, &bus.Message{Topic: "a"})
	r.wait(t, 1)
	s.Unsubscribe()
	c.Publish(ctx, &bus.Message{Topic: "a"})
	r.none(t)
}

func TestVhostsAreNamespaces(t *testing.T) {
	b := New()
	defer b.Close()
	ctx := context.Background()
	if _, err := b.Connect(ctx, "ssm-1"); !errors.Is(err, bus.ErrNoVhost) {
		t.Fatalf("connect to missing vhost: %v", err)
	}
	b.AddVhost("ssm-1")
	v, err := b.Connect(ctx, "ssm-1")
	if err != nil {
		t.Fatal(err)
	}
	rDefault, rVhost := newRecorder(), newRecorder()
	b.Default().Subscribe(ctx, "#", rDefault.handle)
	v.Subscribe(ctx, "#", rVhost.handle)
	v.Publish(ctx, &bus.Message{Topic: "generic.ssm.1"})
	if m := rVhost.wait(t, 1); m[0].Vhost != "ssm-1" {
		t.Fatalf("vhost %q", m[0].Vhost)
	}
	rDefault.none(t)
	b.DeleteVhost("ssm-1")
	if err := v.Publish(ctx, &bus.Message{Topic: "x"}); !errors.Is(err, bus.ErrClosed) {
		t.Fatalf("publish on deleted vhost: %v", err)
	}
}

func TestHandlerPanicDoesNotKillSubscription(t *testing.T) {
	b := New()
	defer b.Close()
	c := b.Default()
	ctx := context.Background()
	r := newRecorder()
	first := true
	c.Subscribe(ctx, "a", func(ctx context.Context, m *bus.Message) {
		if first {
			first = false
			panic("bad message")
		}
		r.handle(ctx, m)
	})
	c.Publish(ctx, &bus.Message{Topic: "a"})
	c.Publish(ctx, &bus.Message{Topic: "a"})
	r.wait(t, 1)
}

// A handler that publishes a reaction: an observer on "#" must see the
// cause before the effect.
func TestCausalOrderForObservers(t *testing.T) {
	b := New()
	defer b.Close()
	c := b.Default()
	ctx := context.Background()
	tap := newRecorder()
	c.Subscribe(ctx, "#", tap.handle)
	c.Subscribe(ctx, "ping", func(ctx context.Context, m *bus.Message) {
		c.Publish(ctx, &bus.Message{Topic: "pong", Payload: m.Payload})
	})
	for i := 0; i < 50; i++ {
		c.Publish(ctx, &bus.Message{Topic: "ping", Payload: i})
	}
	msgs := tap.wait(t, 100)
	seen := map[any]bool{}
	for _, m := range msgs {
		if m.Topic == "ping" {
			seen[m.Payload] = true
		} else if !seen[m.Payload] {
			t.Fatalf("pong %v before its ping", m.Payload)
		}
	}
}

func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	for i := 0; i < 10; i++ {
		b := New()
		c := b.Default()
		for j := 0; j < 20; j++ {
			c.Subscribe(context.Background(), "a.#", func(context.Context, *bus.Message) {}, bus.WithConcurrency(2))
		}
		c.Publish(context.Background(), &bus.Message{Topic: "a.b"})
		b.Close()
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines before, %d after Close", before, n)
	}
}

func BenchmarkPublishDeliver(b *testing.B) {
	br := New()
	defer br.Close()
	c := br.Default()
	done := make(chan struct{}, 1)
	var n atomic.Int64
	target := int64(b.N)
	c.Subscribe(context.Background(), "a.*", func(context.Context, *bus.Message) {
		if n.Add(1) == target {
			done <- struct{}{}
		}
	})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.Publish(context.Background(), &bus.Message{Topic: "a.b"})
	}
	<-done
}
