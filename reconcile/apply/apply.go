// Package apply executes a plan through the lifecycle engine: for every
// change it sends the gatekeeper requests (service.instances.create,
// service.instance.terminate, service.instances.update,
// service.instance.scale) and follows the SLM's status stream to the end.
// What frees capacity (destroys, the terminate half of replaces and heals,
// the scale-ins of scale changes) runs first, because the plan counted on
// that capacity when it placed what the other changes deploy; then the
// deploying changes run. Independent services change in parallel, one
// workflow per service.
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
//
// It runs in two phases, as the plan's placement preview assumes. The
// first frees capacity: destroys, the terminate half of replaces and
// heals, and the scale-ins of scale changes. The second deploys: creates,
// the create half of replaces and heals, updates (then their scaling) and
// scale-outs. Within a phase, changes run in parallel, at most
// Parallelism at once, unless the VIMs are too full for the deploying
// changes to be placed at once (placeInParallel). A change whose first
// half failed does not get its second. Results list destroys first, then
// the other changes in plan order.
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
	var jobs []*job
	for _, ch := range p.Changes {
		if ch.Action == plan.Destroy {
			jobs = append(jobs, r.newJob(ch))
		}
	}
	for _, ch := range p.Changes {
		if ch.Action != plan.Destroy {
			jobs = append(jobs, r.newJob(ch))
		}
	}
	for i, phase := range []func(context.Context, *job) bool{r.release, r.deploy} {
		n := opts.Parallelism
		if i == 1 && !placeInParallel(p) {
			n = 1
		}
		sem := make(chan struct{}, n)
		var wg sync.WaitGroup
		for _, j := range jobs {
			if j.done {
				continue
			}
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				if phase(ctx, j) {
					j.finish()
				}
			}()
		}
		wg.Wait()
	}
	res := &Result{}
	for _, j := range jobs {
		res.Changes = append(res.Changes, j.res)
	}
	return res, nil
}

// placeInParallel reports whether the deploying changes may run in
// parallel. The placement plugin places each change against the VIMs' use
// at the moment it asks, so changes placed at once may all count on the
// same free room and overfill a VIM that the plan, placing them one after
// the other, found enough. They cannot when every VIM could take all they
// deploy on top of its use before the plan. Otherwise the deploying
// changes run one at a time, in plan order: the order the preview placed
// them in.
func placeInParallel(p *plan.Plan) bool {
	cores, mem := 0, 0.0
	for _, c := range p.Changes {
		for _, fp := range c.Placement {
			cores += fp.Cores
			mem += fp.MemoryMB
		}
	}
	for _, v := range p.VIMs {
		if v.CoresBefore+cores > v.CoresTotal || v.MemoryBeforeMB+mem > v.MemoryTotalMB {
			return false
		}
	}
	return true
}

type runner struct {
	c      *gk.Client
	hook   Hook
	byName map[string]*desired.Service
}

// job is one change on its way through the phases.
type job struct {
	r     *runner
	ch    *plan.Change
	d     *desired.Service
	res   *ChangeResult
	first bool // no request sent yet: the next one is Started
	done  bool
}

func (r *runner) newJob(ch *plan.Change) *job {
	return &job{r: r, ch: ch, d: r.byName[ch.Service], res: &ChangeResult{Change: ch, ServiceID: ch.ServiceID}, first: true}
}

// start names the next request of the change to the hook and returns its
// correlation id.
func (j *job) start(what string) string {
	id := uuid.NewString()
	if j.first {
		j.r.hook.Started(j.ch, id)
		j.first = false
	} else {
		j.r.hook.Request(j.ch, what, id)
	}
	return id
}

func (j *job) status(s wire.StatusMessage) { j.r.hook.Status(j.ch, s.Status) }

// fail records err as the change's outcome; the change is over.
func (j *job) fail(err error) bool {
	j.res.Err = fmt.Errorf("%s %s: %w", j.ch.Action, j.ch.Service, err)
	return true
}

func (j *job) finish() {
	j.done = true
	j.r.hook.Done(j.ch, j.res)
}

// release runs the first phase of a change; it reports whether the change
// is over (done, or failed).
func (r *runner) release(ctx context.Context, j *job) bool {
	ch := j.ch
	if ch.Action != plan.Destroy && j.d == nil {
		j.res.Err = fmt.Errorf("service %s is not in the desired state", ch.Service)
		return true
	}
	switch ch.Action {
	case plan.Destroy:
		if err := r.terminate(ctx, ch.ServiceID, j); err != nil {
			return j.fail(err)
		}
		return true
	case plan.Replace, plan.Heal:
		if err := r.terminate(ctx, ch.ServiceID, j); err != nil {
			return j.fail(err)
		}
	case plan.Scale:
		if err := r.scale(ctx, ch, j.d, j, scaleIn); err != nil {
			return j.fail(err)
		}
	case plan.Create, plan.Update:
	default:
		j.res.Err = fmt.Errorf("%s %s: unknown action %q", ch.Action, ch.Service, ch.Action)
		return true
	}
	return false
}

// deploy runs the second phase of a change; the change is over after it.
func (r *runner) deploy(ctx context.Context, j *job) bool {
	ch, d := j.ch, j.d
	var err error
	switch ch.Action {
	case plan.Create, plan.Replace, plan.Heal:
		j.res.ServiceID, err = r.create(ctx, d, j)
	case plan.Update:
		corr := j.start("update")
		var out *gk.Result
		out, err = r.c.Update(ctx, ch.ServiceID, d.CreateRequest(), j.status, bus.WithCorrelationID(corr))
		if err == nil {
			err = out.Err()
		}
		if err == nil {
			// An update scales once it is done, in both directions.
			if err = r.scale(ctx, ch, d, j, scaleIn); err == nil {
				err = r.scale(ctx, ch, d, j, scaleOut)
			}
		}
	case plan.Scale:
		err = r.scale(ctx, ch, d, j, scaleOut)
	}
	if err != nil {
		return j.fail(err)
	}
	return true
}

func (r *runner) create(ctx context.Context, d *desired.Service, j *job) (string, error) {
	corr := j.start("create")
	out, err := r.c.Create(ctx, d.CreateRequest(), j.status, bus.WithCorrelationID(corr))
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
			corr := j.start("scale " + f.VNFID)
			res, err := r.c.Scale(ctx, wire.ScaleRequest{ServiceInstanceUUID: id, ScalingType: "addvnf", VNFID: f.VNFID, NumberOfInstances: n - 1,
				Manoctl: &wire.CreateOptions{SpecDigest: d.SpecDigest}}, j.status, bus.WithCorrelationID(corr))
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

func (r *runner) terminate(ctx context.Context, id string, j *job) error {
	corr := j.start("terminate")
	out, err := r.c.Terminate(ctx, id, j.status, bus.WithCorrelationID(corr))
	if err != nil {
		return err
	}
	return out.Err()
}

// Directions of scale.
const (
	scaleIn  = false
	scaleOut = true
)

// scale brings the network functions of the change that grow (scaleOut)
// or shrink (scaleIn) to their target counts: ch.Scale says from which
// count (after an update, one instance for each replaced network
// function).
func (r *runner) scale(ctx context.Context, ch *plan.Change, d *desired.Service, j *job, out bool) error {
	for _, sd := range ch.Scale {
		if sd.From == sd.To || (sd.To > sd.From) != out {
			continue
		}
		req := wire.ScaleRequest{ServiceInstanceUUID: ch.ServiceID, VNFID: sd.VNFID, Manoctl: &wire.CreateOptions{SpecDigest: d.SpecDigest}}
		if sd.To > sd.From {
			req.ScalingType, req.NumberOfInstances = "addvnf", sd.To-sd.From
		} else {
			req.ScalingType, req.NumberOfInstances = "removevnf", sd.From-sd.To
		}
		corr := j.start("scale " + sd.VNFID)
		res, err := r.c.Scale(ctx, req, j.status, bus.WithCorrelationID(corr))
		if err == nil {
			err = res.Err()
		}
		if err != nil {
			return fmt.Errorf("scale %s %d -> %d: %w", sd.VNFID, sd.From, sd.To, err)
		}
	}
	return nil
}
