package amqp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/manoctl/manoctl/reconcile/bus"
)

// Bus is one supervised connection to one virtual host of a RabbitMQ
// broker; it implements bus.Bus.
//
// The Bus owns one AMQP connection at a time. A supervisor goroutine
// watches it and, when it is lost, reconnects with backoff, declares the
// exchange again and restores every live subscription before it lets
// publishing resume. Each connection has one confirm-mode channel for
// publishing, written by the publishing goroutines one at a time and
// watched by one publisher goroutine (confirms, returns, flow control);
// each subscription has a channel of its own.
type Bus struct {
	cfg *resolved

	// ctx is the context handlers run with; Close cancels it once the
	// drain is over.
	ctx    context.Context
	cancel context.CancelFunc

	closing chan struct{} // closed when Close begins: no new subscriptions
	closed  chan struct{} // closed when publishing ends

	// life ends when the supervisor must shut down (the last step of
	// Close); reconnection attempts run under it.
	life context.Context
	kill context.CancelFunc

	wg       sync.WaitGroup // supervisor, publishers, monitors, helpers
	workers  sync.WaitGroup // consumer goroutines
	inflight sync.WaitGroup // running handlers

	// genSeq numbers connection attempts. Every attempt gets its own
	// generation, so that an attachment made on a connection that failed
	// during setup is never mistaken for one on its successor.
	genSeq atomic.Uint64

	mu      sync.Mutex
	gen     uint64              // generation of the installed connection
	conn    *amqp091.Connection // nil while disconnected
	pub     *publisher          // publisher of conn
	changed chan struct{}       // closed and replaced whenever conn changes
	subs    map[*Subscription]struct{}
	shared  map[string]*sharedQueue

	closeOnce sync.Once
	stats     counters
}

var _ bus.Bus = (*Bus)(nil)

// sharedQueue records the binding of a shared queue used by this Bus, so
// that a second subscription cannot bind it to another pattern.
type sharedQueue struct {
	pattern string
	refs    int
}

// Dial connects to the broker and declares the exchange. Transient failures
// (broker down, connection refused) are retried with backoff until ctx
// ends, as the originals retry at start-up; bad credentials, a missing
// virtual host (bus.ErrNoVhost) or an exchange declared with other flags
// fail at once. ctx bounds only the dial, not the Bus.
func Dial(ctx context.Context, cfg Config) (*Bus, error) {
	r, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	b := &Bus{
		cfg:     r,
		closing: make(chan struct{}),
		closed:  make(chan struct{}),
		changed: make(chan struct{}),
		subs:    make(map[*Subscription]struct{}),
		shared:  make(map[string]*sharedQueue),
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.life, b.kill = context.WithCancel(context.Background())

	var last error
	for attempt := 1; ; attempt++ {
		conn, closes, err := b.connect(ctx)
		if err == nil {
			b.emit(Event{Kind: EventConnected})
			b.cfg.Logger.Info("amqp: connected", "broker", b.cfg.redacted, "vhost", b.cfg.vhost, "exchange", b.cfg.Exchange)
			b.wg.Add(1)
			go b.supervise(conn, closes)
			return b, nil
		}
		if permanent(err) || ctx.Err() != nil {
			b.cancel()
			b.kill()
			if ctx.Err() != nil && last != nil && !permanent(err) {
				err = fmt.Errorf("%w (last attempt: %v)", ctx.Err(), last)
			}
			return nil, fmt.Errorf("amqp: connect %s: %w", b.cfg.redacted, err)
		}
		last = err
		b.cfg.Logger.Warn("amqp: broker not reachable, retrying", "broker", b.cfg.redacted, "attempt", attempt, "err", err)
		if !sleepCtx(ctx, b.backoff(attempt)) {
			b.cancel()
			b.kill()
			return nil, fmt.Errorf("amqp: connect %s: %w (last attempt: %v)", b.cfg.redacted, ctx.Err(), last)
		}
	}
}

// Vhost returns the virtual host of the Bus.
func (b *Bus) Vhost() string { return b.cfg.vhost }

// Exchange returns the name of the exchange the Bus publishes to.
func (b *Bus) Exchange() string { return b.cfg.Exchange }

// Broker returns the broker URL with its password masked.
func (b *Bus) Broker() string { return b.cfg.redacted }

// Stats returns the Bus's counters.
func (b *Bus) Stats() Stats { return b.stats.snapshot() }

// Connected reports whether the Bus has a working connection.
func (b *Bus) Connected() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.conn != nil
}

// connect dials and sets up one connection: exchange, publisher channel,
// the live subscriptions, then the publisher, and installs it.
func (b *Bus) connect(ctx context.Context) (*amqp091.Connection, chan *amqp091.Error, error) {
	conn, err := b.dial(ctx)
	if err != nil {
		return nil, nil, err
	}
	closes := conn.NotifyClose(make(chan *amqp091.Error, 1))
	if err := b.setup(ctx, conn); err != nil {
		_ = conn.Close()
		return nil, nil, err
	}
	return conn, closes, nil
}

// dial opens an AMQP connection, bounded by ctx and DialTimeout.
func (b *Bus) dial(ctx context.Context) (*amqp091.Connection, error) {
	props := amqp091.NewConnectionProperties()
	props.SetClientConnectionName(b.cfg.Name)
	var poisoned func() bool // stops the ctx watcher; false if it fired
	cfg := amqp091.Config{
		Heartbeat:  b.cfg.Heartbeat,
		Properties: props,
		Locale:     "en_US",
		Dial: func(network, addr string) (net.Conn, error) {
			d := net.Dialer{Timeout: b.cfg.DialTimeout}
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			// The deadline covers the TLS and AMQP handshakes; amqp091
			// clears it once the connection is open.
			deadline := time.Now().Add(b.cfg.DialTimeout)
			if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
				deadline = dl
			}
			if err := c.SetDeadline(deadline); err != nil {
				c.Close()
				return nil, err
			}
			// A cancelled ctx interrupts the handshake.
			poisoned = context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
			return c, nil
		},
	}
	if b.cfg.TLS != nil {
		cfg.TLSClientConfig = b.cfg.TLS.Clone() // amqp091 writes ServerName into it
	}
	conn, err := amqp091.DialConfig(b.cfg.u.String(), cfg)
	if poisoned != nil && !poisoned() && err == nil {
		// ctx ended after the handshake: the deadline may now be set on
		// an open connection, which is therefore unusable.
		_ = conn.Close()
		return nil, ctx.Err()
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, b.classify(err)
	}
	return conn, nil
}

// classify maps dial errors to the bus's vocabulary and scrubs them.
func (b *Bus) classify(err error) error {
	var ae *amqp091.Error
	if errors.As(err, &ae) && ae.Code == amqp091.NotAllowed && strings.Contains(ae.Reason, "not found") {
		return &permanentError{fmt.Errorf("vhost %q: %w (%s)", b.cfg.vhost, bus.ErrNoVhost, ae.Reason)}
	}
	err = scrubError(b.cfg.u, err)
	if errors.As(err, &ae) && (ae.Code == amqp091.AccessRefused || ae.Code == amqp091.NotAllowed) {
		return &permanentError{err}
	}
	var cv *tls.CertificateVerificationError
	if errors.As(err, &cv) {
		return &permanentError{err} // an untrusted broker stays untrusted
	}
	return err
}

// permanentError marks failures that retrying cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func permanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// isChannelError reports whether err is a channel-level exception sent by
// the broker (access refused, not found, resource locked, precondition
// failed): the operation itself is wrong, and the connection is fine.
func isChannelError(err error) bool {
	var ae *amqp091.Error
	if !errors.As(err, &ae) || !ae.Server {
		return false
	}
	switch ae.Code {
	case amqp091.AccessRefused, amqp091.NotFound, amqp091.ResourceLocked, amqp091.PreconditionFailed:
		return true
	}
	return false
}

// declareExchange declares the exchange exactly as every original
// component does (wire-protocol §1.2); other flags would get
// PRECONDITION_FAILED from a broker where a Python plugin declared it first.
func (b *Bus) declareExchange(ch *amqp091.Channel) error {
	err := ch.ExchangeDeclare(b.cfg.Exchange, amqp091.ExchangeTopic,
		false, // durable: son-kernel is non-durable in every original component
		false, // autoDelete: nor is it auto-deleted
		false, // internal: publishers use it directly
		false, // noWait: wait for declare-ok, so a flag mismatch is reported here
		nil)
	if err != nil {
		err = fmt.Errorf("declare exchange %q: %w", b.cfg.Exchange, err)
		if isChannelError(err) {
			return &permanentError{err}
		}
	}
	return err
}

// setup prepares a fresh connection and installs it as the next
// generation. Subscriptions are restored before the publisher starts, so
// that publishes held during an outage find their bindings (§14.1 T3).
func (b *Bus) setup(ctx context.Context, conn *amqp091.Connection) error {
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("open publisher channel: %w", err)
	}
	if err := b.declareExchange(ch); err != nil {
		return err
	}
	if err := ch.Confirm(false); err != nil { // noWait=false: wait for confirm.select-ok
		return fmt.Errorf("enable publisher confirms: %w", err)
	}
	gen := b.genSeq.Add(1)
	b.mu.Lock()
	subs := make([]*Subscription, 0, len(b.subs))
	for s := range b.subs {
		subs = append(subs, s)
	}
	b.mu.Unlock()
	for _, s := range subs {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := s.attach(conn, gen); err != nil && !errors.Is(err, errUnsubscribed) {
			if connLost(conn, err) {
				return fmt.Errorf("restore subscription %s: %w", s.pattern, err)
			}
			// The connection is fine but this subscription is not (its
			// shared queue was declared with other arguments, say): the
			// others must not suffer for it. It is retried.
			b.subscriptionFailed(s, err)
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				s.retry(b.life)
			}()
		}
	}
	p := newPublisher(b, conn, ch)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.life.Err() != nil {
		return bus.ErrClosed
	}
	b.gen, b.conn, b.pub = gen, conn, p
	b.notifyLocked()
	b.wg.Add(1)
	go p.run()
	return nil
}

// notifyLocked wakes everyone waiting for a connection change; b.mu must
// be held.
func (b *Bus) notifyLocked() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// supervise watches the installed connection and replaces it when lost.
func (b *Bus) supervise(conn *amqp091.Connection, closes chan *amqp091.Error) {
	defer b.wg.Done()
	for {
		var cause error
		select {
		case <-b.life.Done():
			_ = conn.Close()
			return
		case e, ok := <-closes:
			cause = errors.New("connection closed")
			if ok && e != nil {
				cause = scrubError(b.cfg.u, e)
			}
		}
		b.mu.Lock()
		b.conn, b.pub = nil, nil
		b.notifyLocked()
		b.mu.Unlock()
		_ = conn.Close()
		b.stats.disconnects.Add(1)
		b.cfg.Logger.Warn("amqp: connection lost", "broker", b.cfg.redacted, "vhost", b.cfg.vhost, "err", cause)
		b.emit(Event{Kind: EventDisconnected, Err: cause})

		conn, closes = b.reconnect()
		if conn == nil {
			return // closing
		}
	}
}

// reconnect dials until it succeeds or the Bus closes (nil).
func (b *Bus) reconnect() (*amqp091.Connection, chan *amqp091.Error) {
	ctx := b.life
	for attempt := 1; ; attempt++ {
		if !sleepCtx(ctx, b.backoff(attempt)) {
			return nil, nil
		}
		conn, closes, err := b.connect(ctx)
		if err == nil {
			b.stats.reconnects.Add(1)
			b.cfg.Logger.Info("amqp: reconnected", "broker", b.cfg.redacted, "vhost", b.cfg.vhost, "attempt", attempt)
			b.emit(Event{Kind: EventReconnected, Attempt: attempt})
			return conn, closes
		}
		if ctx.Err() != nil {
			return nil, nil
		}
		b.cfg.Logger.Warn("amqp: reconnect failed", "broker", b.cfg.redacted, "attempt", attempt, "err", err)
		b.emit(Event{Kind: EventReconnectFailed, Attempt: attempt, Err: err})
	}
}

// backoff returns the wait before attempt n (from 1): exponential from
// ReconnectMin to ReconnectMax, with ±20 % jitter.
func (b *Bus) backoff(n int) time.Duration {
	d := b.cfg.ReconnectMin
	for i := 1; i < n && d < b.cfg.ReconnectMax; i++ {
		d *= 2
	}
	d = min(d, b.cfg.ReconnectMax)
	jitter := time.Duration(rand.Int64N(int64(d)/5+1)) * 2
	return d - d/5 + jitter
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// current returns the installed connection and its generation, waiting
// until one with a generation above after is installed (after is the
// generation that failed the caller). It gives up when ctx or done ends or
// the Bus closes.
func (b *Bus) current(ctx context.Context, done <-chan struct{}, after uint64) (*amqp091.Connection, uint64, error) {
	for {
		b.mu.Lock()
		conn, gen, changed := b.conn, b.gen, b.changed
		b.mu.Unlock()
		if conn != nil && gen > after {
			return conn, gen, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		case <-done:
			return nil, 0, errUnsubscribed
		case <-b.closing:
			return nil, 0, bus.ErrClosed
		}
	}
}

func (b *Bus) emit(e Event) {
	if b.cfg.OnEvent == nil {
		return
	}
	e.Time = time.Now()
	e.Vhost = b.cfg.vhost
	e.Broker = b.cfg.redacted
	b.cfg.OnEvent(e)
}

func (b *Bus) subscriptionFailed(s *Subscription, err error) {
	b.cfg.Logger.Error("amqp: subscription not restored", "pattern", s.pattern, "queue", s.queueName(), "err", err)
	b.emit(Event{Kind: EventSubscriptionFailed, Topic: s.pattern, Err: err})
}

// Close drains and closes the Bus: it stops handing messages to handlers,
// waits (up to DrainTimeout) for running handlers, which may still publish,
// then for outstanding publisher confirms, cancels the handlers' context
// and closes the channels and the connection. Messages fetched but not
// handled go back to their queues. Close is idempotent. Called from a
// handler of the Bus, it cannot wait for that handler, so it returns only
// after the drain timeouts.
func (b *Bus) Close() error {
	b.closeOnce.Do(b.close)
	return nil
}

func (b *Bus) close() {
	b.mu.Lock()
	close(b.closing)
	subs := make([]*Subscription, 0, len(b.subs))
	for s := range b.subs {
		subs = append(subs, s)
	}
	b.mu.Unlock()
	for _, s := range subs {
		s.halt()
	}
	drain := b.cfg.DrainTimeout
	if !waitTimeout(&b.inflight, drain) {
		b.cfg.Logger.Warn("amqp: close: handlers still running after drain timeout", "timeout", drain)
	}
	close(b.closed)
	b.mu.Lock()
	p := b.pub
	b.mu.Unlock()
	if p != nil {
		t := time.NewTimer(drain + time.Second)
		select {
		case <-p.done:
		case <-t.C:
		}
		t.Stop()
	}
	b.cancel()
	b.kill()
	b.wg.Wait()
	if !waitTimeout(&b.workers, drain) {
		b.cfg.Logger.Warn("amqp: close: handlers ignore their cancelled context", "timeout", drain)
	}
	b.cfg.Logger.Info("amqp: closed", "broker", b.cfg.redacted, "vhost", b.cfg.vhost)
	b.emit(Event{Kind: EventClosed})
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}
