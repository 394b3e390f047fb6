package bus_test

import (
	"context"
	"testing"
	"time"

	"github.com/manoctl/manoctl/adapters/membus"
	"github.com/manoctl/manoctl/reconcile/bus"
)

func echoServer(t *testing.T, b bus.Bus, topic string, replies int) {
	t.Helper()
	srv := bus.NewEndpoint(b, "server")
	_, err := srv.Handle(context.Background(), topic, bus.SkipOwn|bus.RequestsOnly, func(ctx context.Context, m *bus.Message) {
		var in map[string]any
		if err := m.Decode(&in); err != nil {
			t.Errorf("decode: %v", err)
		}
		for i := 0; i < replies; i++ {
			srv.Reply(ctx, m, map[string]any{"echo": in["v"], "n": i})
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRequestReply(t *testing.T) {
	br := membus.New()
	defer br.Close()
	echoServer(t, br.Default(), "svc.echo", 1)
	cl := bus.NewEndpoint(br.Default(), "client")
	m, err := cl.Request(context.Background(), "svc.echo", map[string]any{"v": "ping"})
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	m.Decode(&out)
	if out["echo"] != "ping" || m.ReplyTo != "" || m.AppID != "server" {
		t.Fatalf("reply %+v body %v", m, out)
	}
}

func TestDuplicateRepliesAreHarmless(t *testing.T) {
	br := membus.New()
	defer br.Close()
	echoServer(t, br.Default(), "svc.dup", 3)
	cl := bus.NewEndpoint(br.Default(), "client")
	for i := 0; i < 10; i++ {
		m, err := cl.Request(context.Background(), "svc.dup", map[string]any{"v": i})
		if err != nil {
			t.Fatal(err)
		}
		var out map[string]any
		m.Decode(&out)
		if out["echo"] != i || out["n"] != 0 {
			t.Fatalf("request %d got %v: first reply must win", i, out)
		}
	}
}

func TestRequestTimeout(t *testing.T) {
	br := membus.New()
	defer br.Close()
	cl := bus.NewEndpoint(br.Default(), "client")
	start := time.Now()
	_, err := cl.Request(context.Background(), "nobody.home", map[string]any{}, bus.WithTimeout(30*time.Millisecond))
	if !bus.IsTimeout(err) {
		t.Fatalf("err = %v, want timeout", err)
	}
	if err.Error() != "Timeout waiting for nobody.home reply" {
		t.Fatalf("message %q", err)
	}
	if time.Since(start) > time.Second {
		t.Fatal("timeout not honoured")
	}
}

// The IA keeps reply_to on some replies (compute.remove); those are still
// replies when they come from the IA (§14.7 I1), and only then.
func TestIARepliesWithReplyToMatch(t *testing.T) {
	br := membus.New()
	defer br.Close()
	c := br.Default()
	ia := bus.NewEndpoint(c, bus.AppIA)
	ia.Handle(context.Background(), bus.TopicIAComputeRemove, bus.SkipOwn|bus.RequestsOnly, func(ctx context.Context, m *bus.Message) {
		c.Publish(ctx, &bus.Message{Topic: m.Topic, AppID: bus.AppIA, CorrelationID: m.CorrelationID, ReplyTo: m.ReplyTo, Payload: map[string]any{"request_status": "COMPLETED"}})
	})
	cl := bus.NewEndpoint(c, "client")
	if _, err := cl.Request(context.Background(), bus.TopicIAComputeRemove, map[string]any{"uuid": "x"}, bus.WithTimeout(time.Second)); err != nil {
		t.Fatal(err)
	}
}

func TestStreamedReplies(t *testing.T) {
	br := membus.New()
	defer br.Close()
	echoServer(t, br.Default(), "svc.stream", 2)
	cl := bus.NewEndpoint(br.Default(), "client")
	call, err := cl.Start(context.Background(), "svc.stream", map[string]any{"v": "x"})
	if err != nil {
		t.Fatal(err)
	}
	defer call.Close()
	for want := 0; want < 2; want++ {
		select {
		case m := <-call.Replies():
			var out map[string]any
			m.Decode(&out)
			if out["n"] != want {
				t.Fatalf("reply %d: %v", want, out)
			}
		case <-time.After(time.Second):
			t.Fatal("stream reply missing")
		}
	}
}

func BenchmarkRequestReply(b *testing.B) {
	br := membus.New()
	defer br.Close()
	srv := bus.NewEndpoint(br.Default(), "server")
	srv.Handle(context.Background(), "svc", bus.SkipOwn|bus.RequestsOnly, func(ctx context.Context, m *bus.Message) {
		srv.Reply(ctx, m, m.Payload)
	})
	cl := bus.NewEndpoint(br.Default(), "client")
	p := map[string]any{"a": 1}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := cl.Request(context.Background(), "svc", p); err != nil {
			b.Fatal(err)
		}
	}
}
