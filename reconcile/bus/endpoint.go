package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Endpoint is one component's presence on a Bus: it publishes with the
// component's app_id, makes requests the way son-mano-base's call_async
// does, and filters deliveries the way the original components do.
//
// Requests follow wire-protocol §1.6: the request is published on topic T
// with reply_to = T and a fresh uuid4 correlation id, and the reply is the
// first later message on T with that correlation id and no reply_to. The
// Endpoint subscribes to T the first time it makes a request on it and keeps
// that subscription (as HEAD does, §14.1 T6). Unlike the original, every
// request has a timeout (§14.1 T4); duplicate and late replies are dropped.
type Endpoint struct {
	bus      Bus
	appID    string
	log      *slog.Logger
	timeouts func(topic string) time.Duration
	observe  func(topic string, took time.Duration, err error)

	mu        sync.Mutex
	calls     map[string]*Call
	replySubs map[string]Subscription
	subs      []Subscription
	closed    bool
}

// EndpointOption configures an Endpoint.
type EndpointOption func(*Endpoint)

// WithLogger sets the logger for dropped and malformed messages.
func WithLogger(l *slog.Logger) EndpointOption {
	return func(e *Endpoint) { e.log = l }
}

// WithObserver reports every request's topic, round-trip time and error
// (nil on a reply), for metrics.
func WithObserver(f func(topic string, took time.Duration, err error)) EndpointOption {
	return func(e *Endpoint) { e.observe = f }
}

// WithTimeouts replaces the per-topic request timeouts.
func WithTimeouts(f func(topic string) time.Duration) EndpointOption {
	return func(e *Endpoint) { e.timeouts = f }
}

// NewEndpoint attaches a component with app id appID to b. appID must not be
// empty: the IA drops messages without one (§1.7).
func NewEndpoint(b Bus, appID string, opts ...EndpointOption) *Endpoint {
	e := &Endpoint{
		bus:       b,
		appID:     appID,
		log:       slog.New(slog.DiscardHandler),
		timeouts:  DefaultTimeout,
		calls:     make(map[string]*Call),
		replySubs: make(map[string]Subscription),
	}
	for _, o := range opts {
		o(e)
	}
	return e
}

// AppID returns the app id the endpoint publishes with.
func (e *Endpoint) AppID() string { return e.appID }

// Bus returns the underlying bus.
func (e *Endpoint) Bus() Bus { return e.bus }

// Timeout returns the request timeout for topic.
func (e *Endpoint) Timeout(topic string) time.Duration { return e.timeouts(topic) }

// Publish sends msg with the endpoint's app id (unless msg sets one).
func (e *Endpoint) Publish(ctx context.Context, msg *Message) error {
	if msg.AppID == "" {
		msg.AppID = e.appID
	}
	return e.bus.Publish(ctx, msg)
}

// Notify publishes a one-way message (a notification or a reply) on topic
// with the given correlation id (which may be empty) and no reply_to.
func (e *Endpoint) Notify(ctx context.Context, topic string, payload any, corrID string) error {
	return e.bus.Publish(ctx, &Message{
		Topic:         topic,
		AppID:         e.appID,
		CorrelationID: corrID,
		ContentType:   ContentTypeJSON,
		Headers:       requestHeaders,
		Payload:       payload,
	})
}

// Header tables the Python library writes (§1.4). They are shared by every
// message and must never be modified.
var (
	requestHeaders = map[string]any{"key": "default", "type": "request"}
	replyHeaders   = map[string]any{"key": "", "type": "reply"}
)

// Reply answers req: on req's reply_to (the request topic for every Python
// caller), with req's correlation id and no reply_to.
func (e *Endpoint) Reply(ctx context.Context, req *Message, payload any) error {
	topic := req.ReplyTo
	if topic == "" {
		topic = req.Topic
	}
	return e.bus.Publish(ctx, &Message{
		Topic:         topic,
		AppID:         e.appID,
		CorrelationID: req.CorrelationID,
		ContentType:   req.ContentType,
		Headers:       replyHeaders,
		Payload:       payload,
	})
}

// Filter selects which deliveries a handler sees.
type Filter uint8

const (
	// SkipOwn drops messages published with the endpoint's own app id.
	SkipOwn Filter = 1 << iota
	// RequestsOnly drops messages without reply_to (replies and
	// notifications), like register_async_endpoint.
	RequestsOnly
	// NotificationsOnly drops messages with reply_to, like
	// register_notification_endpoint.
	NotificationsOnly
)

// Handle subscribes h to pattern, applying filter before h runs.
func (e *Endpoint) Handle(ctx context.Context, pattern string, filter Filter, h Handler, opts ...SubscribeOption) (Subscription, error) {
	sub, err := e.bus.Subscribe(ctx, pattern, func(ctx context.Context, msg *Message) {
		if filter&SkipOwn != 0 && msg.AppID == e.appID {
			return
		}
		if filter&RequestsOnly != 0 && msg.ReplyTo == "" {
			return
		}
		if filter&NotificationsOnly != 0 && msg.ReplyTo != "" {
			return
		}
		h(ctx, msg)
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("bus: subscribe %s as %s: %w", pattern, e.appID, err)
	}
	e.mu.Lock()
	e.subs = append(e.subs, sub)
	e.mu.Unlock()
	return sub, nil
}

// Call is an outstanding request. Replies arrive on Replies(); a plain
// request takes the first one, a streaming request (the gatekeeper's view
// of service.instances.create) reads until it has what it needs.
type Call struct {
	// CorrelationID of the request.
	CorrelationID string
	// Topic the request was published on.
	Topic string

	replies chan *Message
	once    sync.Once
	end     func()
}

// Replies delivers the replies in arrival order. It is never closed; use
// the caller's context to stop waiting.
func (c *Call) Replies() <-chan *Message { return c.replies }

// Close forgets the call: later replies are dropped.
func (c *Call) Close() { c.once.Do(c.end) }

// CallOption tunes one request.
type CallOption func(*callOptions)

type callOptions struct {
	corrID  string
	timeout time.Duration
}

// WithCorrelationID reuses a correlation id, for example when re-publishing
// a request after a reconnect, or when relaying another component's id.
func WithCorrelationID(id string) CallOption {
	return func(o *callOptions) { o.corrID = id }
}

// WithTimeout overrides the topic's default timeout for one request.
func WithTimeout(d time.Duration) CallOption {
	return func(o *callOptions) { o.timeout = d }
}

// Start publishes a request and returns the Call that collects its replies.
// The caller must Close it.
func (e *Endpoint) Start(ctx context.Context, topic string, payload any, opts ...CallOption) (*Call, error) {
	var o callOptions
	for _, f := range opts {
		f(&o)
	}
	if o.corrID == "" {
		o.corrID = uuid.NewString()
	}
	if err := e.ensureReplySub(ctx, topic); err != nil {
		return nil, err
	}
	c := &Call{CorrelationID: o.corrID, Topic: topic, replies: make(chan *Message, 8)}
	c.end = func() {
		e.mu.Lock()
		if e.calls[c.CorrelationID] == c {
			delete(e.calls, c.CorrelationID)
		}
		e.mu.Unlock()
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, ErrClosed
	}
	e.calls[o.corrID] = c
	e.mu.Unlock()

	err := e.bus.Publish(ctx, &Message{
		Topic:         topic,
		AppID:         e.appID,
		CorrelationID: o.corrID,
		ReplyTo:       topic,
		ContentType:   ContentTypeJSON,
		Headers:       requestHeaders,
		Payload:       payload,
		Persistent:    true,
	})
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("bus: request %s: %w", topic, err)
	}
	return c, nil
}

// Request publishes a request and waits for its first reply, up to the
// topic's timeout (or the WithTimeout option). On timeout it returns a
// *TimeoutError.
func (e *Endpoint) Request(ctx context.Context, topic string, payload any, opts ...CallOption) (*Message, error) {
	var o callOptions
	for _, f := range opts {
		f(&o)
	}
	timeout := o.timeout
	if timeout <= 0 {
		timeout = e.timeouts(topic)
	}
	start := time.Now()
	m, err := e.request(ctx, topic, payload, timeout, opts)
	if e.observe != nil {
		e.observe(topic, time.Since(start), err)
	}
	return m, err
}

func (e *Endpoint) request(ctx context.Context, topic string, payload any, timeout time.Duration, opts []CallOption) (*Message, error) {
	c, err := e.Start(ctx, topic, payload, opts...)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case m := <-c.replies:
		return m, nil
	case <-t.C:
		return nil, &TimeoutError{Topic: topic, CorrelationID: c.CorrelationID, After: timeout}
	case <-ctx.Done():
		return nil, fmt.Errorf("bus: request %s: %w", topic, ctx.Err())
	}
}

// TimeoutError reports a request that got no reply in time.
type TimeoutError struct {
	Topic         string
	CorrelationID string
	After         time.Duration
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("Timeout waiting for %s reply", e.Topic)
}

// IsTimeout reports whether err is a request timeout.
func IsTimeout(err error) bool {
	var t *TimeoutError
	return errors.As(err, &t)
}

func (e *Endpoint) ensureReplySub(ctx context.Context, topic string) error {
	e.mu.Lock()
	if _, ok := e.replySubs[topic]; ok {
		e.mu.Unlock()
		return nil
	}
	e.mu.Unlock()
	sub, err := e.bus.Subscribe(ctx, topic, e.onReply)
	if err != nil {
		return fmt.Errorf("bus: subscribe for replies on %s: %w", topic, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.replySubs[topic]; ok {
		// Lost a race with another first request on this topic.
		go sub.Unsubscribe()
		return nil
	}
	e.replySubs[topic] = sub
	return nil
}

func (e *Endpoint) onReply(_ context.Context, msg *Message) {
	// Requests (ours and others') carry reply_to and are not replies. The
	// IA keeps reply_to on some replies; those are matched by sender.
	if msg.ReplyTo != "" && !IsIA(msg.AppID) {
		return
	}
	if msg.CorrelationID == "" {
		return
	}
	e.mu.Lock()
	c := e.calls[msg.CorrelationID]
	e.mu.Unlock()
	if c == nil {
		return // late, duplicate or foreign reply (§14.1 T7)
	}
	select {
	case c.replies <- msg:
	default:
		e.log.Warn("dropping reply: caller is not reading", "topic", msg.Topic, "correlation_id", msg.CorrelationID)
	}
}

// Close removes the endpoint's subscriptions. Outstanding requests end by
// their timeouts or contexts. It does not close the Bus.
func (e *Endpoint) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	subs := e.subs
	for _, s := range e.replySubs {
		subs = append(subs, s)
	}
	e.subs, e.replySubs = nil, nil
	e.mu.Unlock()
	var errs []error
	for _, s := range subs {
		if err := s.Unsubscribe(); err != nil && !errors.Is(err, ErrClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
