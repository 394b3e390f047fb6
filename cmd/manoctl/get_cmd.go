package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/manoctl/manoctl/reconcile/control"
)

func init() {
	commandRegistry = append(commandRegistry, func(f *factory) *cobra.Command { return newCmdGet(f) })
}

// listFormatVersion versions the JSON and YAML forms of get.
const listFormatVersion = "1.0"

var getKinds = control.Kinds

func newCmdGet(f *factory) *cobra.Command {
	var st stateFlags
	var rf remoteFlags
	var output string
	var all bool
	cmd := &cobra.Command{
		Use:   "get services|functions|vims|plugins|operations",
		Short: "List records: services, functions, VIMs, plugins or operations",
		Long: `List the records in the state directory. Terminated services and their
functions are left out unless --all.

Output formats: table (default), json and yaml; json and yaml carry a
format_version.`,
		Example: `  manoctl get services
  manoctl get functions -o json
  manoctl get operations --all`,
		ValidArgs: getKinds,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErrorf("get needs one of: %s", strings.Join(getKinds, ", "))
			}
			for _, k := range getKinds {
				if strings.TrimSuffix(args[0], "s") == strings.TrimSuffix(k, "s") {
					return nil
				}
			}
			return usageErrorf("get: unknown kind %q (want %s)", args[0], strings.Join(getKinds, ", "))
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			switch output {
			case "table", "json", "yaml":
			default:
				return usageErrorf("--output: unknown format %q (want table, json or yaml)", output)
			}
			kind := strings.TrimSuffix(args[0], "s") + "s"
			if rf.remote() {
				c, done, err := rf.dial(cmd.Context())
				if err != nil {
					return err
				}
				defer done()
				r, err := c.Get(cmd.Context(), kind, all)
				if err != nil {
					return err
				}
				if r.Truncated > 0 {
					what := "last"
					if kind == "operations" {
						what = "oldest"
					}
					fmt.Fprintf(f.io.ErrOut, "warning: the daemon left out the %s %d %s so that its reply fits in a message; 'manoctl get %s --state-dir DIR' on the daemon's state directory lists them all\n",
						what, r.Truncated, kind, kind)
				}
				return writeItems(f, kind, r.Items, output)
			}
			return runGet(cmd.Context(), f, st.dir, kind, output, all)
		},
	}
	st.addState(cmd)
	rf.add(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table, json or yaml")
	cmd.Flags().BoolVar(&all, "all", false, "include terminated services and their functions")
	return cmd
}

func runGet(ctx context.Context, f *factory, dir, kind, output string, all bool) error {
	store, err := openRecords(dir, true)
	if err != nil {
		return err
	}
	defer store.Close()
	items, err := control.Items(store.Snapshot().Reader(), kind, all)
	if err != nil {
		return err
	}
	return writeItems(f, kind, items, output)
}

// writeItems prints items of kind as a table, JSON or YAML.
func writeItems(f *factory, kind string, items []map[string]any, output string) error {
	switch output {
	case "json":
		enc := json.NewEncoder(f.io.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"format_version": listFormatVersion, "kind": kind, "items": items})
	case "yaml":
		return yaml.NewEncoder(f.io.Out).Encode(map[string]any{"format_version": listFormatVersion, "kind": kind, "items": items})
	}
	if len(items) == 0 {
		fmt.Fprintf(f.io.ErrOut, "No %s.\n", kind)
		return nil
	}
	writeTable(f.io.Out, tableOf(kind, items, time.Now()))
	return nil
}

func writeTable(w io.Writer, rows [][]string) {
	tw := tabwriter.NewWriter(w, 0, 2, 3, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
}

// tableOf renders items (control.Items documents, from the state directory
// or from a daemon) as table rows, header first.
func tableOf(kind string, items []map[string]any, now time.Time) [][]string {
	str := func(m map[string]any, k string) string { return fmt.Sprint(orDash(m[k])) }
	list := func(m map[string]any, k string) string {
		var out []string
		if l, ok := m[k].([]any); ok {
			for _, x := range l {
				out = append(out, fmt.Sprint(x))
			}
		} else if l, ok := m[k].([]string); ok {
			out = l
		}
		return dash(strings.Join(out, ","))
	}
	var rows [][]string
	switch kind {
	case "services":
		rows = append(rows, []string{"NAME", "ID", "STATUS", "NSD", "VNFS", "VIMS", "AGE"})
		for _, m := range items {
			n := 0
			switch l := m["functions"].(type) {
			case []any:
				n = len(l)
			case []string:
				n = len(l)
			}
			rows = append(rows, []string{str(m, "name"), str(m, "id"), str(m, "status"), str(m, "nsd"), fmt.Sprint(n), list(m, "vims"), age(now, timeOf(m["created_at"]))})
		}
	case "functions":
		rows = append(rows, []string{"ID", "SERVICE", "VNF", "VNFD", "VIM", "STATUS", "ADDRESSES"})
		for _, m := range items {
			rows = append(rows, []string{str(m, "id"), str(m, "service"), str(m, "vnf_id"), str(m, "vnfd"), str(m, "vim_name"), str(m, "status"), list(m, "addresses")})
		}
	case "vims":
		rows = append(rows, []string{"NAME", "UUID", "CITY", "CORES", "MEMORY (MB)"})
		for _, m := range items {
			rows = append(rows, []string{str(m, "name"), str(m, "uuid"), str(m, "city"),
				fmt.Sprintf("%v / %v", m["cores_used"], m["cores_total"]), fmt.Sprintf("%v / %v", m["memory_used_mb"], m["memory_total_mb"])})
		}
	case "plugins":
		rows = append(rows, []string{"UUID", "NAME", "VERSION", "STATE", "LAST HEARTBEAT"})
		for _, m := range items {
			rows = append(rows, []string{str(m, "uuid"), str(m, "name"), str(m, "version"), str(m, "state"), age(now, timeOf(m["last_heartbeat_at"]))})
		}
	case "operations":
		rows = append(rows, []string{"ID", "SERVICE", "KIND", "STATUS", "STEPS", "FAILED STEP", "STARTED", "DURATION"})
		for _, m := range items {
			steps, _ := m["steps"].([]any)
			start, end := timeOf(m["started_at"]), timeOf(m["ended_at"])
			dur := "-"
			if !end.IsZero() {
				dur = end.Sub(start).Round(time.Millisecond).String()
			}
			rows = append(rows, []string{str(m, "id"), str(m, "service"), str(m, "kind"), str(m, "status"), fmt.Sprint(len(steps)),
				str(m, "failed_step"), start.Local().Format("2006-01-02 15:04:05"), dur})
		}
	}
	return rows
}

// timeOf reads a time from an item: a time.Time in process, an RFC 3339
// string from a daemon.
func timeOf(v any) time.Time {
	switch t := v.(type) {
	case time.Time:
		return t
	case string:
		if p, err := time.Parse(time.RFC3339Nano, t); err == nil {
			return p
		}
	}
	return time.Time{}
}

func orDash(v any) any {
	if v == nil || v == "" {
		return "-"
	}
	return v
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func age(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
