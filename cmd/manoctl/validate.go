package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/manoctl/manoctl/cmd/manoctl/internal/iostreams"
	"github.com/manoctl/manoctl/schema"
	"github.com/manoctl/manoctl/schema/report"
	"github.com/manoctl/manoctl/schema/syntax"
	"github.com/manoctl/manoctl/schema/validate"
)

func init() {
	commandRegistry = append(commandRegistry, func(f *factory) *cobra.Command { return newCmdValidate(f, nil) })
}

// validateOptions are the parsed flags of manoctl validate.
type validateOptions struct {
	io            *iostreams.IOStreams
	paths         []string
	level         schema.Level
	kind          schema.Kind
	output        string
	strict        bool
	strictRecords bool
	engine        syntax.Engine
}

func newCmdValidate(f *factory, runF func(context.Context, *validateOptions) error) *cobra.Command {
	opts := &validateOptions{io: f.io}
	var level, kind, engine string
	cmd := &cobra.Command{
		Use:   "validate [flags] PATH...",
		Short: "Validate SONATA descriptors, records and .son packages",
		Long: `Validate SONATA descriptors (NSD, VNFD), package descriptors (PD) and
records (NSR, VNFR) against the 2017 son-schema v3.0, then check references
(integrity) and the service graph (topology) across all inputs together.

PATH is a YAML or JSON file, a directory (searched recursively for .yml,
.yaml, .json and .son), a .son package (zip or unpacked directory), or "-"
for standard input. The kind of each document is detected from its content;
--kind overrides it for loose files.

Findings are printed one per line, sorted by position:

  file:line:col: severity CODE: message (at /json/pointer)

Beside the son-schema v3.0 verdict, manoctl reports its corrected rules for
the schema's known defects as warnings (codes schema.corrected.*). Record
(NSR, VNFR) schema findings are warnings unless --strict-records.

Exit status: 0 valid (warnings allowed), 3 invalid (or warnings with
--strict), 1 an input could not be read, 64 usage error.`,
		Example: `  manoctl validate service/
  manoctl validate --level syntax nsd.yml vnfd/*.yml
  manoctl validate -o sarif package.son > results.sarif
  cat vnfd.yml | manoctl validate --kind vnfd -`,
		Args: minArgs(1, "at least one PATH (use - for standard input)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.paths = args
			var err error
			if opts.level, err = schema.ParseLevel(level); err != nil {
				return usageErrorf("--level: %v", err)
			}
			if kind != "" {
				k, ok := schema.ParseKind(kind)
				if !ok {
					return usageErrorf("--kind: unknown kind %q (want nsd, vnfd, pd, nsr or vnfr)", kind)
				}
				opts.kind = k
			}
			switch opts.output {
			case "text", "json", "sarif":
			default:
				return usageErrorf("--output: unknown format %q (want text, json or sarif)", opts.output)
			}
			if opts.engine, err = syntax.ParseEngine(engine); err != nil {
				return usageErrorf("--engine: %v", err)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runValidate(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&level, "level", "topology", "deepest level to check: syntax, integrity or topology (each includes the ones before)")
	fl.StringVar(&kind, "kind", "", "treat every loose document as this kind: nsd, vnfd, pd, nsr or vnfr")
	fl.StringVarP(&opts.output, "output", "o", "text", "output format: text, json or sarif")
	fl.BoolVar(&opts.strict, "strict", false, "fail on warnings too")
	fl.BoolVar(&opts.strictRecords, "strict-records", false, "report NSR/VNFR schema findings as errors, not warnings")
	fl.StringVar(&engine, "engine", "fast", "syntax engine: fast (compiled from the CUE schemas) or cue (the CUE evaluator, slower)")
	_ = cmd.RegisterFlagCompletionFunc("level", fixedCompletions("syntax", "integrity", "topology"))
	_ = cmd.RegisterFlagCompletionFunc("kind", fixedCompletions("nsd", "vnfd", "pd", "nsr", "vnfr"))
	_ = cmd.RegisterFlagCompletionFunc("output", fixedCompletions("text", "json", "sarif"))
	_ = cmd.RegisterFlagCompletionFunc("engine", fixedCompletions("fast", "cue"))
	return cmd
}

func fixedCompletions(values ...string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}

func runValidate(ctx context.Context, opts *validateOptions) error {
	rep, err := validate.Paths(ctx, opts.paths,
		schema.LoadOptions{Kind: opts.kind, Stdin: opts.io.In},
		validate.Options{Level: opts.level, Engine: opts.engine, StrictRecords: opts.strictRecords})
	if err != nil {
		return err
	}
	switch opts.output {
	case "json":
		err = report.JSON(opts.io.Out, rep, opts.strict)
	case "sarif":
		err = report.SARIF(opts.io.Out, rep, currentVersion().Version)
	default:
		err = report.Text(opts.io.Out, rep)
		if err == nil {
			summary := rep.Summary()
			if rep.Unreadable() {
				summary += "; some input could not be read"
			}
			fmt.Fprintln(opts.io.ErrOut, summary)
		}
	}
	if err != nil {
		return fmt.Errorf("validate: write report: %w", err)
	}
	switch {
	case rep.Unreadable():
		return silentExit(exitError)
	case rep.Failed(opts.strict):
		return silentExit(exitInvalid)
	}
	return nil
}

// kindNames is for help texts.
var kindNames = strings.Join([]string{"nsd", "vnfd", "pd", "nsr", "vnfr"}, ", ")
