package emulator

import (
	"fmt"
	"sync"
	"time"

	"github.com/manoctl/manoctl/reconcile/bus"
)

// Fault changes how the emulator treats one call (or every call) of a
// topic. Faults drive the engine's failure-injection tests: an IA error,
// silence or garbage at any step must leave no deployed function behind
// and capacity as it was. Build faults with Fail, DropRequest, DropReply,
// Malformed, Duplicate, LateReply, HoldReply and KeepReplyTo, and install
// them with Emulator.Inject.
type Fault struct {
	kind    faultKind
	message string
	delay   time.Duration
	release <-chan struct{}
	extra   int
}

type faultKind uint8

const (
	faultFail faultKind = iota + 1
	faultMalformed
	faultDropRequest
	faultDropReply
	faultDuplicate
	faultLate
	faultHold
	faultKeepReplyTo
)

// Fail answers the call with the topic's error shape carrying message
// ({request_status: ERROR, message} on most topics, "fail" on compute.list,
// "FAILED" on wan.configure). The request has no effect.
func Fail(message string) Fault { return Fault{kind: faultFail, message: message} }

// Malformed answers the call with a body that does not parse, as the Java
// wrappers produce when they paste unescaped text into a reply (§14.7 I2).
// Like the original's, it is an error reply: the request has no effect.
func Malformed() Fault { return Fault{kind: faultMalformed} }

// DropRequest loses the request before the IA sees it: no effect, no
// reply. The caller can only time out.
func DropRequest() Fault { return Fault{kind: faultDropRequest} }

// DropReply lets the request take effect and loses the reply: a function
// is deployed (capacity taken) but the caller never hears of it. It is the
// harder case for a caller's timeout and rollback path.
func DropReply() Fault { return Fault{kind: faultDropReply} }

// Duplicate sends extra more copies of the reply (same correlation id).
func Duplicate(extra int) Fault { return Fault{kind: faultDuplicate, extra: extra} }

// LateReply lets the request take effect at once and sends the reply d
// later, for replies that arrive after the caller gave up.
func LateReply(d time.Duration) Fault { return Fault{kind: faultLate, delay: d} }

// HoldReply lets the request take effect at once and sends the reply only
// when release is closed (or never, if the emulator closes first). It is
// LateReply without timing: tests close release after the caller timed
// out.
func HoldReply(release <-chan struct{}) Fault { return Fault{kind: faultHold, release: release} }

// KeepReplyTo sends the reply with the request's reply_to still set, as the
// Java IA does on compute.remove, network.remove and wan.remove (§8.3,
// §14.7 I1).
func KeepReplyTo() Fault { return Fault{kind: faultKeepReplyTo} }

func (f Fault) String() string {
	switch f.kind {
	case faultFail:
		return fmt.Sprintf("fail(%q)", f.message)
	case faultMalformed:
		return "malformed reply"
	case faultDropRequest:
		return "drop request"
	case faultDropReply:
		return "drop reply"
	case faultDuplicate:
		return fmt.Sprintf("duplicate reply x%d", f.extra)
	case faultLate:
		return fmt.Sprintf("late reply +%s", f.delay)
	case faultHold:
		return "held reply"
	case faultKeepReplyTo:
		return "reply keeps reply_to"
	}
	return "no fault"
}

// Every selects every call of a topic in Inject.
const Every = 0

// LatencyFunc returns the delay before the emulator handles call number
// call (1-based) of topic.
type LatencyFunc func(topic string, call int) time.Duration

type faultRule struct {
	pattern bus.Pattern
	call    int
	fault   Fault
}

type latencyRule struct {
	pattern bus.Pattern
	f       LatencyFunc
}

// knobs holds the runtime test settings and the per-topic call counters.
type knobs struct {
	mu      sync.Mutex
	calls   map[string]int
	faults  []faultRule
	latency []latencyRule // later rules override earlier ones
}

// treatment is what the knobs decided for one call.
type treatment struct {
	call  int
	delay time.Duration // before handling

	dropRequest bool
	fail        *Fault // Fail or Malformed, whichever was injected first
	dropReply   bool
	copies      int // replies to send, at least 1
	lateBy      time.Duration
	holds       []<-chan struct{}
	keepReplyTo bool
}

// delayed reports whether the reply must wait for a timer or a release.
func (t *treatment) delayed() bool { return t.lateBy > 0 || len(t.holds) > 0 }

// next counts a call of topic and resolves its treatment. The latency
// function runs outside the lock, so that it may call back into the
// emulator.
func (k *knobs) next(topic string) treatment {
	k.mu.Lock()
	if k.calls == nil {
		k.calls = make(map[string]int)
	}
	k.calls[topic]++
	t := treatment{call: k.calls[topic], copies: 1}
	var lat LatencyFunc
	for i := len(k.latency) - 1; i >= 0; i-- {
		if k.latency[i].pattern.Match(topic) {
			lat = k.latency[i].f
			break
		}
	}
	for i := range k.faults {
		r := &k.faults[i]
		if (r.call != Every && r.call != t.call) || !r.pattern.Match(topic) {
			continue
		}
		f := r.fault
		switch f.kind {
		case faultDropRequest:
			t.dropRequest = true
		case faultFail, faultMalformed:
			if t.fail == nil {
				t.fail = &f
			}
		case faultDropReply:
			t.dropReply = true
		case faultDuplicate:
			t.copies += max(f.extra, 0)
		case faultLate:
			t.lateBy = max(t.lateBy, f.delay)
		case faultHold:
			t.holds = append(t.holds, f.release)
		case faultKeepReplyTo:
			t.keepReplyTo = true
		}
	}
	k.mu.Unlock()
	if lat != nil {
		t.delay = max(lat(topic, t.call), 0)
	}
	return t
}

// Inject installs fault for call number call (1-based, counted per topic
// since the emulator started or was last reset) of every topic matching
// pattern, or for every call when call is Every. Patterns use RabbitMQ
// topic syntax ("infrastructure.#" matches all). Faults accumulate until
// ClearFaults or Reset: a Fail and a Duplicate on the same call send the
// error reply twice.
func (e *Emulator) Inject(pattern string, call int, f Fault) {
	e.knobs.mu.Lock()
	defer e.knobs.mu.Unlock()
	e.knobs.faults = append(e.knobs.faults, faultRule{pattern: bus.CompilePattern(pattern), call: call, fault: f})
}

// SetLatency delays the handling of every call of the topics matching
// pattern by d; the request takes effect and is answered after d. The
// delivery loop is never blocked: delayed calls run on their own
// goroutines, so later calls may overtake them. A later setting for a
// matching pattern overrides an earlier one; d = 0 restores instant
// answers.
func (e *Emulator) SetLatency(pattern string, d time.Duration) {
	e.SetLatencyFunc(pattern, func(string, int) time.Duration { return d })
}

// SetLatencyFunc is SetLatency with a delay computed per call, for
// distributions (the 2017 mock's ~52 s ± 15 s deploys, §8.5) or for
// slowing down one particular call.
func (e *Emulator) SetLatencyFunc(pattern string, f LatencyFunc) {
	e.knobs.mu.Lock()
	defer e.knobs.mu.Unlock()
	// Replace a rule for the same pattern, so that tests that retune a
	// latency in a loop do not grow the list.
	for i, r := range e.knobs.latency {
		if r.pattern.String() == pattern {
			e.knobs.latency = append(e.knobs.latency[:i], e.knobs.latency[i+1:]...)
			break
		}
	}
	e.knobs.latency = append(e.knobs.latency, latencyRule{pattern: bus.CompilePattern(pattern), f: f})
}

// ClearFaults removes every fault and latency setting and restarts the
// call counters. State (VIMs, services, functions) is kept; Reset clears
// both.
func (e *Emulator) ClearFaults() {
	e.knobs.mu.Lock()
	defer e.knobs.mu.Unlock()
	e.knobs.faults = nil
	e.knobs.latency = nil
	e.knobs.calls = nil
}

// Calls returns how many requests on topic the emulator has accepted since
// it started or was last reset: messages with a foreign app_id and a
// reply_to, whatever their fate.
func (e *Emulator) Calls(topic string) int {
	e.knobs.mu.Lock()
	defer e.knobs.mu.Unlock()
	return e.knobs.calls[topic]
}
