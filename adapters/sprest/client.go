package sprest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/bits"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Client writes records and monitoring messages to the service platform's
// REST neighbours from a bounded in-memory queue, with per-request
// timeouts and retries with bounded exponential backoff. Writes for one
// service happen in order; services are written in parallel. Its Records
// and Monitor methods give the SLM ports that enqueue and return at once.
type Client struct {
	cfg Config
	log *slog.Logger

	ctx    context.Context // cancelled when Close gives up waiting
	cancel context.CancelFunc

	mu       sync.Mutex
	services map[string]*service
	pending  int           // queued ops, in flight included
	changed  chan struct{} // closed and replaced on every change
	closing  bool
	hardStop bool
	wg       sync.WaitGroup
}

// service is one queue of a service: its records (with the
// repositories' view of them) or its monitoring requests. The two are
// independent, so that one neighbour's outage does not hold up the
// other's writes; each is written strictly in order.
type service struct {
	key     string // id + channel
	id      string
	ops     []*op
	busy    bool      // a worker holds it
	attempt int       // failed attempts of the head request
	nextAt  time.Time // not before: backoff
	remote  remoteState
}

// op is one queued write: a records sync (coalescing: only the latest
// service state is written) or one monitoring request.
type op struct {
	records  *snapshot
	monitor  *request
	inFlight bool
	// monitorDone marks the monitoring request delivered.
	monitorDone bool
}

// New starts a client. Call Close to stop it.
func New(cfg Config) *Client {
	cfg.setDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		cfg:      cfg,
		log:      cfg.Logger,
		ctx:      ctx,
		cancel:   cancel,
		services: make(map[string]*service),
		changed:  make(chan struct{}),
	}
	for range cfg.Concurrency {
		c.wg.Add(1)
		go c.worker()
	}
	return c
}

// Config returns the effective configuration.
func (c *Client) Config() Config { return c.cfg }

// Pending returns the number of queued writes (in flight included).
func (c *Client) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pending
}

// Flush waits until every queued write has been delivered, abandoned or
// dropped, or ctx ends.
func (c *Client) Flush(ctx context.Context) error {
	for {
		c.mu.Lock()
		n, ch := c.pending, c.changed
		c.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("sprest: %d writes still pending: %w", n, ctx.Err())
		}
	}
}

// Close stops accepting writes and gives every queued write one more
// attempt, at once, until ctx ends; what is left is dropped (and
// reported). It returns an error when writes were dropped.
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return nil
	}
	c.closing = true
	for _, s := range c.services {
		s.nextAt = time.Time{}
	}
	c.bumpLocked()
	c.mu.Unlock()

	done := make(chan struct{})
	go func() { c.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		c.mu.Lock()
		c.hardStop = true
		c.bumpLocked()
		c.mu.Unlock()
		c.cancel() // aborts requests in flight
		<-done
	}
	c.cancel()

	// Whatever is still queued was never (fully) delivered.
	c.mu.Lock()
	var left []Event
	for _, s := range c.services {
		for _, o := range s.ops {
			left = append(left, Event{Kind: EventDropped, Target: o.target(), ServiceID: s.id,
				Err: errors.New("writer closed before the write was delivered"), Time: time.Now()})
		}
		s.ops = nil
	}
	dropped := len(left)
	c.pending = 0
	c.services = map[string]*service{}
	c.bumpLocked()
	c.mu.Unlock()
	for _, e := range left {
		c.emit(e)
	}
	if dropped > 0 {
		return fmt.Errorf("sprest: %d writes not delivered at close", dropped)
	}
	return nil
}

func (o *op) target() Target {
	if o.monitor != nil {
		return TargetMonitoring
	}
	return TargetRecords
}

// bumpLocked wakes everyone waiting for a change.
func (c *Client) bumpLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// enqueueRecords queues a records sync for snap's service, replacing a
// queued one that has not started.
func (c *Client) enqueueRecords(snap *snapshot) {
	c.mu.Lock()
	s := c.serviceLocked(snap.serviceID, chanRecords)
	if n := len(s.ops); n > 0 {
		if tail := s.ops[n-1]; tail.records != nil && !tail.inFlight {
			tail.records = snap // coalesce: only the latest state matters
			c.bumpLocked()
			c.mu.Unlock()
			return
		}
	}
	err := c.appendLocked(s, &op{records: snap})
	c.mu.Unlock()
	if err != nil {
		c.drop(TargetRecords, snap.serviceID, "", err)
	}
}

// enqueueMonitor queues one monitoring request.
func (c *Client) enqueueMonitor(servID string, req *request) {
	c.mu.Lock()
	err := c.appendLocked(c.serviceLocked(servID, chanMonitoring), &op{monitor: req})
	c.mu.Unlock()
	if err != nil {
		c.drop(TargetMonitoring, servID, req.url, err)
	}
}

// Queue channels of a service.
const (
	chanRecords    = "records"
	chanMonitoring = "monitoring"
)

func (c *Client) serviceLocked(id, channel string) *service {
	key := id + "\x00" + channel
	s, ok := c.services[key]
	if !ok {
		s = &service{key: key, id: id}
		c.services[key] = s
	}
	return s
}

func (c *Client) appendLocked(s *service, o *op) error {
	switch {
	case c.closing:
		c.forgetLocked(s)
		return errors.New("writer closed")
	case c.pending >= c.cfg.QueueSize:
		c.forgetLocked(s)
		return fmt.Errorf("queue full (%d writes pending)", c.pending)
	}
	s.ops = append(s.ops, o)
	c.pending++
	c.bumpLocked()
	return nil
}

// forgetLocked removes an idle service whose records need no memory.
func (c *Client) forgetLocked(s *service) {
	if len(s.ops) == 0 && !s.busy && (s.remote.finished || s.remote.empty()) {
		delete(c.services, s.key)
	}
}

func (c *Client) drop(t Target, servID, url string, err error) {
	c.emit(Event{Kind: EventDropped, Target: t, ServiceID: servID, URL: url, Err: err, Time: time.Now()})
}

func (c *Client) worker() {
	defer c.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		c.mu.Lock()
		s, wait := c.pickLocked(time.Now())
		ch, stop := c.changed, c.hardStop || (c.closing && c.pending == 0)
		if s != nil {
			s.busy = true
			s.ops[0].inFlight = true
		}
		c.mu.Unlock()
		if s != nil {
			c.process(s)
			continue
		}
		if stop {
			return
		}
		timer.Reset(wait)
		select {
		case <-ch:
		case <-timer.C:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// pickLocked returns the service due first, or how long to wait for one.
func (c *Client) pickLocked(now time.Time) (*service, time.Duration) {
	var best *service
	wait := time.Hour
	for _, s := range c.services {
		if s.busy || len(s.ops) == 0 {
			continue
		}
		if d := s.nextAt.Sub(now); d > 0 {
			wait = min(wait, d)
			continue
		}
		if best == nil || s.nextAt.Before(best.nextAt) {
			best = s
		}
	}
	return best, wait
}

// process works on the head op of s until it is done or a request fails.
func (c *Client) process(s *service) {
	c.mu.Lock()
	o := s.ops[0]
	closing := c.closing
	c.mu.Unlock()

	var failure *Event
	budget := 8 // requests this round; raised per record below
	if o.records != nil {
		budget += 3 * (len(o.records.vnfrs) + len(s.remote.vnfrs) + 1)
	}
	for {
		req := c.next(s, o)
		if req == nil {
			break // op complete
		}
		if budget--; budget < 0 {
			failure = &Event{Target: req.target, RecordID: req.recordID, Method: req.method, URL: req.url,
				Err: errors.New("the repository keeps answering inconsistently (created, then not found)")}
			break
		}
		attempt := s.attempt + 1
		code, out, err := c.send(req)
		if err != nil {
			failure = &Event{Target: req.target, RecordID: req.recordID, Method: req.method, URL: req.url, StatusCode: code, Err: err}
			break
		}
		if out == outcomeRedo {
			continue
		}
		s.attempt = 0
		c.emit(Event{Kind: EventDelivered, Target: req.target, ServiceID: s.id, RecordID: req.recordID,
			Method: req.method, URL: req.url, StatusCode: code, Attempt: attempt, Time: time.Now()})
		if attempt > 1 {
			c.log.Info("sprest: write delivered after failures", "service", s.id, "method", req.method, "url", req.url, "attempts", attempt)
		} else {
			c.log.Debug("sprest: write delivered", "service", s.id, "method", req.method, "url", req.url, "status", code)
		}
	}

	c.mu.Lock()
	popped := failure == nil
	if failure != nil {
		s.attempt++
		failure.ServiceID, failure.Attempt, failure.Time = s.id, s.attempt, time.Now()
		switch {
		case closing || c.closing:
			failure.Kind = EventDropped
			popped = true
		case c.cfg.MaxAttempts > 0 && s.attempt >= c.cfg.MaxAttempts:
			failure.Kind = EventAbandoned
			popped = true
		default:
			failure.Kind = EventFailed
			failure.Delay = c.backoff(s.attempt)
			s.nextAt = time.Now().Add(failure.Delay)
			o.inFlight = false
		}
		if popped {
			s.attempt = 0
			s.nextAt = time.Time{}
		}
	}
	if popped {
		s.ops = s.ops[1:]
		c.pending--
	}
	s.busy = false
	c.forgetLocked(s)
	c.bumpLocked()
	c.mu.Unlock()

	if failure != nil {
		c.logFailure(*failure)
		c.emit(*failure)
	}
}

func (c *Client) logFailure(e Event) {
	args := []any{"service", e.ServiceID, "method", e.Method, "url", e.URL, "attempt", e.Attempt, "err", e.Err}
	switch e.Kind {
	case EventFailed:
		// Every failure is an event; the log gets the first one and then
		// attempts 2, 4, 8, ... so that a long outage does not flood it.
		lvl := slog.LevelDebug
		if bits.OnesCount(uint(e.Attempt)) == 1 {
			lvl = slog.LevelWarn
		}
		c.log.Log(context.Background(), lvl, "sprest: write failed, will retry", append(args, "retry_in", e.Delay.Round(time.Millisecond))...)
	default:
		c.log.Error("sprest: write "+e.Kind.String(), args...)
	}
}

// backoff is MinBackoff doubled per earlier failure, at most MaxBackoff,
// with ±25 % jitter (never above MaxBackoff).
func (c *Client) backoff(attempt int) time.Duration {
	d := c.cfg.MinBackoff
	for i := 1; i < attempt && d < c.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, c.cfg.MaxBackoff)
	d = time.Duration(float64(d) * (0.75 + 0.5*rand.Float64()))
	return max(min(d, c.cfg.MaxBackoff), time.Millisecond)
}

func (c *Client) emit(e Event) {
	if c.cfg.OnEvent != nil {
		c.cfg.OnEvent(e)
	}
}

// request is one HTTP request to a neighbour and what its answer means.
type request struct {
	target   Target
	recordID string
	method   string
	url      string
	body     []byte // JSON; nil for none
	// expect lists the statuses the original expected; any other 2xx is
	// accepted too (and logged).
	expect []int
	// special lists non-2xx statuses handle understands; any other
	// status is a failure.
	special []int
	// handle interprets a 2xx or special status.
	handle func(code int) outcome
}

// outcome is what an answer means.
type outcome int

const (
	// outcomeDelivered: the write is done.
	outcomeDelivered outcome = iota
	// outcomeRedo: the answer changed what is known about the
	// repository (a record it lacks, or has already); the next request
	// follows at once and no event is reported.
	outcomeRedo
	// outcomeRetry: a failure.
	outcomeRetry
)

// timeoutText is the original's message for a timeout per neighbour.
func timeoutText(t Target) string {
	switch t {
	case TargetNSR:
		return "Timeout when contacting NSR repo"
	case TargetVNFR:
		return "Timeout when contacting VNFR repo"
	}
	return "Timeout when contacting server"
}

// send performs req; it returns the status code and what it means, with
// the error for outcomeRetry.
func (c *Client) send(req *request) (int, outcome, error) {
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.Timeout)
	defer cancel()
	var body io.Reader
	if req.body != nil {
		body = bytes.NewReader(req.body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, req.url, body)
	if err != nil {
		return 0, outcomeRetry, err
	}
	if req.body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	hr.Header.Set("Accept", "application/json")
	hr.Header.Set("User-Agent", c.cfg.UserAgent)
	resp, err := c.cfg.Client.Do(hr)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && c.ctx.Err() == nil {
			return 0, outcomeRetry, fmt.Errorf("%s (%s): %w", timeoutText(req.target), c.cfg.Timeout, err)
		}
		return 0, outcomeRetry, err
	}
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	code := resp.StatusCode
	if code/100 != 2 && !containsInt(req.special, code) {
		return code, outcomeRetry, &HTTPError{Method: req.method, URL: req.url, StatusCode: code, Body: strings.TrimSpace(string(snippet))}
	}
	if code/100 == 2 && len(req.expect) > 0 && !containsInt(req.expect, code) {
		c.log.Debug("sprest: success with another status than the original expected", "method", req.method, "url", req.url, "status", code, "want", req.expect)
	}
	out := outcomeDelivered
	if req.handle != nil {
		out = req.handle(code)
	}
	if out == outcomeRetry {
		return code, out, &HTTPError{Method: req.method, URL: req.url, StatusCode: code, Body: strings.TrimSpace(string(snippet))}
	}
	return code, out, nil
}

func containsInt(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
