package sprest

import (
	"fmt"
	"time"
)

// EventKind says what happened to a write.
type EventKind int

// Event kinds.
const (
	// EventDelivered: the request succeeded. Attempt > 1 means earlier
	// attempts had failed: the neighbour is back.
	EventDelivered EventKind = iota + 1
	// EventFailed: the request failed and will be retried after Delay.
	EventFailed
	// EventAbandoned: the request failed Config.MaxAttempts times and is
	// given up; the local records still hold the state.
	EventAbandoned
	// EventDropped: the write was never attempted or not completed
	// because the queue was full or the writer was closing.
	EventDropped
)

func (k EventKind) String() string {
	switch k {
	case EventDelivered:
		return "delivered"
	case EventFailed:
		return "failed"
	case EventAbandoned:
		return "abandoned"
	case EventDropped:
		return "dropped"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Target names the neighbour a write goes to.
type Target string

// Targets.
const (
	TargetNSR        Target = "nsr"
	TargetVNFR       Target = "vnfr"
	TargetMonitoring Target = "monitoring"
	// TargetRecords is a whole records write of a service (the NSR and
	// its VNFRs) that was dropped before any request was built.
	TargetRecords Target = "records"
)

// Event reports one outcome of a REST write.
type Event struct {
	Kind      EventKind
	Target    Target
	ServiceID string
	// RecordID is the NSR or VNFR id (empty for monitoring).
	RecordID string
	// Method and URL of the request (empty for a drop before any
	// request was built).
	Method, URL string
	// StatusCode is the HTTP status; 0 when no answer arrived (refused,
	// timed out).
	StatusCode int
	// Attempt counts the attempts of this request, from 1.
	Attempt int
	// Delay is the wait before the next attempt (EventFailed).
	Delay time.Duration
	// Err is the failure (EventFailed, EventAbandoned, EventDropped).
	Err  error
	Time time.Time
}

func (e Event) String() string {
	s := fmt.Sprintf("%s %s %s", e.Kind, e.Method, e.URL)
	if e.StatusCode != 0 {
		s += fmt.Sprintf(" -> %d", e.StatusCode)
	}
	if e.Attempt > 0 {
		s += fmt.Sprintf(" (attempt %d)", e.Attempt)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	if e.Kind == EventFailed {
		s += fmt.Sprintf("; retry in %s", e.Delay.Round(time.Millisecond))
	}
	return s
}

// HTTPError is a request that got an unexpected answer.
type HTTPError struct {
	Method, URL string
	StatusCode  int
	// Body is the start of the answer's body.
	Body string
}

func (e *HTTPError) Error() string {
	s := fmt.Sprintf("%s %s: HTTP %d", e.Method, e.URL, e.StatusCode)
	if e.Body != "" {
		s += ": " + e.Body
	}
	return s
}
