package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/manoctl/manoctl/adapters/embedded"
	"github.com/manoctl/manoctl/reconcile/control"
	"github.com/manoctl/manoctl/reconcile/mano"
	"github.com/manoctl/manoctl/reconcile/pm"
	"github.com/manoctl/manoctl/reconcile/records"
)

func init() {
	commandRegistry = append(commandRegistry, func(f *factory) *cobra.Command { return newCmdPlugins(f) })
}

// pluginWait is how long a lifecycle command waits, by default, for the
// plugin to report the state it asked for.
const pluginWait = 10 * time.Second

// pluginsHelp is the part of the help the plugins commands share.
const pluginsHelp = `A plugin is named by uuid or by name. A name that several plugins share
(a restarted daemon's plugins register again, under new uuids) names the
one that is neither FAILED nor STOPPED; when that is still not one
plugin, the command lists the candidates and exits 64.

With --broker the commands act on a running daemon's plugin manager.
Without it they act on the embedded platform of the state directory,
whose plugins run only while a command runs (apply, destroy, plugins).
Its plugin table is kept in the state directory as the last run left it:
every run registers the plugins anew, under new uuids, and the table
keeps each plugin's state and last heartbeat; a plugin that was running
is IDLE once the run ends (it runs again with the next command). A
paused or stopped plugin stays so: the next run pauses it again, or does not start it. The
embedded platform does not serve without all its plugins: apply and
destroy refuse to run (exit 1, naming the plugin) until 'manoctl plugins
start NAME' resumes it. A daemon's paused plugin reports PAUSED but, as
in 2017, keeps handling requests.`

func newCmdPlugins(f *factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plugins",
		Short: "List, describe, start, pause or stop the MANO plugins",
		Long: `List and describe the plugins registered with the plugin manager, and
send them lifecycle commands, as son-pm-cli did (list, info,
lifecycle-start|pause|stop): the plugin manager notifies
platform.management.plugin.<uuid>.lifecycle.<start|pause|stop>.

` + pluginsHelp,
		Example: `  manoctl plugins list
  manoctl plugins describe son-plugin.PlacementPlugin -o json
  manoctl plugins pause son-plugin.PlacementPlugin
  manoctl plugins start son-plugin.PlacementPlugin --broker amqp://guest:guest@localhost:5672/%2F`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf("plugins needs a command: list, describe, start, pause or stop")
			}
			return usageErrorf("plugins: unknown command %q (want list, describe, start, pause or stop)", args[0])
		},
	}
	cmd.AddCommand(newCmdPluginsList(f), newCmdPluginsDescribe(f))
	for _, action := range []string{"start", "pause", "stop"} {
		cmd.AddCommand(newCmdPluginsLifecycle(f, action))
	}
	return cmd
}

// pluginFlags are the flags every plugins command has.
type pluginFlags struct {
	st     stateFlags
	rf     remoteFlags
	output string
	wait   time.Duration // lifecycle commands
}

func (p *pluginFlags) add(cmd *cobra.Command, formats ...string) {
	p.st.addState(cmd)
	p.rf.add(cmd)
	cmd.Flags().StringVarP(&p.output, "output", "o", formats[0], "output format: "+strings.Join(formats[:len(formats)-1], ", ")+" or "+formats[len(formats)-1])
}

func (p *pluginFlags) checkOutput(formats ...string) error {
	if !slices.Contains(formats, p.output) {
		return usageErrorf("--output: unknown format %q (want %s or %s)", p.output, strings.Join(formats[:len(formats)-1], ", "), formats[len(formats)-1])
	}
	return nil
}

func newCmdPluginsList(f *factory) *cobra.Command {
	var fl pluginFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the plugins: uuid, name, version, state, heartbeat age",
		Long: `List the plugin manager's table (son-pm-cli list): each plugin's uuid,
name, version and state, and how long ago it last sent a heartbeat. json
and yaml carry every field, as 'manoctl get plugins' does.

` + pluginsHelp,
		Example: `  manoctl plugins list
  manoctl plugins list -o json --broker amqp://guest:guest@localhost:5672/%2F`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := fl.checkOutput("table", "json", "yaml"); err != nil {
				return err
			}
			items, err := listPlugins(cmd.Context(), &fl)
			if err != nil {
				return err
			}
			return writeItems(f, "plugins", items, fl.output)
		},
	}
	fl.add(cmd, "table", "json", "yaml")
	return cmd
}

func newCmdPluginsDescribe(f *factory) *cobra.Command {
	var fl pluginFlags
	cmd := &cobra.Command{
		Use:   "describe UUID|NAME",
		Short: "Show a plugin: uuid, name, version, description, state, registration and heartbeat",
		Long: `Show one plugin as the plugin manager keeps it (son-pm-cli info): uuid,
name, version, description, state, when it registered, when it last sent
a heartbeat and how long ago that was.

` + pluginsHelp,
		Example: `  manoctl plugins describe son-plugin.ServiceLifecycleManager
  manoctl plugins describe 0a1b2c3d-... -o json --broker amqp://guest:guest@localhost:5672/%2F`,
		Args: exactArgs(1, "a plugin uuid or name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := fl.checkOutput("text", "json", "yaml"); err != nil {
				return err
			}
			items, err := listPlugins(cmd.Context(), &fl)
			if err != nil {
				return err
			}
			item, err := resolvePlugin(items, args[0], nil)
			if err != nil {
				return err
			}
			return writePluginDescribe(f, item, fl.output, time.Now())
		},
	}
	fl.add(cmd, "text", "json", "yaml")
	return cmd
}

func newCmdPluginsLifecycle(f *factory, action string) *cobra.Command {
	var fl pluginFlags
	what := map[string]string{
		"start": `Start a plugin: the plugin manager sends it lifecycle.start and the
plugin reports RUNNING.`,
		"pause": `Pause a plugin: the plugin manager sends it lifecycle.pause and the
plugin reports PAUSED.`,
		"stop": `Stop a plugin: the plugin manager sends it lifecycle.stop, and the plugin
deregisters. A daemon's plugin manager forgets it, as the 2017 one did
(start it again by restarting the daemon); the embedded platform keeps
it, STOPPED, and does not start it until 'manoctl plugins start'.`,
	}[action]
	cmd := &cobra.Command{
		Use:   action + " UUID|NAME",
		Short: strings.ToUpper(action[:1]) + action[1:] + " a plugin (lifecycle." + action + ")",
		Long: what + `

The command returns once the plugin reports its new state, and prints
the plugin as it then is; a plugin that does not within --wait makes it
exit 1. With --broker, --wait 0 returns as soon as the plugin manager has
sent the message, as son-pm-cli did (the embedded platform, which stops
when the command ends, always waits: --wait 0 means ` + pluginWait.String() + ` there).

Embedded (without --broker), the command takes the state directory's lock
(exit 4 while another process holds it) and runs the embedded platform
for the moment it takes, as apply does: the plugins register, the plugin
manager starts them and pauses again those paused before, then sends the
lifecycle message on the in-process bus; the plugin's new state is kept
in the state directory's plugin table. Starting a stopped plugin runs it
again (the plugin manager starts it when it registers).

` + pluginsHelp,
		Example: `  manoctl plugins ` + action + ` son-plugin.PlacementPlugin
  manoctl plugins ` + action + ` son-plugin.PlacementPlugin --broker amqp://guest:guest@localhost:5672/%2F`,
		Args: exactArgs(1, "a plugin uuid or name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := fl.checkOutput("table", "json", "yaml"); err != nil {
				return err
			}
			var item map[string]any
			var err error
			if fl.rf.remote() {
				item, err = remotePluginLifecycle(cmd.Context(), f, &fl, action, args[0])
			} else {
				item, err = embeddedPluginLifecycle(cmd.Context(), f, &fl, action, args[0])
			}
			if err != nil {
				return err
			}
			return writeItems(f, "plugins", []map[string]any{item}, fl.output)
		},
	}
	fl.add(cmd, "table", "json", "yaml")
	cmd.Flags().DurationVar(&fl.wait, "wait", pluginWait, "how long to wait for the plugin to report its new state (0 with --broker: do not wait)")
	return cmd
}

// listPlugins reads the plugin table: the daemon's, or the state
// directory's (read-only, without the lock).
func listPlugins(ctx context.Context, fl *pluginFlags) ([]map[string]any, error) {
	if fl.rf.remote() {
		c, done, err := fl.rf.dial(ctx)
		if err != nil {
			return nil, err
		}
		defer done()
		r, err := c.Get(ctx, "plugins", false)
		if err != nil {
			return nil, err
		}
		return r.Items, nil
	}
	store, err := openRecords(fl.st.dir, true)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	return control.Items(store.Snapshot().Reader(), "plugins", false)
}

// pluginNotFoundError is a plugin the table does not have (exit 1, as for
// a service describe does not find).
type pluginNotFoundError struct {
	target string
	known  []string
}

func (e *pluginNotFoundError) Error() string {
	if len(e.known) == 0 {
		return fmt.Sprintf("no plugin %q: the plugin table is empty", e.target)
	}
	return fmt.Sprintf("no plugin %q (the plugins are %s)", e.target, strings.Join(e.known, ", "))
}

func itemString(m map[string]any, k string) string {
	if v, ok := m[k].(string); ok {
		return v
	}
	if m[k] == nil {
		return ""
	}
	return fmt.Sprint(m[k])
}

// resolvePlugin finds the plugin target names among items: by uuid, else
// by name. Several plugins of that name (old registrations) narrow to the
// one neither FAILED nor STOPPED; more than one is a usage error listing
// them. known adds names to the not-found message.
func resolvePlugin(items []map[string]any, target string, known []string) (map[string]any, error) {
	var byName []map[string]any
	for _, m := range items {
		if itemString(m, "uuid") == target {
			return m, nil
		}
		if itemString(m, "name") == target {
			byName = append(byName, m)
		}
	}
	if len(byName) == 1 {
		return byName[0], nil
	}
	if len(byName) == 0 {
		names := append([]string(nil), known...)
		for _, m := range items {
			names = append(names, itemString(m, "name"))
		}
		slices.Sort(names)
		return nil, &pluginNotFoundError{target: target, known: slices.Compact(names)}
	}
	var live []map[string]any
	for _, m := range byName {
		if s := itemString(m, "state"); s != pm.StateFailed && s != embedded.PluginStopped {
			live = append(live, m)
		}
	}
	if len(live) == 1 {
		return live[0], nil
	}
	if len(live) == 0 {
		live = byName
	}
	var cands []string
	for _, m := range live {
		cands = append(cands, fmt.Sprintf("%s (%s)", itemString(m, "uuid"), itemString(m, "state")))
	}
	return nil, usageErrorf("%q names %d plugins; give a uuid: %s", target, len(live), strings.Join(cands, ", "))
}

// heartbeatAge is how long ago the plugin of item sent its last
// heartbeat; false when it never did.
func heartbeatAge(item map[string]any, now time.Time) (time.Duration, bool) {
	t := timeOf(item["last_heartbeat_at"])
	if t.IsZero() || t.Year() <= 1 {
		return 0, false
	}
	return now.Sub(t), true
}

// writePluginDescribe prints one plugin: text, or a versioned JSON or
// YAML document.
func writePluginDescribe(f *factory, item map[string]any, output string, now time.Time) error {
	doc := map[string]any{}
	for k, v := range item {
		doc[k] = v
	}
	var ageSeconds any
	if d, ok := heartbeatAge(item, now); ok {
		ageSeconds = d.Round(time.Millisecond).Seconds()
	}
	doc["heartbeat_age_seconds"] = ageSeconds
	wrapped := map[string]any{"format_version": listFormatVersion, "kind": "plugin", "plugin": doc}
	switch output {
	case "json":
		enc := json.NewEncoder(f.io.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(wrapped)
	case "yaml":
		return yaml.NewEncoder(f.io.Out).Encode(wrapped)
	}
	w := f.io.Out
	str := func(k string) string { return dash(itemString(item, k)) }
	when := func(k string) string {
		t := timeOf(item[k])
		if t.IsZero() || t.Year() <= 1 {
			return "never"
		}
		return t.Local().Format(time.RFC3339)
	}
	fmt.Fprintf(w, "Name:            %s\n", str("name"))
	fmt.Fprintf(w, "UUID:            %s\n", str("uuid"))
	fmt.Fprintf(w, "Version:         %s\n", str("version"))
	fmt.Fprintf(w, "Description:     %s\n", str("description"))
	fmt.Fprintf(w, "State:           %s\n", str("state"))
	fmt.Fprintf(w, "Registered:      %s\n", when("registered_at"))
	hb := when("last_heartbeat_at")
	if d, ok := heartbeatAge(item, now); ok {
		hb += fmt.Sprintf(" (%s ago)", age(now, now.Add(-d)))
	}
	fmt.Fprintf(w, "Last heartbeat:  %s\n", hb)
	return nil
}

// remotePluginLifecycle has the daemon's plugin manager send
// lifecycle.<action> and waits for the plugin to report the outcome.
func remotePluginLifecycle(ctx context.Context, f *factory, fl *pluginFlags, action, target string) (map[string]any, error) {
	c, done, err := fl.rf.dial(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	r, err := c.Get(ctx, "plugins", false)
	if err != nil {
		return nil, err
	}
	item, err := resolvePlugin(r.Items, target, nil)
	if err != nil {
		return nil, err
	}
	uuid, name := itemString(item, "uuid"), itemString(item, "name")
	if _, err := c.Plugins(ctx, action, uuid); err != nil {
		return nil, err
	}
	fmt.Fprintf(f.io.ErrOut, "lifecycle.%s sent to %s (%s)\n", action, name, uuid)
	if fl.wait <= 0 {
		return item, nil
	}
	want := map[string]string{"start": pm.StateRunning, "pause": pm.StatePaused}[action]
	deadline := time.Now().Add(fl.wait)
	for {
		r, err := c.Get(ctx, "plugins", false)
		if err != nil {
			return nil, err
		}
		var cur map[string]any
		for _, m := range r.Items {
			if itemString(m, "uuid") == uuid {
				cur = m
			}
		}
		switch {
		case cur == nil && action == "stop":
			// It deregistered: the plugin manager forgot it.
			item["state"] = embedded.PluginStopped
			return item, nil
		case cur == nil:
			return nil, fmt.Errorf("plugin %s (%s) deregistered after lifecycle.%s", name, uuid, action)
		case want != "" && itemString(cur, "state") == want:
			return cur, nil
		}
		if time.Now().After(deadline) {
			outcome := "report " + want
			if action == "stop" {
				outcome = "deregister"
			}
			return nil, fmt.Errorf("plugin %s (%s) did not %s within %s after lifecycle.%s: it reports %s", name, uuid, outcome, fl.wait, action, itemString(cur, "state"))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// embeddedPluginLifecycle runs the embedded platform on the state
// directory (holding its lock) for one lifecycle command.
func embeddedPluginLifecycle(ctx context.Context, f *factory, fl *pluginFlags, action, target string) (map[string]any, error) {
	store, err := openRecords(fl.st.dir, false)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	items, err := control.Items(store.Snapshot().Reader(), "plugins", false)
	if err != nil {
		return nil, err
	}
	// The plugins the embedded platform runs are known before it ran.
	item, err := resolvePlugin(items, target, embedded.PluginNames())
	var nf *pluginNotFoundError
	switch {
	case errors.As(err, &nf) && slices.Contains(embedded.PluginNames(), target):
		item = map[string]any{"name": target}
	case err != nil:
		return nil, err
	}
	name, state := itemString(item, "name"), itemString(item, "state")
	if state == embedded.PluginStopped {
		switch action {
		case "pause":
			return nil, fmt.Errorf("plugin %s is stopped: start it first ('manoctl plugins start %s')", name, name)
		case "stop":
			fmt.Fprintf(f.io.ErrOut, "%s is already stopped\n", name)
			return item, nil
		}
	}
	table, err := embedded.NewPluginTable(store)
	if err != nil {
		return nil, err
	}
	if action == "start" {
		table.Release(name)
	}
	p, err := embedded.Start(ctx, embedded.Config{
		MANO:        mano.Config{Placer: embedded.DefaultPlacer(), Register: true},
		PluginTable: table,
	})
	if err != nil {
		return nil, err
	}
	lctx, cancel := context.WithTimeout(ctx, cmp.Or(max(fl.wait, 0), pluginWait))
	pl, lerr := p.Lifecycle(lctx, name, action)
	cancel()
	if lerr == nil {
		fmt.Fprintf(f.io.ErrOut, "lifecycle.%s sent to %s (%s)\n", action, name, pl.UUID)
	}
	cerr := p.Close()
	if lerr != nil {
		return nil, lerr
	}
	if cerr != nil {
		return nil, cerr
	}
	row, err := store.Snapshot().Reader().PluginByUUID(nil, pl.UUID)
	if err != nil {
		return nil, err
	}
	if row == nil {
		return nil, fmt.Errorf("plugin %s (%s) is missing from the plugin table after lifecycle.%s", name, pl.UUID, action)
	}
	item = control.PluginItem(row)
	if row.State == embedded.PluginIdle {
		// The plugin reported the state asked for, then the platform
		// closed: print what it reported, as a daemon's would show.
		item["state"] = pl.State
	}
	return item, nil
}

// servingPluginTable is the plugin table of an embedded run that serves
// (apply, destroy): it refuses (exit 1) while a plugin is paused or
// stopped, naming them.
func servingPluginTable(store *records.Store) (*embedded.PluginTable, error) {
	if err := embedded.CheckServing(store.Snapshot().Reader()); err != nil {
		return nil, withCode(exitError, err)
	}
	return embedded.NewPluginTable(store)
}
