package records

import (
	"errors"
	"sync"

	"github.com/hashicorp/go-memdb"
)

// EventOp is what happened to a record.
type EventOp string

const (
	EventCreate EventOp = "create"
	EventUpdate EventOp = "update"
	EventDelete EventOp = "delete"
)

// Event is one record change of a committed transaction.
type Event struct {
	// Table is the record's table.
	Table string
	// Key is the record's primary key (id, uuid or digest).
	Key string
	// Index is the index of the transaction.
	Index uint64
	// Op says whether the record was created, updated or deleted.
	Op EventOp
	// Object is the record after the change (before it, for deletes).
	// Shared: never modify it.
	Object any
}

// EventBatch holds the events of one transaction, in the order memdb
// reports them.
type EventBatch struct {
	Index  uint64
	Events []Event
}

// ErrSubscriptionOverflow closes a subscription whose reader fell behind by
// more than its buffer. The reader has missed changes: it should resync
// from Store.Snapshot (whose Index says where it is) and subscribe again.
var ErrSubscriptionOverflow = errors.New("records: event subscription overflowed")

// ErrSubscriptionClosed is Subscription.Err after Close or after the store
// was closed.
var ErrSubscriptionClosed = errors.New("records: event subscription closed")

// Subscription receives the event batches of every transaction committed
// after Subscribe, in index order, once they are durable.
type Subscription struct {
	// C delivers batches. It is closed when the subscription ends; Err then
	// says why.
	C <-chan EventBatch

	c      chan EventBatch
	broker *eventBroker
	mu     sync.Mutex
	err    error
}

// Err returns why the subscription ended, or nil while it is active.
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close ends the subscription.
func (s *Subscription) Close() { s.broker.remove(s, ErrSubscriptionClosed) }

// eventBroker fans event batches out to subscribers. publish never blocks:
// a full buffer ends that subscription, so that a stuck TUI can never stall
// the commit path.
type eventBroker struct {
	mu     sync.Mutex
	subs   map[*Subscription]struct{}
	closed bool
}

func newEventBroker() *eventBroker {
	return &eventBroker{subs: make(map[*Subscription]struct{})}
}

func (b *eventBroker) subscribe(buffer int) *Subscription {
	if buffer < 1 {
		buffer = 1
	}
	c := make(chan EventBatch, buffer)
	sub := &Subscription{C: c, c: c, broker: b}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		sub.err = ErrSubscriptionClosed
		close(c)
		return sub
	}
	b.subs[sub] = struct{}{}
	return sub
}

func (b *eventBroker) publish(batch EventBatch) {
	if len(batch.Events) == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for sub := range b.subs {
		select {
		case sub.c <- batch:
		default:
			b.endLocked(sub, ErrSubscriptionOverflow)
		}
	}
}

func (b *eventBroker) remove(sub *Subscription, why error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.endLocked(sub, why)
}

func (b *eventBroker) endLocked(sub *Subscription, why error) {
	if _, ok := b.subs[sub]; !ok {
		return
	}
	delete(b.subs, sub)
	sub.mu.Lock()
	sub.err = why
	sub.mu.Unlock()
	close(sub.c)
}

func (b *eventBroker) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for sub := range b.subs {
		b.endLocked(sub, ErrSubscriptionClosed)
	}
}

// eventsFromChanges turns memdb's change set into events. This is the only
// place events are made: business code never emits them (Nomad's
// changeTrackerDB).
func eventsFromChanges(index uint64, changes memdb.Changes) []Event {
	out := make([]Event, 0, len(changes))
	for i := range changes {
		ch := &changes[i]
		if ch.Table == TableIndex {
			continue
		}
		ev := Event{Table: ch.Table, Index: index}
		switch {
		case ch.Created():
			ev.Op, ev.Object = EventCreate, ch.After
		case ch.Updated():
			ev.Op, ev.Object = EventUpdate, ch.After
		case ch.Deleted():
			ev.Op, ev.Object = EventDelete, ch.Before
		default:
			continue
		}
		ev.Key = primaryKey(ev.Object)
		out = append(out, ev)
	}
	return out
}
