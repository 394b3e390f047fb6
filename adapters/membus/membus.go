// Package membus is the in-process implementation of the reconcile/bus
// port and manoctl's embedded default transport.
//
// It behaves like a RabbitMQ topic exchange per virtual host: every
// subscription is a queue of its own with one binding, messages are routed
// with topic-pattern matching, each queue delivers in order to its consumer,
// and subscriptions that name the same shared queue compete for messages.
// Payloads are not serialised: subscribers receive the value the publisher
// passed, which they must treat as read-only.
//
// Publishing never blocks on slow consumers: queues are unbounded, as
// RabbitMQ queues are. A publish is atomic across all matching queues, so an
// observer bound to "#" sees messages in an order consistent with causality
// (a message a handler publishes in reaction to another comes after it).
package membus

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/manoctl/manoctl/reconcile/bus"
)

// Broker is a set of virtual hosts, each with its own exchange. The default
// vhost "/" always exists.
type Broker struct {
	log *slog.Logger
	wg  sync.WaitGroup // consumer goroutines

	mu     sync.Mutex
	vhosts map[string]*exchange
	closed bool
}

// Option configures a Broker.
type Option func(*Broker)

// WithLogger sets where handler panics are reported.
func WithLogger(l *slog.Logger) Option { return func(b *Broker) { b.log = l } }

// New returns a broker with the default vhost.
func New(opts ...Option) *Broker {
	b := &Broker{log: slog.New(slog.DiscardHandler), vhosts: make(map[string]*exchange)}
	for _, o := range opts {
		o(b)
	}
	b.vhosts[bus.DefaultVhost] = newExchange(b, bus.DefaultVhost)
	return b
}

// AddVhost creates a virtual host; it is a no-op if it exists.
func (b *Broker) AddVhost(name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return bus.ErrClosed
	}
	if _, ok := b.vhosts[name]; !ok {
		b.vhosts[name] = newExchange(b, name)
	}
	return nil
}

// DeleteVhost removes a virtual host and every queue on it, as RabbitMQ
// does; connections to it stop receiving.
func (b *Broker) DeleteVhost(name string) error {
	if name == bus.DefaultVhost {
		return fmt.Errorf("membus: cannot delete the default vhost")
	}
	b.mu.Lock()
	x, ok := b.vhosts[name]
	delete(b.vhosts, name)
	b.mu.Unlock()
	if ok {
		x.close()
	}
	return nil
}

// HasVhost reports whether the vhost exists.
func (b *Broker) HasVhost(name string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.vhosts[name]
	return ok
}

// Vhosts lists the existing virtual hosts.
func (b *Broker) Vhosts() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]string, 0, len(b.vhosts))
	for n := range b.vhosts {
		out = append(out, n)
	}
	return out
}

// Connect opens a connection to vhost; it fails with bus.ErrNoVhost if the
// vhost does not exist, as an AMQP connection would.
func (b *Broker) Connect(_ context.Context, vhost string) (bus.Bus, error) {
	if vhost == "" {
		vhost = bus.DefaultVhost
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, bus.ErrClosed
	}
	x, ok := b.vhosts[vhost]
	if !ok {
		return nil, fmt.Errorf("membus: connect %q: %w", vhost, bus.ErrNoVhost)
	}
	return &Conn{x: x}, nil
}

// Default returns a connection to the default vhost.
func (b *Broker) Default() *Conn {
	c, err := b.Connect(context.Background(), bus.DefaultVhost)
	if err != nil {
		panic(err) // only after Close
	}
	return c.(*Conn)
}

// Close stops every queue on every vhost, cancels the context handlers
// run with, and waits for running handlers to return.
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	xs := make([]*exchange, 0, len(b.vhosts))
	for _, x := range b.vhosts {
		xs = append(xs, x)
	}
	b.mu.Unlock()
	for _, x := range xs {
		x.close()
	}
	b.wg.Wait()
	return nil
}

// Conn is one connection to one vhost; it implements bus.Bus.
type Conn struct {
	x *exchange

	mu     sync.Mutex
	subs   map[*consumer]struct{}
	closed bool
}

var _ bus.Bus = (*Conn)(nil)

// Publish routes msg to every matching queue of the connection's vhost.
func (c *Conn) Publish(ctx context.Context, msg *bus.Message) error {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return bus.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m := *msg // the publisher may reuse msg; subscribers share this copy
	m.Vhost = c.x.name
	m.Time = time.Now()
	return c.x.publish(&m)
}

// Subscribe binds a new queue (or joins the shared queue named by
// bus.WithQueue) to pattern and starts delivering to h.
func (c *Conn) Subscribe(_ context.Context, pattern string, h bus.Handler, opts ...bus.SubscribeOption) (bus.Subscription, error) {
	o := bus.ResolveSubscribeOptions(opts)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, bus.ErrClosed
	}
	cons, err := c.x.subscribe(pattern, h, o)
	if err != nil {
		return nil, err
	}
	cons.conn = c
	if c.subs == nil {
		c.subs = make(map[*consumer]struct{})
	}
	c.subs[cons] = struct{}{}
	return cons, nil
}

// Close unsubscribes everything this connection subscribed.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	subs := c.subs
	c.subs = nil
	c.mu.Unlock()
	for s := range subs {
		s.stop()
	}
	return nil
}

func (c *Conn) forget(s *consumer) {
	c.mu.Lock()
	delete(c.subs, s)
	c.mu.Unlock()
}

// exchange is the topic exchange of one vhost.
type exchange struct {
	b    *Broker
	name string
	ctx  context.Context
	stop context.CancelFunc

	mu     sync.Mutex
	queues map[*queue]struct{}
	shared map[string]*queue
	routes map[string][]*queue // topic -> matching queues; reset on change
	closed bool
}

func newExchange(b *Broker, name string) *exchange {
	ctx, cancel := context.WithCancel(context.Background())
	return &exchange{
		b: b, name: name, ctx: ctx, stop: cancel,
		queues: make(map[*queue]struct{}),
		shared: make(map[string]*queue),
		routes: make(map[string][]*queue),
	}
}

func (x *exchange) publish(m *bus.Message) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return bus.ErrClosed
	}
	qs, ok := x.routes[m.Topic]
	if !ok {
		for q := range x.queues {
			if q.pattern.Match(m.Topic) {
				qs = append(qs, q)
			}
		}
		if len(x.routes) > 4096 {
			clear(x.routes) // per-instance topics would grow it forever
		}
		x.routes[m.Topic] = qs
	}
	for _, q := range qs {
		q.push(m)
	}
	return nil
}

func (x *exchange) subscribe(pattern string, h bus.Handler, o bus.SubscribeOptions) (*consumer, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return nil, bus.ErrClosed
	}
	var q *queue
	if o.Queue != "" {
		q = x.shared[o.Queue]
		if q != nil && q.pattern.String() != pattern {
			return nil, fmt.Errorf("membus: shared queue %q is bound to %q, not %q", o.Queue, q.pattern.String(), pattern)
		}
	}
	if q == nil {
		q = newQueue(x, bus.CompilePattern(pattern), o.Queue)
		x.queues[q] = struct{}{}
		if o.Queue != "" {
			x.shared[o.Queue] = q
		}
		clear(x.routes)
	}
	n := o.Concurrency
	if n < 1 {
		n = 1
	}
	c := &consumer{q: q, h: h, done: make(chan struct{})}
	q.consumers++
	x.b.wg.Add(n)
	for i := 0; i < n; i++ {
		go c.run()
	}
	return c, nil
}

func (x *exchange) removeQueue(q *queue) {
	x.mu.Lock()
	defer x.mu.Unlock()
	delete(x.queues, q)
	if q.shared != "" && x.shared[q.shared] == q {
		delete(x.shared, q.shared)
	}
	clear(x.routes)
}

func (x *exchange) close() {
	x.mu.Lock()
	if x.closed {
		x.mu.Unlock()
		return
	}
	x.closed = true
	qs := make([]*queue, 0, len(x.queues))
	for q := range x.queues {
		qs = append(qs, q)
	}
	x.mu.Unlock()
	x.stop()
	for _, q := range qs {
		q.close()
	}
}

// queue is an unbounded FIFO with one binding.
type queue struct {
	x         *exchange
	pattern   bus.Pattern
	shared    string
	consumers int // guarded by x.mu

	mu     sync.Mutex
	cond   *sync.Cond
	items  []*bus.Message
	head   int
	closed bool
}

func newQueue(x *exchange, p bus.Pattern, shared string) *queue {
	q := &queue{x: x, pattern: p, shared: shared}
	q.cond = sync.NewCond(&q.mu)
	return q
}

func (q *queue) push(m *bus.Message) {
	q.mu.Lock()
	if !q.closed {
		q.items = append(q.items, m)
		q.cond.Signal()
	}
	q.mu.Unlock()
}

// pop blocks for the next message; ok is false once the queue is closed or
// the consumer is stopped.
func (q *queue) pop(stopped func() bool) (*bus.Message, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.head == len(q.items) && !q.closed && !stopped() {
		q.cond.Wait()
	}
	if q.closed || stopped() {
		return nil, false
	}
	m := q.items[q.head]
	q.items[q.head] = nil
	q.head++
	switch {
	case q.head == len(q.items):
		q.items, q.head = q.items[:0], 0
	case q.head > 1024 && q.head*2 > len(q.items):
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	return m, true
}

// Len returns the number of queued messages.
func (q *queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) - q.head
}

func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.items, q.head = nil, 0
	q.cond.Broadcast()
	q.mu.Unlock()
}

// consumer is one subscription: a queue plus a handler run by one or more
// goroutines.
type consumer struct {
	q    *queue
	h    bus.Handler
	conn *Conn

	once    sync.Once
	done    chan struct{}
	stopped bool // guarded by q.mu
}

func (c *consumer) run() {
	defer c.q.x.b.wg.Done()
	stopped := func() bool { return c.stopped }
	for {
		m, ok := c.q.pop(stopped)
		if !ok {
			return
		}
		c.handle(m)
	}
}

func (c *consumer) handle(m *bus.Message) {
	defer func() {
		if r := recover(); r != nil {
			// One bad message must not kill the subscription (§14.1 T5).
			c.q.x.b.log.Error("membus: handler panic", "topic", m.Topic, "app_id", m.AppID,
				"panic", r, "stack", string(debug.Stack()))
		}
	}()
	c.h(c.q.x.ctx, m)
}

// Unsubscribe stops delivery; a handler that is running finishes on its
// own. Broker.Close waits for all handlers.
func (c *consumer) Unsubscribe() error {
	c.stop()
	if c.conn != nil {
		c.conn.forget(c)
	}
	return nil
}

func (c *consumer) stop() {
	c.once.Do(func() {
		x := c.q.x
		x.mu.Lock()
		c.q.consumers--
		last := c.q.consumers == 0
		x.mu.Unlock()
		c.q.mu.Lock()
		c.stopped = true
		c.q.cond.Broadcast()
		c.q.mu.Unlock()
		if last {
			x.removeQueue(c.q)
			c.q.close()
		}
		close(c.done)
	})
}
