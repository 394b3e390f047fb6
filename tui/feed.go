package tui

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/manoctl/manoctl/reconcile/bus"
)

// DefaultTrafficBuffer is the capacity of the channel between the bus
// subscription and the UI: a second and a half of traffic at 1,000
// messages per second with 100 ms frames to spare.
const DefaultTrafficBuffer = 4096

// maxNotices bounds the notices kept between two frames.
const maxNotices = 64

// Feed is the Sink between a backend and the model. Record changes are
// coalesced by kind and key until the next frame takes them, so memory is
// bounded by the number of records, not by the rate of changes. Traffic
// goes through a bounded channel with a non-blocking send; what does not
// fit is counted in Dropped. Every method is safe for concurrent use.
type Feed struct {
	mu       sync.Mutex
	hasReset bool
	reset    []Change
	pending  map[changeKey]int // index in changes
	changes  []Change
	notices  []string

	traffic chan TrafficEntry
	dropped atomic.Uint64
	seen    atomic.Uint64
}

type changeKey struct {
	kind Kind
	key  string
}

// TrafficEntry is one bus message and when it was seen.
type TrafficEntry struct {
	At  time.Time
	Msg *bus.Message
}

// NewFeed returns a feed whose traffic channel holds buffer messages
// (DefaultTrafficBuffer when buffer <= 0).
func NewFeed(buffer int) *Feed {
	if buffer <= 0 {
		buffer = DefaultTrafficBuffer
	}
	return &Feed{pending: map[changeKey]int{}, traffic: make(chan TrafficEntry, buffer)}
}

// Reset implements Sink: pending changes are dropped, rows replace
// everything at the next frame.
func (f *Feed) Reset(rows []Change) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hasReset, f.reset = true, rows
	f.changes = f.changes[:0]
	clear(f.pending)
}

// Change implements Sink; a later change of the same record replaces an
// earlier one not yet taken.
func (f *Feed) Change(c Change) {
	k := changeKey{c.Kind, c.Key}
	f.mu.Lock()
	defer f.mu.Unlock()
	if i, ok := f.pending[k]; ok {
		f.changes[i] = c
		return
	}
	f.pending[k] = len(f.changes)
	f.changes = append(f.changes, c)
}

// Traffic implements Sink without ever blocking.
func (f *Feed) Traffic(at time.Time, m *bus.Message) {
	f.seen.Add(1)
	select {
	case f.traffic <- TrafficEntry{At: at, Msg: m}:
	default:
		f.dropped.Add(1)
	}
}

// Notice implements Sink.
func (f *Feed) Notice(text string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.notices) >= maxNotices {
		f.notices = f.notices[1:]
	}
	f.notices = append(f.notices, text)
}

// Dropped counts the messages the traffic channel had no room for.
func (f *Feed) Dropped() uint64 { return f.dropped.Load() }

// Seen counts every message handed to Traffic.
func (f *Feed) Seen() uint64 { return f.seen.Load() }

// take returns what arrived since the last call: a reset (when one came),
// the coalesced changes after it, and the notices.
func (f *Feed) take() (reset []Change, hasReset bool, changes []Change, notices []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	reset, hasReset = f.reset, f.hasReset
	f.reset, f.hasReset = nil, false
	if len(f.changes) > 0 {
		changes = f.changes
		f.changes = make([]Change, 0, len(changes))
		clear(f.pending)
	}
	notices, f.notices = f.notices, nil
	return
}

// takeTraffic drains up to max messages from the traffic channel.
func (f *Feed) takeTraffic(max int) []TrafficEntry {
	var out []TrafficEntry
	for len(out) < max {
		select {
		case e := <-f.traffic:
			out = append(out, e)
		default:
			return out
		}
	}
	return out
}
