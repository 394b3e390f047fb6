package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/manoctl/manoctl/adapters/embedded"
	"github.com/manoctl/manoctl/reconcile/apply"
	"github.com/manoctl/manoctl/reconcile/control"
	"github.com/manoctl/manoctl/reconcile/desired"
	"github.com/manoctl/manoctl/reconcile/plan"
)

func init() {
	commandRegistry = append(commandRegistry, func(f *factory) *cobra.Command { return newCmdDestroy(f) })
}

type destroyOptions struct {
	state       stateFlags
	remote      remoteFlags
	autoApprove bool
}

func newCmdDestroy(f *factory) *cobra.Command {
	opts := &destroyOptions{}
	cmd := &cobra.Command{
		Use:   "destroy [flags] [SERVICE...]",
		Short: "Terminate the services of the manifest (or the named ones)",
		Long: `Terminate every service the manifest declares that is running, or only the
named ones: the plan of a desired state without them. Asks for
confirmation on a terminal unless --auto-approve. With --broker, a
running daemon terminates them.`,
		Example: `  manoctl destroy --auto-approve
  manoctl destroy demo-1
  manoctl destroy --broker amqp://guest:guest@localhost:5672/%2F --auto-approve demo-2`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDestroy(cmd.Context(), f, opts, args)
		},
	}
	opts.state.addState(cmd)
	opts.state.addManifest(cmd)
	opts.remote.add(cmd)
	cmd.Flags().BoolVar(&opts.autoApprove, "auto-approve", false, "destroy without asking for confirmation")
	return cmd
}

// withoutServices is ds minus the named services (all when names is
// empty): the desired state whose plan destroys them.
func withoutServices(ds *desired.State, names []string, manifest string) (*desired.State, map[string]bool, error) {
	drop := map[string]bool{}
	for _, n := range names {
		drop[n] = true
		if ds.Manifest.Services[n] == nil {
			return nil, nil, usageErrorf("destroy: %q is not a service of %s", n, manifest)
		}
	}
	kept := &desired.State{}
	*kept = *ds
	kept.Services = nil
	for _, s := range ds.Services {
		if len(names) > 0 && !drop[s.Name] {
			kept.Services = append(kept.Services, s)
		}
	}
	return kept, drop, nil
}

// onlyDestroys narrows a plan to the destruction of the dropped
// services: other changes the manifest would make are left to apply.
func onlyDestroys(pl *plan.Plan, drop map[string]bool) {
	var only []*plan.Change
	for _, c := range pl.Changes {
		if c.Action == plan.Destroy && (len(drop) == 0 || drop[c.Service]) {
			only = append(only, c)
		}
	}
	pl.Changes = only
	pl.Summary = plan.Summarize(only)
}

func runDestroy(ctx context.Context, f *factory, opts *destroyOptions, names []string) error {
	ds, err := loadDesired(ctx, f, opts.state.manifest)
	if err != nil {
		return err
	}
	kept, drop, err := withoutServices(ds, names, opts.state.manifest)
	if err != nil {
		return err
	}
	if opts.remote.remote() {
		return runDestroyRemote(ctx, f, opts, ds, kept, drop)
	}
	store, err := openRecords(opts.state.dir, false)
	if err != nil {
		return err
	}
	defer store.Close()
	pl, err := embedded.Plan(kept, store, opts.state.dir, false)
	if err != nil {
		return err
	}
	onlyDestroys(pl, drop)
	if !pl.HasChanges() {
		fmt.Fprintln(f.io.Out, "Nothing to destroy.")
		return nil
	}
	planHumanView(f.io.Out, pl, palette{on: f.io.ColorEnabled()}, false)
	plugins, err := servingPluginTable(store)
	if err != nil {
		return err
	}
	if !opts.autoApprove {
		if err := confirm(f.io); err != nil {
			return err
		}
	}
	tuneGCEmbedded()
	p, err := embedded.StartSessionWith(ctx, ds, store, opts.state.dir, func(c *embedded.Config) { c.PluginTable = plugins })
	if err != nil {
		return err
	}
	view := newApplyView(f.io, pl)
	stop := view.follow(store)
	res, runErr := apply.Run(ctx, p.GK, pl, ds, apply.Options{Hook: view})
	stop()
	view.finish()
	if err := p.Close(); err != nil && runErr == nil {
		runErr = err
	}
	if runErr != nil {
		return runErr
	}
	return reportApply(f, res)
}

func runDestroyRemote(ctx context.Context, f *factory, opts *destroyOptions, ds, kept *desired.State, drop map[string]bool) error {
	c, done, err := opts.remote.dial(ctx)
	if err != nil {
		return err
	}
	defer done()
	pl, err := c.Plan(ctx, control.FromState(kept), false)
	if err != nil {
		return err
	}
	onlyDestroys(pl, drop)
	if !pl.HasChanges() {
		fmt.Fprintln(f.io.Out, "Nothing to destroy.")
		return nil
	}
	planHumanView(f.io.Out, pl, palette{on: f.io.ColorEnabled()}, false)
	if !opts.autoApprove {
		if err := confirm(f.io); err != nil {
			return err
		}
	}
	res, err := applyThroughDaemon(ctx, f, c, pl, ds, 0)
	if err != nil {
		return err
	}
	return reportApply(f, res)
}

// reportApply prints an apply's result; exit 1 when a change failed.
func reportApply(f *factory, res *apply.Result) error {
	writeApplyResult(f.io.Out, res, palette{on: f.io.ColorEnabled()})
	if res.Failed() > 0 {
		return silentExit(exitError)
	}
	return nil
}
