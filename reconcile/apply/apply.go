// Package apply executes a plan through the lifecycle engine: for every
// change it sends the gatekeeper requests (service.instances.create,
// service.instance.terminate, service.instances.update,
// service.instance.scale) and follows the SLM's status stream to the end.
// Destroys run first, because they free the capacity the plan counted on;
// the other changes run in parallel, one workflow per service.
//
// The engine reports progress through a Hook, so that the CLI, the TUI and
// the daemon each present it their own way; it never prints.
package apply

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/google/uuid"

	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/desired"
	"github.com/manoctl/manoctl/reconcile/gk"
	"github.com/manoctl/manoctl/reconcile/plan"
	"github.com/manoctl/manoctl/reconcile/wire"
)

// Hook observes an apply. Methods are called from several goroutines.
type Hook interface {
	// Started: a change begins; corrID is the correlation id of its first
	// request (operations in the records carry it).
	Started(c *plan.Change, corrID string)
	// Status: the SLM reported an intermediate status (INSTANTIATING,
	// TERMINATING, SCALING, UPDATING).
	Status(c *plan.Change, status string)
	// Request: a change moves on to its next request (the create after
	// a replace's terminate, a scale after an update).
	Request(c *plan.Change, what, corrID string)
	// Done: the change ended; err is nil on success.
	Done(c *plan.Change, r *ChangeResult)
}

// NilHook ignores everything; embed it to implement only some methods.
type NilHook struct{}

func (NilHook) Started(*plan.Change, string)         {}
func (NilHook) Status(*plan.Change, string)          {}
func (NilHook) Request(*plan.Change, string, string) {}
func (NilHook) Done(*plan.Change, *ChangeResult)     {}

// Options tune a run.
type Options struct {
	// Parallelism bounds concurrent workflows; 0 means 16.
	Parallelism int
	Hook        Hook
}

// ChangeResult is how one change ended.
type ChangeResult struct {
	Change *plan.Change
	// ServiceID is the instance the change produced (create, replace,
	// heal) or acted on.
	ServiceID string
	Err       error
}

// Result is the outcome of a run.
type Result struct {
	Changes []*ChangeResult
}

// Failed counts the changes that ended in error.
func (r *Result) Failed() int {
	n := 0
	for _, c := range r.Changes {
		if c.Err != nil {
			n++
		}
	}
	return n
}

// ErrNotApplyable refuses a plan with infeasible changes.
var ErrNotApplyable = errors.New("plan is not applyable: some changes cannot be placed")

// Run applies p, whose changes refer to the services of st, through c.
func Run(ctx context.Context, c *gk.Client, p *plan.Plan, st *desired.State, opts Options) (*Result, error) {
	if !p.Applyable() {
		return nil, ErrNotApplyable
	}
	if opts.Hook == nil {
		opts.Hook = NilHook{}
	}
	if opts.Parallelism <= 0 {
		opts.Parallelism = 16
	}
	byName := map[string]*desired.Service{}
	for _, s := range st.Services {
		byName[s.Name] = s
	}
	r := &runner{c: c, hook: opts.Hook, byName: byName}
	res := &Result{}
	var destroys, rest []*plan.Change
	for _, ch := range p.Changes {
		if ch.Action == plan.Destroy {
			destroys = append(destroys, ch)
		} else {
			rest = append(rest, ch)
		}
	}
	for _, phase := range [][]*plan.Change{destroys, rest} {
		out := make([]*ChangeResult, len(phase))
		sem := make(chan struct{}, opts.Parallelism)
		var wg sync.WaitGroup
		for i, ch := range phase {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				out[i] = r.change(ctx, ch)
				opts.Hook.Done(ch, out[i])
			}()
		}
		wg.Wait()
		res.Changes = append(res.Changes, out...)
	}
	return res, nil
}

type runner struct {
	c      *gk.Client
	hook   Hook
	byName map[string]*desired.Service
}

func (r *runner) change(ctx context.Context, ch *plan.Change) *ChangeResult {
	res := &ChangeResult{Change: ch, ServiceID: ch.ServiceID}
	d := r.byName[ch.Service]
	if ch.Action != plan.Destroy && d == nil {
		res.Err = fmt.Errorf("service %s is not in the desired state", ch.Service)
		return res
	}
	first := true
	start := func(what string) string {
		id := uuid.NewString()
		if first {
			r.hook.Started(ch, id)
			first = false
		} else {
			r.hook.Request(ch, what, id)
		}
		return id
	}
	status := func(s wire.StatusMessage) { r.hook.Status(ch, s.Status) }
	switch ch.Action {
	case plan.Create:
		res.ServiceID, res.Err = r.create(ctx, d, start, status)
	case plan.Destroy:
		res.Err = r.terminate(ctx, ch.ServiceID, start, status)
	case plan.Replace, plan.Heal:
		if res.Err = r.terminate(ctx, ch.ServiceID, start, status); res.Err == nil {
			res.ServiceID, res.Err = r.create(ctx, d, start, status)
		}
	case plan.Update:
		corr := start("update")
		var out *gk.Result
		out, res.Err = r.c.Update(ctx, ch.ServiceID, d.CreateRequest(), status, bus.WithCorrelationID(corr))
		if res.Err == nil {
			res.Err = out.Err()
		}
		if res.Err == nil {
			res.Err = r.scale(ctx, ch, d, start, status)
		}
	case plan.Scale:
		res.Err = r.scale(ctx, ch, d, start, status)
	default:
		res.Err = fmt.Errorf("unknown action %q", ch.Action)
	}
	if res.Err != nil {
		res.Err = fmt.Errorf("%s %s: %w", ch.Action, ch.Service, res.Err)
	}
	return res
}

func (r *runner) create(ctx context.Context, d *desired.Service, start func(string) string, status gk.StatusFunc) (string, error) {
	corr := start("create")
	out, err := r.c.Create(ctx, d.CreateRequest(), status, bus.WithCorrelationID(corr))
	if err != nil {
		return "", err
	}
	if err := out.Err(); err != nil {
		return "", err
	}
	id, _ := out.Final.NSR["id"].(string)
	if id == "" {
		return "", errors.New("READY without an nsr id")
	}
	// Scale the functions the manifest wants more than once of.
	for _, f := range d.Functions {
		if n := d.Instances[f.VNFID]; n > 1 {
			corr := start("scale " + f.VNFID)
			res, err := r.c.Scale(ctx, wire.ScaleRequest{ServiceInstanceUUID: id, ScalingType: "addvnf", VNFID: f.VNFID, NumberOfInstances: n - 1,
				Manoctl: &wire.CreateOptions{SpecDigest: d.SpecDigest}}, status, bus.WithCorrelationID(corr))
			if err == nil {
				err = res.Err()
			}
			if err != nil {
				return id, fmt.Errorf("scale %s to %d: %w", f.VNFID, n, err)
			}
		}
	}
	return id, nil
}

func (r *runner) terminate(ctx context.Context, id string, start func(string) string, status gk.StatusFunc) error {
	corr := start("terminate")
	out, err := r.c.Terminate(ctx, id, status, bus.WithCorrelationID(corr))
	if err != nil {
		return err
	}
	return out.Err()
}

// scale brings each network function of the change to its target count:
// ch.Scale says from which count (after an update, one instance for each
// replaced network function).
func (r *runner) scale(ctx context.Context, ch *plan.Change, d *desired.Service, start func(string) string, status gk.StatusFunc) error {
	for _, sd := range ch.Scale {
		if sd.From == sd.To {
			continue
		}
		req := wire.ScaleRequest{ServiceInstanceUUID: ch.ServiceID, VNFID: sd.VNFID, Manoctl: &wire.CreateOptions{SpecDigest: d.SpecDigest}}
		if sd.To > sd.From {
			req.ScalingType, req.NumberOfInstances = "addvnf", sd.To-sd.From
		} else {
			req.ScalingType, req.NumberOfInstances = "removevnf", sd.From-sd.To
		}
		corr := start("scale " + sd.VNFID)
		out, err := r.c.Scale(ctx, req, status, bus.WithCorrelationID(corr))
		if err == nil {
			err = out.Err()
		}
		if err != nil {
			return fmt.Errorf("scale %s %d -> %d: %w", sd.VNFID, sd.From, sd.To, err)
		}
	}
	return nil
}
