package embedded_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/manoctl/manoctl/adapters/embedded"
	"github.com/manoctl/manoctl/reconcile/apply"
	"github.com/manoctl/manoctl/reconcile/desired"
	"github.com/manoctl/manoctl/reconcile/plan"
	"github.com/manoctl/manoctl/reconcile/records"
)

// The reconciler end to end on the embedded platform, in process: plan
// against the records and the emulated infrastructure of a state
// directory, apply through the lifecycle, check the result.

// descriptorDirs are the demo descriptors and this package's extra ones
// (another NSD over the same VNFDs, a newer demo NSD and firewall).
func descriptorDirs(t testing.TB) []string {
	t.Helper()
	var out []string
	for _, d := range []string{"../../testdata/demo/descriptors", "testdata/reconcile"} {
		abs, err := filepath.Abs(d)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, abs)
	}
	return out
}

// resolveManifest resolves a manifest body (vims and services; the
// descriptors are filled in).
func resolveManifest(t testing.TB, body string) *desired.State {
	t.Helper()
	b, _ := json.Marshal(descriptorDirs(t))
	data := []byte("descriptors: " + string(b) + "\n" + body)
	m, err := desired.Parse(filepath.Join(t.TempDir(), "manoctl.yaml"), data)
	if err != nil {
		t.Fatalf("manifest: %v\n%s", err, data)
	}
	st, err := desired.Resolve(context.Background(), m)
	if err != nil {
		t.Fatalf("manifest: %v\n%s", err, data)
	}
	return st
}

// stateDir is a state directory: durable records plus the emulated
// infrastructure's file.
type stateDir struct {
	t     testing.TB
	dir   string
	store *records.Store
	mem   bool // records in memory only (no fsync), kept by reopen
}

// newMemStateDir is a state directory whose records live in memory: for
// tests that run many applies and are not about durability.
func newMemStateDir(t testing.TB) *stateDir {
	return &stateDir{t: t, dir: t.TempDir(), store: records.NewMemStore(), mem: true}
}

func newStateDir(t testing.TB) *stateDir {
	t.Helper()
	d := &stateDir{t: t, dir: t.TempDir()}
	d.open()
	t.Cleanup(func() {
		if d.store != nil {
			d.store.Close()
		}
	})
	return d
}

func (d *stateDir) open() {
	d.t.Helper()
	s, err := records.Open(d.dir, records.Options{Command: d.t.Name()})
	if err != nil {
		d.t.Fatal(err)
	}
	d.store = s
}

// reopen closes and opens the records, as the next manoctl run does.
func (d *stateDir) reopen() {
	d.t.Helper()
	if d.mem {
		return
	}
	if err := d.store.Close(); err != nil {
		d.t.Fatal(err)
	}
	d.open()
}

func (d *stateDir) plan(st *desired.State) *plan.Plan {
	d.t.Helper()
	p, err := embedded.Plan(st, d.store, d.dir, false)
	if err != nil {
		d.t.Fatal(err)
	}
	return p
}

// apply plans and applies st as manoctl apply --auto-approve does; tune
// runs on the session before the changes are applied.
func (d *stateDir) apply(st *desired.State, tune func(*embedded.Session)) (*plan.Plan, *apply.Result) {
	d.t.Helper()
	p := d.plan(st)
	if p.Infeasible {
		d.t.Fatalf("plan infeasible: %s", describePlan(p))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sess, err := embedded.StartSession(ctx, st, d.store, d.dir)
	if err != nil {
		d.t.Fatal(err)
	}
	if tune != nil {
		tune(sess)
	}
	res, err := apply.Run(ctx, sess.GK, p, st, apply.Options{})
	if cerr := sess.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		d.t.Fatal(err)
	}
	return p, res
}

// mustApply applies st and fails the test on any failed change.
func (d *stateDir) mustApply(st *desired.State, tune func(*embedded.Session)) *plan.Plan {
	d.t.Helper()
	p, res := d.apply(st, tune)
	if res.Failed() > 0 {
		var msgs []string
		for _, c := range res.Changes {
			if c.Err != nil {
				msgs = append(msgs, c.Err.Error())
			}
		}
		d.t.Fatalf("apply failed:\n  %s\nplan:%s", strings.Join(msgs, "\n  "), describePlan(p))
	}
	return p
}

func describePlan(p *plan.Plan) string {
	var b strings.Builder
	for _, c := range p.Changes {
		fmt.Fprintf(&b, "\n  %s %s %q", c.Action, c.Service, c.Reasons)
		if c.Infeasible != "" {
			fmt.Fprintf(&b, " INFEASIBLE: %s", c.Infeasible)
		}
	}
	for _, v := range p.VIMs {
		fmt.Fprintf(&b, "\n  vim %s cores %d -> %d / %d", v.Name, v.CoresBefore, v.CoresAfter, v.CoresTotal)
	}
	return b.String()
}

// checkConverged checks that the records and the infrastructure are what
// st asks for: every desired service ready with its NSD, spec and
// instance counts, nothing else live, every recorded function running in
// the infrastructure and nothing running there that no record owns; and
// that a new plan has no changes.
func (d *stateDir) checkConverged(st *desired.State) {
	d.t.Helper()
	r := d.store.Snapshot().Reader()
	it, err := r.Services(nil)
	if err != nil {
		d.t.Fatal(err)
	}
	live := map[string]*records.Service{}
	owned := map[string]string{}
	for s := range it {
		if s.Status == records.ServiceTerminated {
			continue
		}
		if _, dup := live[s.Name]; dup {
			d.t.Errorf("two live services named %q", s.Name)
		}
		live[s.Name] = s
		for _, f := range s.Functions {
			owned[f] = s.ID
		}
	}
	for _, ds := range st.Services {
		s := live[ds.Name]
		if s == nil {
			d.t.Errorf("desired service %s is not running", ds.Name)
			continue
		}
		delete(live, ds.Name)
		if s.Status != records.ServiceReady || s.NSD.Identity != ds.NSDRef || s.Spec.Digest != ds.SpecDigest {
			d.t.Errorf("%s: status %s, NSD %s (want %s), spec %s (want %s)", ds.Name, s.Status, s.NSD.Identity, ds.NSDRef, s.Spec.Digest, ds.SpecDigest)
		}
		counts := map[string]int{}
		for _, fid := range s.Functions {
			f, _ := r.FunctionByID(nil, fid)
			if f == nil {
				d.t.Errorf("%s: function %s not recorded", ds.Name, fid)
				continue
			}
			counts[f.VNFID]++
		}
		want := map[string]int{}
		for _, f := range ds.Functions {
			want[f.VNFID] = max(1, ds.Instances[f.VNFID])
		}
		if !mapsEqual(counts, want) {
			d.t.Errorf("%s: instances %v, want %v", ds.Name, counts, want)
		}
	}
	for name, s := range live {
		d.t.Errorf("service %q (%s, %s) is live but not desired", name, s.ID, s.Status)
	}
	emu, err := embedded.LoadInfra(d.dir, st)
	if err != nil {
		d.t.Fatalf("infrastructure: %v", err)
	}
	running := map[string]bool{}
	for _, f := range emu.Snapshot().Functions {
		running[f.InstanceUUID] = true
		if owned[f.InstanceUUID] == "" {
			d.t.Errorf("orphan: the infrastructure runs function %s of service %s, which no live record owns", f.InstanceUUID, f.ServiceInstanceID)
		}
	}
	for fid, sid := range owned {
		if !running[fid] {
			d.t.Errorf("function %s of service %s is recorded but not running", fid, sid)
		}
	}
	if p := d.plan(st); p.HasChanges() {
		d.t.Errorf("a second plan has changes:%s", describePlan(p))
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestApplyFreesCapacityBeforeDeploying: the plan counts the capacity a
// replace's terminate frees as available to every service it deploys, so
// apply must terminate before it deploys. Here the VIM fits the new
// service only once the replaced one is gone, and the IA is slow to remove
// services.
func TestApplyFreesCapacityBeforeDeploying(t *testing.T) {
	d := newStateDir(t)
	const vims = "vims: [{name: tiny, cores: 5, memory_mb: 65536}]\n"
	d.mustApply(resolveManifest(t, vims+`services:
  a: {nsd: {vendor: eu.sonata-nfv.service-descriptor, name: sonata-demo, version: "0.2.1"}}
`), nil)
	st := resolveManifest(t, vims+`services:
  a: {nsd: {vendor: eu.example, name: iperf-pair, version: "1.0"}}
  b: {nsd: {vendor: eu.sonata-nfv.service-descriptor, name: sonata-demo, version: "0.2.1"}}
`)
	p := d.plan(st)
	if p.Infeasible || len(p.Changes) != 2 || p.Changes[0].Action != plan.Replace || p.Changes[1].Action != plan.Create {
		t.Fatalf("plan:%s", describePlan(p))
	}
	d.mustApply(st, func(s *embedded.Session) { s.IA.SetLatency("infrastructure.service.remove", 300*time.Millisecond) })
	d.checkConverged(st)
}

// orphans lists the functions the state directory's infrastructure runs
// that no live record owns.
func (d *stateDir) orphans(st *desired.State) []string {
	d.t.Helper()
	owned := map[string]bool{}
	it, err := d.store.Snapshot().Reader().Services(nil)
	if err != nil {
		d.t.Fatal(err)
	}
	for s := range it {
		if s.Status != records.ServiceTerminated {
			for _, f := range s.Functions {
				owned[f] = true
			}
		}
	}
	emu, err := embedded.LoadInfra(d.dir, st)
	if err != nil {
		d.t.Fatalf("infrastructure does not load: %v", err)
	}
	var out []string
	for _, f := range emu.Snapshot().Functions {
		if !owned[f.InstanceUUID] {
			out = append(out, f.InstanceUUID+" of "+f.ServiceInstanceID)
		}
	}
	return out
}

// crashApply applies st and dies before the session saves the
// infrastructure: the records keep every committed step, the
// infrastructure file is what the last save (and the removals journalled
// since) left.
func (d *stateDir) crashApply(st *desired.State) {
	d.t.Helper()
	p := d.plan(st)
	ctx := context.Background()
	sess, err := embedded.StartSession(ctx, st, d.store, d.dir)
	if err != nil {
		d.t.Fatal(err)
	}
	if _, err := apply.Run(ctx, sess.GK, p, st, apply.Options{}); err != nil {
		d.t.Fatal(err)
	}
	sess.Platform.Close() // no Save: the process is gone
	d.reopen()
}

const demo021 = `{vendor: eu.sonata-nfv.service-descriptor, name: sonata-demo, version: "0.2.1"}`

// TestCrashBeforeSave: whatever an apply did before its process died
// without saving the infrastructure, the infrastructure runs nothing the
// records do not own, and the next apply converges.
func TestCrashBeforeSave(t *testing.T) {
	const vims = "vims: [{name: athens, cores: 64, memory_mb: 262144}, {name: aveiro, cores: 64, memory_mb: 262144}]\nservices:\n"
	tests := []struct {
		name          string
		before, after string
	}{
		{"creates", "", "  a: {nsd: " + demo021 + "}\n  b: {nsd: " + demo021 + "}\n"},
		{"destroys", "  a: {nsd: " + demo021 + "}\n  b: {nsd: " + demo021 + "}\n  c: {nsd: " + demo021 + "}\n", "  a: {nsd: " + demo021 + "}\n"},
		{"scale in", "  a: {nsd: " + demo021 + ", instances: {vnf_iperf: 3}}\n", "  a: {nsd: " + demo021 + "}\n"},
		{"scale out", "  a: {nsd: " + demo021 + "}\n", "  a: {nsd: " + demo021 + ", instances: {vnf_iperf: 3}}\n"},
		{"update", "  a: {nsd: " + demo021 + "}\n", "  a: {nsd: {vendor: eu.sonata-nfv.service-descriptor, name: sonata-demo, version: \"0.2.2\"}}\n"},
		{"replace", "  a: {nsd: " + demo021 + "}\n", "  a: {nsd: {vendor: eu.example, name: iperf-pair, version: \"1.0\"}}\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newStateDir(t)
			if tc.before != "" {
				d.mustApply(resolveManifest(t, vims+tc.before), nil)
			}
			st := resolveManifest(t, vims+tc.after)
			d.crashApply(st)
			if o := d.orphans(st); len(o) > 0 {
				t.Errorf("after the crash, the infrastructure runs functions no record owns:\n  %s", strings.Join(o, "\n  "))
			}
			d.mustApply(st, nil)
			d.checkConverged(st)
		})
	}
}

// TestUpdateThenScaleIn: an update that also lowers an instance count
// scales in once the update is done. The property test caught a draft of
// the two-phase apply that ran an update's scale-ins in neither phase;
// this is its failing case, reduced.
func TestUpdateThenScaleIn(t *testing.T) {
	d := newMemStateDir(t)
	const vims = "vims: [{name: athens, cores: 64, memory_mb: 262144}]\nservices:\n"
	d.mustApply(resolveManifest(t, vims+"  a: {nsd: "+demo021+", instances: {vnf_iperf: 2, vnf_tcpdump: 2}}\n"), nil)
	st := resolveManifest(t, vims+`  a: {nsd: {vendor: eu.sonata-nfv.service-descriptor, name: sonata-demo, version: "0.2.2"}, instances: {vnf_iperf: 3}}`+"\n")
	p := d.plan(st)
	if len(p.Changes) != 1 || p.Changes[0].Action != plan.Update || len(p.Changes[0].Scale) != 2 {
		t.Fatalf("plan:%s", describePlan(p))
	}
	d.mustApply(st, nil)
	d.checkConverged(st)
}

// TestApplyPlacesOneAtATimeWhenTight: the plan places services one after
// the other; the placement plugin places each against the VIMs' use when
// it asks. Placed at once, two services both see the first VIM empty and
// pick it (fill-first), and one fails to deploy, although the plan
// (rightly) found room for both. When the VIMs could not take everything
// at once, apply deploys one change at a time, as the plan placed them.
func TestApplyPlacesOneAtATimeWhenTight(t *testing.T) {
	d := newStateDir(t)
	st := resolveManifest(t, `vims: [{name: one, cores: 3, memory_mb: 65536}, {name: two, cores: 3, memory_mb: 65536}]
services:
  s1: {nsd: `+demo021+`, placement: {policy: fill-first}}
  s2: {nsd: `+demo021+`, placement: {policy: fill-first}}
`)
	p := d.plan(st)
	if p.Infeasible || len(p.Changes) != 2 {
		t.Fatalf("plan:%s", describePlan(p))
	}
	// Deployments take a while: both placements happen before either
	// service's functions land, if they run at once.
	d.mustApply(st, func(s *embedded.Session) { s.IA.SetLatency("infrastructure.function.deploy", 100*time.Millisecond) })
	d.checkConverged(st)
}
