package amqp

import (
	"context"
	"errors"
	"fmt"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/manoctl/manoctl/reconcile/bus"
)

// pubReq asks the publisher goroutine to send one message.
type pubReq struct {
	ctx       context.Context
	key       string
	mandatory bool
	msg       amqp091.Publishing
	res       chan pubResult // buffered: the publisher never blocks on it
}

type pubResult struct {
	dc  *amqp091.DeferredConfirmation
	err error
}

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
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			b.stats.republished.Add(1)
		}
		req := &pubReq{ctx: ctx, key: msg.Topic, mandatory: msg.IsRequest(), msg: pub, res: make(chan pubResult, 1)}
		select {
		case b.pubq <- req:
		case <-ctx.Done():
			return fmt.Errorf("amqp: publish %s: %w", msg.Topic, ctx.Err())
		case <-b.closed:
			return bus.ErrClosed
		}
		var r pubResult
		select {
		case r = <-req.res:
		case <-ctx.Done():
			return fmt.Errorf("amqp: publish %s: %w", msg.Topic, ctx.Err())
		}
		if errors.Is(r.err, errLost) {
			continue
		}
		if r.err != nil {
			return fmt.Errorf("amqp: publish %s: %w", msg.Topic, r.err)
		}
		select {
		case <-r.dc.Done():
		case <-ctx.Done():
			return fmt.Errorf("amqp: publish %s: %w", msg.Topic, ctx.Err())
		}
		if r.dc.Acked() {
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

// publisher owns the confirm-mode channel of one connection. It is the only
// goroutine that publishes on it, and it caps the publishes awaiting a
// confirm at MaxPendingConfirms.
type publisher struct {
	b        *Bus
	conn     *amqp091.Connection
	ch       *amqp091.Channel
	confirms chan amqp091.Confirmation
	returns  chan amqp091.Return
	closes   chan *amqp091.Error
	blocks   chan amqp091.Blocking
	done     chan struct{}
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
	}
}

func (p *publisher) run() {
	b := p.b
	defer b.wg.Done()
	defer close(p.done)
	outstanding := 0
	closed := b.closed
	var drainTimeout <-chan time.Time
	for {
		in := b.pubq
		if closed == nil || outstanding >= b.cfg.MaxPendingConfirms {
			in = nil // draining, or at the cap: only confirms now
		}
		if closed == nil && outstanding == 0 {
			return // drained
		}
		select {
		case req := <-in:
			if err := req.ctx.Err(); err != nil {
				req.res <- pubResult{err: err} // the caller has given up
				continue
			}
			dc, err := p.ch.PublishWithDeferredConfirm(b.cfg.Exchange, req.key,
				req.mandatory, // mandatory: requests come back as basic.return when unroutable
				false,         // immediate: unsupported by RabbitMQ, which closes the connection
				req.msg)
			if err != nil {
				req.res <- pubResult{err: errLost}
				p.fail(err)
				return
			}
			outstanding++
			b.stats.published.Add(1)
			req.res <- pubResult{dc: dc}
		case c, ok := <-p.confirms:
			if !ok {
				return // channel closed; pending confirmations resolved as nacks
			}
			outstanding--
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
			case blk.Active:
				b.cfg.Logger.Warn("amqp: broker blocks publishing", "reason", blk.Reason)
				b.emit(Event{Kind: EventBlocked, Err: errors.New(blk.Reason)})
			default:
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
		case <-drainTimeout:
			b.cfg.Logger.Warn("amqp: close: confirms still outstanding after drain timeout", "outstanding", outstanding)
			return
		case <-b.life.Done():
			return
		}
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
