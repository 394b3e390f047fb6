package amqp

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/manoctl/manoctl/reconcile/bus"
)

// errLost means the publisher channel failed before or while sending: the
// message must be submitted again on the next connection.
var errLost = errors.New("amqp: publisher channel lost")

// Publish sends msg to the exchange with msg.Topic as routing key and
// returns once the broker has confirmed it. The body is msg.Body, or else
// msg.Payload encoded in the topic's format (bus.Encode). Requests (reply_to
// set) are published mandatory, so that an unroutable request is reported
// as an EventReturned (§14.1 T3); it is still not an error, as on the other
// transports: a request's fate is decided by its reply or its timeout.
//
// While the connection is down Publish waits, and a message whose confirm
// was lost with the connection is published again, with the same
// properties and correlation id (§14.1 T9). Publish fails only when ctx
// ends, when the Bus is closed, or when msg cannot be encoded.
//
// The caller's goroutine writes the message itself, under the publisher's
// lock (see publisher): a request/reply round trip then involves no
// goroutine hand-off on the sending side.
func (b *Bus) Publish(ctx context.Context, msg *bus.Message) error {
	if msg == nil {
		return errors.New("amqp: publish: nil message")
	}
	select {
	case <-b.closed:
		return bus.ErrClosed
	default:
	}
	pub, err := toPublishing(msg)
	if err != nil {
		return err
	}
	mandatory := msg.IsRequest() // requests come back as basic.return when unroutable
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			b.stats.republished.Add(1)
		}
		p, err := b.publisherFor(ctx)
		if err != nil {
			return fmt.Errorf("amqp: publish %s: %w", msg.Topic, err)
		}
		dc, err := p.publish(ctx, msg.Topic, mandatory, pub)
		if errors.Is(err, errLost) {
			continue // publisherFor waits for the next connection
		}
		if err != nil {
			return fmt.Errorf("amqp: publish %s: %w", msg.Topic, err)
		}
		select {
		case <-dc.Done():
		case <-ctx.Done():
			return fmt.Errorf("amqp: publish %s: %w", msg.Topic, ctx.Err())
		}
		if dc.Acked() {
			return nil
		}
		// A nack, or the channel closed before the confirm arrived. A
		// real nack (an internal broker error) gets a short pause so that
		// a persistent failure does not spin.
		if !sleepCtx(ctx, 10*time.Millisecond) {
			return fmt.Errorf("amqp: publish %s: %w", msg.Topic, ctx.Err())
		}
	}
}

// publisherFor returns the publisher of the installed connection, waiting
// while there is none or while the installed one has failed (the
// supervisor is about to replace it). It gives up when ctx ends or the Bus
// closes.
func (b *Bus) publisherFor(ctx context.Context) (*publisher, error) {
	for {
		b.mu.Lock()
		p, changed := b.pub, b.changed
		b.mu.Unlock()
		if p != nil && !p.stopped() {
			return p, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-b.closed:
			return nil, bus.ErrClosed
		}
	}
}

// publisher owns the confirm-mode channel of one connection. Publishers
// write on it one at a time, each from its own goroutine, holding lock;
// slots caps the publishes awaiting a confirm at MaxPendingConfirms. The
// publisher's goroutine (run) is the only reader of the channel's
// notifications: it frees a slot for each confirm and reports returns,
// flow blocks and the channel's end.
type publisher struct {
	b        *Bus
	conn     *amqp091.Connection
	ch       *amqp091.Channel
	confirms chan amqp091.Confirmation
	returns  chan amqp091.Return
	closes   chan *amqp091.Error
	blocks   chan amqp091.Blocking
	done     chan struct{} // closed when run returns

	// lock, of capacity one, is held while a message is written, so that
	// delivery tags follow the order of outstanding's increments and so
	// that run can wait out a write in progress before draining. A
	// channel rather than a mutex, so that waiting for it honours the
	// caller's context (a broker that blocks publishing stalls writes).
	lock chan struct{}
	// slots holds one token per publish that is written or about to be
	// and not yet confirmed; its capacity is MaxPendingConfirms.
	slots chan struct{}
	// outstanding counts the publishes written and not yet confirmed.
	outstanding atomic.Int64
	// failed is set when a write failed: the channel is gone, and the
	// supervisor replaces the connection.
	failed atomic.Bool
	// blocked, while the broker blocks publishing (connection.blocked), is
	// closed when it unblocks. Publishers wait for it before writing: a
	// write to a broker that has stopped reading could stall the writer
	// beyond its context once the socket buffers are full.
	blocked atomic.Pointer[chan struct{}]
}

func newPublisher(b *Bus, conn *amqp091.Connection, ch *amqp091.Channel) *publisher {
	n := b.cfg.MaxPendingConfirms
	// Notify* listeners are fed synchronously by the connection's reader:
	// with room for every outstanding publish they can never block it.
	return &publisher{
		b:        b,
		conn:     conn,
		ch:       ch,
		confirms: ch.NotifyPublish(make(chan amqp091.Confirmation, n+1)),
		returns:  ch.NotifyReturn(make(chan amqp091.Return, n+1)),
		closes:   ch.NotifyClose(make(chan *amqp091.Error, 1)),
		blocks:   conn.NotifyBlocked(make(chan amqp091.Blocking, 4)),
		done:     make(chan struct{}),
		lock:     make(chan struct{}, 1),
		slots:    make(chan struct{}, n),
	}
}

// stopped reports whether the publisher can no longer publish.
func (p *publisher) stopped() bool {
	if p.failed.Load() {
		return true
	}
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// publish writes one message and returns its deferred confirmation. It
// waits for a slot (at the cap) and for the lock, bounded by ctx. errLost
// means this publisher is finished and the message was not sent;
// bus.ErrClosed that the Bus is draining.
func (p *publisher) publish(ctx context.Context, key string, mandatory bool, msg amqp091.Publishing) (*amqp091.DeferredConfirmation, error) {
	if c := p.blocked.Load(); c != nil {
		select {
		case <-*c:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-p.done:
			return nil, errLost
		}
	}
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-p.done:
		return nil, errLost
	}
	select {
	case p.lock <- struct{}{}:
	case <-ctx.Done():
		<-p.slots
		return nil, ctx.Err()
	case <-p.done:
		<-p.slots
		return nil, errLost
	}
	abort := func(err error) (*amqp091.DeferredConfirmation, error) {
		<-p.lock
		<-p.slots
		return nil, err
	}
	select {
	case <-p.b.closed:
		// Close has begun: run drains what was written before and
		// nothing else goes out.
		return abort(bus.ErrClosed)
	default:
	}
	if p.stopped() {
		return abort(errLost)
	}
	if err := ctx.Err(); err != nil {
		return abort(err) // the caller has given up
	}
	p.outstanding.Add(1) // before the write, so that run never sees its confirm first
	dc, err := p.ch.PublishWithDeferredConfirm(p.b.cfg.Exchange, key,
		mandatory, // mandatory: requests come back as basic.return when unroutable
		false,     // immediate: unsupported by RabbitMQ, which closes the connection
		msg)
	if err != nil {
		p.outstanding.Add(-1)
		p.failed.Store(true)
		p.fail(err)
		return abort(errLost)
	}
	<-p.lock
	p.b.stats.published.Add(1)
	return dc, nil
}

func (p *publisher) run() {
	b := p.b
	defer b.wg.Done()
	defer close(p.done)
	closed := b.closed
	var drainTimeout <-chan time.Time
	for {
		if closed == nil && p.outstanding.Load() == 0 {
			return // drained
		}
		select {
		case c, ok := <-p.confirms:
			if !ok {
				return // channel closed; pending confirmations resolved as nacks
			}
			p.outstanding.Add(-1)
			<-p.slots
			if c.Ack {
				b.stats.confirmed.Add(1)
			} else {
				b.stats.nacked.Add(1)
			}
		case r, ok := <-p.returns:
			if !ok {
				p.returns = nil // closed with the channel; confirms tell the rest
				continue
			}
			b.stats.returned.Add(1)
			b.cfg.Logger.Warn("amqp: unroutable message returned", "topic", r.RoutingKey,
				"correlation_id", r.CorrelationId, "app_id", r.AppId, "reply", r.ReplyText)
			b.emit(Event{Kind: EventReturned, Topic: r.RoutingKey, CorrelationID: r.CorrelationId, AppID: r.AppId})
		case blk, ok := <-p.blocks:
			// A memory or disk alarm: the broker stops reading from
			// publishing connections. Publishes wait (each bounded by its
			// context) until it unblocks.
			switch {
			case !ok:
				p.blocks = nil // closed with the connection
				p.unblock()
			case blk.Active:
				if p.blocked.Load() == nil {
					c := make(chan struct{})
					p.blocked.Store(&c)
				}
				b.cfg.Logger.Warn("amqp: broker blocks publishing", "reason", blk.Reason)
				b.emit(Event{Kind: EventBlocked, Err: errors.New(blk.Reason)})
			default:
				p.unblock()
				b.cfg.Logger.Info("amqp: broker unblocked publishing")
				b.emit(Event{Kind: EventUnblocked})
			}
		case e, ok := <-p.closes:
			if ok && e != nil {
				p.fail(e)
			}
			return
		case <-closed:
			closed = nil
			t := time.NewTimer(b.cfg.DrainTimeout)
			defer t.Stop()
			drainTimeout = t.C
			// Once the lock is ours no write is under way, and every
			// later publish sees b.closed: outstanding only goes down.
			select {
			case p.lock <- struct{}{}:
				<-p.lock
			case <-drainTimeout:
				b.cfg.Logger.Warn("amqp: close: a publish is still being written after drain timeout")
				return
			case <-b.life.Done():
				return
			}
		case <-drainTimeout:
			b.cfg.Logger.Warn("amqp: close: confirms still outstanding after drain timeout", "outstanding", p.outstanding.Load())
			return
		case <-b.life.Done():
			return
		}
	}
}

// unblock releases the publishers waiting for the broker to unblock.
func (p *publisher) unblock() {
	if c := p.blocked.Swap(nil); c != nil {
		close(*c)
	}
}

// fail handles a publisher channel that died while the connection may live
// on (a publish to a deleted exchange gets NOT_FOUND, for one). The
// bindings cannot be trusted any more either, so the whole connection is
// replaced: the supervisor sees it close and restores everything.
func (p *publisher) fail(err error) {
	if p.conn.IsClosed() {
		return
	}
	p.b.cfg.Logger.Warn("amqp: publisher channel failed, reconnecting", "err", scrubError(p.b.cfg.u, err))
	_ = p.conn.Close()
}
