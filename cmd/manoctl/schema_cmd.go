package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/manoctl/manoctl/reconcile/desired"
	"github.com/manoctl/manoctl/schema"
	"github.com/manoctl/manoctl/schema/cueschema"
)

func init() { commandRegistry = append(commandRegistry, newCmdSchema) }

func newCmdSchema(f *factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schema",
		Short: "Show the embedded CUE schemas",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageErrorf("%s needs a subcommand (show)", cmd.CommandPath())
		},
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "show KIND",
		Short: "Print the CUE schema of one kind (" + kindNames + ", or manifest)",
		Long: `Print the CUE port of son-schema v3.0 for one kind, self-contained, so that
it can be used with the cue tool:

  manoctl schema show vnfd > vnfd.cue
  cue vet -d '#VNFD' vnfd.cue my-vnfd.yml

cue reads YAML as YAML 1.2, where manoctl (like the 2017 tools) reads YAML
1.1: quote yes/no/on/off values when vetting with cue.

'manoctl schema show manifest' prints the schema of manoctl.yaml
(definition #Manifest).`,
		Args:      exactArgs(1, "a KIND ("+kindNames+", or manifest)"),
		ValidArgs: []string{"nsd", "vnfd", "pd", "nsr", "vnfr", "manifest"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] == "manifest" {
				_, err := io.WriteString(f.io.Out, desired.SchemaSource())
				return err
			}
			k, ok := schema.ParseKind(args[0])
			if !ok {
				return usageErrorf("unknown kind %q (want %s)", args[0], kindNames)
			}
			src, err := cueschema.Source(cueschema.Kind(k))
			if err != nil {
				return err
			}
			if _, err := f.io.Out.Write(src); err != nil {
				return fmt.Errorf("schema show: %w", err)
			}
			return nil
		},
	})
	return cmd
}
