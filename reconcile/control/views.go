package control

import (
	"fmt"
	"sort"

	"github.com/manoctl/manoctl/reconcile/records"
)

// Kinds lists what Items lists.
var Kinds = []string{"services", "functions", "vims", "plugins", "operations"}

// Items lists the records of kind (services, functions, vims, plugins,
// operations) as JSON-friendly items: the documents of `manoctl get -o
// json`, whether the CLI reads a state directory or asks a daemon.
// Terminated services and their functions are left out unless all.
func Items(r records.Reader, kind string, all bool) ([]map[string]any, error) {
	items := []map[string]any{}
	switch kind {
	case "services":
		for _, s := range services(r, all) {
			fns := functionsOf(r, s)
			items = append(items, map[string]any{
				"name": s.Name, "id": s.ID, "status": string(s.Status), "record_status": string(s.RecordStatus), "version": s.Version,
				"nsd": s.NSD.Identity.String(), "functions": s.Functions, "vims": vimNames(r, fns), "error": s.Error,
				"created_at": s.CreatedAt, "updated_at": s.UpdatedAt, "last_operation": s.LastOperation,
				"cores": demand(fns).Cores, "memory_mb": demand(fns).MemoryMB,
			})
		}
	case "functions":
		for _, s := range services(r, all) {
			for _, fn := range functionsOf(r, s) {
				items = append(items, FunctionItem(r, s, fn))
			}
		}
	case "vims":
		it, err := r.VIMs(nil)
		if err != nil {
			return nil, err
		}
		for v := range it {
			items = append(items, map[string]any{"name": v.Name, "uuid": v.UUID, "city": v.City, "endpoint": v.Endpoint,
				"cores_total": v.CoresTotal, "cores_used": v.CoresUsed, "memory_total_mb": v.MemoryTotalMB, "memory_used_mb": v.MemoryUsedMB})
		}
		sort.Slice(items, func(i, j int) bool { return fmt.Sprint(items[i]["name"]) < fmt.Sprint(items[j]["name"]) })
	case "plugins":
		it, err := r.Plugins(nil)
		if err != nil {
			return nil, err
		}
		for p := range it {
			items = append(items, PluginItem(p))
		}
		sort.Slice(items, func(i, j int) bool { return fmt.Sprint(items[i]["name"]) < fmt.Sprint(items[j]["name"]) })
	case "operations":
		it, err := r.Operations(nil)
		if err != nil {
			return nil, err
		}
		var ops []*records.Operation
		for o := range it {
			ops = append(ops, o)
		}
		sort.Slice(ops, func(i, j int) bool { return ops[i].StartedAt.Before(ops[j].StartedAt) })
		for _, o := range ops {
			items = append(items, OperationItem(o))
		}
	default:
		return nil, fmt.Errorf("unknown kind %q (want services, functions, vims, plugins or operations)", kind)
	}
	return items, nil
}

// FunctionItem is one function as get and describe show it.
func FunctionItem(r records.Reader, s *records.Service, fn *records.Function) map[string]any {
	return map[string]any{
		"id": fn.ID, "service": s.Name, "service_id": s.ID, "vnf_id": fn.VNFID, "vnfd": fn.VNFD.Identity.String(),
		"vim": fn.VIM, "vim_name": vimName(r, fn.VIM), "status": string(fn.Status), "addresses": Addresses(fn),
		"cores": fn.Demand.Cores, "memory_mb": fn.Demand.MemoryMB,
	}
}

// PluginItem is one plugin as get shows it.
func PluginItem(p *records.Plugin) map[string]any {
	return map[string]any{"uuid": p.UUID, "name": p.Name, "version": p.Version, "description": p.Description,
		"state": p.State, "registered_at": p.RegisteredAt, "last_heartbeat_at": p.LastHeartbeatAt}
}

// OperationItem is one operation with its steps.
func OperationItem(o *records.Operation) map[string]any {
	steps := make([]any, 0, len(o.Steps))
	for _, s := range o.Steps {
		steps = append(steps, map[string]any{"name": s.Name, "status": string(s.Status), "started_at": s.StartedAt, "ended_at": s.EndedAt, "error": s.Error})
	}
	return map[string]any{"id": o.ID, "service": o.ServiceName, "service_id": o.ServiceID, "kind": string(o.Kind), "status": string(o.Status),
		"correlation_id": o.CorrelationID, "started_at": o.StartedAt, "ended_at": o.EndedAt, "failed_step": o.FailedStep, "error": o.Error, "steps": steps}
}

// ErrNoService is returned by Describe for an unknown service.
type ErrNoService struct{ Name string }

func (e *ErrNoService) Error() string { return fmt.Sprintf("no service %q in the records", e.Name) }

// Describe is the document of `manoctl describe service -o json`: the
// service, its functions, its last operations (newest first) and its NSR.
func Describe(r records.Reader, name string, operations int) (map[string]any, error) {
	s, _ := r.ServiceByName(nil, name)
	if s == nil {
		s, _ = r.ServiceByID(nil, name)
	}
	if s == nil {
		return nil, &ErrNoService{Name: name}
	}
	var fitems []any
	for _, fn := range functionsOf(r, s) {
		fitems = append(fitems, FunctionItem(r, s, fn))
	}
	var ops []*records.Operation
	if it, err := r.OperationsByService(nil, s.ID); err == nil {
		for o := range it {
			ops = append(ops, o)
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].StartedAt.After(ops[j].StartedAt) })
	if operations > 0 && len(ops) > operations {
		ops = ops[:operations]
	}
	var oitems []any
	for _, o := range ops {
		oitems = append(oitems, OperationItem(o))
	}
	nsr, _ := r.ServiceRecord(nil, s.ID)
	return map[string]any{"format_version": FormatVersion, "service": map[string]any{
		"name": s.Name, "id": s.ID, "status": string(s.Status), "record_status": string(s.RecordStatus), "version": s.Version,
		"nsd": s.NSD.Identity.String(), "error": s.Error,
		"ingresses": endpoints(s.Ingresses), "egresses": endpoints(s.Egresses), "placement_policy": s.Spec.Placement,
		"created_at": s.CreatedAt, "updated_at": s.UpdatedAt,
	}, "functions": fitems, "operations": oitems, "nsr": map[string]any(nsr)}, nil
}

func endpoints(eps []records.Endpoint) []any {
	out := make([]any, 0, len(eps))
	for _, e := range eps {
		out = append(out, map[string]any{"location": e.Location, "nap": e.NAP})
	}
	return out
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

func demand(fns []*records.Function) records.Demand {
	var d records.Demand
	for _, f := range fns {
		d.Cores += f.Demand.Cores
		d.MemoryMB += f.Demand.MemoryMB
	}
	return d
}

func vimName(r records.Reader, id string) string {
	if v, _ := r.VIMByUUID(nil, id); v != nil && v.Name != "" {
		return v.Name
	}
	return id
}

func vimNames(r records.Reader, fns []*records.Function) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, f := range fns {
		n := vimName(r, f.VIM)
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// Addresses lists a function's "cp=address" pairs.
func Addresses(fn *records.Function) []string {
	out := []string{}
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
