package amqp_test

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/manoctl/manoctl/adapters/amqp"
	"github.com/manoctl/manoctl/adapters/amqp/amqptest"
	"github.com/manoctl/manoctl/reconcile/bus"
)

// A concurrent subscription acknowledges its deliveries in batches while
// its handlers finish out of order: every handled message is acked, once,
// and none comes back to the next consumer of the shared queue.
func TestConcurrentSubscriptionAcksEverything(t *testing.T) {
	amqptest.Require(t)
	vhost := amqptest.Vhost(t)
	cfg := amqptest.Config(t, vhost)
	pub := dial(t, cfg)
	const n = 300
	const queue = "test.acks"

	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	worker, err := amqp.Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[int]int{}
	all := make(chan struct{})
	subscribe(t, worker, "acks.t", func(_ context.Context, m *bus.Message) {
		time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond) // out-of-order ends
		mu.Lock()
		defer mu.Unlock()
		var s seqMsg
		if err := m.Decode(&s); err != nil {
			t.Error(err)
			return
		}
		seen[s.Seq]++
		if len(seen) == n {
			close(all)
		}
	}, bus.WithQueue(queue), bus.WithConcurrency(8))
	for i := range n {
		publish(t, pub, &bus.Message{Topic: "acks.t", Payload: seqMsg{i}})
	}
	select {
	case <-all:
	case <-time.After(patience):
		t.Fatalf("handled %d of %d messages", len(seen), n)
	}
	// Close drains: the acks of handled messages are written before the
	// connection goes, so nothing is redelivered to the next consumer.
	worker.Close()

	again := dial(t, cfg)
	redelivered := make(chan int, n)
	subscribe(t, again, "acks.t", func(_ context.Context, m *bus.Message) {
		var s seqMsg
		_ = m.Decode(&s)
		redelivered <- s.Seq
	}, bus.WithQueue(queue), bus.WithConcurrency(8))
	publish(t, pub, &bus.Message{Topic: "acks.t", Payload: seqMsg{-1}})
	select {
	case s := <-redelivered:
		if s != -1 {
			t.Fatalf("message %d was handled but not acknowledged: redelivered", s)
		}
	case <-time.After(patience):
		t.Fatal("the new consumer got nothing")
	}
	mu.Lock()
	defer mu.Unlock()
	for i := range n {
		if seen[i] != 1 {
			t.Fatalf("message %d handled %d times", i, seen[i])
		}
	}
}

// A slow handler does not hold back the acks of the deliveries handled
// after it: unacknowledged, they would fill the prefetch window and the
// broker would stop delivering to the other workers.
func TestConcurrentSubscriptionSlowHandlerKeepsOthersGoing(t *testing.T) {
	amqptest.Require(t)
	vhost := amqptest.Vhost(t)
	cfg := amqptest.Config(t, vhost)
	cfg.Prefetch = 8
	pub := dial(t, cfg)
	worker := dial(t, cfg)
	const n = 40 // five prefetch windows
	release := make(chan struct{})
	var once sync.Once
	defer once.Do(func() { close(release) })
	others := make(chan int, n)
	subscribe(t, worker, "acks.slow", func(_ context.Context, m *bus.Message) {
		var s seqMsg
		if err := m.Decode(&s); err != nil {
			t.Error(err)
			return
		}
		if s.Seq == 0 {
			<-release // the first delivery's handler outlasts all the others
			return
		}
		others <- s.Seq
	}, bus.WithConcurrency(4))
	for i := range n {
		publish(t, pub, &bus.Message{Topic: "acks.slow", Payload: seqMsg{i}})
	}
	deadline := time.After(patience)
	for got := 0; got < n-1; got++ {
		select {
		case <-others:
		case <-deadline:
			t.Fatalf("handled %d of the %d other messages while the first one ran", got, n-1)
		}
	}
	once.Do(func() { close(release) })
}
