package tui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/manoctl/manoctl/reconcile/bus"
)

// DefaultTrafficRing is how many bus messages the traffic view keeps.
const DefaultTrafficRing = 10000

// message is one captured bus message. size is computed on first display:
// an in-process message has no body until it is encoded.
type message struct {
	at   time.Time
	msg  *bus.Message
	text string // lower-case topic, app id, correlation id: what filters match
	size int    // -1 until known
}

func newMessage(e TrafficEntry) *message {
	m := e.Msg
	at := e.At
	if at.IsZero() {
		at = m.Time
	}
	return &message{at: at, msg: m, size: -1,
		text: strings.ToLower(m.Topic + "\x00" + m.AppID + "\x00" + m.CorrelationID)}
}

func (m *message) Size() int {
	if m.size < 0 {
		m.size = m.msg.Size()
	}
	return m.size
}

// ring is a bounded FIFO of messages: the oldest is evicted when full.
type ring struct {
	buf     []*message
	start   int
	n       int
	evicted uint64
}

func newRing(capacity int) *ring { return &ring{buf: make([]*message, capacity)} }

func (r *ring) push(m *message) {
	if len(r.buf) == 0 {
		return
	}
	if r.n < len(r.buf) {
		r.buf[(r.start+r.n)%len(r.buf)] = m
		r.n++
		return
	}
	r.buf[r.start] = m
	r.start = (r.start + 1) % len(r.buf)
	r.evicted++
}

func (r *ring) at(i int) *message { return r.buf[(r.start+i)%len(r.buf)] }

func (r *ring) len() int { return r.n }

func (r *ring) reset() {
	clear(r.buf)
	r.start, r.n = 0, 0
}

// traffic is the traffic view's state: every message kept (all), the
// ones the filter matches (shown, only while filtering) and a frozen copy
// while paused.
type traffic struct {
	all    *ring
	shown  *ring
	filter string
	invert bool

	paused bool
	frozen []*message // what a paused view shows
	missed int        // messages that arrived while paused

	cursor int
	offset int
	follow bool // the cursor stays on the newest message

	total uint64 // messages received
	// rate is messages per second over the last second.
	rate      float64
	rateStart time.Time
	rateCount uint64
}

func newTraffic(capacity int) *traffic {
	if capacity <= 0 {
		capacity = DefaultTrafficRing
	}
	return &traffic{all: newRing(capacity), follow: true}
}

func (t *traffic) matches(m *message) bool {
	return strings.Contains(m.text, t.filter) != t.invert
}

func (t *traffic) add(m *message) {
	t.total++
	t.all.push(m)
	if t.shown != nil && t.matches(m) {
		t.shown.push(m)
	}
	if t.paused {
		t.missed++
	}
}

func (t *traffic) setFilter(f string, invert bool) {
	f = strings.ToLower(f)
	if f == t.filter && invert == t.invert {
		return
	}
	t.filter, t.invert = f, invert
	t.shown = nil
	if f != "" {
		t.shown = newRing(len(t.all.buf))
		for i := 0; i < t.all.len(); i++ {
			if m := t.all.at(i); t.matches(m) {
				t.shown.push(m)
			}
		}
	}
	if t.paused {
		t.freeze()
	}
	t.follow = true
}

func (t *traffic) view() *ring {
	if t.shown != nil {
		return t.shown
	}
	return t.all
}

func (t *traffic) len() int {
	if t.paused {
		return len(t.frozen)
	}
	return t.view().len()
}

func (t *traffic) row(i int) *message {
	if t.paused {
		return t.frozen[i]
	}
	return t.view().at(i)
}

func (t *traffic) freeze() {
	r := t.view()
	t.frozen = make([]*message, r.len())
	for i := range t.frozen {
		t.frozen[i] = r.at(i)
	}
}

func (t *traffic) togglePause() {
	t.paused = !t.paused
	t.missed = 0
	if t.paused {
		t.freeze()
		return
	}
	t.frozen = nil
}

func (t *traffic) clear() {
	t.all.reset()
	if t.shown != nil {
		t.shown.reset()
	}
	t.frozen = nil
	t.cursor, t.offset, t.follow = 0, 0, true
}

func (t *traffic) move(d int) {
	n := t.len()
	if t.follow {
		t.cursor = max(n-1, 0)
	}
	t.cursor = min(max(t.cursor+d, 0), max(n-1, 0))
	t.follow = t.cursor >= n-1
}

func (t *traffic) window(height int) (int, int) {
	n := t.len()
	if t.follow {
		t.cursor = max(n-1, 0)
	}
	t.cursor = min(t.cursor, max(n-1, 0))
	if t.cursor < t.offset {
		t.offset = t.cursor
	}
	if t.cursor >= t.offset+height {
		t.offset = t.cursor - height + 1
	}
	t.offset = max(min(t.offset, n-height), 0)
	return t.offset, min(t.offset+height, n)
}

func (t *traffic) current() *message {
	if t.cursor >= 0 && t.cursor < t.len() {
		return t.row(t.cursor)
	}
	return nil
}

// tickRate updates the messages-per-second figure.
func (t *traffic) tickRate(now time.Time) {
	if t.rateStart.IsZero() {
		t.rateStart, t.rateCount = now, t.total
		return
	}
	if d := now.Sub(t.rateStart); d >= time.Second {
		t.rate = float64(t.total-t.rateCount) / d.Seconds()
		t.rateStart, t.rateCount = now, t.total
	}
}

// decodeBody renders a message for its details pane: the envelope, then
// the body as it travels (YAML or JSON, JSON indented).
func decodeBody(m *message) string {
	msg := m.msg
	var b strings.Builder
	fmt.Fprintf(&b, "Topic:          %s\n", msg.Topic)
	fmt.Fprintf(&b, "Time:           %s\n", m.at.Format("2006-01-02 15:04:05.000"))
	fmt.Fprintf(&b, "App ID:         %s\n", dash(msg.AppID))
	fmt.Fprintf(&b, "Correlation ID: %s\n", dash(msg.CorrelationID))
	fmt.Fprintf(&b, "Reply to:       %s\n", dash(msg.ReplyTo))
	fmt.Fprintf(&b, "Content type:   %s\n", dash(msg.ContentType))
	if msg.Vhost != "" {
		fmt.Fprintf(&b, "Vhost:          %s\n", msg.Vhost)
	}
	if len(msg.Headers) > 0 {
		keys := make([]string, 0, len(msg.Headers))
		for k := range msg.Headers {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s=%v", k, msg.Headers[k])
		}
		fmt.Fprintf(&b, "Headers:        %s\n", strings.Join(parts, " "))
	}
	body := msg.Body
	if body == nil && msg.Payload != nil {
		enc, _, err := bus.Encode(msg.Topic, msg.IsRequest(), msg.Payload)
		if err != nil {
			fmt.Fprintf(&b, "\nbody cannot be encoded: %v\n", err)
			return b.String()
		}
		body = enc
	}
	fmt.Fprintf(&b, "Size:           %d bytes\n\n", len(body))
	var js bytes.Buffer
	if json.Valid(body) && json.Indent(&js, body, "", "  ") == nil {
		body = js.Bytes()
	}
	b.WriteString(strings.TrimRight(strings.ToValidUTF8(string(body), "\uFFFD"), "\n"))
	b.WriteString("\n")
	return b.String()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
