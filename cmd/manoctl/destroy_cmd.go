package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/manoctl/manoctl/adapters/embedded"
	"github.com/manoctl/manoctl/reconcile/apply"
	"github.com/manoctl/manoctl/reconcile/desired"
	"github.com/manoctl/manoctl/reconcile/plan"
)

func init() {
	commandRegistry = append(commandRegistry, func(f *factory) *cobra.Command { return newCmdDestroy(f) })
}

func newCmdDestroy(f *factory) *cobra.Command {
	var st stateFlags
	var autoApprove bool
	cmd := &cobra.Command{
		Use:   "destroy [flags] [SERVICE...]",
		Short: "Terminate the services of the manifest (or the named ones)",
		Long: `Terminate every service the manifest declares that is running, or only the
named ones: the plan of a desired state without them. Asks for
confirmation on a terminal unless --auto-approve.`,
		Example: `  manoctl destroy --auto-approve
  manoctl destroy demo-1`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDestroy(cmd.Context(), f, &st, args, autoApprove)
		},
	}
	st.addState(cmd)
	st.addManifest(cmd)
	cmd.Flags().BoolVar(&autoApprove, "auto-approve", false, "destroy without asking for confirmation")
	return cmd
}

func runDestroy(ctx context.Context, f *factory, st *stateFlags, names []string, autoApprove bool) error {
	store, err := openRecords(st.dir, false)
	if err != nil {
		return err
	}
	defer store.Close()
	ds, err := loadDesired(ctx, f, st.manifest)
	if err != nil {
		return err
	}
	drop := map[string]bool{}
	for _, n := range names {
		drop[n] = true
		if ds.Manifest.Services[n] == nil {
			return usageErrorf("destroy: %q is not a service of %s", n, st.manifest)
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
	pl, err := embedded.Plan(kept, store, st.dir, false)
	if err != nil {
		return err
	}
	// Destroy touches nothing but the services it removes: other changes
	// the manifest would make are left to apply.
	var only []*plan.Change
	for _, c := range pl.Changes {
		if c.Action == plan.Destroy && (len(names) == 0 || drop[c.Service]) {
			only = append(only, c)
		}
	}
	pl.Changes = only
	pl.Summary = plan.Summarize(only)
	if !pl.HasChanges() {
		fmt.Fprintln(f.io.Out, "Nothing to destroy.")
		return nil
	}
	planHumanView(f.io.Out, pl, palette{on: f.io.ColorEnabled()}, false)
	if !autoApprove {
		if err := confirm(f.io); err != nil {
			return err
		}
	}
	p, err := embedded.StartSession(ctx, ds, store, st.dir)
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
	writeApplyResult(f.io.Out, res, palette{on: f.io.ColorEnabled()})
	if res.Failed() > 0 {
		return silentExit(exitError)
	}
	return nil
}
