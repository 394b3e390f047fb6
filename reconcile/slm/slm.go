// Package slm is the service lifecycle manager (wire-protocol §4): it
// receives the gatekeeper's requests on service.instances.create and
// service.instance.terminate, runs each as a workflow of named tasks
// (the original's ledger and task schedule, §4.3), drives the placement
// plugin, the FLM and the infrastructure adaptor over the bus, keeps the
// service records, and reports a stream of status messages to the
// requester.
//
// Where the original is broken, manoctl's SLM does what §14.3 describes:
// a failed step stops the workflow and rolls back what was deployed (S1),
// validation failures end the workflow (S2), every bus request has a
// timeout (T4), a second workflow on a busy service is refused (S14), and
// the unsupported topics are answered (S10). The messages keep the
// original shapes.
package slm

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/plugin"
	"github.com/manoctl/manoctl/reconcile/wire"
)

// Info is the SLM's plugin identity (§3.1).
var Info = plugin.Info{Name: bus.AppSLM, Version: "0.1-dev", Description: "This is the SLM plugin"}

// Monitor receives the monitoring side effects the original sent to the
// monitoring manager over REST (§4.4 step 13, §4.5 step 2).
type Monitor interface {
	ServiceStarted(ctx context.Context, servID string, message map[string]any) error
	ServiceStopped(ctx context.Context, servID string) error
}

// SpecificManagers runs the SSM steps of the workflows (wire-protocol
// §4.4 steps 3–4, 6b, 13a; §4.5 step 7). Without one, the SLM refuses
// services that declare typed SSMs.
type SpecificManagers interface {
	// Onboard and Instantiate bring up the service's typed SSMs.
	Onboard(ctx context.Context, w *Workflow) error
	Instantiate(ctx context.Context, w *Workflow) error
	// Task lets a task SSM rewrite the remaining schedule.
	Task(ctx context.Context, w *Workflow, schedule []string) ([]string, error)
	// Place asks a placement SSM for the mapping.
	Place(ctx context.Context, w *Workflow, req wire.PlaceRequest) (*wire.PlaceReply, error)
	// Configure calls a configure SSM; it may return per-function
	// trigger updates.
	Configure(ctx context.Context, w *Workflow) error
	// MonitorStart hands the service to a monitor SSM.
	MonitorStart(ctx context.Context, w *Workflow) error
	// Terminate stops the service's SSMs and the functions' FSMs.
	Terminate(ctx context.Context, w *Workflow) error
}

// Config wires the SLM.
type Config struct {
	// Records keeps services and operations; default in memory.
	Records Records
	// Monitor gets monitoring side effects; default none.
	Monitor Monitor
	// Managers runs SSM steps; default none (typed SSMs are refused).
	Managers SpecificManagers
	Logger   *slog.Logger
	// Timeouts per request topic; default bus.DefaultTimeout.
	Timeouts func(topic string) time.Duration
	// Observe reports every bus request (metrics).
	Observe func(topic string, took time.Duration, err error)
	// Now is the clock.
	Now func() time.Time
	// SharedQueues makes several SLM instances compete for requests
	// (§14.1 T1) instead of each handling every request.
	SharedQueues bool
}

// SLM is a running service lifecycle manager.
type SLM struct {
	ep  *bus.Endpoint
	cfg Config
	log *slog.Logger
	id  string

	mu     sync.Mutex
	active map[string]*Workflow // service id -> running workflow
	seen   map[string]time.Time // correlation ids of accepted requests
	// serviceConfig and pendingUpdates keep what monitoring SSMs sent
	// (feedback.go).
	serviceConfig  map[string]map[string]any
	pendingUpdates map[string][]map[string]any
	quit           chan struct{} // closed by Close
	wg             sync.WaitGroup
	closed         bool
}

// New attaches an SLM to b.
func New(b bus.Bus, cfg Config) *SLM {
	if cfg.Records == nil {
		cfg.Records = NewMemRecords()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Timeouts == nil {
		cfg.Timeouts = bus.DefaultTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &SLM{
		ep:     bus.NewEndpoint(b, bus.AppSLM, bus.WithLogger(cfg.Logger), bus.WithTimeouts(cfg.Timeouts), bus.WithObserver(cfg.Observe)),
		cfg:    cfg,
		log:    cfg.Logger.With("plugin", "slm"),
		id:     newID(),
		active: make(map[string]*Workflow),
		seen:   make(map[string]time.Time),
		quit:   make(chan struct{}),
	}
}

// Endpoint returns the SLM's bus endpoint (its plugin base registers
// through it).
func (s *SLM) Endpoint() *bus.Endpoint { return s.ep }

// Start subscribes to the gatekeeper topics.
func (s *SLM) Start(ctx context.Context) error {
	type sub struct {
		topic string
		h     bus.Handler
	}
	subs := []sub{
		{bus.TopicServiceCreate, s.onCreate},
		{bus.TopicServiceTerminate, s.onTerminate},
		{bus.TopicServiceScale, s.onScale},
		{bus.TopicServiceUpdate, s.onUpdate},
		{bus.TopicServicePause, s.onUnsupported},
		{bus.TopicServiceRestart, s.onUnsupported},
	}
	for _, x := range subs {
		var opts []bus.SubscribeOption
		if s.cfg.SharedQueues {
			opts = append(opts, bus.WithQueue("manoctl.slm."+x.topic))
		}
		if _, err := s.ep.Handle(ctx, x.topic, bus.SkipOwn|bus.RequestsOnly, x.h, opts...); err != nil {
			return err
		}
	}
	return nil
}

// Close stops accepting requests and waits for running workflows.
func (s *SLM) Close() error {
	s.mu.Lock()
	if !s.closed {
		close(s.quit)
	}
	s.closed = true
	s.mu.Unlock()
	err := s.ep.Close()
	s.wg.Wait()
	return err
}

// Active returns the ids of services with a running workflow.
func (s *SLM) Active() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.active))
	for id := range s.active {
		out = append(out, id)
	}
	return out
}

// accept registers a request's correlation id; a request re-published
// with the same id (after a broker reconnect, §14.1 T9) is ignored.
func (s *SLM) accept(corrID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	now := s.cfg.Now()
	if t, ok := s.seen[corrID]; ok && now.Sub(t) < time.Hour {
		return false
	}
	if len(s.seen) > 100000 {
		for k, t := range s.seen {
			if now.Sub(t) > time.Hour {
				delete(s.seen, k)
			}
		}
	}
	s.seen[corrID] = now
	return true
}

// claim marks servID busy with w; it fails when another workflow runs on
// that service (§14.3 S14).
func (s *SLM) claim(servID string, w *Workflow) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, busy := s.active[servID]; busy {
		return false
	}
	s.active[servID] = w
	return true
}

func (s *SLM) release(servID string, w *Workflow) {
	s.mu.Lock()
	if s.active[servID] == w {
		delete(s.active, servID)
	}
	s.mu.Unlock()
}

// reject answers a request that starts no workflow.
func (s *SLM) reject(ctx context.Context, msg *bus.Message, text string) {
	s.log.Warn("request rejected", "topic", msg.Topic, "app_id", msg.AppID, "correlation_id", msg.CorrelationID, "error", text)
	s.ep.Notify(ctx, msg.Topic, wire.StatusMessage{Status: bus.StatusError, Error: text, Timestamp: wire.Now()}, msg.CorrelationID)
}

// checkCorrelation answers a request without correlation id (§14.3 S3).
func (s *SLM) checkCorrelation(ctx context.Context, msg *bus.Message) bool {
	if msg.CorrelationID != "" {
		return true
	}
	s.reject(ctx, msg, "Please provide a correlation id.")
	return false
}

func (s *SLM) onUnsupported(ctx context.Context, msg *bus.Message) {
	if !s.checkCorrelation(ctx, msg) {
		return
	}
	s.reject(ctx, msg, fmt.Sprintf("%s is not supported", msg.Topic))
}

// spawn runs w in its own goroutine: a workflow waits for replies that
// arrive through the bus, so it must never run in a delivery handler.
func (s *SLM) spawn(w *Workflow) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(w.done)
		defer s.release(w.State.ID, w)
		w.run()
	}()
}
