package tui

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/manoctl/manoctl/adapters/embedded"
	"github.com/manoctl/manoctl/reconcile/apply"
	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/desired"
	"github.com/manoctl/manoctl/reconcile/placement"
	"github.com/manoctl/manoctl/reconcile/plan"
	"github.com/manoctl/manoctl/reconcile/records"
)

// EmbeddedConfig configures the embedded backend.
type EmbeddedConfig struct {
	// Store is the state directory's records, opened for writing: the
	// backend runs the platform on them, so it holds the directory's lock
	// for as long as the UI runs.
	Store *records.Store
	// Dir is the state directory (infrastructure state beside the records).
	Dir string
	// Desired is the manifest as loaded at start: its VIMs are the
	// emulator's inventory.
	Desired *desired.State
	// Reload reads the manifest again for each plan, so that edits made
	// while the UI runs are planned; nil plans Desired.
	Reload func(ctx context.Context) (*desired.State, error)
	// PlanText renders a plan as `manoctl plan` does; nil uses a short
	// built-in rendering.
	PlanText func(*plan.Plan) string
	// Parallelism bounds concurrent workflows of an apply (0: 16).
	Parallelism int
	// SubscribeBuffer is the records subscription's buffer in batches
	// (0: 4096); a subscriber that falls that far behind resyncs.
	SubscribeBuffer int
	// Logger receives the platform's logs; nil discards them (nothing may
	// reach the terminal while the UI runs).
	Logger *slog.Logger
}

// Embedded runs the embedded platform (MANO plugins, IA emulator,
// in-process bus) on a state directory and shows it: records from the
// store's change events, traffic from the in-process bus.
type Embedded struct {
	cfg   EmbeddedConfig
	sess  *embedded.Session
	close sync.Once
}

// StartEmbedded starts the platform on cfg.Store, as `manoctl apply`
// does, with the state directory's plugin table (embedded.PluginTable):
// the plugins view follows registrations and heartbeats, a plugin paused
// or stopped earlier stays so, and what the view's actions do to the
// plugins is kept for the next run.
func StartEmbedded(ctx context.Context, cfg EmbeddedConfig) (*Embedded, error) {
	if cfg.Store == nil || cfg.Desired == nil {
		return nil, errors.New("tui: embedded backend needs a store and a desired state")
	}
	table, err := embedded.NewPluginTable(cfg.Store)
	if err != nil {
		return nil, err
	}
	// The session as `manoctl apply` runs it, so that what the UI
	// applies is as safe against a crash (the removal journal).
	sess, err := embedded.StartSessionWith(context.WithoutCancel(ctx), cfg.Desired, cfg.Store, cfg.Dir, func(c *embedded.Config) {
		c.Logger, c.PluginTable = cfg.Logger, table
	})
	if err != nil {
		return nil, err
	}
	return &Embedded{cfg: cfg, sess: sess}, nil
}

// Session is the running platform.
func (e *Embedded) Session() *embedded.Session { return e.sess }

// Close stops the platform (plugins deregister, running workflows end)
// and saves the infrastructure; the store stays open.
func (e *Embedded) Close() error {
	var err error
	e.close.Do(func() { err = e.sess.Close() })
	return err
}

// Info implements Backend.
func (e *Embedded) Info() Info {
	info := Info{Source: "embedded " + e.cfg.Dir}
	if m := e.cfg.Desired.Manifest; m != nil {
		info.Manifest = m.Path
	}
	for _, s := range e.cfg.Desired.Services {
		info.Desired = append(info.Desired, s.Name)
	}
	return info
}

// Run implements Backend: a Reset from a snapshot, then the store's
// change events (batches already in the snapshot are skipped), and the
// in-process bus's traffic through a "#" subscription whose handler only
// hands messages to sink.
func (e *Embedded) Run(ctx context.Context, sink Sink) error {
	tap, err := e.sess.Broker.Default().Subscribe(ctx, "#", func(_ context.Context, m *bus.Message) {
		sink.Traffic(time.Now(), m)
	})
	if err != nil {
		return fmt.Errorf("tui: subscribe to the bus: %w", err)
	}
	defer tap.Unsubscribe()
	buffer := e.cfg.SubscribeBuffer
	if buffer <= 0 {
		buffer = 4096
	}
	for {
		sub := e.cfg.Store.Subscribe(buffer)
		snap := e.cfg.Store.Snapshot()
		sink.Reset(append(SnapshotRows(snap.Reader()), e.vimChanges()...))
		err := e.follow(ctx, sub, snap.Index(), sink)
		sub.Close()
		if !errors.Is(err, records.ErrSubscriptionOverflow) {
			return err
		}
		sink.Notice("records: the UI fell behind the changes; reloaded")
	}
}

func (e *Embedded) follow(ctx context.Context, sub *records.Subscription, after uint64, sink Sink) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case batch, ok := <-sub.C:
			if !ok {
				if err := sub.Err(); errors.Is(err, records.ErrSubscriptionOverflow) {
					return err
				}
				return nil // the store closed
			}
			if batch.Index <= after {
				continue
			}
			functions := false
			for _, ev := range batch.Events {
				if c, ok := ChangeOf(ev); ok {
					sink.Change(c)
					functions = functions || c.Kind == KindFunction
				}
			}
			if functions {
				// A function came or went: the emulator's VIM use moved.
				for _, c := range e.vimChanges() {
					sink.Change(c)
				}
			}
		}
	}
}

// vimChanges reads the VIMs' live use from the emulator (the records'
// VIM table is only written when the session saves).
func (e *Embedded) vimChanges() []Change {
	var out []Change
	for _, v := range e.sess.IA.VIMs() {
		row := &VIMRow{UUID: v.UUID, Name: v.Name, City: v.City, Endpoint: v.Endpoint, CoresTotal: int64(v.CoreTotal),
			CoresUsed: int64(v.CoreUsed), MemoryTotalMB: int64(v.MemoryTotalMB), MemoryUsed: int64(v.MemoryUsedMB + 0.5)}
		out = append(out, Change{Kind: KindVIM, Key: v.UUID, Row: row})
	}
	return out
}

func (e *Embedded) desired(ctx context.Context) (*desired.State, error) {
	if e.cfg.Reload != nil {
		return e.cfg.Reload(ctx)
	}
	return e.cfg.Desired, nil
}

// Plan implements Backend. The plan is computed against the live
// emulator, and against the records of that one service only, so that its
// VIM figures show what this change alone does.
func (e *Embedded) Plan(ctx context.Context, action Action, service string) (*Proposal, error) {
	st, err := e.desired(ctx)
	if err != nil {
		return nil, err
	}
	target, err := targetState(st, action, service)
	if err != nil {
		return nil, err
	}
	snap := e.cfg.Store.Snapshot()
	pl, err := plan.Compute(plan.Input{
		Desired: target, Records: oneService{plan.FromSnapshot(snap, false), service},
		Infra: embedded.InfraOf(e.sess.IA), DefaultPolicy: placement.LoadBalanced, Now: time.Now().UTC(),
	})
	if err != nil {
		return nil, err
	}
	return propose(action, service, pl, st, e.cfg.PlanText), nil
}

// targetState is the desired state whose plan does action to service:
// only that service (apply), or nothing (destroy).
func targetState(st *desired.State, action Action, service string) (*desired.State, error) {
	t := *st
	t.Services = nil
	switch action {
	case ActionApply:
		for _, s := range st.Services {
			if s.Name == service {
				t.Services = []*desired.Service{s}
			}
		}
		if t.Services == nil {
			return nil, fmt.Errorf("%s is not a service of the manifest %s", service, manifestPath(st))
		}
	case ActionDestroy:
	default:
		return nil, fmt.Errorf("unknown action %q", action)
	}
	return &t, nil
}

func manifestPath(st *desired.State) string {
	if st.Manifest != nil {
		return st.Manifest.Path
	}
	return "(none)"
}

// oneService shows the planner one named service of the records.
type oneService struct {
	plan.Records
	name string
}

func (r oneService) Services() []*records.Service {
	var out []*records.Service
	for _, s := range r.Records.Services() {
		if s.Name == r.name {
			out = append(out, s)
		}
	}
	return out
}

// propose keeps the plan's changes to service (for a destroy, its
// destroys) and renders it.
func propose(action Action, service string, pl *plan.Plan, st *desired.State, text func(*plan.Plan) string) *Proposal {
	var only []*plan.Change
	for _, c := range pl.Changes {
		if c.Service == service && (action != ActionDestroy || c.Action == plan.Destroy) {
			only = append(only, c)
		}
	}
	pl.Changes = only
	pl.Summary = plan.Summarize(only)
	pl.Infeasible = false
	for _, c := range only {
		if c.Infeasible != "" {
			pl.Infeasible = true
		}
	}
	if text == nil {
		text = PlanText
	}
	return &Proposal{Action: action, Service: service, Plan: pl, Text: text(pl), desired: st}
}

// PlanText is a short rendering of a plan, for backends given no
// renderer.
func PlanText(pl *plan.Plan) string {
	if !pl.HasChanges() {
		return "No changes. The service matches the manifest.\n"
	}
	var b strings.Builder
	for _, c := range pl.Changes {
		fmt.Fprintf(&b, "%-3s %s (%s)\n", c.Action.Symbol(), c.Service, c.Action)
		if c.ServiceID != "" {
			fmt.Fprintf(&b, "      Instance: %s\n", c.ServiceID)
		}
		for _, r := range c.Reasons {
			fmt.Fprintf(&b, "      Reason: %s\n", r)
		}
		for _, p := range c.Placement {
			fmt.Fprintf(&b, "      %s -> %s (%d cores, %.0f MB)\n", p.VNFID, p.VIM, p.Cores, p.MemoryMB)
		}
		if c.Infeasible != "" {
			fmt.Fprintf(&b, "      Cannot be placed: %s\n", c.Infeasible)
		}
	}
	return b.String()
}

// Apply implements Backend: the plan must still match the records, then
// it runs through the session's gatekeeper client like `manoctl apply`.
func (e *Embedded) Apply(ctx context.Context, p *Proposal, progress func(string)) error {
	if p == nil || p.Plan == nil || p.desired == nil {
		return errors.New("tui: nothing to apply")
	}
	snap := e.cfg.Store.Snapshot()
	if err := embedded.CheckServing(snap.Reader()); err != nil {
		return err
	}
	recs := plan.FromSnapshot(snap, false)
	st := p.desired
	if err := p.Plan.Check(recs.Lineage(), recs.Index(), st.ManifestDigest, st.DescriptorDigests); err != nil {
		return fmt.Errorf("%w; plan again", err)
	}
	res, err := apply.Run(ctx, e.sess.GK, p.Plan, st, apply.Options{Parallelism: e.cfg.Parallelism, Hook: progressHook{progress}})
	// Save the infrastructure now, not only at exit: a terminal closed
	// under the UI must not lose what this apply deployed.
	if serr := e.sess.Save(); serr != nil && err == nil {
		err = fmt.Errorf("save the infrastructure state: %w", serr)
	}
	if err != nil {
		return err
	}
	for _, c := range res.Changes {
		if c.Err != nil {
			return fmt.Errorf("%s %s: %w", c.Change.Action, c.Change.Service, c.Err)
		}
	}
	return nil
}

// progressHook turns apply's hook calls into status lines.
type progressHook struct{ out func(string) }

func (h progressHook) Started(c *plan.Change, _ string) {
	h.out(fmt.Sprintf("%s: %s started", c.Service, c.Action))
}
func (h progressHook) Status(c *plan.Change, status string) {
	h.out(fmt.Sprintf("%s: %s %s", c.Service, c.Action, status))
}
func (h progressHook) Request(c *plan.Change, what, _ string) {
	h.out(fmt.Sprintf("%s: %s", c.Service, what))
}
func (h progressHook) Done(c *plan.Change, r *apply.ChangeResult) {
	if r.Err != nil {
		h.out(fmt.Sprintf("%s: %s failed: %v", c.Service, c.Action, r.Err))
		return
	}
	h.out(fmt.Sprintf("%s: %s complete", c.Service, c.Action))
}

// PluginLifecycle implements Backend through the plugin manager.
func (e *Embedded) PluginLifecycle(ctx context.Context, uuid, action string) error {
	if e.sess.MANO.PM == nil {
		return errors.New("the plugin manager does not run")
	}
	return e.sess.MANO.PM.Lifecycle(ctx, uuid, action)
}
