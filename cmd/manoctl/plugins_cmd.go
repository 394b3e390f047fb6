package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func init() {
	commandRegistry = append(commandRegistry, func(f *factory) *cobra.Command { return newCmdPlugins(f) })
}

// newCmdPlugins is son-pm-cli's lifecycle commands against a daemon's
// plugin manager: the plugin manager sends
// platform.management.plugin.<uuid>.lifecycle.<action> (spec §3.3).
func newCmdPlugins(f *factory) *cobra.Command {
	var rf remoteFlags
	var output string
	cmd := &cobra.Command{
		Use:   "plugins start|pause|stop UUID|NAME --broker URL",
		Short: "Start, pause or stop a plugin of a running daemon",
		Long: `Send a lifecycle command to a plugin registered with a running daemon's
plugin manager, as son-pm-cli lifecycle-start|pause|stop did: the plugin
manager notifies platform.management.plugin.<uuid>.lifecycle.<action>.
A plugin is named by uuid or, when unambiguous, by name. Stop makes a
SONATA plugin deregister and exit.

List plugins with 'manoctl get plugins [--broker URL]'.`,
		Example: `  manoctl plugins pause son-plugin.PlacementPlugin --broker amqp://guest:guest@localhost:5672/%2F
  manoctl plugins start 0a1b2c3d-... --broker amqp://guest:guest@localhost:5672/%2F`,
		ValidArgs: []string{"start", "pause", "stop"},
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return usageErrorf("plugins needs an action (start, pause or stop) and a plugin uuid or name")
			}
			switch args[0] {
			case "start", "pause", "stop":
			default:
				return usageErrorf("plugins: unknown action %q (want start, pause or stop)", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if !rf.remote() {
				return usageErrorf("plugins acts on a running daemon: give --broker URL (plugins run only while a daemon or the tui runs)")
			}
			switch output {
			case "table", "json", "yaml":
			default:
				return usageErrorf("--output: unknown format %q (want table, json or yaml)", output)
			}
			c, done, err := rf.dial(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			r, err := c.Plugins(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			if output == "table" {
				for _, p := range r.Plugins {
					fmt.Fprintf(f.io.ErrOut, "lifecycle.%s sent to %v (%v)\n", args[0], p["name"], p["uuid"])
				}
			}
			return writeItems(f, "plugins", r.Plugins, output)
		},
	}
	rf.add(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table, json or yaml")
	return cmd
}
