package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/manoctl/manoctl/reconcile/records"
)

func init() {
	commandRegistry = append(commandRegistry, func(f *factory) *cobra.Command { return newCmdGet(f) })
}

// listFormatVersion versions the JSON and YAML forms of get.
const listFormatVersion = "1.0"

var getKinds = []string{"services", "functions", "vims", "plugins", "operations"}

func newCmdGet(f *factory) *cobra.Command {
	var st stateFlags
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
			return runGet(cmd.Context(), f, st.dir, kind, output, all)
		},
	}
	st.addState(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table, json or yaml")
	cmd.Flags().BoolVar(&all, "all", false, "include terminated services and their functions")
	return cmd
}

func runGet(_ context.Context, f *factory, dir, kind, output string, all bool) error {
	store, err := openRecords(dir, true)
	if err != nil {
		return err
	}
	defer store.Close()
	r := store.Snapshot().Reader()
	items, table := listItems(r, kind, all)
	switch output {
	case "json":
		enc := json.NewEncoder(f.io.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"format_version": listFormatVersion, "kind": kind, "items": items})
	case "yaml":
		return yaml.NewEncoder(f.io.Out).Encode(map[string]any{"format_version": listFormatVersion, "kind": kind, "items": items})
	}
	if len(table) <= 1 {
		fmt.Fprintf(f.io.ErrOut, "No %s.\n", kind)
		return nil
	}
	writeTable(f.io.Out, table)
	return nil
}

func writeTable(w io.Writer, rows [][]string) {
	tw := tabwriter.NewWriter(w, 0, 2, 3, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
}

// listItems returns the records of kind as JSON-friendly items and as
// table rows (header first).
func listItems(r records.Reader, kind string, all bool) ([]map[string]any, [][]string) {
	now := time.Now()
	var items []map[string]any
	var rows [][]string
	switch kind {
	case "services":
		rows = append(rows, []string{"NAME", "ID", "STATUS", "NSD", "VNFS", "VIMS", "AGE"})
		for _, s := range services(r, all) {
			vims := vimNames(r, functionsOf(r, s))
			items = append(items, map[string]any{
				"name": s.Name, "id": s.ID, "status": s.Status, "record_status": s.RecordStatus, "version": s.Version,
				"nsd": s.NSD.Identity.String(), "functions": s.Functions, "vims": vims, "error": s.Error,
				"created_at": s.CreatedAt, "updated_at": s.UpdatedAt, "last_operation": s.LastOperation,
			})
			rows = append(rows, []string{dash(s.Name), s.ID, string(s.Status), s.NSD.Identity.String(),
				fmt.Sprint(len(s.Functions)), dash(strings.Join(vims, ",")), age(now, s.CreatedAt)})
		}
	case "functions":
		rows = append(rows, []string{"ID", "SERVICE", "VNF", "VNFD", "VIM", "STATUS", "ADDRESSES"})
		for _, s := range services(r, all) {
			for _, fn := range functionsOf(r, s) {
				addrs := addresses(fn)
				items = append(items, map[string]any{
					"id": fn.ID, "service": s.Name, "service_id": s.ID, "vnf_id": fn.VNFID, "vnfd": fn.VNFD.Identity.String(),
					"vim": fn.VIM, "vim_name": vimName(r, fn.VIM), "status": fn.Status, "addresses": addrs,
					"cores": fn.Demand.Cores, "memory_mb": fn.Demand.MemoryMB,
				})
				rows = append(rows, []string{fn.ID, dash(s.Name), fn.VNFID, fn.VNFD.Identity.String(), vimName(r, fn.VIM), string(fn.Status), dash(strings.Join(addrs, ","))})
			}
		}
	case "vims":
		rows = append(rows, []string{"NAME", "UUID", "CITY", "CORES", "MEMORY (MB)"})
		it, _ := r.VIMs(nil)
		for v := range it {
			items = append(items, map[string]any{"name": v.Name, "uuid": v.UUID, "city": v.City, "endpoint": v.Endpoint,
				"cores_total": v.CoresTotal, "cores_used": v.CoresUsed, "memory_total_mb": v.MemoryTotalMB, "memory_used_mb": v.MemoryUsedMB})
			rows = append(rows, []string{v.Name, v.UUID, dash(v.City), fmt.Sprintf("%d / %d", v.CoresUsed, v.CoresTotal), fmt.Sprintf("%d / %d", v.MemoryUsedMB, v.MemoryTotalMB)})
		}
	case "plugins":
		rows = append(rows, []string{"UUID", "NAME", "VERSION", "STATE", "LAST HEARTBEAT"})
		it, _ := r.Plugins(nil)
		for p := range it {
			items = append(items, map[string]any{"uuid": p.UUID, "name": p.Name, "version": p.Version, "description": p.Description,
				"state": p.State, "registered_at": p.RegisteredAt, "last_heartbeat_at": p.LastHeartbeatAt})
			rows = append(rows, []string{p.UUID, p.Name, p.Version, p.State, age(now, p.LastHeartbeatAt)})
		}
	case "operations":
		rows = append(rows, []string{"ID", "SERVICE", "KIND", "STATUS", "STEPS", "FAILED STEP", "STARTED", "DURATION"})
		it, _ := r.Operations(nil)
		var ops []*records.Operation
		for o := range it {
			ops = append(ops, o)
		}
		sort.Slice(ops, func(i, j int) bool { return ops[i].StartedAt.Before(ops[j].StartedAt) })
		for _, o := range ops {
			items = append(items, operationItem(o))
			dur := "-"
			if !o.EndedAt.IsZero() {
				dur = o.EndedAt.Sub(o.StartedAt).Round(time.Millisecond).String()
			}
			rows = append(rows, []string{o.ID, dash(o.ServiceName), string(o.Kind), string(o.Status), fmt.Sprint(len(o.Steps)),
				dash(o.FailedStep), o.StartedAt.Local().Format("2006-01-02 15:04:05"), dur})
		}
	}
	if items == nil {
		items = []map[string]any{}
	}
	return items, rows
}

func operationItem(o *records.Operation) map[string]any {
	steps := make([]map[string]any, 0, len(o.Steps))
	for _, s := range o.Steps {
		steps = append(steps, map[string]any{"name": s.Name, "status": s.Status, "started_at": s.StartedAt, "ended_at": s.EndedAt, "error": s.Error})
	}
	return map[string]any{"id": o.ID, "service": o.ServiceName, "service_id": o.ServiceID, "kind": o.Kind, "status": o.Status,
		"correlation_id": o.CorrelationID, "started_at": o.StartedAt, "ended_at": o.EndedAt, "failed_step": o.FailedStep, "error": o.Error, "steps": steps}
}

func services(r records.Reader, all bool) []*records.Service {
	it, err := r.Services(nil)
	if err != nil {
		return nil
	}
	var out []*records.Service
	for s := range it {
		if all || s.Status != records.ServiceTerminated {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].CreatedAt.Before(out[j].CreatedAt)
	})
	return out
}

func functionsOf(r records.Reader, s *records.Service) []*records.Function {
	var out []*records.Function
	for _, id := range s.Functions {
		if fn, _ := r.FunctionByID(nil, id); fn != nil {
			out = append(out, fn)
		}
	}
	return out
}

func vimName(r records.Reader, id string) string {
	if v, _ := r.VIMByUUID(nil, id); v != nil && v.Name != "" {
		return v.Name
	}
	return id
}

func vimNames(r records.Reader, fns []*records.Function) []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range fns {
		n := vimName(r, f.VIM)
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

func addresses(fn *records.Function) []string {
	var out []string
	for _, u := range fn.VDUs {
		for _, c := range u.VNFCs {
			for _, cp := range c.ConnectionPoints {
				if cp.Address != "" {
					out = append(out, cp.ID+"="+cp.Address)
				}
			}
		}
	}
	return out
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
