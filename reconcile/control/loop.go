package control

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"os"
	"sync"
	"time"

	"github.com/manoctl/manoctl/reconcile/apply"
	"github.com/manoctl/manoctl/reconcile/desired"
	"github.com/manoctl/manoctl/reconcile/plan"
)

// LoopConfig tunes continuous reconciliation.
type LoopConfig struct {
	// Manifest is the desired-state file to follow.
	Manifest string
	// Interval between full reconciles (refresh included), which is what
	// finds drift; default 30 s.
	Interval time.Duration
	// Watch is how often the manifest is checked for changes; default 2 s.
	Watch time.Duration
	// MinGap is the least time between two applies, so that the loop
	// never chases its own changes; default 5 s.
	MinGap time.Duration
	// Backoff is the first delay before retrying a service whose change
	// failed; it doubles per failure up to MaxBackoff (defaults 10 s and
	// 5 min).
	Backoff, MaxBackoff time.Duration
	Parallelism         int
	Logger              *slog.Logger
	// Hook observes the loop's applies.
	Hook apply.Hook
	// Now is the clock (tests).
	Now func() time.Time
}

// Loop reconciles a manifest continuously: on a change of the file and
// on an interval it plans (with a refresh against the infrastructure, so
// drift and failed records are found) and applies.
type Loop struct {
	cfg LoopConfig
	srv *Server

	mu        sync.Mutex
	failures  map[string]int       // service -> consecutive failures
	retryAt   map[string]time.Time // service -> not before
	lastApply time.Time
	lastEnd   time.Time
	lastErr   error
	kick      chan struct{}
}

// NewLoop prepares a loop applying through srv.
func NewLoop(srv *Server, cfg LoopConfig) *Loop {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Interval, 30*time.Second)
	def(&cfg.Watch, 2*time.Second)
	def(&cfg.MinGap, 5*time.Second)
	def(&cfg.Backoff, 10*time.Second)
	def(&cfg.MaxBackoff, 5*time.Minute)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Loop{cfg: cfg, srv: srv, failures: map[string]int{}, retryAt: map[string]time.Time{}, kick: make(chan struct{}, 1)}
}

// LastReconcile is the end of the last cycle.
func (l *Loop) LastReconcile() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastEnd
}

// Kick asks for a cycle now (a signal, a test).
func (l *Loop) Kick() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// Run reconciles until ctx ends.
func (l *Loop) Run(ctx context.Context) {
	watch := time.NewTicker(l.cfg.Watch)
	defer watch.Stop()
	full := time.NewTimer(0) // a first cycle at once
	defer full.Stop()
	var lastMod time.Time
	var lastSize int64
	if fi, err := os.Stat(l.cfg.Manifest); err == nil {
		lastMod, lastSize = fi.ModTime(), fi.Size() // the first cycle reads it anyway
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-watch.C:
			fi, err := os.Stat(l.cfg.Manifest)
			if err != nil || (fi.ModTime().Equal(lastMod) && fi.Size() == lastSize) {
				continue
			}
			lastMod, lastSize = fi.ModTime(), fi.Size()
			l.cfg.Logger.Info("manifest changed; reconciling", "manifest", l.cfg.Manifest)
		case <-l.kick:
		case <-full.C:
		}
		l.Cycle(ctx)
		full.Reset(l.cfg.Interval)
	}
}

// Cycle runs one reconcile: load, plan, apply what is due. It returns the
// plan it applied (nil when there was nothing to do or it failed).
func (l *Loop) Cycle(ctx context.Context) *plan.Plan {
	defer func() {
		l.mu.Lock()
		l.lastEnd = l.cfg.Now()
		l.mu.Unlock()
	}()
	m, err := desired.Load(l.cfg.Manifest)
	var st *desired.State
	if err == nil {
		st, err = desired.Resolve(ctx, m)
	}
	if err != nil {
		l.report(err)
		return nil
	}
	p, err := l.srv.plan(ctx, st, false)
	if err != nil {
		l.report(err)
		return nil
	}
	if !p.HasChanges() {
		l.report(nil)
		return nil
	}
	if p.Infeasible {
		l.report(errors.New("the plan cannot be placed on the VIMs; not applying"))
		return nil
	}
	now := l.cfg.Now()
	l.mu.Lock()
	if wait := l.lastApply.Add(l.cfg.MinGap).Sub(now); wait > 0 {
		l.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		l.mu.Lock()
	}
	// Services in back-off wait for their turn; the rest goes ahead.
	var due []*plan.Change
	for _, c := range p.Changes {
		if t, ok := l.retryAt[c.Service]; ok && now.Before(t) {
			continue
		}
		due = append(due, c)
	}
	l.lastApply = l.cfg.Now()
	l.mu.Unlock()
	if len(due) == 0 {
		return nil
	}
	p.Changes, p.Summary = due, plan.Summarize(due)
	l.cfg.Logger.Info("reconcile: applying", "create", p.Summary.Create, "destroy", p.Summary.Destroy, "update", p.Summary.Update,
		"scale", p.Summary.Scale, "replace", p.Summary.Replace, "heal", p.Summary.Heal)
	hook := l.cfg.Hook
	if hook == nil {
		hook = apply.NilHook{}
	}
	res, err := l.srv.Apply(ctx, p, st, l.cfg.Parallelism, hook)
	if err != nil {
		// A stale plan means someone applied meanwhile: the next cycle
		// plans again.
		l.report(err)
		return nil
	}
	l.mu.Lock()
	for _, c := range res.Changes {
		if c.Err == nil {
			delete(l.failures, c.Change.Service)
			delete(l.retryAt, c.Change.Service)
			continue
		}
		n := l.failures[c.Change.Service] + 1
		l.failures[c.Change.Service] = n
		d := time.Duration(float64(l.cfg.Backoff) * math.Pow(2, float64(n-1)))
		if d > l.cfg.MaxBackoff {
			d = l.cfg.MaxBackoff
		}
		l.retryAt[c.Change.Service] = l.cfg.Now().Add(d)
		l.cfg.Logger.Warn("reconcile: change failed; backing off", "service", c.Change.Service, "action", c.Change.Action,
			"error", c.Err, "retry_in", d, "failures", n)
	}
	l.mu.Unlock()
	l.report(nil)
	return p
}

func (l *Loop) report(err error) {
	l.mu.Lock()
	changed := (err == nil) != (l.lastErr == nil) || (err != nil && l.lastErr != nil && err.Error() != l.lastErr.Error())
	l.lastErr = err
	l.mu.Unlock()
	if err != nil && changed {
		l.cfg.Logger.Error("reconcile failed", "manifest", l.cfg.Manifest, "error", err)
	}
}
