package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/manoctl/manoctl/reconcile/apply"
	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/desired"
	"github.com/manoctl/manoctl/reconcile/gk"
	"github.com/manoctl/manoctl/reconcile/placement"
	"github.com/manoctl/manoctl/reconcile/plan"
	"github.com/manoctl/manoctl/reconcile/pm"
	"github.com/manoctl/manoctl/reconcile/records"
)

// PluginControl is what the server needs of the plugin manager.
type PluginControl interface {
	Plugins() []pm.Plugin
	Lifecycle(ctx context.Context, uuid, action string) error
}

// Refresher reads the infrastructure for a plan (VIM use, running
// functions); it may return nil when the IA cannot be asked.
type Refresher func(ctx context.Context, st *desired.State) (*plan.Infra, error)

// Records is what the server reads of the daemon's records: durable
// snapshots to answer with, and the change feed it relays as events.
// *records.Store implements it.
type Records interface {
	Snapshot() *records.StateSnapshot
	Subscribe(buffer int) *records.Subscription
}

// ServerConfig wires a control server.
type ServerConfig struct {
	Bus     bus.Bus
	Store   Records
	GK      *gk.Client
	PM      PluginControl
	Refresh Refresher
	// ApplyLock serialises applies: the server's and the reconcile
	// loop's.
	ApplyLock *sync.Mutex
	Version   string
	Plugins   []string
	Manifest  string
	// LastReconcile reports the end of the loop's last cycle.
	LastReconcile func() time.Time
	Logger        *slog.Logger
}

// Server answers the control topics for a daemon and publishes its record
// changes.
type Server struct {
	cfg     ServerConfig
	ep      *bus.Endpoint
	started time.Time
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// NewServer prepares a server.
func NewServer(cfg ServerConfig) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ApplyLock == nil {
		cfg.ApplyLock = &sync.Mutex{}
	}
	return &Server{cfg: cfg, ep: bus.NewEndpoint(cfg.Bus, AppDaemon, bus.WithLogger(cfg.Logger)), started: time.Now().UTC()}
}

// Start subscribes to the control topics and starts publishing events.
func (s *Server) Start(ctx context.Context) error {
	handlers := map[string]func(context.Context, *bus.Message){
		TopicPlan: s.onPlan, TopicApply: s.onApply, TopicGet: s.onGet, TopicDescribe: s.onDescribe,
		TopicPlugins: s.onPlugins, TopicStatus: s.onStatus,
	}
	for topic, h := range handlers {
		h := h
		if _, err := s.ep.Handle(ctx, topic, bus.SkipOwn|bus.RequestsOnly, func(ctx context.Context, m *bus.Message) {
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				h(context.WithoutCancel(ctx), m)
			}()
		}, bus.WithQueue("manoctl.daemon."+topic)); err != nil {
			return err
		}
	}
	ectx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Add(1)
	// Subscribed here, not in the goroutine: a change committed as soon
	// as Start returns must be relayed.
	go s.publishEvents(ectx, s.cfg.Store.Subscribe(eventBuffer))
	return nil
}

// Close stops the server and waits for requests in progress.
func (s *Server) Close() error {
	err := s.ep.Close()
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
	return err
}

func errorOf(err error) *Error {
	if err == nil {
		return nil
	}
	code := 1
	var se *plan.StaleError
	switch {
	case desired.IsInvalid(err):
		code = 3
	case errors.As(err, &se):
		code = 4
	}
	return &Error{Code: code, Message: err.Error()}
}

func (s *Server) plan(ctx context.Context, st *desired.State, detailed bool) (*plan.Plan, error) {
	var infra *plan.Infra
	if s.cfg.Refresh != nil {
		var err error
		if infra, err = s.cfg.Refresh(ctx, st); err != nil {
			return nil, fmt.Errorf("refresh: %w", err)
		}
	}
	p, err := plan.Compute(plan.Input{Desired: st, Records: plan.FromSnapshot(s.cfg.Store.Snapshot(), false), Infra: infra,
		DefaultPolicy: placement.LoadBalanced, Now: time.Now().UTC(), Detailed: detailed})
	if err != nil {
		return nil, err
	}
	p.ManifestPath = st.Manifest.Path
	return p, nil
}

func (s *Server) onPlan(ctx context.Context, m *bus.Message) {
	var req PlanRequest
	if err := m.Decode(&req); err != nil || req.Desired == nil {
		s.ep.Reply(ctx, m, PlanReply{Error: &Error{Code: 3, Message: fmt.Sprintf("malformed plan request: %v", err)}})
		return
	}
	p, err := s.plan(ctx, req.Desired.State(), req.Detailed)
	s.ep.Reply(ctx, m, PlanReply{Plan: p, Error: errorOf(err)})
}

// progressHook streams apply progress to the requester.
type progressHook struct {
	s *Server
	m *bus.Message
}

func (h progressHook) send(p Progress) {
	h.s.ep.Notify(context.Background(), h.m.Topic, p, h.m.CorrelationID)
}
func (h progressHook) Started(c *plan.Change, corr string) {
	h.send(Progress{Kind: "started", Service: c.Service, ServiceID: c.ServiceID, Action: c.Action, What: corr})
}
func (h progressHook) Status(c *plan.Change, status string) {
	h.send(Progress{Kind: "status", Service: c.Service, Action: c.Action, Status: status})
}
func (h progressHook) Request(c *plan.Change, what, corr string) {
	h.send(Progress{Kind: "request", Service: c.Service, Action: c.Action, What: what})
}
func (h progressHook) Done(c *plan.Change, r *apply.ChangeResult) {
	p := Progress{Kind: "done", Service: c.Service, ServiceID: r.ServiceID, Action: c.Action}
	if r.Err != nil {
		p.Error = r.Err.Error()
	}
	h.send(p)
}

// Apply runs a plan under the apply lock; the daemon's reconcile loop
// uses it too.
func (s *Server) Apply(ctx context.Context, p *plan.Plan, st *desired.State, parallelism int, hook apply.Hook) (*apply.Result, error) {
	s.cfg.ApplyLock.Lock()
	defer s.cfg.ApplyLock.Unlock()
	recs := plan.FromSnapshot(s.cfg.Store.Snapshot(), false)
	if err := p.Check(recs.Lineage(), recs.Index(), st.ManifestDigest, st.DescriptorDigests); err != nil {
		return nil, err
	}
	return apply.Run(ctx, s.cfg.GK, p, st, apply.Options{Parallelism: parallelism, Hook: hook})
}

func (s *Server) onApply(ctx context.Context, m *bus.Message) {
	var req ApplyRequest
	hook := progressHook{s: s, m: m}
	if err := m.Decode(&req); err != nil || req.Plan == nil || req.Desired == nil {
		hook.send(Progress{Kind: "result", Failure: &Error{Code: 3, Message: fmt.Sprintf("malformed apply request: %v", err)}})
		return
	}
	res, err := s.Apply(ctx, req.Plan, req.Desired.State(), req.Parallelism, hook)
	final := Progress{Kind: "result", Failure: errorOf(err)}
	if res != nil {
		for _, c := range res.Changes {
			r := ApplyResult{Service: c.Change.Service, ServiceID: c.ServiceID, Action: c.Change.Action}
			if c.Err != nil {
				r.Error = c.Err.Error()
			}
			final.Results = append(final.Results, r)
		}
	}
	hook.send(final)
}

func (s *Server) onGet(ctx context.Context, m *bus.Message) {
	var req GetRequest
	if err := m.Decode(&req); err != nil {
		s.ep.Reply(ctx, m, GetReply{Error: &Error{Code: 64, Message: "malformed get request"}})
		return
	}
	items, err := Items(s.cfg.Store.Snapshot().Reader(), req.Kind, req.All)
	items = jsonSafe(items)
	kept, dropped := fitItems(items, MaxGetBytes, req.Kind == "operations")
	s.ep.Reply(ctx, m, GetReply{FormatVersion: FormatVersion, Kind: req.Kind, Items: kept, Truncated: dropped, Error: errorOf(err)})
}

// MaxGetBytes is how much of a get reply the items may take: well under
// the receivers' body limit (bus.MaxBodySize), whatever the encoding adds.
// A daemon with a long history has more operations than that (about
// 9,000 at 1.8 KB each).
const MaxGetBytes = bus.MaxBodySize * 3 / 4

// fitItems keeps the items whose JSON encoding fits in budget bytes: the
// first ones, or the last ones (the newest operations) with fromEnd. It
// returns them and how many it left out.
func fitItems(items []map[string]any, budget int, fromEnd bool) ([]map[string]any, int) {
	size := 0
	for n := range items {
		i := n
		if fromEnd {
			i = len(items) - 1 - n
		}
		b, err := json.Marshal(items[i])
		if err != nil {
			continue // the encoder reports it with the reply
		}
		if size += len(b) + 1; size > budget {
			if fromEnd {
				return items[i+1:], i + 1
			}
			return items[:i], len(items) - i
		}
	}
	return items, 0
}

func (s *Server) onDescribe(ctx context.Context, m *bus.Message) {
	var req DescribeRequest
	if err := m.Decode(&req); err != nil {
		s.ep.Reply(ctx, m, DescribeReply{Error: &Error{Code: 64, Message: "malformed describe request"}})
		return
	}
	doc, err := Describe(s.cfg.Store.Snapshot().Reader(), req.Service, req.Operations)
	var ns *ErrNoService
	if errors.As(err, &ns) {
		s.ep.Reply(ctx, m, DescribeReply{Error: &Error{Code: 1, Message: err.Error()}})
		return
	}
	s.ep.Reply(ctx, m, DescribeReply{Document: jsonSafeMap(doc), Error: errorOf(err)})
}

func (s *Server) onPlugins(ctx context.Context, m *bus.Message) {
	var req PluginsRequest
	if err := m.Decode(&req); err != nil {
		s.ep.Reply(ctx, m, PluginsReply{Error: &Error{Code: 64, Message: "malformed plugins request"}})
		return
	}
	if s.cfg.PM == nil {
		s.ep.Reply(ctx, m, PluginsReply{Error: &Error{Code: 1, Message: "this daemon runs no plugin manager"}})
		return
	}
	var match []pm.Plugin
	for _, p := range s.cfg.PM.Plugins() {
		if req.Target == "" || p.UUID == req.Target || p.Name == req.Target {
			match = append(match, p)
		}
	}
	if req.Action != "list" && req.Action != "describe" {
		if req.Target == "" || len(match) == 0 {
			s.ep.Reply(ctx, m, PluginsReply{Error: &Error{Code: 1, Message: fmt.Sprintf("no plugin %q", req.Target)}})
			return
		}
		if len(match) > 1 {
			s.ep.Reply(ctx, m, PluginsReply{Error: &Error{Code: 1, Message: fmt.Sprintf("%q names %d plugins; use a uuid", req.Target, len(match))}})
			return
		}
		if err := s.cfg.PM.Lifecycle(ctx, match[0].UUID, req.Action); err != nil {
			s.ep.Reply(ctx, m, PluginsReply{Error: &Error{Code: 1, Message: err.Error()}})
			return
		}
	} else if req.Target != "" && len(match) == 0 {
		s.ep.Reply(ctx, m, PluginsReply{Error: &Error{Code: 1, Message: fmt.Sprintf("no plugin %q", req.Target)}})
		return
	}
	var out []map[string]any
	for _, p := range match {
		info := p.Info()
		b, _ := json.Marshal(info)
		var item map[string]any
		json.Unmarshal(b, &item)
		item["heartbeat_interval"] = p.HeartbeatInterval.String()
		out = append(out, item)
	}
	s.ep.Reply(ctx, m, PluginsReply{Plugins: out})
}

func (s *Server) onStatus(ctx context.Context, m *bus.Message) {
	recs := plan.FromSnapshot(s.cfg.Store.Snapshot(), false)
	st := StatusReply{Version: s.cfg.Version, Lineage: recs.Lineage(), Index: recs.Index(), StartedAt: s.started,
		Plugins: s.cfg.Plugins, Manifest: s.cfg.Manifest}
	if s.cfg.LastReconcile != nil {
		st.LastReconcile = s.cfg.LastReconcile()
	}
	s.ep.Reply(ctx, m, st)
}

// publishEvents relays record changes on manoctl.events.<table>, starting
// with sub. A subscriber that fell behind is resubscribed and announced
// with a "resync" event, so watchers know to reload.
func (s *Server) publishEvents(ctx context.Context, sub *records.Subscription) {
	defer s.wg.Done()
	for ctx.Err() == nil {
		if !s.relay(ctx, sub) {
			return
		}
		s.ep.Notify(ctx, TopicEvents+".resync", Event{Op: "resync", Time: time.Now().UTC()}, "")
		sub = s.cfg.Store.Subscribe(eventBuffer)
	}
	sub.Close()
}

// eventBuffer is how many record-change batches the relay's subscription
// holds before it overflows.
const eventBuffer = 8192

// eventWindow is how long the relay gathers record changes before it
// publishes them. A lifecycle workflow rewrites its operation at every
// step and its service and functions several times: events carry whole
// records, so the latest change of each record within the window says
// everything its predecessors said, and watchers (manoctl events, the TUI)
// miss nothing but intermediate versions. Under load this divides the
// event traffic several times over, for at most this much delay.
const eventWindow = 100 * time.Millisecond

// eventPublishers bounds the events of a window being published at once.
const eventPublishers = 16

// relay publishes sub's batches until ctx ends (false) or sub overflows
// (true), one window (eventWindow) at a time, with only the latest change
// of each record of the window. A record's events stay in order: a window
// is published in full before the next one starts.
func (s *Server) relay(ctx context.Context, sub *records.Subscription) bool {
	defer sub.Close()
	type change struct {
		ev  records.Event
		seq int // order of the record's latest change in the window
	}
	for {
		var pending map[[2]string]*change
		seq := 0
		add := func(b records.EventBatch) {
			for _, e := range b.Events {
				seq++
				k := [2]string{e.Table, e.Key}
				c := pending[k]
				if c == nil {
					pending[k] = &change{ev: e, seq: seq}
					continue
				}
				op := e.Op
				if c.ev.Op == records.EventCreate && op == records.EventUpdate {
					op = records.EventCreate // created in this window, as far as watchers know
				}
				c.ev, c.ev.Op, c.seq = e, op, seq
			}
		}
		select {
		case <-ctx.Done():
			return false
		case batch, ok := <-sub.C:
			if !ok {
				return errors.Is(sub.Err(), records.ErrSubscriptionOverflow)
			}
			pending = map[[2]string]*change{}
			add(batch)
		}
		window := time.NewTimer(eventWindow)
		overflow, open, stopping := false, true, false
		for open {
			select {
			case <-ctx.Done():
				// The window's changes still go out, briefly: the Bus
				// outlives the server.
				window.Stop()
				open, stopping = false, true
			case batch, ok := <-sub.C:
				if !ok {
					overflow, open = errors.Is(sub.Err(), records.ErrSubscriptionOverflow), false
					window.Stop()
					if !overflow {
						return false
					}
					break
				}
				add(batch)
			case <-window.C:
				open = false
			}
		}
		changes := make([]*change, 0, len(pending))
		for _, c := range pending {
			changes = append(changes, c)
		}
		slices.SortFunc(changes, func(a, b *change) int { return a.seq - b.seq })
		pctx := ctx
		if stopping {
			var cancel context.CancelFunc
			pctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			defer cancel()
		}
		var wg sync.WaitGroup
		sem := make(chan struct{}, eventPublishers)
		now := time.Now().UTC()
		for _, c := range changes {
			e := c.ev
			obj, _ := json.Marshal(e.Object)
			ev := Event{Index: e.Index, Table: e.Table, Key: e.Key, Op: string(e.Op), Time: now, Object: obj}
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.ep.Notify(pctx, TopicEvents+"."+e.Table, ev, "")
				<-sem
			}()
		}
		wg.Wait()
		if stopping {
			return false
		}
		if overflow {
			return true
		}
	}
}

// jsonSafe converts items to their JSON form (times as RFC 3339 strings),
// so that a daemon's answer is what the CLI would have printed.
func jsonSafe(items []map[string]any) []map[string]any {
	b, err := json.Marshal(items)
	if err != nil {
		return items
	}
	var out []map[string]any
	if json.Unmarshal(b, &out) != nil {
		return items
	}
	return out
}

func jsonSafeMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	return jsonSafe([]map[string]any{m})[0]
}
