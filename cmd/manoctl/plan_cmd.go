package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/manoctl/manoctl/adapters/embedded"
	"github.com/manoctl/manoctl/reconcile/control"
	"github.com/manoctl/manoctl/reconcile/plan"
)

func init() {
	commandRegistry = append(commandRegistry, func(f *factory) *cobra.Command { return newCmdPlan(f, nil) })
}

type planOptions struct {
	state        stateFlags
	remote       remoteFlags
	output       string
	out          string
	detailedExit bool
	detailed     bool
}

func newCmdPlan(f *factory, runF func(context.Context, *planOptions) error) *cobra.Command {
	opts := &planOptions{}
	cmd := &cobra.Command{
		Use:   "plan [flags]",
		Short: "Show what apply would change to make the services match the manifest",
		Long: `Compare the services the manifest declares with the running services
(the records in the state directory, refreshed against the infrastructure)
and show what apply would do: create, destroy, update in place, scale,
replace or heal each service, with the reason, where every new function
would be placed and why, and what that does to each VIM.

Every descriptor the manifest uses is validated first (all levels).

With -out FILE the plan is saved; 'manoctl apply FILE' applies exactly it,
and refuses when the records, the manifest or the descriptors changed in
between.

Exit status: 0 success (with --detailed-exitcode: no changes), 2 changes
present (with --detailed-exitcode), 3 invalid manifest or descriptors,
1 any other error, including a plan that cannot be placed.`,
		Example: `  manoctl plan
  manoctl plan -f services.yaml -out plan.json
  manoctl plan -o json | jq .summary`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch opts.output {
			case "text", "json":
			default:
				return usageErrorf("--output: unknown format %q (want text or json)", opts.output)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runPlan(cmd.Context(), f, opts)
		},
	}
	opts.state.addState(cmd)
	opts.state.addManifest(cmd)
	opts.remote.add(cmd)
	cmd.Flags().StringVarP(&opts.output, "output", "o", "text", "output format: text or json")
	cmd.Flags().StringVar(&opts.out, "out", "", "save the plan to FILE for 'manoctl apply FILE'")
	cmd.Flags().BoolVar(&opts.detailedExit, "detailed-exitcode", false, "exit 2 when there are changes, 0 when there are none")
	cmd.Flags().BoolVar(&opts.detailed, "detailed", false, "also list services without changes")
	return cmd
}

func runPlan(ctx context.Context, f *factory, opts *planOptions) error {
	st, err := loadDesired(ctx, f, opts.state.manifest)
	if err != nil {
		return err
	}
	if abs, err := filepath.Abs(opts.state.manifest); err == nil {
		st.Manifest.Path = abs
	}
	var pl *plan.Plan
	if opts.remote.remote() {
		c, done, err := opts.remote.dial(ctx)
		if err != nil {
			return err
		}
		defer done()
		if pl, err = c.Plan(ctx, control.FromState(st), opts.detailed); err != nil {
			return err
		}
	} else {
		store, err := openRecords(opts.state.dir, true)
		if err != nil {
			return err
		}
		defer store.Close()
		if pl, err = embedded.Plan(st, store, opts.state.dir, opts.detailed); err != nil {
			return err
		}
	}
	pl.ManifestPath = st.Manifest.Path
	switch opts.output {
	case "json":
		if err := planJSONView(f.io.Out, pl); err != nil {
			return err
		}
	default:
		planHumanView(f.io.Out, pl, palette{on: f.io.ColorEnabled()}, opts.detailed)
	}
	if opts.out != "" {
		if err := savePlan(opts.out, pl); err != nil {
			return err
		}
		if opts.output == "text" {
			fmt.Fprintf(f.io.ErrOut, "Saved the plan to %s. Apply exactly it with: manoctl apply %s\n", opts.out, opts.out)
		}
	}
	switch {
	case pl.Infeasible:
		return silentExit(exitError)
	case opts.detailedExit && pl.HasChanges():
		return silentExit(exitChanges)
	}
	return nil
}

// savePlan writes a plan file readable only by its owner: it names the
// infrastructure and the records it was made for.
func savePlan(path string, pl *plan.Plan) error {
	b, err := json.MarshalIndent(pl, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("plan: save: %w", err)
	}
	return os.Chmod(path, 0o600)
}

// readPlan loads a saved plan.
func readPlan(path string) (*plan.Plan, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	var pl plan.Plan
	if err := json.Unmarshal(b, &pl); err != nil {
		return nil, &codedError{code: exitInvalid, err: fmt.Errorf("plan file %s is not a manoctl plan: %w", path, err)}
	}
	if pl.FormatVersion == "" || pl.FormatVersion[0] != plan.FormatVersion[0] {
		return nil, &codedError{code: exitInvalid, err: fmt.Errorf("plan file %s has format %q; this manoctl reads %s", path, pl.FormatVersion, plan.FormatVersion)}
	}
	return &pl, nil
}
