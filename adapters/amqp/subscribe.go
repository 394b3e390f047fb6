package amqp

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/manoctl/manoctl/reconcile/bus"
)

// errUnsubscribed ends the attempts of a subscription that was dropped
// while it was being set up.
var errUnsubscribed = errors.New("amqp: unsubscribed")

// maxQueueName is the AMQP short-string limit on queue names.
const maxQueueName = 255

// Subscribe creates a queue for pattern, binds it to the exchange and
// consumes it on a channel of its own, with manual acks (each message is
// acked after h returns, even if h panics) and a prefetch of
// Config.Prefetch. It returns once the broker has confirmed the binding
// (queue.bind-ok) and the consumer, so a message published after Subscribe
// returns is delivered (§14.1 T3).
//
// Without options the queue is private: named q.<pattern>.<uuid4> like the
// son-mano-base queues, exclusive to the connection, so it disappears with
// it (§14.1 T2). With bus.WithQueue the queue is shared: durable, named with
// the manoctl. prefix (added if missing), and every subscriber competes for
// its messages (§14.1 T1); it outlives its subscribers, so messages for a
// role wait for the next instance. bus.WithConcurrency(n) runs up to n
// handlers at once.
//
// While the connection is down Subscribe waits, bounded by ctx. After a
// reconnection the subscription is restored on a new queue (a private
// queue) or on the same one (a shared queue).
func (b *Bus) Subscribe(ctx context.Context, pattern string, h bus.Handler, opts ...bus.SubscribeOption) (bus.Subscription, error) {
	if h == nil {
		return nil, errors.New("amqp: subscribe: nil handler")
	}
	o := bus.ResolveSubscribeOptions(opts)
	if len(pattern) > maxQueueName {
		return nil, fmt.Errorf("amqp: subscribe: binding key of %d bytes exceeds the AMQP limit of %d", len(pattern), maxQueueName)
	}
	n := max(o.Concurrency, 1)
	s := &Subscription{
		b:       b,
		pattern: pattern,
		h:       h,
		n:       n,
		slots:   make(chan struct{}, n),
		done:    make(chan struct{}),
	}
	if o.Queue != "" {
		s.shared = SharedQueueName(o.Queue)
		if len(s.shared) > maxQueueName {
			return nil, fmt.Errorf("amqp: subscribe: queue name %q exceeds the AMQP limit of %d bytes", s.shared, maxQueueName)
		}
	}

	b.mu.Lock()
	select {
	case <-b.closing:
		b.mu.Unlock()
		return nil, bus.ErrClosed
	default:
	}
	if s.shared != "" {
		q := b.shared[s.shared]
		if q != nil && q.pattern != pattern {
			b.mu.Unlock()
			return nil, fmt.Errorf("amqp: shared queue %q is bound to %q, not %q", s.shared, q.pattern, pattern)
		}
		if q == nil {
			q = &sharedQueue{pattern: pattern}
			b.shared[s.shared] = q
		}
		q.refs++
	}
	b.subs[s] = struct{}{}
	// Added under b.mu with the closing check, so Close's Wait comes after.
	b.wg.Add(1)
	b.mu.Unlock()

	// Setting up runs on its own goroutine so that a stalled broker
	// cannot hold the caller past ctx. If the caller gives up first, the
	// goroutine undoes what it did.
	res := make(chan error, 1)
	keep := make(chan bool, 1)
	go func() {
		defer b.wg.Done()
		err := s.establish(ctx)
		res <- err
		if !<-keep && err == nil {
			_ = s.teardown()
		}
	}()
	select {
	case err := <-res:
		if err != nil {
			s.stop()
			keep <- false
			return nil, fmt.Errorf("amqp: subscribe %s: %w", pattern, err)
		}
		keep <- true
		return s, nil
	case <-ctx.Done():
		s.stop()
		keep <- false
		return nil, fmt.Errorf("amqp: subscribe %s: %w", pattern, ctx.Err())
	}
}

// SharedQueueName returns the broker queue name for bus.WithQueue(name):
// name itself if it has the manoctl. prefix, else name with the prefix.
func SharedQueueName(name string) string {
	if strings.HasPrefix(name, SharedQueuePrefix) {
		return name
	}
	return SharedQueuePrefix + name
}

// privateQueueName returns q.<pattern>.<uuid4>, shortening the pattern if
// the name would exceed the AMQP limit.
func privateQueueName(pattern string) string {
	id := uuid.NewString()
	if room := maxQueueName - len("q..") - len(id); len(pattern) > room {
		pattern = pattern[:room]
	}
	return "q." + pattern + "." + id
}

// Subscription is the bus.Subscription of the AMQP transport. It lives
// across connections: each connection gives it a new attachment (channel,
// queue, consumer).
type Subscription struct {
	b       *Bus
	pattern string
	h       bus.Handler
	shared  string        // shared queue name; "" for a private queue
	n       int           // handlers at once
	slots   chan struct{} // caps running handlers at n across attachments
	done    chan struct{} // closed when the subscription stops

	mu      sync.Mutex
	stopped bool
	cur     *attachment
	unsub   chan struct{} // closed when Unsubscribe's broker calls are over
}

// attachment is a subscription on one connection.
type attachment struct {
	gen        uint64
	conn       *amqp091.Connection
	ch         *amqp091.Channel
	queue      string
	tag        string
	deliveries <-chan amqp091.Delivery
	wg         sync.WaitGroup // this attachment's workers
	dead       bool           // guarded by subscription.mu
	acks       *ackBatcher    // acknowledges for concurrent workers (n > 1)
}

func (s *Subscription) queueName() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil {
		return s.cur.queue
	}
	return s.shared
}

// Queue returns the name of the queue the subscription currently consumes
// (a private queue gets a new name on every connection).
func (s *Subscription) Queue() string { return s.queueName() }

// Pattern returns the binding key.
func (s *Subscription) Pattern() string { return s.pattern }

// establish attaches the subscription to the installed connection, waiting
// for a connection while there is none and moving to the next one if the
// current one dies under it.
func (s *Subscription) establish(ctx context.Context) error {
	var after uint64
	for {
		conn, gen, err := s.b.current(ctx, s.done, after)
		if err != nil {
			return err
		}
		err = s.attach(conn, gen)
		if err == nil || !connLost(conn, err) {
			return err
		}
		after = gen // the connection died under us: wait for the next one
	}
}

// connLost reports whether err, returned by an operation on conn, means
// that the connection is gone (rather than that the operation was wrong).
// amqp091 marks a connection closed before it fails its channels.
func connLost(conn *amqp091.Connection, err error) bool {
	return conn.IsClosed() || (errors.Is(err, amqp091.ErrClosed) && !isChannelError(err))
}

// attach sets the subscription up on conn, unless it already lives on this
// generation: channel, qos, queue, binding (waiting for bind-ok) and
// consumer, then its workers.
func (s *Subscription) attach(conn *amqp091.Connection, gen uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return errUnsubscribed
	}
	if a := s.cur; a != nil && a.gen >= gen && !a.dead {
		return nil
	}
	b := s.b
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	a, err := s.declare(ch)
	if err != nil {
		_ = ch.Close()
		return err
	}
	a.gen, a.conn = gen, conn
	if s.n > 1 {
		a.acks = &ackBatcher{s: s, a: a, handled: map[uint64]bool{}}
	}
	s.cur = a
	a.wg.Add(s.n)
	b.workers.Add(s.n + 1) // workers and their monitor: Close waits for them, bounded
	for range s.n {
		go s.work(a)
	}
	go s.monitor(a)
	return nil
}

func (s *Subscription) declare(ch *amqp091.Channel) (*attachment, error) {
	b := s.b
	if err := ch.Qos(max(b.cfg.Prefetch, s.n),
		0,     // prefetchSize: no byte limit
		false, // global: false applies the count to this channel's consumer
	); err != nil {
		return nil, fmt.Errorf("qos: %w", err)
	}
	var q string
	if s.shared != "" {
		q = s.shared
		if _, err := ch.QueueDeclare(q,
			true,  // durable: a role queue survives broker restarts (§14.1 T1, T2)
			false, // autoDelete: it outlives its consumers, so work waits for the next instance
			false, // exclusive: every instance of the role consumes it
			false, // noWait: wait for declare-ok
			nil); err != nil {
			return nil, fmt.Errorf("declare shared queue %q: %w", q, err)
		}
	} else {
		q = privateQueueName(s.pattern)
		if _, err := ch.QueueDeclare(q,
			false, // durable: a private queue dies with its connection anyway
			true,  // autoDelete: and with its consumer
			true,  // exclusive: only this connection sees it; no leak on restarts (§14.1 T2)
			false, // noWait: wait for declare-ok
			nil); err != nil {
			return nil, fmt.Errorf("declare queue %q: %w", q, err)
		}
	}
	if err := ch.QueueBind(q, s.pattern, b.cfg.Exchange,
		false, // noWait: false waits for queue.bind-ok before Subscribe returns (§14.1 T3)
		nil); err != nil {
		return nil, fmt.Errorf("bind queue %q to %q: %w", q, s.pattern, err)
	}
	tag := q
	deliveries, err := ch.Consume(q, tag,
		false, // autoAck: ack after the handler returns (§1.3)
		false, // exclusive: shared queues have competing consumers
		false, // noLocal: not supported by RabbitMQ
		false, // noWait: wait for consume-ok
		nil)
	if err != nil {
		return nil, fmt.Errorf("consume %q: %w", q, err)
	}
	return &attachment{ch: ch, queue: q, tag: tag, deliveries: deliveries}, nil
}

// Acknowledgement batching of single-worker subscriptions: deliveries
// handled in order are acked together, with one multiple ack, when
// ackBatch of them are pending or when no further delivery arrives within
// ackDelay.
const (
	ackBatch = 32
	ackDelay = 2 * time.Millisecond
)

// work hands deliveries to the handler and acks each one after the handler
// returns. A subscription with one worker handles its deliveries in order,
// so it acknowledges them in batches (see ackBatch): request/reply traffic
// then costs the broker and this process one ack frame per burst instead
// of one per message, and no ack write stands between the echo of a
// request and its reply. Concurrent workers finish out of order; their
// ackBatcher acknowledges the handled prefix of the delivery tags in the
// same batches.
//
// A handled delivery stays in the Bus's inflight count until its ack is
// written, so that Close, which waits for that count, never closes the
// connection on handled but unacknowledged messages (they would be
// redelivered to another consumer of a shared queue).
func (s *Subscription) work(a *attachment) {
	b := s.b
	defer b.workers.Done()
	defer a.wg.Done()
	lazy := s.n == 1
	var last uint64 // highest delivery tag handled and not yet acked
	unacked := 0
	flush := func() {
		if unacked == 0 {
			return
		}
		// A private queue that Unsubscribe is deleting needs no acks (and
		// the broker would refuse tags of a deleted queue). A failed ack
		// means a lost channel: the broker redelivers.
		if s.shared != "" || !s.stoppedNow() {
			_ = a.ch.Ack(last, true) // multiple=true: every delivery up to last, all handled, in order
		}
		for range unacked {
			b.inflight.Done()
		}
		unacked = 0
	}
	defer flush()
	timer := time.NewTimer(ackDelay)
	timer.Stop()
	defer timer.Stop()
	for {
		var d amqp091.Delivery
		var ok bool
		if unacked == 0 {
			d, ok = <-a.deliveries
		} else {
			timer.Reset(ackDelay)
			select {
			case d, ok = <-a.deliveries:
				timer.Stop()
			case <-timer.C:
				flush() // quiet for a while: acknowledge, then wait
				d, ok = <-a.deliveries
			}
		}
		if !ok {
			return
		}
		if !s.begin() {
			// Unsubscribed or closing: leave it unacked; closing the
			// channel returns it to its queue (a shared queue's other
			// consumers get it) or it goes with its private queue.
			flush()
			if !lazy {
				a.acks.skip(d.DeliveryTag)
			}
			continue
		}
		s.slots <- struct{}{}
		b.stats.delivered.Add(1)
		if d.Redelivered {
			b.stats.redelivered.Add(1)
		}
		s.handle(&d)
		<-s.slots
		if !lazy {
			a.acks.done(d.DeliveryTag)
			continue
		}
		last = d.DeliveryTag
		if unacked++; unacked >= ackBatch {
			flush()
		}
	}
}

// ackBatcher acknowledges the deliveries of an attachment whose workers run
// concurrently. Delivery tags count the channel's deliveries from 1 (the
// channel has this one consumer); handlers finish in any order, so the
// batcher keeps the tags handled above the contiguous prefix and
// acknowledges the prefix with one multiple ack once ackBatch deliveries
// are pending or ackDelay after the first of them. Like the in-order path,
// a handled delivery stays in the Bus's inflight count until its ack is
// written.
//
// Handled deliveries above a gap (a handler still running) are not held
// for long: unacknowledged, they count against the prefetch window, and a
// slow handler would stop the broker delivering to the others. When the
// flush timer fires, or once ackBatch of them wait, each is acknowledged
// on its own; the multiple ack that later covers the prefix is then
// written at the highest tag not yet acknowledged (a multiple ack must name
// an unacknowledged tag).
//
// A delivery left unacknowledged on purpose (see skip) breaks the prefix
// for good: from then on each delivery is acknowledged on its own.
type ackBatcher struct {
	s *Subscription
	a *attachment

	mu      sync.Mutex
	acked   uint64 // every tag up to acked is acknowledged
	top     uint64 // the tags up to top are handled (top >= acked)
	last    uint64 // highest unacknowledged tag in (acked, top]; 0 if none
	pending int    // unacknowledged tags in (acked, top]
	// handled holds the handled tags above top+1; true once acknowledged
	// on its own.
	handled map[uint64]bool
	held    int         // entries of handled still false
	broken  bool        // a tag was skipped: ack one by one
	timer   *time.Timer // pending flush, if any
	closed  bool
}

// done records that the handler of tag returned.
func (k *ackBatcher) done(tag uint64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.broken || k.closed {
		k.ackLocked(tag, false) // multiple=false: other deliveries may still be running
		k.s.b.inflight.Done()
		return
	}
	if tag != k.top+1 {
		// An earlier delivery still runs.
		k.handled[tag] = false
		k.held++
	} else {
		k.top, k.last = tag, tag
		k.pending++
		for {
			acked, ok := k.handled[k.top+1]
			if !ok {
				break
			}
			delete(k.handled, k.top+1)
			k.top++
			if !acked {
				k.held--
				k.last = k.top
				k.pending++
			}
		}
	}
	switch {
	case k.pending >= ackBatch:
		k.flushLocked(k.held >= ackBatch)
	case k.held >= ackBatch:
		k.flushLocked(true)
	case k.timer == nil && k.pending+k.held > 0:
		k.timer = time.AfterFunc(ackDelay, k.flush)
	}
}

// skip records that tag was left unacknowledged, for the broker to give
// it to another consumer when the channel closes.
func (k *ackBatcher) skip(tag uint64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.broken {
		return
	}
	k.broken = true
	k.flushLocked(true)
	clear(k.handled)
}

// flush is the timer's: everything handled has waited long enough.
func (k *ackBatcher) flush() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.timer = nil
	k.flushLocked(true)
}

// flushLocked acknowledges the handled prefix and, with all, the handled
// deliveries above the gap, each on its own.
func (k *ackBatcher) flushLocked(all bool) {
	if k.timer != nil {
		k.timer.Stop()
		k.timer = nil
	}
	if k.pending > 0 {
		k.ackLocked(k.last, true) // multiple=true: every tag up to last is handled
		for range k.pending {
			k.s.b.inflight.Done()
		}
	}
	k.acked, k.last, k.pending = k.top, 0, 0
	if all && k.held > 0 {
		for t, acked := range k.handled {
			if !acked {
				k.ackLocked(t, false) // multiple=false: tags below t may be running
				k.s.b.inflight.Done()
				k.handled[t] = true
			}
		}
		k.held = 0
	}
	if k.held > 0 && k.timer == nil {
		k.timer = time.AfterFunc(ackDelay, k.flush)
	}
}

// ackLocked writes an ack, except for a private queue that Unsubscribe is
// deleting (the broker would refuse tags of a deleted queue). A failed ack
// means a lost channel: the broker redelivers.
func (k *ackBatcher) ackLocked(tag uint64, multiple bool) {
	if k.s.shared != "" || !k.s.stoppedNow() {
		_ = k.a.ch.Ack(tag, multiple)
	}
}

// close flushes once the attachment's workers have ended: the handled
// prefix is acknowledged, and so is each delivery handled above a gap
// (whose own delivery was never handled).
func (k *ackBatcher) close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.flushLocked(true)
	clear(k.handled)
	k.closed = true
}

func (s *Subscription) stoppedNow() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopped
}

// begin registers a running handler unless the subscription is stopped.
// Because Unsubscribe sets stopped under the same lock, no handler starts
// after Unsubscribe returns.
func (s *Subscription) begin() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return false
	}
	s.b.inflight.Add(1)
	return true
}

func (s *Subscription) handle(d *amqp091.Delivery) {
	msg := fromDelivery(d, s.b.cfg.vhost)
	defer func() {
		if r := recover(); r != nil {
			// One bad message must not kill the subscription (§14.1 T5).
			s.b.stats.panics.Add(1)
			s.b.cfg.Logger.Error("amqp: handler panic", "topic", msg.Topic, "app_id", msg.AppID,
				"correlation_id", msg.CorrelationID, "panic", r, "stack", string(debug.Stack()))
		}
	}()
	s.h(s.b.ctx, msg)
}

var _ bus.Subscription = (*Subscription)(nil)

// monitor waits for an attachment's workers to end (its deliveries channel
// closed), closes its channel and, if the subscription is still wanted and
// the connection still up, restores it.
func (s *Subscription) monitor(a *attachment) {
	b := s.b
	defer b.workers.Done()
	a.wg.Wait()
	if a.acks != nil {
		a.acks.close() // the workers are done: acknowledge what they handled
	}
	s.mu.Lock()
	stopped, current, unsub := s.stopped, s.cur == a, s.unsub
	if current {
		a.dead = true
	}
	s.mu.Unlock()
	if stopped && unsub != nil {
		select {
		case <-unsub: // let Unsubscribe finish with this channel first
		case <-b.life.Done():
		}
	}
	_ = a.ch.Close()
	if stopped || !current || a.conn.IsClosed() {
		return // the supervisor restores live subscriptions on reconnect
	}
	// The broker cancelled the consumer (its queue was deleted, say) or
	// closed the channel, on a connection that lives on.
	b.subscriptionFailed(s, errors.New("consumer cancelled by the broker"))
	s.retry(b.life)
}

// retry re-attaches a subscription that failed on a live connection, with
// backoff, until it succeeds, the subscription stops or the Bus closes.
func (s *Subscription) retry(ctx context.Context) {
	b := s.b
	var after uint64
	for attempt := 1; ; attempt++ {
		if !sleepCtx(ctx, b.backoff(attempt)) {
			return
		}
		conn, gen, err := b.current(ctx, s.done, after)
		if err != nil {
			return
		}
		err = s.attach(conn, gen)
		switch {
		case err == nil, errors.Is(err, errUnsubscribed):
			return
		case connLost(conn, err):
			after = gen
		case attempt%10 == 1:
			b.subscriptionFailed(s, err)
		}
	}
}

// Unsubscribe stops delivery: no handler starts after it returns, and a
// running one finishes on its own. A private queue is deleted with the
// messages it holds; a shared queue stays, and the messages this
// subscription had fetched go back to it for the other consumers.
// Unsubscribe may be called from the subscription's own handler.
func (s *Subscription) Unsubscribe() error {
	if !s.stop() {
		return nil
	}
	return s.teardown()
}

// stop marks the subscription stopped and removes it from the Bus; it
// reports whether this call stopped it.
func (s *Subscription) stop() bool {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return false
	}
	s.stopped = true
	close(s.done)
	s.unsub = make(chan struct{})
	s.mu.Unlock()
	s.forget()
	return true
}

// teardown removes a stopped subscription's consumer from the broker: it
// deletes a private queue (which cancels its consumer) or cancels the
// consumer of a shared queue. The attachment's monitor closes the channel
// once this is done and the running handler has returned.
func (s *Subscription) teardown() error {
	s.mu.Lock()
	a, unsub := s.cur, s.unsub
	s.mu.Unlock()
	if unsub == nil {
		return nil // halted by Close: the connection goes, and all with it
	}
	defer func() {
		s.mu.Lock()
		if s.unsub == unsub {
			close(unsub)
			s.unsub = nil
		}
		s.mu.Unlock()
	}()
	if a == nil || a.ch.IsClosed() {
		return nil // nothing on the broker, or it went with the channel
	}
	var err error
	if s.shared != "" {
		err = a.ch.Cancel(a.tag, false) // noWait=false: the broker stops delivering before we return
	} else {
		// Deleting the queue also cancels its consumer.
		_, err = a.ch.QueueDelete(a.queue,
			false, // ifUnused: delete even though we consume it
			false, // ifEmpty: queued messages are discarded, as documented
			false) // noWait: wait for delete-ok
	}
	if err != nil && !a.ch.IsClosed() {
		return fmt.Errorf("amqp: unsubscribe %s: %w", s.pattern, err)
	}
	return nil
}

// halt stops the subscription for Close: no broker calls, since the
// connection is about to go.
func (s *Subscription) halt() {
	s.mu.Lock()
	if !s.stopped {
		s.stopped = true
		close(s.done)
	}
	s.mu.Unlock()
}

// forget removes the subscription from the Bus's live set.
func (s *Subscription) forget() {
	b := s.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.subs[s]; !ok {
		return
	}
	delete(b.subs, s)
	if s.shared != "" {
		if q := b.shared[s.shared]; q != nil {
			if q.refs--; q.refs == 0 {
				delete(b.shared, s.shared)
			}
		}
	}
}
