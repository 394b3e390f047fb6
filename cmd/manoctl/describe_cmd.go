package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/manoctl/manoctl/reconcile/records"
)

func init() {
	commandRegistry = append(commandRegistry, func(f *factory) *cobra.Command { return newCmdDescribe(f) })
}

func newCmdDescribe(f *factory) *cobra.Command {
	var st stateFlags
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
			return runDescribe(cmd.Context(), f, st.dir, args[1], output, last)
		},
	}
	st.addState(cmd)
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
	r := store.Snapshot().Reader()
	s, _ := r.ServiceByName(nil, name)
	if s == nil {
		s, _ = r.ServiceByID(nil, name)
	}
	if s == nil {
		return &notFoundError{"service", name}
	}
	fns := functionsOf(r, s)
	var ops []*records.Operation
	if it, err := r.OperationsByService(nil, s.ID); err == nil {
		for o := range it {
			ops = append(ops, o)
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].StartedAt.After(ops[j].StartedAt) })
	if len(ops) > last {
		ops = ops[:last]
	}
	if output == "json" {
		var fitems []map[string]any
		for _, fn := range fns {
			fitems = append(fitems, map[string]any{"id": fn.ID, "vnf_id": fn.VNFID, "vnfd": fn.VNFD.Identity.String(),
				"vim": fn.VIM, "vim_name": vimName(r, fn.VIM), "status": fn.Status, "addresses": addresses(fn),
				"cores": fn.Demand.Cores, "memory_mb": fn.Demand.MemoryMB})
		}
		var oitems []map[string]any
		for _, o := range ops {
			oitems = append(oitems, operationItem(o))
		}
		nsr, _ := r.ServiceRecord(nil, s.ID)
		enc := json.NewEncoder(f.io.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"format_version": listFormatVersion, "service": map[string]any{
			"name": s.Name, "id": s.ID, "status": s.Status, "nsd": s.NSD.Identity.String(), "error": s.Error,
			"ingresses": s.Ingresses, "egresses": s.Egresses, "placement_policy": s.Spec.Placement,
			"created_at": s.CreatedAt, "updated_at": s.UpdatedAt,
		}, "functions": fitems, "operations": oitems, "nsr": nsr})
	}
	w := f.io.Out
	fmt.Fprintf(w, "Name:         %s\n", dash(s.Name))
	fmt.Fprintf(w, "ID:           %s\n", s.ID)
	fmt.Fprintf(w, "Status:       %s (NSR: %s, version %d)\n", s.Status, s.RecordStatus, s.Version)
	fmt.Fprintf(w, "NSD:          %s\n", s.NSD.Identity)
	if s.Spec.Placement != "" {
		fmt.Fprintf(w, "Placement:    %s\n", s.Spec.Placement)
	}
	fmt.Fprintf(w, "Ingresses:    %s\n", endpoints(s.Ingresses))
	fmt.Fprintf(w, "Egresses:     %s\n", endpoints(s.Egresses))
	fmt.Fprintf(w, "Created:      %s\n", s.CreatedAt.Local().Format(time.RFC3339))
	fmt.Fprintf(w, "Updated:      %s\n", s.UpdatedAt.Local().Format(time.RFC3339))
	if s.Error != "" {
		fmt.Fprintf(w, "Error:        %s\n", s.Error)
	}
	fmt.Fprintln(w, "\nFunctions:")
	if len(fns) == 0 {
		fmt.Fprintln(w, "  (none)")
	}
	rows := [][]string{{"  VNF", "ID", "VNFD", "VIM", "STATUS", "CORES", "MEMORY MB", "ADDRESSES"}}
	for _, fn := range fns {
		rows = append(rows, []string{"  " + fn.VNFID, fn.ID, fn.VNFD.Identity.String(), vimName(r, fn.VIM), string(fn.Status),
			fmt.Sprint(fn.Demand.Cores), num(fn.Demand.MemoryMB), dash(strings.Join(addresses(fn), ","))})
	}
	if len(fns) > 0 {
		writeTable(w, rows)
	}
	fmt.Fprintln(w, "\nRecent operations:")
	if len(ops) == 0 {
		fmt.Fprintln(w, "  (none)")
	}
	for _, o := range ops {
		writeOperation(w, o)
	}
	return nil
}

func endpoints(eps []records.Endpoint) string {
	if len(eps) == 0 {
		return "-"
	}
	var out []string
	for _, e := range eps {
		out = append(out, e.Location+" "+e.NAP)
	}
	return strings.Join(out, ", ")
}

func writeOperation(w io.Writer, o *records.Operation) {
	dur := "running"
	if !o.EndedAt.IsZero() {
		dur = o.EndedAt.Sub(o.StartedAt).Round(time.Millisecond).String()
	}
	fmt.Fprintf(w, "  %s %s %s (%s, %s)\n", o.StartedAt.Local().Format("2006-01-02 15:04:05"), o.Kind, o.Status, dur, o.ID)
	for _, st := range o.Steps {
		line := fmt.Sprintf("      %-26s %s", st.Name, st.Status)
		if st.Error != "" {
			line += ": " + st.Error
		}
		fmt.Fprintln(w, line)
	}
	if o.Error != "" {
		fmt.Fprintf(w, "    error at %s: %s\n", o.FailedStep, o.Error)
	}
}
