package bus

import (
	"context"
	"errors"
)

// Handler processes one delivered message. Deliveries of one subscription are
// handled one at a time and in order, as with a RabbitMQ queue consumed with
// a single consumer; a handler that needs to wait for another message (a
// reply, say) must hand the work to its own goroutine, because the reply
// may arrive through the very subscription that is blocked.
//
// Handlers must treat msg (and its Payload) as read-only: on the in-process
// bus the same value is shared by every subscriber.
type Handler func(ctx context.Context, msg *Message)

// Bus is one connection to one virtual host of a topic exchange.
//
// Publish routes msg to every subscription whose pattern matches msg.Topic,
// with RabbitMQ topic semantics ('*' is exactly one word, '#' zero or more).
// A message that matches no subscription is dropped, as RabbitMQ drops an
// unroutable message.
//
// Subscribe creates one queue bound with pattern: each subscription receives
// its own copy of every matching message, in publish order.
type Bus interface {
	Publish(ctx context.Context, msg *Message) error
	Subscribe(ctx context.Context, pattern string, h Handler, opts ...SubscribeOption) (Subscription, error)
	Close() error
}

// Connector opens connections to the virtual hosts of one broker. The
// specific-manager protocol runs on per-instance vhosts (ssm-<id>, fsm-<id>),
// so components that talk to managers need more than their default Bus.
type Connector interface {
	Connect(ctx context.Context, vhost string) (Bus, error)
}

// Subscription is a live binding; Unsubscribe removes it and stops delivery.
// Messages already queued for it are discarded.
type Subscription interface {
	Unsubscribe() error
}

// SubscribeOption tunes a subscription. Transports ignore options they do
// not understand.
type SubscribeOption func(*SubscribeOptions)

// SubscribeOptions is the resolved set of SubscribeOption values.
type SubscribeOptions struct {
	// Queue, when set, names a shared queue: subscriptions with the same
	// Queue compete for messages instead of each receiving a copy. This is
	// how several instances of one manoctl component share work
	// (wire-protocol §14.1 T1). The name must never equal a topic.
	Queue string
	// Concurrency is the number of messages handled at once; 0 and 1 mean
	// strictly in order.
	Concurrency int
}

// WithQueue makes the subscription consume from the named shared queue.
func WithQueue(name string) SubscribeOption {
	return func(o *SubscribeOptions) { o.Queue = name }
}

// WithConcurrency lets a subscription handle up to n messages at once,
// giving up ordering between them.
func WithConcurrency(n int) SubscribeOption {
	return func(o *SubscribeOptions) { o.Concurrency = n }
}

// ResolveSubscribeOptions applies opts to a zero SubscribeOptions.
func ResolveSubscribeOptions(opts []SubscribeOption) SubscribeOptions {
	var o SubscribeOptions
	for _, f := range opts {
		f(&o)
	}
	return o
}

// ErrClosed is returned by operations on a closed Bus.
var ErrClosed = errors.New("bus: closed")

// ErrNoVhost is returned by Connector.Connect for an unknown virtual host.
var ErrNoVhost = errors.New("bus: no such virtual host")
