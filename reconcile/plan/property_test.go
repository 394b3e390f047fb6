package plan_test

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/manoctl/manoctl/reconcile/desired"
	"github.com/manoctl/manoctl/reconcile/placement"
	"github.com/manoctl/manoctl/reconcile/plan"
	"github.com/manoctl/manoctl/reconcile/records"
)

// The diff's property: for any desired state and any records (services
// ready, failed, interrupted, duplicated, unmanaged or terminated, with
// instance counts, descriptors and NAPs of another spec, functions the
// infrastructure lost), applying the plan reaches the desired state, and
// a second plan is empty.
//
// Applying is a model of what apply and the SLM do with each change
// (reconcile/apply, slm's planUpdate): a destroy terminates the instance
// it names, a create deploys every function, a replace or heal does both,
// an update replaces the functions whose VNFD changed by one instance
// each and removes those the NSD dropped, then scales by the change's
// deltas, applied relative to what runs, as the scale requests are. New
// functions go where the plan's placement preview put them: the model
// fails when a change deploys a function the preview did not place, or
// the preview placed one that no change deploys, and it checks the VIM
// use the preview predicts.
//
// The end-to-end version of this property, through the real lifecycle,
// is adapters/embedded's TestPropertyApplyConverges.

// propertyPlanNames are the instance names desired states and records
// draw from.
var propertyPlanNames = []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot"}

// propertyPlanVIMs have room for anything the generator makes: whether a
// plan fits is TestComputeInfeasible's business.
const propertyPlanVIMs = `vims:
  - {name: athens, city: Athens, endpoint: 10.100.32.200, cores: 100000, memory_mb: 100000000}
  - {name: aveiro, city: Aveiro, endpoint: 10.1.10.0, cores: 100000, memory_mb: 100000000}
  - {name: ghent, city: Ghent, endpoint: 10.2.0.1, cores: 100000, memory_mb: 100000000}
`

// specPool resolves, once, every combination of NSD (the demo at 0.2.1,
// at 0.2.2 with a new firewall, another NSD over the same VNFDs),
// instance counts, ingress and placement wish; random desired states and
// records take their services from it.
func specPool(t *testing.T) *desired.State {
	t.Helper()
	nsds := []struct {
		ref  string
		vnfs []string
	}{
		{demoNSD, []string{"vnf_firewall", "vnf_iperf", "vnf_tcpdump"}},
		{`{vendor: eu.sonata-nfv.service-descriptor, name: sonata-demo, version: "0.2.2"}`, []string{"vnf_firewall", "vnf_iperf", "vnf_tcpdump"}},
		{`{vendor: eu.example, name: iperf-pair, version: "1.0"}`, []string{"vnf_iperf", "vnf_tcpdump"}},
	}
	wishes := []string{"", "{policy: fill-first}", "{allowed_vims: [athens, ghent]}", "{blocked_vims: [aveiro]}", "{policy: priority, priority: [ghent, athens, aveiro]}"}
	var b strings.Builder
	b.WriteString(propertyPlanVIMs + "services:\n")
	n := 0
	for _, nsd := range nsds {
		counts := []string{""}
		for i, v := range nsd.vnfs {
			counts = append(counts, fmt.Sprintf("{%s: %d}", v, 2+i%2))
		}
		for _, count := range counts {
			for _, nap := range []string{"", "10.100.10.1", "10.100.10.2"} {
				fmt.Fprintf(&b, "  spec-%02d:\n    nsd: %s\n", n, nsd.ref)
				if count != "" {
					fmt.Fprintf(&b, "    instances: %s\n", count)
				}
				if nap != "" {
					fmt.Fprintf(&b, "    ingresses: [{location: Athens, nap: %s}]\n", nap)
				}
				if w := wishes[n%len(wishes)]; w != "" {
					fmt.Fprintf(&b, "    placement: %s\n", w)
				}
				n++
			}
		}
	}
	return resolve(t, b.String(), map[string]string{
		"nsd-0.2.2.yml": sonataDemoWith(t, "0.2.2", "0.4"), "fw-0.4.yml": firewallAt(t, "0.4"), "pair.yml": pairNSD,
	})
}

func TestPropertyPlanConverges(t *testing.T) {
	pool := specPool(t)
	rapid.Check(t, func(rt *rapid.T) {
		m := &model{t: rt, fns: map[string][]*records.Function{}, infra: map[string]bool{}, vims: pool.VIMs}
		st := &desired.State{Manifest: pool.Manifest, VIMs: pool.VIMs, DescriptorDigests: pool.DescriptorDigests, ManifestDigest: "sha256:property"}
		for _, name := range propertyPlanNames {
			var want *desired.Service
			if rapid.IntRange(0, 3).Draw(rt, name+" desired") > 0 {
				d := *pool.Services[rapid.IntRange(0, len(pool.Services)-1).Draw(rt, name+" spec")]
				d.Name = name
				want = &d
				st.Services = append(st.Services, want)
			}
			// Mostly one record a name; sometimes none, sometimes two live
			// ones (a crash between a create and the old one's terminate).
			n := rapid.SampledFrom([]int{0, 1, 1, 1, 2}).Draw(rt, name+" records")
			for range n {
				// Half the records start from the desired spec (so that
				// no change, scales and drift show), the others from any.
				d := pool.Services[rapid.IntRange(0, len(pool.Services)-1).Draw(rt, "record spec")]
				if want != nil && rapid.Bool().Draw(rt, "record of the desired spec") {
					d = want
				}
				m.addRecord(d, name)
			}
		}
		if rapid.IntRange(0, 3).Draw(rt, "unmanaged") == 0 {
			// A service manoctl did not create: left alone.
			m.addRecord(pool.Services[rapid.IntRange(0, len(pool.Services)-1).Draw(rt, "unmanaged spec")], "")
		}
		// Plans refresh the infrastructure (drift shows) or, without a
		// refresh, go by the records alone.
		refreshed := rapid.IntRange(0, 3).Draw(rt, "refreshed") > 0

		p := m.plan(st, refreshed)
		if p.Infeasible {
			rt.Fatalf("infeasible with room for everything:%s", describe(p))
		}
		m.apply(p, st)
		m.checkVIMs(p, refreshed)
		m.checkDesired(st, refreshed)
		if p2 := m.plan(st, refreshed); p2.HasChanges() {
			rt.Fatalf("a second plan has changes:%s\nafter the first:%s", describe(p2), describe(p))
		}
	})
}

// model is the records and the infrastructure a plan is applied to.
type model struct {
	t     *rapid.T
	vims  []desired.VIM
	svcs  []*records.Service
	fns   map[string][]*records.Function // by service id, in order
	infra map[string]bool                // the functions the infrastructure runs
	index uint64
}

func (m *model) Lineage() string              { return "lineage-property" }
func (m *model) Index() uint64                { return m.index }
func (m *model) Services() []*records.Service { return m.svcs }
func (m *model) Functions(id string) []*records.Function {
	return m.fns[id]
}

func (m *model) plan(st *desired.State, refreshed bool) *plan.Plan {
	in := plan.Input{Desired: st, Records: m, DefaultPolicy: placement.LoadBalanced, Now: now}
	if refreshed {
		in.Infra = &plan.Infra{VIMs: m.use(true), Functions: maps.Clone(m.infra)}
	}
	p, err := plan.Compute(in)
	if err != nil {
		m.t.Fatal(err)
	}
	return p
}

// use is the VIMs' use by the live services' functions: those the
// infrastructure runs (refreshed), or all that are recorded.
func (m *model) use(refreshed bool) []placement.VIM {
	var out []placement.VIM
	index := map[string]int{}
	for _, v := range m.vims {
		index[v.UUID] = len(out)
		out = append(out, placement.VIM{UUID: v.UUID, Name: v.Name, City: v.City, Endpoint: v.Endpoint, CoresTotal: v.Cores, MemoryTotalMB: float64(v.MemoryMB)})
	}
	for _, s := range m.svcs {
		if s.Status == records.ServiceTerminated {
			continue
		}
		for _, f := range m.fns[s.ID] {
			if refreshed && !m.infra[f.ID] {
				continue
			}
			out[index[f.VIM]].CoresUsed += f.Demand.Cores
			out[index[f.VIM]].MemoryUsedMB += f.Demand.MemoryMB
		}
	}
	return out
}

// addRecord adds a random record of a service named name, from spec d, as
// some run may have left it.
func (m *model) addRecord(d *desired.Service, name string) {
	t := m.t
	status := records.ServiceReady
	if rapid.IntRange(0, 2).Draw(t, "record not ready") == 0 {
		status = rapid.SampledFrom([]records.ServiceStatus{
			records.ServiceError, records.ServiceInstantiating, records.ServiceUpdating, records.ServiceTerminating, records.ServiceTerminated,
		}).Draw(t, "record status")
	}
	s := m.newService(d, name)
	s.Status = status
	if status == records.ServiceError {
		s.Error = "vnf_deploy: injected failure"
	}
	if status == records.ServiceTerminated {
		// Terminated services keep no functions, nor their name.
		s.Name = ""
		m.svcs = append(m.svcs, s)
		return
	}
	// The spec digest covers the descriptors: a record of other
	// descriptor content has another spec digest. Instance counts may
	// differ under the same digest (a scale failed after the create that
	// recorded it).
	if rapid.IntRange(0, 9).Draw(t, "stale NSD content") == 0 {
		s.NSD.Digest, s.Spec.Digest = "sha256:stale-nsd", "sha256:stale-spec"
	}
	vims := make([]string, len(m.vims))
	for i, v := range m.vims {
		vims[i] = v.UUID
	}
	for _, f := range d.Functions {
		n := max(1, d.Instances[f.VNFID])
		if rapid.IntRange(0, 5).Draw(t, "miscounted "+f.VNFID) == 0 {
			n = rapid.IntRange(0, 3).Draw(t, "count "+f.VNFID)
		}
		digest := f.VNFDDigest
		if rapid.IntRange(0, 9).Draw(t, "stale VNFD "+f.VNFID) == 0 {
			digest, s.Spec.Digest = "sha256:stale-vnfd", "sha256:stale-spec"
		}
		for range n {
			fn := m.addFunction(s, f, rapid.SampledFrom(vims).Draw(t, "vim"))
			fn.VNFD.Digest = digest
			if rapid.IntRange(0, 24).Draw(t, "lost") == 0 {
				delete(m.infra, fn.ID) // drift: the infrastructure lost it
			}
		}
	}
	if rapid.IntRange(0, 9).Draw(t, "legacy function") == 0 {
		// A network function no NSD of the pool has.
		legacy := d.Functions[0]
		legacy.VNFID, legacy.VNFDDigest = "vnf_legacy", "sha256:legacy"
		m.addFunction(s, legacy, vims[0])
	}
	m.svcs = append(m.svcs, s)
}

// newService is a ready record of d without functions.
func (m *model) newService(d *desired.Service, name string) *records.Service {
	m.index++
	s := readyService(d, name)
	s.CreateIndex = m.index
	return s
}

// addFunction records and runs one instance of f for s on vim.
func (m *model) addFunction(s *records.Service, f desired.Function, vim string) *records.Function {
	fn := &records.Function{
		ID: records.NewID(), ServiceID: s.ID, VNFID: f.VNFID, VIM: vim, Status: records.RecordNormal,
		VNFD:   records.DescriptorRef{Digest: f.VNFDDigest, Identity: f.VNFDRef},
		Demand: records.Demand{Cores: f.Demand.Cores, MemoryMB: f.Demand.MemoryMB},
	}
	s.Functions = append(s.Functions, fn.ID)
	m.fns[s.ID] = append(m.fns[s.ID], fn)
	m.infra[fn.ID] = true
	return fn
}

// removeFunction stops and forgets one function of s.
func (m *model) removeFunction(s *records.Service, id string) {
	s.Functions = slices.DeleteFunc(s.Functions, func(x string) bool { return x == id })
	m.fns[s.ID] = slices.DeleteFunc(m.fns[s.ID], func(f *records.Function) bool { return f.ID == id })
	delete(m.infra, id)
}

func (m *model) byID(id string) *records.Service {
	for _, s := range m.svcs {
		if s.ID == id {
			return s
		}
	}
	return nil
}

// apply applies p to the model, change by change.
func (m *model) apply(p *plan.Plan, st *desired.State) {
	t := m.t
	byName := map[string]*desired.Service{}
	for _, d := range st.Services {
		byName[d.Name] = d
	}
	for _, c := range p.Changes {
		// The preview's placements, which the change's deployments use
		// up in order.
		placed := map[string][]string{}
		for _, fp := range c.Placement {
			placed[fp.VNFID] = append(placed[fp.VNFID], fp.VIMUUID)
		}
		deploy := func(s *records.Service, f desired.Function) {
			vims := placed[f.VNFID]
			if len(vims) == 0 {
				t.Fatalf("%s %s deploys a %s that the preview did not place:%s", c.Action, c.Service, f.VNFID, describe(p))
			}
			placed[f.VNFID] = vims[1:]
			m.addFunction(s, f, vims[0])
		}
		d := byName[c.Service]
		if c.Action != plan.Destroy && d == nil {
			t.Fatalf("%s of %s, which is not desired", c.Action, c.Service)
		}
		var old *records.Service
		if c.ServiceID != "" {
			if old = m.byID(c.ServiceID); old == nil || old.Status == records.ServiceTerminated {
				t.Fatalf("%s %s acts on %s, which is not live", c.Action, c.Service, c.ServiceID)
			}
			if old.Name != c.Service {
				t.Fatalf("%s %s acts on %s, named %q", c.Action, c.Service, c.ServiceID, old.Name)
			}
		}
		switch c.Action {
		case plan.Destroy:
			if old == nil {
				t.Fatalf("destroy %s names no instance", c.Service)
			}
			m.terminate(old)
		case plan.Create, plan.Replace, plan.Heal:
			if (c.Action == plan.Create) != (old == nil) {
				t.Fatalf("%s %s with instance %q", c.Action, c.Service, c.ServiceID)
			}
			if old != nil {
				m.terminate(old)
			}
			s := m.newService(d, d.Name)
			for _, f := range d.Functions {
				for range max(1, d.Instances[f.VNFID]) {
					deploy(s, f)
				}
			}
			m.svcs = append(m.svcs, s)
		case plan.Update, plan.Scale:
			if old == nil || old.Status != records.ServiceReady {
				t.Fatalf("%s %s of a service that is not ready: %+v", c.Action, c.Service, old)
			}
			if c.Action == plan.Update {
				m.update(old, d, deploy)
			}
			old.Spec = records.SpecRef{Digest: d.SpecDigest, Placement: d.Placement.Policy}
			for _, sd := range c.Scale {
				f := function(d, sd.VNFID)
				for range sd.To - sd.From {
					deploy(old, f)
				}
				for range sd.From - sd.To {
					m.removeNewest(old, sd.VNFID, c)
				}
			}
		default:
			t.Fatalf("unknown action %q", c.Action)
		}
		for vnf, vims := range placed {
			if len(vims) > 0 {
				t.Fatalf("the preview placed %d %s for %s %s that it does not deploy:%s", len(vims), vnf, c.Action, c.Service, describe(p))
			}
		}
	}
}

// terminate ends a live service: its functions are gone, its name free.
func (m *model) terminate(s *records.Service) {
	for _, id := range slices.Clone(s.Functions) {
		m.removeFunction(s, id)
	}
	s.Status, s.Name = records.ServiceTerminated, ""
}

// update is the SLM's update of s to d (slm's planUpdate): network
// functions whose VNFD is unchanged keep every instance, changed or new
// ones get one new instance (the old ones go), dropped ones go.
func (m *model) update(s *records.Service, d *desired.Service, deploy func(*records.Service, desired.Function)) {
	running := map[string][]*records.Function{}
	for _, f := range m.fns[s.ID] {
		running[f.VNFID] = append(running[f.VNFID], f)
	}
	for _, f := range d.Functions {
		olds := running[f.VNFID]
		delete(running, f.VNFID)
		if len(olds) > 0 && olds[0].VNFD.Digest == f.VNFDDigest {
			continue
		}
		deploy(s, f)
		for _, o := range olds {
			m.removeFunction(s, o.ID)
		}
	}
	for _, olds := range running {
		for _, o := range olds {
			m.removeFunction(s, o.ID)
		}
	}
	s.NSD = records.DescriptorRef{Digest: d.NSDDigest, Identity: d.NSDRef}
}

// removeNewest scales in one instance of vnfID, the newest, as the SLM
// does; there must be one.
func (m *model) removeNewest(s *records.Service, vnfID string, c *plan.Change) {
	fs := m.fns[s.ID]
	for i := len(fs) - 1; i >= 0; i-- {
		if fs[i].VNFID == vnfID {
			m.removeFunction(s, fs[i].ID)
			return
		}
	}
	m.t.Fatalf("%s %s scales in %s, which has no instance left: %+v", c.Action, c.Service, vnfID, c.Scale)
}

// function is d's network function vnfID.
func function(d *desired.Service, vnfID string) desired.Function {
	for _, f := range d.Functions {
		if f.VNFID == vnfID {
			return f
		}
	}
	panic("no network function " + vnfID + " in " + d.Name)
}

// checkVIMs checks the preview's prediction of each VIM's use after the
// apply against the use the model ends with.
func (m *model) checkVIMs(p *plan.Plan, refreshed bool) {
	after := m.use(refreshed)
	if len(p.VIMs) != len(after) {
		m.t.Fatalf("the plan shows %d VIMs, the inventory has %d", len(p.VIMs), len(after))
	}
	for i, v := range p.VIMs {
		a := after[i]
		if v.UUID != a.UUID || v.CoresAfter != a.CoresUsed || math.Abs(v.MemoryAfterMB-a.MemoryUsedMB) > 1e-6 {
			m.t.Errorf("VIM %s: the plan predicts %d cores and %.0f MB used after the apply, the apply leaves %d and %.0f",
				v.Name, v.CoresAfter, v.MemoryAfterMB, a.CoresUsed, a.MemoryUsedMB)
		}
	}
}

// checkDesired checks that the model is what st asks for: each desired
// service live once, ready, with its descriptors, spec, NAPs and instance
// counts, its functions running (when the plan could see what runs); no
// other named service live; services without a name untouched.
func (m *model) checkDesired(st *desired.State, refreshed bool) {
	t := m.t
	live := map[string]*records.Service{}
	for _, s := range m.svcs {
		if s.Status == records.ServiceTerminated || s.Name == "" {
			continue
		}
		if live[s.Name] != nil {
			t.Fatalf("two live services named %s", s.Name)
		}
		live[s.Name] = s
	}
	for _, d := range st.Services {
		s := live[d.Name]
		delete(live, d.Name)
		if s == nil {
			t.Fatalf("%s is not running", d.Name)
		}
		if s.Status != records.ServiceReady || s.NSD.Digest != d.NSDDigest || s.NSD.Identity != d.NSDRef || s.Spec.Digest != d.SpecDigest {
			t.Fatalf("%s: %s, NSD %s %s, spec %s; want ready, %s %s, %s", d.Name, s.Status, s.NSD.Identity, s.NSD.Digest, s.Spec.Digest, d.NSDRef, d.NSDDigest, d.SpecDigest)
		}
		if len(s.Ingresses) != len(d.Ingresses) || (len(d.Ingresses) > 0 && s.Ingresses[0].NAP != d.Ingresses[0].NAP) {
			t.Fatalf("%s: ingresses %v, want %v", d.Name, s.Ingresses, d.Ingresses)
		}
		vnfds := map[string]string{}
		for _, f := range d.Functions {
			vnfds[f.VNFID] = f.VNFDDigest
		}
		counts := map[string]int{}
		for _, f := range m.fns[s.ID] {
			counts[f.VNFID]++
			if want, ok := vnfds[f.VNFID]; ok && f.VNFD.Digest != want {
				t.Fatalf("%s: %s runs VNFD %s, want %s", d.Name, f.VNFID, f.VNFD.Digest, want)
			}
			if refreshed && !m.infra[f.ID] {
				t.Fatalf("%s: %s is recorded but the infrastructure does not run it", d.Name, f.VNFID)
			}
		}
		for _, f := range d.Functions {
			if want := max(1, d.Instances[f.VNFID]); counts[f.VNFID] != want {
				t.Fatalf("%s: %d instances of %s, want %d", d.Name, counts[f.VNFID], f.VNFID, want)
			}
			delete(counts, f.VNFID)
		}
		if len(counts) > 0 {
			t.Fatalf("%s: runs network functions its NSD does not have: %v", d.Name, counts)
		}
	}
	for name, s := range live {
		t.Fatalf("%s (%s) is live but not desired", name, s.Status)
	}
}
