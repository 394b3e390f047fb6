package bustest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/manoctl/manoctl/reconcile/bus"
)

// Recorder is a handler that keeps what it receives. It is exported for
// transport-specific tests that want the suite's waiting discipline.
type Recorder struct {
	mu   sync.Mutex
	msgs []*bus.Message
	note chan struct{}
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder { return &Recorder{note: make(chan struct{}, 1)} }

// Handle records m; it is a bus.Handler.
func (r *Recorder) Handle(_ context.Context, m *bus.Message) {
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
	select {
	case r.note <- struct{}{}:
	default:
	}
}

// Messages returns what has been received so far.
func (r *Recorder) Messages() []*bus.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*bus.Message(nil), r.msgs...)
}

// WaitFor waits up to Patience until cond holds for the received messages
// and returns them; it fails t otherwise.
func (r *Recorder) WaitFor(t testing.TB, what string, cond func([]*bus.Message) bool) []*bus.Message {
	t.Helper()
	deadline := time.NewTimer(Patience)
	defer deadline.Stop()
	for {
		msgs := r.Messages()
		if cond(msgs) {
			return msgs
		}
		select {
		case <-r.note:
		case <-deadline.C:
			t.Fatalf("waited %v for %s; have %d messages: %s", Patience, what, len(msgs), topics(msgs))
		}
	}
}

// WaitN waits for at least n messages.
func (r *Recorder) WaitN(t testing.TB, n int) []*bus.Message {
	t.Helper()
	return r.WaitFor(t, "messages", func(m []*bus.Message) bool { return len(m) >= n })
}

// waitBarrier waits for a message whose probe payload is a barrier and
// returns everything before the first one. Because a subscription delivers
// in publish order, what came before the barrier is all the subscription
// will ever get of what was published before it.
func (r *Recorder) waitBarrier(t *testing.T) []*bus.Message {
	t.Helper()
	var before []*bus.Message
	r.WaitFor(t, "a barrier message", func(msgs []*bus.Message) bool {
		for i, m := range msgs {
			if probeOf(t, m).Barrier {
				before = msgs[:i]
				return true
			}
		}
		return false
	})
	return before
}

func topics(msgs []*bus.Message) []string {
	out := make([]string, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, m.Topic)
	}
	return out
}
