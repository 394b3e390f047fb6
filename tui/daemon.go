package tui

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/control"
	"github.com/manoctl/manoctl/reconcile/desired"
	"github.com/manoctl/manoctl/reconcile/plan"
)

// DaemonConfig configures the daemon backend.
type DaemonConfig struct {
	// Bus is the connection to the daemon's broker and exchange.
	Bus bus.Bus
	// Client talks to the daemon over Bus.
	Client *control.Client
	// Source is shown in the header ("daemon amqp://host/ son-kernel").
	Source string
	// Desired loads the manifest for plan, apply and destroy (read again
	// at each plan); nil disables them (ErrNoManifest).
	Desired func(ctx context.Context) (*desired.State, error)
	// Manifest and Services describe the manifest as loaded at start.
	Manifest string
	Services []string
	// PlanText renders a plan; nil uses PlanText.
	PlanText func(*plan.Plan) string
	// Retry is the wait between attempts when the daemon does not answer
	// (0: 3 s).
	Retry time.Duration
}

// Daemon shows a running manoctl daemon: the records from control Get
// requests, then the daemon's record events (manoctl.events.<table>),
// and the broker's traffic from a private subscription to "#".
type Daemon struct {
	cfg    DaemonConfig
	resync chan struct{}
}

// NewDaemon returns the daemon backend.
func NewDaemon(cfg DaemonConfig) *Daemon {
	if cfg.Retry <= 0 {
		cfg.Retry = 3 * time.Second
	}
	return &Daemon{cfg: cfg, resync: make(chan struct{}, 1)}
}

// Resync makes Run load every record again: call it when the broker
// connection came back, since events published meanwhile are lost.
func (d *Daemon) Resync() {
	select {
	case d.resync <- struct{}{}:
	default:
	}
}

// Info implements Backend.
func (d *Daemon) Info() Info {
	return Info{Source: d.cfg.Source, Manifest: d.cfg.Manifest, Desired: d.cfg.Services}
}

// getKinds are the record kinds Run loads, in control Get's names.
var getKinds = []Kind{KindPlugin, KindVIM, KindService, KindFunction, KindOperation}

// Run implements Backend. The event subscription is made before the
// records are loaded, and events that arrive while they load are held
// back and replayed after the Reset, in order, so that nothing committed
// in between is missed.
func (d *Daemon) Run(ctx context.Context, sink Sink) error {
	var mu sync.Mutex
	holding := true
	var held []Change
	evSub, err := d.cfg.Bus.Subscribe(ctx, control.TopicEvents+".#", func(_ context.Context, m *bus.Message) {
		var e control.Event
		if m.Decode(&e) != nil {
			return
		}
		if e.Op == "resync" {
			// The daemon's own subscription fell behind: reload.
			d.Resync()
			return
		}
		c, err := EventChange(e)
		if err != nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if holding {
			held = append(held, c)
			return
		}
		sink.Change(c)
	})
	if err != nil {
		return fmt.Errorf("tui: subscribe to the daemon's events: %w", err)
	}
	defer evSub.Unsubscribe()
	tap, err := d.cfg.Bus.Subscribe(ctx, "#", func(_ context.Context, m *bus.Message) {
		sink.Traffic(time.Now(), m)
	})
	if err != nil {
		return fmt.Errorf("tui: subscribe to the bus: %w", err)
	}
	defer tap.Unsubscribe()

	load := func() bool {
		for {
			rows, err := d.load(ctx)
			if err == nil {
				mu.Lock()
				sink.Reset(rows)
				for _, c := range held {
					sink.Change(c)
				}
				held, holding = nil, false
				mu.Unlock()
				return true
			}
			if ctx.Err() != nil {
				return false
			}
			sink.Notice("error: " + err.Error() + "; retrying")
			select {
			case <-ctx.Done():
				return false
			case <-time.After(d.cfg.Retry):
			}
		}
	}
	if !load() {
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-d.resync:
			mu.Lock()
			holding, held = true, nil
			mu.Unlock()
			sink.Notice("reconnected to the broker: reloading the records")
			if !load() {
				return nil
			}
		}
	}
}

func (d *Daemon) load(ctx context.Context) ([]Change, error) {
	var rows []Change
	for _, k := range getKinds {
		r, err := d.cfg.Client.Get(ctx, k.String(), true)
		if err != nil {
			return nil, fmt.Errorf("get %s: %w", k, err)
		}
		for _, it := range r.Items {
			if key, row := ItemRow(k, it); key != "" {
				rows = append(rows, Change{Kind: k, Key: key, Row: row})
			}
		}
	}
	return rows, nil
}

// Plan implements Backend: the daemon plans the manifest (or, for a
// destroy, the manifest without the service) and the changes to the
// service are kept. The VIM figures are those of the whole plan.
func (d *Daemon) Plan(ctx context.Context, action Action, service string) (*Proposal, error) {
	if d.cfg.Desired == nil {
		return nil, ErrNoManifest
	}
	st, err := d.cfg.Desired(ctx)
	if err != nil {
		return nil, err
	}
	target := st
	if action == ActionDestroy {
		t := *st
		t.Services = nil
		for _, s := range st.Services {
			if s.Name != service {
				t.Services = append(t.Services, s)
			}
		}
		target = &t
	} else if _, err := targetState(st, action, service); err != nil {
		return nil, err
	}
	pl, err := d.cfg.Client.Plan(ctx, control.FromState(target), false)
	if err != nil {
		return nil, err
	}
	p := propose(action, service, pl, target, d.cfg.PlanText)
	return p, nil
}

// Apply implements Backend: the daemon applies the plan (refusing it
// when its records moved) and streams progress.
func (d *Daemon) Apply(ctx context.Context, p *Proposal, progress func(string)) error {
	if p == nil || p.Plan == nil || p.desired == nil {
		return errors.New("tui: nothing to apply")
	}
	res, err := d.cfg.Client.Apply(ctx, control.ApplyRequest{Plan: p.Plan, Desired: control.FromState(p.desired)}, func(pr control.Progress) {
		progress(progressLine(pr))
	})
	if err != nil {
		return err
	}
	for _, r := range res.Results {
		if r.Error != "" {
			return fmt.Errorf("%s %s: %s", r.Action, r.Service, r.Error)
		}
	}
	return nil
}

func progressLine(p control.Progress) string {
	switch p.Kind {
	case "started":
		return fmt.Sprintf("%s: %s started", p.Service, p.Action)
	case "status":
		return fmt.Sprintf("%s: %s %s", p.Service, p.Action, p.Status)
	case "request":
		return fmt.Sprintf("%s: %s", p.Service, p.What)
	case "step":
		return fmt.Sprintf("%s: step %s %s", p.Service, p.What, p.Status)
	case "done":
		if p.Error != "" {
			return fmt.Sprintf("%s: %s failed: %s", p.Service, p.Action, p.Error)
		}
		return fmt.Sprintf("%s: %s complete", p.Service, p.Action)
	}
	return fmt.Sprintf("%s: %s %s %s", p.Service, p.Kind, p.What, p.Status)
}

// PluginLifecycle implements Backend.
func (d *Daemon) PluginLifecycle(ctx context.Context, uuid, action string) error {
	_, err := d.cfg.Client.Plugins(ctx, action, uuid)
	return err
}
