package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/manoctl/manoctl/reconcile/control"
	"github.com/spf13/cobra"
)

func init() {
	commandRegistry = append(commandRegistry, func(f *factory) *cobra.Command { return newCmdDescribe(f) })
}

func newCmdDescribe(f *factory) *cobra.Command {
	var st stateFlags
	var rf remoteFlags
	var output string
	var last int
	cmd := &cobra.Command{
		Use:   "describe service NAME|ID",
		Short: "Show a service: its records, where its functions run, its last operations and errors",
		Example: `  manoctl describe service demo-1
  manoctl describe service demo-1 -o json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 || args[0] != "service" {
				return usageErrorf("describe needs: service NAME|ID")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return usageErrorf("--output: unknown format %q (want text or json)", output)
			}
			if rf.remote() {
				c, done, err := rf.dial(cmd.Context())
				if err != nil {
					return err
				}
				defer done()
				doc, err := c.Describe(cmd.Context(), args[1], last)
				if err != nil {
					return err
				}
				return writeDescribe(f, doc, output)
			}
			return runDescribe(cmd.Context(), f, st.dir, args[1], output, last)
		},
	}
	st.addState(cmd)
	rf.add(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	cmd.Flags().IntVar(&last, "operations", 5, "number of recent operations to show")
	return cmd
}

// notFoundError is a record that does not exist (exit 1).
type notFoundError struct{ what, name string }

func (e *notFoundError) Error() string { return fmt.Sprintf("no %s %q in the records", e.what, e.name) }

func runDescribe(_ context.Context, f *factory, dir, name, output string, last int) error {
	store, err := openRecords(dir, true)
	if err != nil {
		return err
	}
	defer store.Close()
	doc, err := control.Describe(store.Snapshot().Reader(), name, last)
	if err != nil {
		return err
	}
	return writeDescribe(f, doc, output)
}

// writeDescribe prints a control.Describe document.
func writeDescribe(f *factory, doc map[string]any, output string) error {
	if output == "json" {
		enc := json.NewEncoder(f.io.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(doc)
	}
	w := f.io.Out
	s, _ := doc["service"].(map[string]any)
	str := func(k string) string { return fmt.Sprint(orDash(s[k])) }
	fmt.Fprintf(w, "Name:         %s\n", str("name"))
	fmt.Fprintf(w, "ID:           %s\n", str("id"))
	fmt.Fprintf(w, "Status:       %s (NSR: %s, version %v)\n", str("status"), str("record_status"), s["version"])
	fmt.Fprintf(w, "NSD:          %s\n", str("nsd"))
	if p := s["placement_policy"]; p != nil && p != "" {
		fmt.Fprintf(w, "Placement:    %s\n", p)
	}
	fmt.Fprintf(w, "Ingresses:    %s\n", napsText(s["ingresses"]))
	fmt.Fprintf(w, "Egresses:     %s\n", napsText(s["egresses"]))
	fmt.Fprintf(w, "Created:      %s\n", timeOf(s["created_at"]).Local().Format(time.RFC3339))
	fmt.Fprintf(w, "Updated:      %s\n", timeOf(s["updated_at"]).Local().Format(time.RFC3339))
	if e := s["error"]; e != nil && e != "" {
		fmt.Fprintf(w, "Error:        %s\n", e)
	}
	fmt.Fprintln(w, "\nFunctions:")
	fns, _ := doc["functions"].([]any)
	if len(fns) == 0 {
		fmt.Fprintln(w, "  (none)")
	} else {
		rows := [][]string{{"  VNF", "ID", "VNFD", "VIM", "STATUS", "CORES", "MEMORY MB", "ADDRESSES"}}
		for _, x := range fns {
			m, _ := x.(map[string]any)
			addrs, _ := m["addresses"].([]any)
			var as []string
			for _, a := range addrs {
				as = append(as, fmt.Sprint(a))
			}
			if l, ok := m["addresses"].([]string); ok {
				as = l
			}
			rows = append(rows, []string{"  " + fmt.Sprint(m["vnf_id"]), fmt.Sprint(m["id"]), fmt.Sprint(m["vnfd"]), fmt.Sprint(m["vim_name"]),
				fmt.Sprint(m["status"]), fmt.Sprint(m["cores"]), fmt.Sprint(m["memory_mb"]), dash(strings.Join(as, ","))})
		}
		writeTable(w, rows)
	}
	fmt.Fprintln(w, "\nRecent operations:")
	ops, _ := doc["operations"].([]any)
	if len(ops) == 0 {
		fmt.Fprintln(w, "  (none)")
	}
	for _, x := range ops {
		o, _ := x.(map[string]any)
		start, end := timeOf(o["started_at"]), timeOf(o["ended_at"])
		dur := "running"
		if !end.IsZero() {
			dur = end.Sub(start).Round(time.Millisecond).String()
		}
		fmt.Fprintf(w, "  %s %s %s (%s, %s)\n", start.Local().Format("2006-01-02 15:04:05"), o["kind"], o["status"], dur, o["id"])
		steps, _ := o["steps"].([]any)
		for _, y := range steps {
			st, _ := y.(map[string]any)
			line := fmt.Sprintf("      %-26s %s", st["name"], st["status"])
			if e := st["error"]; e != nil && e != "" {
				line += fmt.Sprintf(": %s", e)
			}
			fmt.Fprintln(w, line)
		}
		if e := o["error"]; e != nil && e != "" {
			fmt.Fprintf(w, "    error at %s: %s\n", o["failed_step"], e)
		}
	}
	return nil
}

func napsText(v any) string {
	l, _ := v.([]any)
	if len(l) == 0 {
		return "-"
	}
	var out []string
	for _, x := range l {
		m, _ := x.(map[string]any)
		out = append(out, fmt.Sprintf("%v %v", m["location"], m["nap"]))
	}
	return strings.Join(out, ", ")
}
