package amqp

import (
	"sync/atomic"
	"time"
)

// EventKind says what an Event reports.
type EventKind uint8

const (
	// EventConnected: the first connection of a Bus is up, with its
	// exchange declared.
	EventConnected EventKind = iota + 1
	// EventDisconnected: the connection was lost; Err says why. Publishes
	// wait and subscriptions are re-established after EventReconnected.
	EventDisconnected
	// EventReconnectFailed: one reconnection attempt failed; Attempt and
	// Err are set. Attempts go on with backoff until Close.
	EventReconnectFailed
	// EventReconnected: a new connection is up with the exchange, every
	// live subscription (queue, binding, consumer) and the publisher
	// restored.
	EventReconnected
	// EventReturned: the broker returned a mandatory message (a request)
	// because no queue was bound to its topic (§14.1 T3). Topic,
	// CorrelationID and AppID identify it.
	EventReturned
	// EventSubscriptionFailed: a subscription could not be restored on a
	// new connection, or its consumer was cancelled by the broker; it is
	// retried. Topic holds the pattern, Err the reason.
	EventSubscriptionFailed
	// EventBlocked: the broker blocks publishers (connection.blocked, a
	// memory or disk alarm); Err holds its reason. Publishes wait.
	EventBlocked
	// EventUnblocked: the broker accepts publishes again.
	EventUnblocked
	// EventClosed: Close has finished.
	EventClosed
)

func (k EventKind) String() string {
	switch k {
	case EventConnected:
		return "connected"
	case EventDisconnected:
		return "disconnected"
	case EventReconnectFailed:
		return "reconnect-failed"
	case EventReconnected:
		return "reconnected"
	case EventReturned:
		return "returned"
	case EventSubscriptionFailed:
		return "subscription-failed"
	case EventBlocked:
		return "blocked"
	case EventUnblocked:
		return "unblocked"
	case EventClosed:
		return "closed"
	}
	return "unknown"
}

// Event is a change of a Bus's connection state, or a notable message
// outcome, for a daemon to log or export. It never carries credentials:
// Broker is the redacted URL and Err has been scrubbed.
type Event struct {
	Kind  EventKind
	Time  time.Time
	Vhost string
	// Broker is the broker URL with its password masked.
	Broker string
	// Attempt numbers reconnection attempts since the disconnect, from 1.
	Attempt int
	// Err is the cause of a disconnect or of a failure.
	Err error
	// Topic, CorrelationID and AppID identify a returned message (and
	// Topic the pattern of a failed subscription).
	Topic         string
	CorrelationID string
	AppID         string
}

// Stats are cumulative counters of a Bus.
type Stats struct {
	// Published counts basic.publish frames sent, re-publishes included.
	Published uint64
	// Confirmed counts publishes the broker acknowledged.
	Confirmed uint64
	// Nacked counts publishes the broker negatively acknowledged.
	Nacked uint64
	// Republished counts publishes sent again because their confirm was
	// lost with the connection (or was a nack).
	Republished uint64
	// Returned counts mandatory messages returned as unroutable.
	Returned uint64
	// Delivered counts messages handed to handlers.
	Delivered uint64
	// Redelivered counts deliveries the broker flagged as redelivered
	// (handled before, or delivered to a consumer that went away unacked).
	Redelivered uint64
	// HandlerPanics counts handler panics recovered by the Bus.
	HandlerPanics uint64
	// Disconnects and Reconnects count lost and re-established connections.
	Disconnects uint64
	Reconnects  uint64
}

type counters struct {
	published, confirmed, nacked, republished, returned     atomic.Uint64
	delivered, redelivered, panics, disconnects, reconnects atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Published:     c.published.Load(),
		Confirmed:     c.confirmed.Load(),
		Nacked:        c.nacked.Load(),
		Republished:   c.republished.Load(),
		Returned:      c.returned.Load(),
		Delivered:     c.delivered.Load(),
		Redelivered:   c.redelivered.Load(),
		HandlerPanics: c.panics.Load(),
		Disconnects:   c.disconnects.Load(),
		Reconnects:    c.reconnects.Load(),
	}
}
