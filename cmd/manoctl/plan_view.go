package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/manoctl/manoctl/reconcile/plan"
)

// palette colours output on a terminal; its zero value prints plain text.
type palette struct{ on bool }

func (p palette) wrap(code, s string) string {
	if !p.on {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}
func (p palette) green(s string) string  { return p.wrap("32", s) }
func (p palette) red(s string) string    { return p.wrap("31", s) }
func (p palette) yellow(s string) string { return p.wrap("33", s) }
func (p palette) cyan(s string) string   { return p.wrap("36", s) }
func (p palette) bold(s string) string   { return p.wrap("1", s) }
func (p palette) faint(s string) string  { return p.wrap("2", s) }

func (p palette) action(a plan.Action, s string) string {
	switch a {
	case plan.Create:
		return p.green(s)
	case plan.Destroy:
		return p.red(s)
	case plan.Update, plan.Scale:
		return p.yellow(s)
	case plan.Replace, plan.Heal:
		return p.cyan(s)
	}
	return s
}

// planHumanView renders a plan in the style of `nomad job plan`: a marker
// per service, the reasons, where each new function goes and why, the
// VIMs before and after, and the counts.
func planHumanView(w io.Writer, pl *plan.Plan, col palette, detailed bool) {
	if !pl.HasChanges() {
		fmt.Fprintln(w, col.green("No changes.")+" The running services match the manifest.")
		if detailed {
			for _, n := range pl.Unchanged {
				fmt.Fprintf(w, "    %s (no changes)\n", n)
			}
		}
		writeVIMs(w, pl, col)
		return
	}
	for _, c := range pl.Changes {
		sym := fmt.Sprintf("%-3s", c.Action.Symbol())
		head := fmt.Sprintf("%s %s (%s)", sym, col.bold(c.Service), c.Action)
		fmt.Fprintln(w, col.action(c.Action, head))
		switch {
		case c.Before != "" && c.After != "" && c.Before != c.After:
			fmt.Fprintf(w, "      NSD: %s -> %s\n", c.Before, c.After)
		case c.After != "":
			fmt.Fprintf(w, "      NSD: %s\n", c.After)
		case c.Before != "":
			fmt.Fprintf(w, "      NSD: %s\n", c.Before)
		}
		if c.ServiceID != "" {
			fmt.Fprintf(w, "      Instance: %s\n", c.ServiceID)
		}
		for _, r := range c.Reasons {
			fmt.Fprintf(w, "      Reason: %s\n", r)
		}
		if c.Infeasible != "" {
			fmt.Fprintf(w, "      %s %s\n", col.red("Cannot be placed:"), c.Infeasible)
		}
		if len(c.Placement) > 0 {
			fmt.Fprintln(w, "      Placement:")
			tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
			for _, fp := range c.Placement {
				fmt.Fprintf(tw, "        %s\t%s\t-> %s\t%d cores, %s MB\t%s\n", fp.VNFID, fp.VNFD, col.bold(fp.VIM), fp.Cores, num(fp.MemoryMB), fp.Why)
				if fp.RunnerUp != "" {
					fmt.Fprintf(tw, "        \t\t\t\t%s\n", col.faint("runner-up: "+fp.RunnerUp))
				}
			}
			tw.Flush()
		}
		fmt.Fprintln(w)
	}
	writeVIMs(w, pl, col)
	s := pl.Summary
	var parts []string
	for _, x := range []struct {
		n    int
		what string
	}{{s.Create, "to create"}, {s.Update, "to update"}, {s.Scale, "to scale"}, {s.Replace, "to replace"}, {s.Heal, "to heal"}, {s.Destroy, "to destroy"}} {
		if x.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", x.n, x.what))
		}
	}
	fmt.Fprintf(w, "%s %s.\n", col.bold("Plan:"), strings.Join(parts, ", "))
	if pl.Infeasible {
		fmt.Fprintln(w, col.red("This plan cannot be applied: some services do not fit on the VIMs."))
	}
}

func writeVIMs(w io.Writer, pl *plan.Plan, col palette) {
	if len(pl.VIMs) == 0 {
		return
	}
	fmt.Fprintln(w, "VIMs:")
	tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "  NAME\tCORES USED\tMEMORY USED (MB)\tHEADROOM")
	for _, v := range pl.VIMs {
		cores := fmt.Sprintf("%d / %d", v.CoresAfter, v.CoresTotal)
		mem := fmt.Sprintf("%s / %s", num(v.MemoryAfterMB), num(v.MemoryTotalMB))
		if v.CoresAfter != v.CoresBefore || v.MemoryAfterMB != v.MemoryBeforeMB {
			cores = fmt.Sprintf("%d -> %d / %d (%+d)", v.CoresBefore, v.CoresAfter, v.CoresTotal, v.CoresAfter-v.CoresBefore)
			mem = fmt.Sprintf("%s -> %s / %s (%+.0f)", num(v.MemoryBeforeMB), num(v.MemoryAfterMB), num(v.MemoryTotalMB), v.MemoryAfterMB-v.MemoryBeforeMB)
		}
		head := fmt.Sprintf("%d cores, %s MB", v.CoresHeadroom(), num(v.MemoryHeadroomMB()))
		if v.CoresHeadroom() < 0 || v.MemoryHeadroomMB() < 0 {
			head = col.red(head)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", v.Name, cores, mem, head)
	}
	tw.Flush()
	fmt.Fprintln(w)
}

func num(f float64) string {
	if f == float64(int64(f)) {
		return fmt.Sprintf("%d", int64(f))
	}
	return fmt.Sprintf("%.1f", f)
}

// planJSONView writes the versioned JSON form.
func planJSONView(w io.Writer, pl *plan.Plan) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(pl)
}
