package plan

import (
	"fmt"

	"github.com/manoctl/manoctl/reconcile/desired"
	"github.com/manoctl/manoctl/reconcile/placement"
	"github.com/manoctl/manoctl/reconcile/records"
	"github.com/manoctl/manoctl/schema/descriptor"
)

// preview places, in apply order, every function the plan would deploy,
// against the VIMs as they will be when the functions the plan removes
// first are gone, and fills in the per-VIM deltas.
//
// Apply runs destroys (and the terminate half of replaces and heals, and
// the scale-ins of scale changes) before anything is deployed, so their
// capacity is released up front. Updates are make-before-break and scale
// once they are done: the functions they replace or scale in stay until
// the new ones run, so their capacity is released only after every
// placement.
func preview(p *Plan, in Input, byName map[string]*live) {
	base := baseVIMs(in)
	index := map[string]int{}
	for i, v := range base {
		index[v.UUID] = i
	}
	before := append([]placement.VIM(nil), base...)
	release := func(vims []placement.VIM, f *records.Function) {
		if in.Infra != nil && in.Infra.Functions != nil && !in.Infra.Functions[f.ID] {
			return // the IA already lost it: its capacity is free
		}
		if i, ok := index[f.VIM]; ok {
			vims[i].CoresUsed -= f.Demand.Cores
			vims[i].MemoryUsedMB -= f.Demand.MemoryMB
		}
	}
	desiredByName := map[string]*desired.Service{}
	for _, d := range in.Desired.Services {
		desiredByName[d.Name] = d
	}
	var late []*records.Function
	for _, c := range p.Changes {
		l := byName[c.Service]
		if c.ServiceID != "" && (l == nil || l.svc.ID != c.ServiceID) {
			// A duplicate destroyed by id.
			for _, x := range in.Records.Services() {
				if x.ID == c.ServiceID {
					l = &live{svc: x, funcs: in.Records.Functions(x.ID)}
				}
			}
		}
		switch c.Action {
		case Destroy, Replace, Heal:
			if l != nil {
				for _, f := range l.funcs {
					release(base, f)
				}
			}
		case Scale:
			for _, sd := range c.Scale {
				if sd.To < sd.From && l != nil {
					for _, f := range newest(l.funcs, sd.VNFID, sd.From-sd.To) {
						release(base, f)
					}
				}
			}
		case Update:
			// The update deploys before it removes, and scales after it.
			if l != nil {
				late = append(late, replacedBy(l.funcs, desiredByName[c.Service])...)
				for _, sd := range c.Scale {
					if sd.To < sd.From {
						late = append(late, newest(l.funcs, sd.VNFID, sd.From-sd.To)...)
					}
				}
			}
		}
	}
	pool, err := placement.NewPool(base)
	if err != nil {
		for _, c := range p.Changes {
			if c.Action != Destroy {
				c.Infeasible = err.Error()
			}
		}
		return
	}
	for _, c := range p.Changes {
		d := desiredByName[c.Service]
		if d == nil || c.Action == Destroy {
			continue
		}
		funcs := toPlace(c, d, byName[c.Service])
		if len(funcs) == 0 {
			continue
		}
		req := request(d, funcs, in.DefaultPolicy)
		res, err := pool.Place(req)
		if err != nil {
			c.Infeasible = err.Error()
			continue
		}
		if err := pool.Commit(res); err != nil {
			c.Infeasible = err.Error()
			continue
		}
		byID := map[string]placement.Function{}
		for _, f := range funcs {
			byID[f.ID] = f
		}
		for _, dec := range res.Decisions {
			f := byID[dec.Function]
			fp := FunctionPlacement{VNFID: f.VNFID, VNFD: f.VNFD.String(), VIMUUID: dec.VIM, Cores: f.Demand.Cores, MemoryMB: f.Demand.MemoryMB}
			if dec.Chosen >= 0 && dec.Chosen < len(dec.Candidates) {
				ch := dec.Candidates[dec.Chosen]
				fp.VIM, fp.Why = ch.Name, ch.Reason()
			}
			if dec.RunnerUp >= 0 && dec.RunnerUp < len(dec.Candidates) {
				ru := dec.Candidates[dec.RunnerUp]
				fp.RunnerUp = ru.Name + " (" + ru.Reason() + ")"
			}
			c.Placement = append(c.Placement, fp)
		}
	}
	after := pool.VIMs()
	for _, f := range late {
		release(after, f)
	}
	for i := range before {
		p.VIMs = append(p.VIMs, VIMDelta{
			Name: before[i].Label(), UUID: before[i].UUID,
			CoresTotal: before[i].CoresTotal, CoresBefore: before[i].CoresUsed, CoresAfter: after[i].CoresUsed,
			MemoryTotalMB: before[i].MemoryTotalMB, MemoryBeforeMB: before[i].MemoryUsedMB, MemoryAfterMB: after[i].MemoryUsedMB,
		})
	}
}

// baseVIMs is the VIMs' use now: the refresh when there is one, else the
// inventory with the recorded functions' demands.
func baseVIMs(in Input) []placement.VIM {
	if in.Infra != nil {
		return append([]placement.VIM(nil), in.Infra.VIMs...)
	}
	var out []placement.VIM
	index := map[string]int{}
	for _, v := range in.Desired.VIMs {
		index[v.UUID] = len(out)
		out = append(out, placement.VIM{UUID: v.UUID, Name: v.Name, City: v.City, Endpoint: v.Endpoint,
			CoresTotal: v.Cores, MemoryTotalMB: float64(v.MemoryMB)})
	}
	for _, s := range in.Records.Services() {
		if s.Status == records.ServiceTerminated {
			continue
		}
		for _, f := range in.Records.Functions(s.ID) {
			if i, ok := index[f.VIM]; ok {
				out[i].CoresUsed += f.Demand.Cores
				out[i].MemoryUsedMB += f.Demand.MemoryMB
			}
		}
	}
	return out
}

// newest returns the last n functions of vnfID: the ones a scale-in
// removes.
func newest(fs []*records.Function, vnfID string, n int) []*records.Function {
	var out []*records.Function
	for i := len(fs) - 1; i >= 0 && len(out) < n; i-- {
		if fs[i].VNFID == vnfID {
			out = append(out, fs[i])
		}
	}
	return out
}

// replacedBy returns the running functions an update removes: those of
// network functions whose VNFD changed or that the new NSD drops.
func replacedBy(fs []*records.Function, d *desired.Service) []*records.Function {
	if d == nil {
		return nil
	}
	want := map[string]string{}
	for _, f := range d.Functions {
		want[f.VNFID] = f.VNFDDigest
	}
	var out []*records.Function
	for _, f := range fs {
		if dg, ok := want[f.VNFID]; !ok || dg != f.VNFD.Digest {
			out = append(out, f)
		}
	}
	return out
}

// toPlace lists the functions a change deploys.
func toPlace(c *Change, d *desired.Service, l *live) []placement.Function {
	var out []placement.Function
	add := func(f desired.Function, n int) {
		for i := 0; i < n; i++ {
			out = append(out, placement.Function{
				ID: fmt.Sprintf("%s/%s#%d", d.Name, f.VNFID, len(out)), VNFID: f.VNFID,
				VNFD: f.VNFDRef, Demand: f.Demand, VDUs: vduCount(f.VNFD),
			})
		}
	}
	switch c.Action {
	case Create, Replace, Heal:
		for _, f := range d.Functions {
			add(f, instances(d, f.VNFID))
		}
	case Update:
		running := map[string]*records.Function{}
		if l != nil {
			for _, f := range l.funcs {
				if running[f.VNFID] == nil {
					running[f.VNFID] = f
				}
			}
		}
		// The update deploys one instance of each network function it
		// replaces or adds, then scales: those count their other
		// instances in, the others only what they scale out.
		scaleOut := map[string]int{}
		for _, sd := range c.Scale {
			scaleOut[sd.VNFID] = max(0, sd.To-sd.From)
		}
		for _, f := range d.Functions {
			if r := running[f.VNFID]; r == nil || r.VNFD.Digest != f.VNFDDigest {
				add(f, instances(d, f.VNFID))
			} else {
				add(f, scaleOut[f.VNFID])
			}
		}
	case Scale:
		for _, sd := range c.Scale {
			if sd.To > sd.From {
				for _, f := range d.Functions {
					if f.VNFID == sd.VNFID {
						add(f, sd.To-sd.From)
					}
				}
			}
		}
	}
	return out
}

func instances(d *desired.Service, vnfID string) int {
	if n := d.Instances[vnfID]; n > 0 {
		return n
	}
	return 1
}

func vduCount(vnfd descriptor.Doc) int {
	return len(descriptor.List(vnfd, "virtual_deployment_units"))
}

// request builds the placement request of one change, as the placement
// plugin will build it from the SLM's mano.service.place request.
func request(d *desired.Service, funcs []placement.Function, def placement.Policy) placement.Request {
	r := placement.Request{Functions: funcs, Policy: def, Brief: true, Preferences: placement.PreferencesOf(d.NSD)}
	ps := d.Placement
	if ps.Policy != "" {
		if pol, err := placement.ParsePolicy(ps.Policy); err == nil {
			r.Policy = pol
		}
	}
	r.Priority, r.Allowed, r.Blocked = ps.Priority, ps.AllowedVIMs, ps.BlockedVIMs
	r.Affinity, r.AntiAffinity = ps.Affinity, ps.AntiAffinity
	if len(d.Ingresses) > 0 {
		r.Ingress = d.Ingresses[0].NAP
	}
	if len(d.Egresses) > 0 {
		r.Egress = d.Egresses[0].NAP
	}
	return r
}
