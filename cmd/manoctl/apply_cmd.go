package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/manoctl/manoctl/adapters/embedded"
	"github.com/manoctl/manoctl/cmd/manoctl/internal/iostreams"
	"github.com/manoctl/manoctl/reconcile/apply"
	"github.com/manoctl/manoctl/reconcile/control"
	"github.com/manoctl/manoctl/reconcile/desired"
	"github.com/manoctl/manoctl/reconcile/plan"
	"github.com/manoctl/manoctl/reconcile/records"
)

func init() {
	commandRegistry = append(commandRegistry, func(f *factory) *cobra.Command { return newCmdApply(f, nil) })
}

type applyOptions struct {
	state       stateFlags
	remote      remoteFlags
	planFile    string
	autoApprove bool
	parallelism int
}

func newCmdApply(f *factory, runF func(context.Context, *applyOptions) error) *cobra.Command {
	opts := &applyOptions{}
	cmd := &cobra.Command{
		Use:   "apply [flags] [PLANFILE]",
		Short: "Make the running services match the manifest",
		Long: `Compute the plan (as 'manoctl plan' shows it), ask for confirmation on a
terminal unless --auto-approve, and run the changes through the MANO
lifecycle: the gatekeeper requests go to the SLM, which drives placement,
the FLM and the infrastructure adaptor. Destroys run first; the other
services change in parallel. Running apply again after a failure picks up
where it stopped.

With PLANFILE, apply exactly that saved plan; it is refused (exit 4) when
the records, the manifest or the descriptors changed since it was made.

Exit status: 0 success, 1 some change failed (the others are applied),
3 invalid manifest or descriptors, 4 stale plan or state locked by another
process.`,
		Example: `  manoctl apply
  manoctl apply --auto-approve
  manoctl plan -out plan.json && manoctl apply plan.json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageErrorf("apply takes at most one PLANFILE, got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.planFile = args[0]
				if cmd.Flags().Changed("file") {
					return usageErrorf("give either a PLANFILE or -f, not both: a saved plan names its manifest")
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runApply(cmd.Context(), f, opts)
		},
	}
	opts.state.addState(cmd)
	opts.state.addManifest(cmd)
	opts.remote.add(cmd)
	cmd.Flags().BoolVar(&opts.autoApprove, "auto-approve", false, "apply without asking for confirmation")
	cmd.Flags().IntVar(&opts.parallelism, "parallelism", 16, "services changed at once")
	return cmd
}

func runApply(ctx context.Context, f *factory, opts *applyOptions) error {
	if opts.remote.remote() {
		return runApplyRemote(ctx, f, opts)
	}
	store, err := openRecords(opts.state.dir, false)
	if err != nil {
		return err
	}
	defer store.Close()
	var st *desired.State
	var pl *plan.Plan
	if opts.planFile != "" {
		if pl, err = readPlan(opts.planFile); err != nil {
			return err
		}
		if st, err = loadDesired(ctx, f, pl.ManifestPath); err != nil {
			return err
		}
		recs := plan.FromSnapshot(store.Snapshot(), false)
		if err := pl.Check(recs.Lineage(), recs.Index(), st.ManifestDigest, st.DescriptorDigests); err != nil {
			return err
		}
	} else {
		if st, err = loadDesired(ctx, f, opts.state.manifest); err != nil {
			return err
		}
		if pl, err = embedded.Plan(st, store, opts.state.dir, false); err != nil {
			return err
		}
		if abs, err := filepath.Abs(opts.state.manifest); err == nil {
			pl.ManifestPath = abs
		}
		planHumanView(f.io.Out, pl, palette{on: f.io.ColorEnabled()}, false)
	}
	if pl.Infeasible {
		return withCode(exitError, apply.ErrNotApplyable)
	}
	if !pl.HasChanges() {
		if opts.planFile != "" {
			fmt.Fprintln(f.io.Out, "The plan has no changes.")
		}
		return nil
	}
	plugins, err := servingPluginTable(store)
	if err != nil {
		return err
	}
	if opts.planFile == "" && !opts.autoApprove {
		if err := confirm(f.io); err != nil {
			return err
		}
	}
	tuneGCEmbedded()
	p, err := embedded.StartSessionWith(ctx, st, store, opts.state.dir, func(c *embedded.Config) { c.PluginTable = plugins })
	if err != nil {
		return err
	}
	view := newApplyView(f.io, pl)
	stopEvents := view.follow(store)
	res, runErr := apply.Run(ctx, p.GK, pl, st, apply.Options{Parallelism: opts.parallelism, Hook: view})
	stopEvents()
	view.finish()
	if err := p.Close(); err != nil && runErr == nil {
		runErr = err
	}
	if runErr != nil {
		return runErr
	}
	return reportApply(f, res)
}

// confirm asks on a terminal; without one apply must be told.
func confirm(ios *iostreams.IOStreams) error {
	if !ios.CanPrompt() {
		return withCode(exitError, errors.New("apply needs confirmation, and there is no terminal to ask: pass --auto-approve"))
	}
	fmt.Fprint(ios.ErrOut, "\nDo you want to apply these changes? Only 'yes' will be accepted: ")
	line, _ := bufio.NewReader(ios.In).ReadString('\n')
	if strings.TrimSpace(line) != "yes" {
		return withCode(exitError, errors.New("apply cancelled"))
	}
	return nil
}

// applyView shows progress: one line per event on a plain stream, a live
// table on a terminal. It is the apply Hook and follows operation steps
// from the records' change events.
type applyView struct {
	apply.NilHook
	w     io.Writer
	live  bool
	col   palette
	start time.Time

	mu      sync.Mutex
	rows    []*progressRow
	byName  map[string]*progressRow
	byCorr  map[string]*progressRow
	drawn   int
	stop    chan struct{}
	stopped chan struct{}
}

type progressRow struct {
	change  *plan.Change
	state   string // what the row shows: status, step
	started time.Time
	done    bool
	failed  bool
}

func newApplyView(ios *iostreams.IOStreams, pl *plan.Plan) *applyView {
	v := &applyView{w: ios.ErrOut, live: ios.IsStderrTTY(), col: palette{on: ios.ColorEnabledErr()}, start: time.Now(),
		byName: map[string]*progressRow{}, byCorr: map[string]*progressRow{}}
	for _, c := range pl.Changes {
		r := &progressRow{change: c, state: "waiting"}
		v.rows = append(v.rows, r)
		v.byName[c.Service+"\x00"+c.ServiceID] = r
	}
	if v.live {
		v.stop, v.stopped = make(chan struct{}), make(chan struct{})
		go v.redrawLoop()
	}
	return v
}

func (v *applyView) row(c *plan.Change) *progressRow { return v.byName[c.Service+"\x00"+c.ServiceID] }

func (v *applyView) Started(c *plan.Change, corr string) {
	v.mu.Lock()
	r := v.row(c)
	r.started, r.state = time.Now(), "requested"
	v.byCorr[corr] = r
	v.mu.Unlock()
	v.line(c, fmt.Sprintf("%s started", c.Action))
}

func (v *applyView) Request(c *plan.Change, what, corr string) {
	v.mu.Lock()
	r := v.row(c)
	r.state = what
	v.byCorr[corr] = r
	v.mu.Unlock()
	v.line(c, what)
}

func (v *applyView) Status(c *plan.Change, status string) {
	v.mu.Lock()
	v.row(c).state = status
	v.mu.Unlock()
	v.line(c, status)
}

func (v *applyView) Done(c *plan.Change, res *apply.ChangeResult) {
	v.mu.Lock()
	r := v.row(c)
	r.done, r.failed = true, res.Err != nil
	took := time.Since(r.started).Round(time.Millisecond)
	if res.Err != nil {
		r.state = "failed: " + res.Err.Error()
	} else {
		r.state = fmt.Sprintf("%s complete after %s", c.Action, took)
	}
	v.mu.Unlock()
	v.line(c, r.state)
}

// step reports an operation step from the records.
func (v *applyView) step(corr, step, status string) {
	v.mu.Lock()
	r := v.byCorr[corr]
	if r == nil || r.done {
		v.mu.Unlock()
		return
	}
	r.state = step + " " + status
	c := r.change
	v.mu.Unlock()
	v.line(c, "step "+step+" "+status)
}

// line prints one progress line on a plain stream.
func (v *applyView) line(c *plan.Change, msg string) {
	if v.live {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	fmt.Fprintf(v.w, "%s: %s\n", c.Service, msg)
}

// follow turns operation-step changes in the records into progress.
func (v *applyView) follow(store *records.Store) func() {
	sub := store.Subscribe(4096)
	done := make(chan struct{})
	go func() {
		defer close(done)
		seen := map[string]int{}
		for batch := range sub.C {
			for _, e := range batch.Events {
				op, ok := e.Object.(*records.Operation)
				if !ok || e.Table != records.TableOperations {
					continue
				}
				for i := seen[op.ID]; i < len(op.Steps); i++ {
					st := op.Steps[i]
					if st.Status == records.StepRunning {
						continue // reported when it ends, or shown live below
					}
					v.step(op.CorrelationID, st.Name, string(st.Status))
					seen[op.ID] = i + 1
				}
				if n := len(op.Steps); n > 0 && op.Steps[n-1].Status == records.StepRunning && v.live {
					v.step(op.CorrelationID, op.Steps[n-1].Name, "...")
				}
			}
		}
	}()
	return func() {
		sub.Close()
		<-done
	}
}

func (v *applyView) redrawLoop() {
	defer close(v.stopped)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-v.stop:
			v.redraw()
			return
		case <-t.C:
			v.redraw()
		}
	}
}

func (v *applyView) redraw() {
	v.mu.Lock()
	defer v.mu.Unlock()
	var b strings.Builder
	if v.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", v.drawn)
	}
	spin := `|/-\`[int(time.Since(v.start)/(150*time.Millisecond))%4]
	for _, r := range v.rows {
		mark := string(spin)
		switch {
		case r.failed:
			mark = v.col.red("x")
		case r.done:
			mark = v.col.green("✓")
		case r.started.IsZero():
			mark = " "
		}
		fmt.Fprintf(&b, "\x1b[2K %s %-3s %-24s %s\n", mark, r.change.Action.Symbol(), r.change.Service, r.state)
	}
	v.drawn = len(v.rows)
	io.WriteString(v.w, b.String())
}

func (v *applyView) finish() {
	if v.live {
		close(v.stop)
		<-v.stopped
	}
}

// writeApplyResult prints the outcome per service and the totals.
func writeApplyResult(w io.Writer, res *apply.Result, col palette) {
	changes := append([]*apply.ChangeResult(nil), res.Changes...)
	sort.SliceStable(changes, func(i, j int) bool { return changes[i].Change.Service < changes[j].Change.Service })
	ok := 0
	for _, c := range changes {
		if c.Err != nil {
			fmt.Fprintf(w, "%s %s: %s\n", col.red("Error:"), c.Change.Service, c.Err)
			continue
		}
		ok++
		id := c.ServiceID
		if c.Change.Action == plan.Destroy {
			id = "destroyed"
		}
		fmt.Fprintf(w, "%s %s (%s): %s\n", col.action(c.Change.Action, c.Change.Action.Symbol()), c.Change.Service, c.Change.Action, id)
	}
	if res.Failed() > 0 {
		fmt.Fprintf(w, "\n%s %d of %d changes applied, %d failed. Run 'manoctl apply' again to retry what failed.\n",
			col.red("Apply incomplete!"), ok, len(changes), res.Failed())
		return
	}
	fmt.Fprintf(w, "\n%s %d changes applied.\n", col.green("Apply complete!"), ok)
}

// runApplyRemote plans and applies through a daemon.
func runApplyRemote(ctx context.Context, f *factory, opts *applyOptions) error {
	c, done, err := opts.remote.dial(ctx)
	if err != nil {
		return err
	}
	defer done()
	var st *desired.State
	var pl *plan.Plan
	if opts.planFile != "" {
		if pl, err = readPlan(opts.planFile); err != nil {
			return err
		}
		if st, err = loadDesired(ctx, f, pl.ManifestPath); err != nil {
			return err
		}
	} else {
		if st, err = loadDesired(ctx, f, opts.state.manifest); err != nil {
			return err
		}
		if abs, err := filepath.Abs(opts.state.manifest); err == nil {
			st.Manifest.Path = abs
		}
		if pl, err = c.Plan(ctx, control.FromState(st), false); err != nil {
			return err
		}
		pl.ManifestPath = st.Manifest.Path
		planHumanView(f.io.Out, pl, palette{on: f.io.ColorEnabled()}, false)
	}
	if pl.Infeasible {
		return withCode(exitError, apply.ErrNotApplyable)
	}
	if !pl.HasChanges() {
		return nil
	}
	if opts.planFile == "" && !opts.autoApprove {
		if err := confirm(f.io); err != nil {
			return err
		}
	}
	res, err := applyThroughDaemon(ctx, f, c, pl, st, opts.parallelism)
	if err != nil {
		return err
	}
	return reportApply(f, res)
}

// applyThroughDaemon sends a plan to the daemon and shows its progress
// like a local apply.
func applyThroughDaemon(ctx context.Context, f *factory, c *control.Client, pl *plan.Plan, st *desired.State, parallelism int) (*apply.Result, error) {
	view := newApplyView(f.io, pl)
	byService := map[string]*plan.Change{}
	for _, ch := range pl.Changes {
		byService[ch.Service] = ch
	}
	final, err := c.Apply(ctx, control.ApplyRequest{Plan: pl, Desired: control.FromState(st), Parallelism: parallelism}, func(p control.Progress) {
		ch := byService[p.Service]
		if ch == nil {
			return
		}
		switch p.Kind {
		case "started":
			view.Started(ch, p.What)
		case "request":
			view.Request(ch, p.What, "")
		case "status":
			view.Status(ch, p.Status)
		case "done":
			r := &apply.ChangeResult{Change: ch, ServiceID: p.ServiceID}
			if p.Error != "" {
				r.Err = errors.New(p.Error)
			}
			view.Done(ch, r)
		}
	})
	view.finish()
	if err != nil {
		return nil, err
	}
	res := &apply.Result{}
	for _, r := range final.Results {
		ch := byService[r.Service]
		if ch == nil {
			ch = &plan.Change{Service: r.Service, Action: r.Action}
		}
		cr := &apply.ChangeResult{Change: ch, ServiceID: r.ServiceID}
		if r.Error != "" {
			cr.Err = errors.New(r.Error)
		}
		res.Changes = append(res.Changes, cr)
	}
	return res, nil
}
