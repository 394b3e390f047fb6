package control

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/manoctl/manoctl/adapters/membus"
	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/records"
)

// The relay publishes whole records, the latest version of each per
// window: a burst of changes to one operation arrives as few events, the
// last of which carries every step, and a delete still arrives.
func TestRelayCoalescesChangesPerRecord(t *testing.T) {
	store := records.TestStore(t, records.Options{})
	b := testBus(t)
	var mu sync.Mutex
	var got []Event
	if _, err := b.Subscribe(context.Background(), TopicEvents+".#", func(_ context.Context, m *bus.Message) {
		var e Event
		if err := m.Decode(&e); err != nil {
			t.Error(err)
			return
		}
		mu.Lock()
		got = append(got, e)
		mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	s := NewServer(ServerConfig{Bus: b, Store: store})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	op := &records.Operation{ID: uuid.NewString(), Kind: records.OpInstantiate, Status: records.OpRunning, StartedAt: time.Now()}
	const steps = 20
	for i := range steps {
		op.Steps = append(op.Steps, records.Step{Name: "step", Status: records.StepSucceeded, Attempt: 1})
		if i == steps-1 {
			op.Status = records.OpSucceeded
		}
		if _, err := store.UpsertOperation(op); err != nil {
			t.Fatal(err)
		}
	}
	waitFor := func(cond func([]Event) bool) []Event {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			evs := append([]Event(nil), got...)
			mu.Unlock()
			if cond(evs) {
				return evs
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("events: %+v", got)
		return nil
	}
	last := func(evs []Event) *records.Operation {
		if len(evs) == 0 {
			return nil
		}
		var o records.Operation
		if err := json.Unmarshal(evs[len(evs)-1].Object, &o); err != nil {
			t.Fatal(err)
		}
		return &o
	}
	evs := waitFor(func(evs []Event) bool { o := last(evs); return o != nil && o.Status == records.OpSucceeded })
	if len(evs) >= steps {
		t.Errorf("%d events for %d changes within a window", len(evs), steps)
	}
	if o := last(evs); len(o.Steps) != steps || evs[0].Op != string(records.EventCreate) {
		t.Errorf("first event %s, last has %d steps", evs[0].Op, len(o.Steps))
	}
	if _, err := store.DeleteOperation(op.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(func(evs []Event) bool { return len(evs) > 0 && evs[len(evs)-1].Op == string(records.EventDelete) })
}

// TestRelaySubscribesBeforeStartReturns: a change committed as soon as
// Start returns must be relayed. The relay used to subscribe in its own
// goroutine, and a change committed first was lost (a watcher's first event
// was an update of a record it never saw created).
func TestRelaySubscribesBeforeStartReturns(t *testing.T) {
	store := records.TestStore(t, records.Options{})
	b := testBus(t)
	counted := &countingRecords{Store: store}
	s := NewServer(ServerConfig{Bus: b, Store: counted})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n := counted.subscribes.Load(); n != 1 {
		t.Fatalf("%d subscriptions when Start returned, want 1", n)
	}
}

// countingRecords counts subscriptions to the store.
type countingRecords struct {
	*records.Store
	subscribes atomic.Int32
}

func (c *countingRecords) Subscribe(buffer int) *records.Subscription {
	c.subscribes.Add(1)
	return c.Store.Subscribe(buffer)
}

// testBus connects to the default vhost of a fresh in-process broker,
// closed when the test ends.
func testBus(t *testing.T) bus.Bus {
	t.Helper()
	b, err := membus.New().Connect(context.Background(), "/")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}
