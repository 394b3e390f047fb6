package plan_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/manoctl/manoctl/reconcile/desired"
	"github.com/manoctl/manoctl/reconcile/placement"
	"github.com/manoctl/manoctl/reconcile/plan"
	"github.com/manoctl/manoctl/reconcile/records"
)

// fakeRecords is the diff's view of the records, built by hand.
type fakeRecords struct {
	lineage string
	index   uint64
	svcs    []*records.Service
	fns     map[string][]*records.Function
}

func (f *fakeRecords) Lineage() string              { return f.lineage }
func (f *fakeRecords) Index() uint64                { return f.index }
func (f *fakeRecords) Services() []*records.Service { return f.svcs }
func (f *fakeRecords) Functions(id string) []*records.Function {
	return f.fns[id]
}

func newRecords() *fakeRecords {
	return &fakeRecords{lineage: "lineage-1", index: 42, fns: map[string][]*records.Function{}}
}

// add records a service with its functions.
func (f *fakeRecords) add(s *records.Service, fns []*records.Function) {
	for _, fn := range fns {
		s.Functions = append(s.Functions, fn.ID)
	}
	s.CreateIndex = uint64(len(f.svcs) + 1)
	f.svcs = append(f.svcs, s)
	f.fns[s.ID] = fns
}

// addRunning records service name of st as running on the VIM called vim.
func (f *fakeRecords) addRunning(t testing.TB, st *desired.State, name, vim string) {
	t.Helper()
	f.add(running(svc(t, st, name), desired.VIMUUID(vim)))
}

// running builds the records of d as a successful apply leaves them:
// ready, with the desired spec and one function per desired instance, all
// on vim.
func running(d *desired.Service, vim string) (*records.Service, []*records.Function) {
	s := readyService(d, d.Name)
	var fns []*records.Function
	for _, f := range d.Functions {
		for i := 0; i < max(1, d.Instances[f.VNFID]); i++ {
			fns = append(fns, &records.Function{
				ID: records.NewID(), ServiceID: s.ID, VNFID: f.VNFID, VIM: vim, Status: records.RecordNormal,
				VNFD:   records.DescriptorRef{Digest: f.VNFDDigest, Identity: f.VNFDRef},
				Demand: records.Demand{Cores: f.Demand.Cores, MemoryMB: f.Demand.MemoryMB},
			})
		}
	}
	return s, fns
}

// readyService is a ready record of d called name, without functions.
func readyService(d *desired.Service, name string) *records.Service {
	s := &records.Service{
		ID: records.NewID(), Name: name, Status: records.ServiceReady, RecordStatus: records.RecordNormal,
		NSD:  records.DescriptorRef{Digest: d.NSDDigest, Identity: d.NSDRef},
		Spec: records.SpecRef{Digest: d.SpecDigest, Placement: d.Placement.Policy},
	}
	for _, n := range d.Ingresses {
		s.Ingresses = append(s.Ingresses, records.Endpoint{Location: n.Location, NAP: n.NAP})
	}
	for _, n := range d.Egresses {
		s.Egresses = append(s.Egresses, records.Endpoint{Location: n.Location, NAP: n.NAP})
	}
	return s
}

// demoDir is the repository's demo descriptors.
func demoDir(t testing.TB) string {
	t.Helper()
	d, err := filepath.Abs("../../testdata/demo/descriptors")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// resolve loads a manifest whose descriptors are the demo's plus extra
// files (name -> content) in a directory of their own.
func resolve(t testing.TB, manifest string, extra map[string]string) *desired.State {
	t.Helper()
	dir := t.TempDir()
	descs := []string{demoDir(t)}
	if len(extra) > 0 {
		ed := filepath.Join(dir, "extra")
		if err := os.MkdirAll(ed, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, body := range extra {
			if err := os.WriteFile(filepath.Join(ed, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		descs = append(descs, ed)
	}
	b, _ := json.Marshal(descs)
	body := "descriptors: " + string(b) + "\n" + manifest
	path := filepath.Join(dir, "manoctl.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := desired.Load(path)
	if err != nil {
		t.Fatalf("load manifest: %v", err)
	}
	st, err := desired.Resolve(context.Background(), m)
	if err != nil {
		t.Fatalf("resolve manifest: %v", err)
	}
	return st
}

func svc(t testing.TB, st *desired.State, name string) *desired.Service {
	t.Helper()
	for _, s := range st.Services {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no desired service %s", name)
	return nil
}

const vims = `vims:
  - {name: athens, city: Athens, endpoint: 10.100.32.200, cores: 32, memory_mb: 65536}
  - {name: aveiro, city: Aveiro, endpoint: 10.1.10.0, cores: 16, memory_mb: 32768}
`

const demoNSD = `{vendor: eu.sonata-nfv.service-descriptor, name: sonata-demo, version: "0.2.1"}`

var now = time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC)

func compute(t testing.TB, st *desired.State, recs plan.Records, infra *plan.Infra) *plan.Plan {
	t.Helper()
	p, err := plan.Compute(plan.Input{Desired: st, Records: recs, Infra: infra, DefaultPolicy: placement.LoadBalanced, Now: now, Detailed: true})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func change(t testing.TB, p *plan.Plan, name string) *plan.Change {
	t.Helper()
	for _, c := range p.Changes {
		if c.Service == name {
			return c
		}
	}
	t.Fatalf("no change for %s in %s", name, describe(p))
	return nil
}

func describe(p *plan.Plan) string {
	var b strings.Builder
	for _, c := range p.Changes {
		fmt.Fprintf(&b, "\n  %s %s %q scale=%v replaced=%v infeasible=%q", c.Action, c.Service, c.Reasons, c.Scale, c.Replaced, c.Infeasible)
	}
	fmt.Fprintf(&b, "\n  unchanged %v", p.Unchanged)
	return b.String()
}

// firewallAt returns the demo firewall VNFD at another version, its
// content otherwise unchanged.
func firewallAt(t testing.TB, version string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(demoDir(t), "firewall-vnfd.yml"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Replace(string(b), `version: "0.3"`, `version: "`+version+`"`, 1)
}

// pairNSD is another service: iperf -> tcpdump.
const pairNSD = `descriptor_version: "1.0"
vendor: "eu.example"
name: "iperf-pair"
version: "1.0"
network_functions:
  - {vnf_id: "vnf_iperf", vnf_vendor: "eu.sonata-nfv", vnf_name: "iperf-vnf", vnf_version: "0.2"}
  - {vnf_id: "vnf_tcpdump", vnf_vendor: "eu.sonata-nfv", vnf_name: "tcpdump-vnf", vnf_version: "0.2"}
connection_points:
  - {id: "mgmt", interface: "ipv4", type: "management"}
  - {id: "input", interface: "ipv4", type: "external"}
  - {id: "output", interface: "ipv4", type: "external"}
virtual_links:
  - id: "mgmt"
    connectivity_type: "E-LAN"
    connection_points_reference: ["vnf_iperf:mgmt", "vnf_tcpdump:mgmt", "mgmt"]
  - id: "input-2-iperf"
    connectivity_type: "E-Line"
    connection_points_reference: ["input", "vnf_iperf:input"]
  - id: "iperf-2-tcpdump"
    connectivity_type: "E-Line"
    connection_points_reference: ["vnf_iperf:output", "vnf_tcpdump:input"]
  - id: "tcpdump-2-output"
    connectivity_type: "E-Line"
    connection_points_reference: ["vnf_tcpdump:output", "output"]
`

// sonataDemoWith returns the demo NSD at version with firewall-vnf at
// fwVersion.
func sonataDemoWith(t testing.TB, version, fwVersion string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(demoDir(t), "sonata-demo.yml"))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), `version: "0.2.1"`, `version: "`+version+`"`, 1)
	return strings.Replace(s, `vnf_name: "firewall-vnf"
    vnf_version: "0.3"`, `vnf_name: "firewall-vnf"
    vnf_version: "`+fwVersion+`"`, 1)
}

// TestComputeActions covers every action, each with its reason, one
// service at a time.
func TestComputeActions(t *testing.T) {
	base := resolve(t, vims+`services:
  s1:
    nsd: `+demoNSD+`
    ingresses: [{location: Athens, nap: 10.100.10.100}]
`, nil)
	d := svc(t, base, "s1")
	athens := desired.VIMUUID("athens")

	tests := []struct {
		name string
		// desired manifest (services section) and extra descriptors; ""
		// means base.
		manifest string
		extra    map[string]string
		// records: the running s1 (from base) as mutate leaves it.
		mutate func(s *records.Service, fns []*records.Function) []*records.Function
		none   bool // no s1 record at all
		infra  func(fns []*records.Function) *plan.Infra
		action plan.Action
		reason string // a substring of the reasons
		check  func(t *testing.T, c *plan.Change)
	}{
		{
			name: "create", none: true, action: plan.Create, reason: "not running",
			check: func(t *testing.T, c *plan.Change) {
				if c.ServiceID != "" || c.Before != "" || c.After != d.NSDRef.String() || c.SpecDigest != d.SpecDigest {
					t.Errorf("create change %+v", c)
				}
				if len(c.Placement) != 3 {
					t.Errorf("placement preview of %d functions, want 3: %+v", len(c.Placement), c.Placement)
				}
			},
		},
		{
			name: "no-op", action: plan.NoOp,
		},
		{
			name: "heal: last operation failed",
			mutate: func(s *records.Service, fns []*records.Function) []*records.Function {
				s.Status, s.Error = records.ServiceError, "vnf_deploy: boom\ntrace"
				return fns
			},
			action: plan.Heal, reason: "its last operation failed: vnf_deploy: boom",
			check: func(t *testing.T, c *plan.Change) {
				if slices.ContainsFunc(c.Reasons, func(r string) bool { return strings.Contains(r, "trace") }) {
					t.Errorf("reasons carry more than the error's first line: %q", c.Reasons)
				}
				if len(c.Placement) != 3 {
					t.Errorf("a heal redeploys every function; preview %+v", c.Placement)
				}
			},
		},
		{
			name: "heal: failed without an error text",
			mutate: func(s *records.Service, fns []*records.Function) []*records.Function {
				s.Status = records.ServiceError
				return fns
			},
			action: plan.Heal, reason: "no error recorded",
		},
		{
			name: "heal: interrupted operation",
			mutate: func(s *records.Service, fns []*records.Function) []*records.Function {
				s.Status = records.ServiceInstantiating
				return fns
			},
			action: plan.Heal, reason: "an operation was interrupted (status instantiating)",
		},
		{
			name: "heal: drift, a function the IA no longer runs",
			infra: func(fns []*records.Function) *plan.Infra {
				in := &plan.Infra{Functions: map[string]bool{}}
				for _, f := range fns[1:] {
					in.Functions[f.ID] = true
				}
				return in
			},
			action: plan.Heal, reason: "the infrastructure no longer runs vnf_firewall (",
		},
		{
			name:   "drift needs an IA that reports functions",
			infra:  func([]*records.Function) *plan.Infra { return &plan.Infra{} },
			action: plan.NoOp,
		},
		{
			name: "replace: another NSD",
			manifest: `services:
  s1:
    nsd: {vendor: eu.example, name: iperf-pair, version: "1.0"}
    ingresses: [{location: Athens, nap: 10.100.10.100}]
`, extra: map[string]string{"pair.yml": pairNSD},
			action: plan.Replace, reason: "another NSD: eu.example.iperf-pair.1.0 instead of eu.sonata-nfv.service-descriptor.sonata-demo.0.2.1",
			check: func(t *testing.T, c *plan.Change) {
				if c.Before == c.After || len(c.Placement) != 2 {
					t.Errorf("replace %+v", c)
				}
			},
		},
		{
			name: "replace: ingresses changed",
			manifest: `services:
  s1:
    nsd: ` + demoNSD + `
    ingresses: [{location: Aveiro, nap: 10.1.10.1}]
`, action: plan.Replace, reason: "ingresses or egresses changed",
		},
		{
			name: "update: NSD content changed, same version",
			mutate: func(s *records.Service, fns []*records.Function) []*records.Function {
				s.NSD.Digest, s.Spec.Digest = "sha256:older-content", "sha256:older-spec"
				return fns
			},
			action: plan.Update, reason: "NSD content changed (same version)",
			check: func(t *testing.T, c *plan.Change) {
				if len(c.Replaced) != 0 || len(c.Placement) != 0 {
					t.Errorf("an NSD-only update replaces no function: %+v", c)
				}
			},
		},
		{
			name: "update: new NSD and VNFD versions",
			manifest: `services:
  s1:
    nsd: {vendor: eu.sonata-nfv.service-descriptor, name: sonata-demo, version: "0.2.2"}
    ingresses: [{location: Athens, nap: 10.100.10.100}]
`, extra: map[string]string{"nsd.yml": sonataDemoWith(t, "0.2.2", "0.4"), "fw.yml": firewallAt(t, "0.4")},
			action: plan.Update, reason: "NSD version 0.2.1 -> 0.2.2",
			check: func(t *testing.T, c *plan.Change) {
				if !slices.Contains(c.Reasons, "vnf_firewall: VNFD firewall-vnf 0.3 -> 0.4") {
					t.Errorf("reasons %q", c.Reasons)
				}
				if !reflect.DeepEqual(c.Replaced, []string{"vnf_firewall"}) || len(c.Placement) != 1 || c.Placement[0].VNFID != "vnf_firewall" {
					t.Errorf("update replaces the firewall only: %+v", c)
				}
			},
		},
		{
			name: "update: VNFD content changed, same version",
			mutate: func(s *records.Service, fns []*records.Function) []*records.Function {
				s.Spec.Digest = "sha256:older-spec"
				fns[1].VNFD.Digest = "sha256:older-iperf"
				return fns
			},
			action: plan.Update, reason: "vnf_iperf: VNFD iperf-vnf content changed (same version)",
		},
		{
			name: "update: placement wishes",
			manifest: `services:
  s1:
    nsd: ` + demoNSD + `
    ingresses: [{location: Athens, nap: 10.100.10.100}]
    placement: {policy: fill-first}
`, action: plan.Update, reason: "placement wishes changed",
		},
		{
			name: "update: a network function removed",
			mutate: func(s *records.Service, fns []*records.Function) []*records.Function {
				extra := *fns[0]
				extra.ID, extra.VNFID = records.NewID(), "vnf_old"
				s.Spec.Digest = "sha256:older-spec"
				return append(fns, &extra)
			},
			action: plan.Update, reason: "network function vnf_old removed",
		},
		{
			name: "scale out",
			manifest: `services:
  s1:
    nsd: ` + demoNSD + `
    ingresses: [{location: Athens, nap: 10.100.10.100}]
    instances: {vnf_iperf: 3}
`, action: plan.Scale, reason: "vnf_iperf instances 1 -> 3",
			check: func(t *testing.T, c *plan.Change) {
				if !reflect.DeepEqual(c.Scale, []plan.ScaleDelta{{VNFID: "vnf_iperf", From: 1, To: 3}}) || len(c.Placement) != 2 {
					t.Errorf("scale %+v, preview %+v", c.Scale, c.Placement)
				}
			},
		},
		{
			name: "scale in",
			mutate: func(s *records.Service, fns []*records.Function) []*records.Function {
				extra := *fns[1]
				extra.ID = records.NewID()
				return append(fns, &extra)
			},
			action: plan.Scale, reason: "vnf_iperf instances 2 -> 1",
			check: func(t *testing.T, c *plan.Change) {
				if len(c.Placement) != 0 {
					t.Errorf("a scale-in places nothing: %+v", c.Placement)
				}
			},
		},
		{
			name: "same spec digest, counts differ (a scale that failed)",
			mutate: func(s *records.Service, fns []*records.Function) []*records.Function {
				return fns[:2]
			},
			action: plan.Update, reason: "new network function vnf_tcpdump",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := base
			if tc.manifest != "" {
				st = resolve(t, vims+tc.manifest, tc.extra)
			}
			recs := newRecords()
			var fns []*records.Function
			if !tc.none {
				var s *records.Service
				s, fns = running(d, athens)
				if tc.mutate != nil {
					fns = tc.mutate(s, fns)
				}
				recs.add(s, fns)
			}
			var infra *plan.Infra
			if tc.infra != nil {
				infra = tc.infra(fns)
				infra.VIMs = vimsOf(st)
			}
			p := compute(t, st, recs, infra)
			if p.Lineage != "lineage-1" || p.Index != 42 || p.FormatVersion != plan.FormatVersion || !p.CreatedAt.Equal(now) || p.Refreshed != (infra != nil) {
				t.Errorf("plan header %+v", p)
			}
			if p.ManifestDigest != st.ManifestDigest || !reflect.DeepEqual(p.DescriptorDigests, st.DescriptorDigests) {
				t.Errorf("plan not bound to the desired state's digests")
			}
			if tc.action == plan.NoOp {
				if p.HasChanges() || !reflect.DeepEqual(p.Unchanged, []string{"s1"}) || p.Summary.Total() != 0 {
					t.Fatalf("want no changes, got %s", describe(p))
				}
				return
			}
			if len(p.Changes) != 1 {
				t.Fatalf("want one change, got %s", describe(p))
			}
			c := change(t, p, "s1")
			if c.Action != tc.action {
				t.Fatalf("action %s, want %s: %s", c.Action, tc.action, describe(p))
			}
			if !slices.ContainsFunc(c.Reasons, func(r string) bool { return strings.Contains(r, tc.reason) }) {
				t.Errorf("reasons %q, want one containing %q", c.Reasons, tc.reason)
			}
			if tc.action != plan.Create && c.ServiceID != recs.svcs[0].ID {
				t.Errorf("change acts on %q, want the running instance %s", c.ServiceID, recs.svcs[0].ID)
			}
			if c.Infeasible != "" || p.Infeasible {
				t.Errorf("infeasible: %s", c.Infeasible)
			}
			for _, fp := range c.Placement {
				if fp.VIM == "" || fp.VIMUUID == "" || fp.Why == "" || fp.Cores != 1 || fp.MemoryMB != 2000 {
					t.Errorf("placement preview %+v", fp)
				}
			}
			if p.Summary.Total() != 1 || p.Summary != plan.Summarize(p.Changes) {
				t.Errorf("summary %+v", p.Summary)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

func vimsOf(st *desired.State) []placement.VIM {
	var out []placement.VIM
	for _, v := range st.VIMs {
		out = append(out, placement.VIM{UUID: v.UUID, Name: v.Name, City: v.City, Endpoint: v.Endpoint,
			CoresTotal: v.Cores, MemoryTotalMB: float64(v.MemoryMB)})
	}
	return out
}

// TestComputeDestroy: services the manifest no longer has are destroyed
// first, in name order; unmanaged and terminated services are left alone;
// of two live instances with one name, the older goes.
func TestComputeDestroy(t *testing.T) {
	st := resolve(t, vims+`services:
  b-kept:
    nsd: `+demoNSD+`
  a-new:
    nsd: `+demoNSD+`
`, nil)
	athens := desired.VIMUUID("athens")
	recs := newRecords()
	keptOld, fns := running(svc(t, st, "b-kept"), athens)
	recs.add(keptOld, fns)
	keptNew, fns := running(svc(t, st, "b-kept"), athens)
	recs.add(keptNew, fns)
	for _, name := range []string{"z-gone", "c-gone"} {
		s, fns := running(svc(t, st, "b-kept"), athens)
		s.Name = name
		recs.add(s, fns)
	}
	unmanaged, fns := running(svc(t, st, "b-kept"), athens)
	unmanaged.Name = ""
	recs.add(unmanaged, fns)
	terminated, _ := running(svc(t, st, "b-kept"), athens)
	terminated.Name, terminated.Status = "d-history", records.ServiceTerminated
	recs.add(terminated, nil)

	p := compute(t, st, recs, nil)
	var got []string
	for _, c := range p.Changes {
		got = append(got, fmt.Sprintf("%s %s %s", c.Action, c.Service, c.ServiceID))
	}
	want := []string{
		"destroy b-kept " + keptOld.ID,
		"destroy c-gone " + recs.svcs[3].ID,
		"destroy z-gone " + recs.svcs[2].ID,
		"create a-new ",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("changes\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if r := p.Changes[0].Reasons; len(r) != 1 || r[0] != "a newer instance "+keptNew.ID+" has the same name" {
		t.Errorf("duplicate's reason %q", r)
	}
	if r := p.Changes[1].Reasons; len(r) != 1 || r[0] != "not in the manifest" {
		t.Errorf("destroy reason %q", r)
	}
	if p.Changes[1].Before != svc(t, st, "b-kept").NSDRef.String() || p.Changes[1].After != "" {
		t.Errorf("destroy NSD before/after %q/%q", p.Changes[1].Before, p.Changes[1].After)
	}
	if !reflect.DeepEqual(p.Unchanged, []string{"b-kept"}) {
		t.Errorf("unchanged %v", p.Unchanged)
	}
	s := p.Summary
	if s.Destroy != 3 || s.Create != 1 || s.Total() != 4 {
		t.Errorf("summary %+v", s)
	}
	// Four services of 3 functions each on athens; three go, one comes:
	// the preview counts the destroys' capacity as free.
	for _, v := range p.VIMs {
		if v.Name == "athens" && (v.CoresBefore != 15 || v.CoresAfter < 6 || v.CoresAfter > 9) {
			t.Errorf("athens %+v", v)
		}
	}
}

// TestComputePlacementAndVIMDeltas: the preview places every function to
// deploy with a reason and a runner-up, and each VIM shows its use before
// and after.
func TestComputePlacementAndVIMDeltas(t *testing.T) {
	st := resolve(t, vims+`services:
  lb:
    nsd: `+demoNSD+`
    placement: {policy: load-balanced}
  pinned:
    nsd: `+demoNSD+`
    placement: {allowed_vims: [aveiro]}
  running:
    nsd: `+demoNSD+`
`, nil)
	recs := newRecords()
	recs.addRunning(t, st, "running", "athens")
	p := compute(t, st, recs, nil)
	if p.Refreshed || len(p.Changes) != 2 {
		t.Fatalf("plan %s", describe(p))
	}
	for _, fp := range change(t, p, "pinned").Placement {
		if fp.VIM != "aveiro" || fp.VIMUUID != desired.VIMUUID("aveiro") {
			t.Errorf("pinned function placed on %s", fp.VIM)
		}
	}
	lb := change(t, p, "lb")
	if len(lb.Placement) != 3 {
		t.Fatalf("lb preview %+v", lb.Placement)
	}
	withRunnerUp := 0
	for _, fp := range lb.Placement {
		if fp.RunnerUp != "" {
			withRunnerUp++
		}
		if fp.VNFD == "" || fp.Why == "" {
			t.Errorf("preview %+v", fp)
		}
	}
	if withRunnerUp == 0 {
		t.Errorf("two usable VIMs, yet no runner-up: %+v", lb.Placement)
	}
	byName := map[string]plan.VIMDelta{}
	for _, v := range p.VIMs {
		byName[v.Name] = v
	}
	at, av := byName["athens"], byName["aveiro"]
	if at.CoresTotal != 32 || at.MemoryTotalMB != 65536 || at.CoresBefore != 3 || at.MemoryBeforeMB != 3*2000 {
		t.Errorf("athens before %+v", at)
	}
	if av.CoresBefore != 0 || av.CoresTotal != 16 {
		t.Errorf("aveiro before %+v", av)
	}
	// Six new functions of 1 core and 2 GB each.
	if got := at.CoresAfter + av.CoresAfter - at.CoresBefore - av.CoresBefore; got != 6 {
		t.Errorf("cores added %d, want 6: %+v %+v", got, at, av)
	}
	if got := at.MemoryAfterMB + av.MemoryAfterMB - at.MemoryBeforeMB - av.MemoryBeforeMB; got != 6*2000 {
		t.Errorf("memory added %v, want %v", got, 6*2000)
	}
	if av.CoresAfter < 3 {
		t.Errorf("pinned service's functions not counted on aveiro: %+v", av)
	}
	if at.CoresHeadroom() != at.CoresTotal-at.CoresAfter || av.MemoryHeadroomMB() != av.MemoryTotalMB-av.MemoryAfterMB {
		t.Errorf("headroom")
	}
}

// TestComputeRefreshedVIMs: with a refresh, VIM use comes from the IA,
// and functions the IA lost do not count as released again.
func TestComputeRefreshedVIMs(t *testing.T) {
	st := resolve(t, vims+`services:
  s1:
    nsd: `+demoNSD+`
`, nil)
	recs := newRecords()
	s, fns := running(svc(t, st, "s1"), desired.VIMUUID("athens"))
	recs.add(s, fns)
	infra := &plan.Infra{VIMs: vimsOf(st), Functions: map[string]bool{fns[1].ID: true, fns[2].ID: true}}
	// The IA reports what it runs: two functions (and something else).
	infra.VIMs[0].CoresUsed, infra.VIMs[0].MemoryUsedMB = 5, 5*2000
	p := compute(t, st, recs, infra)
	c := change(t, p, "s1")
	if c.Action != plan.Heal || !p.Refreshed {
		t.Fatalf("plan %s", describe(p))
	}
	total := 0
	for _, v := range p.VIMs {
		total += v.CoresAfter
		if v.Name == "athens" && v.CoresBefore != 5 {
			t.Errorf("athens before %+v, want the IA's 5 cores", v)
		}
	}
	// 5 used - 2 released (the lost one is already free) + 3 placed.
	if total != 6 {
		t.Errorf("cores after %d, want 6: %+v", total, p.VIMs)
	}
}

// TestComputeInfeasible: a change that cannot be placed is reported in
// the plan, which is then not applyable; destroys are never infeasible.
func TestComputeInfeasible(t *testing.T) {
	st := resolve(t, `vims:
  - {name: tiny, cores: 4, memory_mb: 65536}
services:
  a-fits:
    nsd: `+demoNSD+`
  b-too-many:
    nsd: `+demoNSD+`
`, nil)
	recs := newRecords()
	gone, fns := running(svc(t, st, "a-fits"), desired.VIMUUID("tiny"))
	gone.Name = "0-gone"
	recs.add(gone, fns)
	p := compute(t, st, recs, nil)
	if !p.Infeasible || p.Applyable() {
		t.Fatalf("plan should be infeasible: %s", describe(p))
	}
	if c := change(t, p, "0-gone"); c.Action != plan.Destroy || c.Infeasible != "" {
		t.Errorf("destroy %+v", c)
	}
	if c := change(t, p, "a-fits"); c.Infeasible != "" {
		t.Errorf("the first service fits once the destroy freed its cores: %s", c.Infeasible)
	}
	c := change(t, p, "b-too-many")
	if c.Infeasible == "" || len(c.Placement) != 0 {
		t.Errorf("b-too-many should not fit: %+v", c)
	}
	// Nothing is placed at all without VIMs.
	st = resolve(t, `services:
  s1:
    nsd: `+demoNSD+`
`, nil)
	p = compute(t, st, newRecords(), nil)
	if !p.Infeasible || change(t, p, "s1").Infeasible == "" {
		t.Errorf("no VIMs, yet feasible: %s", describe(p))
	}
}

func TestComputeRequiresInputs(t *testing.T) {
	if _, err := plan.Compute(plan.Input{Records: newRecords()}); err == nil {
		t.Error("no desired state accepted")
	}
	if _, err := plan.Compute(plan.Input{Desired: &desired.State{}}); err == nil {
		t.Error("no records accepted")
	}
}

// TestCheckStale: a saved plan applies only to the records, manifest and
// descriptors it was made from, and says what moved.
func TestCheckStale(t *testing.T) {
	p := &plan.Plan{Lineage: "L1", Index: 7, ManifestPath: "/m/manoctl.yaml", ManifestDigest: "sha256:m",
		DescriptorDigests: map[string]string{"a.nsd.1": "sha256:a", "b.vnfd.1": "sha256:b"}}
	descs := func(kv ...string) map[string]string {
		m := map[string]string{"a.nsd.1": "sha256:a", "b.vnfd.1": "sha256:b"}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(m, kv[i])
			} else {
				m[kv[i]] = kv[i+1]
			}
		}
		return m
	}
	tests := []struct {
		name    string
		plan    *plan.Plan
		lineage string
		index   uint64
		mdigest string
		descs   map[string]string
		want    []string // reasons, in order; nil means fresh
	}{
		{name: "fresh", plan: p, lineage: "L1", index: 7, mdigest: "sha256:m", descs: descs()},
		{name: "another descriptor appeared", plan: p, lineage: "L1", index: 7, mdigest: "sha256:m", descs: descs("c.vnfd.1", "sha256:c")},
		{name: "lineage", plan: p, lineage: "L2", index: 7, mdigest: "sha256:m", descs: descs(),
			want: []string{"it was made for state lineage L1, the state directory has lineage L2"}},
		{name: "index: another apply ran", plan: p, lineage: "L1", index: 9, mdigest: "sha256:m", descs: descs(),
			want: []string{"the records moved from index 7 to 9 since the plan was made (another apply ran, or this plan was already applied)"}},
		{name: "manifest", plan: p, lineage: "L1", index: 7, mdigest: "sha256:other", descs: descs(),
			want: []string{"the manifest /m/manoctl.yaml changed since the plan was made"}},
		{name: "descriptor content", plan: p, lineage: "L1", index: 7, mdigest: "sha256:m", descs: descs("b.vnfd.1", "sha256:b2"),
			want: []string{"descriptor b.vnfd.1 changed since the plan was made"}},
		{name: "descriptor gone", plan: p, lineage: "L1", index: 7, mdigest: "sha256:m", descs: descs("a.nsd.1", ""),
			want: []string{"descriptor a.nsd.1 changed since the plan was made"}},
		{name: "everything at once", plan: p, lineage: "L1", index: 8, mdigest: "sha256:x", descs: descs("a.nsd.1", "sha256:a2"),
			want: []string{"the records moved from index 7 to 8", "the manifest /m/manoctl.yaml changed", "descriptor a.nsd.1 changed"}},
		{name: "plan made before the state existed, applied to the new directory",
			plan: &plan.Plan{ManifestDigest: "sha256:m"}, lineage: "L9", index: 0, mdigest: "sha256:m"},
		{name: "plan made before the state existed, records written since",
			plan: &plan.Plan{ManifestDigest: "sha256:m"}, lineage: "L9", index: 3, mdigest: "sha256:m",
			want: []string{"the records moved from index 0 to 3"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.plan.Check(tc.lineage, tc.index, tc.mdigest, tc.descs)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("fresh plan refused: %v", err)
				}
				return
			}
			var se *plan.StaleError
			if !errors.As(err, &se) {
				t.Fatalf("want a *StaleError, got %v", err)
			}
			if len(se.Reasons) != len(tc.want) {
				t.Fatalf("reasons %q, want %d like %q", se.Reasons, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(se.Reasons[i], w) {
					t.Errorf("reason %d: %q, want %q...", i, se.Reasons[i], w)
				}
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "saved plan is stale: ") || !strings.Contains(msg, strings.Join(se.Reasons, "; ")) {
				t.Errorf("message %q", msg)
			}
		})
	}
}

// TestCheckAgainstComputedPlan: a plan computed from records and a
// manifest is fresh against them and stale once either moves.
func TestCheckAgainstComputedPlan(t *testing.T) {
	store := records.NewMemStore()
	st := resolve(t, vims+"services:\n  s1:\n    nsd: "+demoNSD+"\n", nil)
	recs := plan.FromSnapshot(store.Snapshot(), true)
	p := compute(t, st, recs, nil)
	if p.Lineage != "" || p.Index != 0 {
		t.Fatalf("plan against no state: lineage %q index %d", p.Lineage, p.Index)
	}
	if err := p.Check("any", 0, st.ManifestDigest, st.DescriptorDigests); err != nil {
		t.Fatalf("fresh: %v", err)
	}
	st2 := resolve(t, vims+"services:\n  s2:\n    nsd: "+demoNSD+"\n", nil)
	if err := p.Check("any", 0, st2.ManifestDigest, st2.DescriptorDigests); err == nil {
		t.Fatal("another manifest accepted")
	}
}

// TestFromSnapshot: the index a plan is bound to moves with services and
// functions only, not with operations or plugins.
func TestFromSnapshot(t *testing.T) {
	store := records.TestStore(t, records.Options{})
	demo := records.DemoDescriptors()
	if _, err := store.Write(func(txn *records.WriteTxn) error {
		if err := demo.StoreTxn(store, txn); err != nil {
			return err
		}
		s, fns := demo.Service("s1", desired.VIMUUID("athens"), 1)
		return store.UpsertServiceWithFunctionsTxn(txn, s, fns)
	}); err != nil {
		t.Fatal(err)
	}
	r := plan.FromSnapshot(store.Snapshot(), false)
	if r.Lineage() != store.Lineage() || r.Lineage() == "" {
		t.Errorf("lineage %q, store's %q", r.Lineage(), store.Lineage())
	}
	if plan.FromSnapshot(store.Snapshot(), true).Lineage() != "" {
		t.Error("a fresh directory has no lineage yet")
	}
	idx := r.Index()
	if idx == 0 || len(r.Services()) != 1 || len(r.Functions(r.Services()[0].ID)) != 3 {
		t.Fatalf("index %d, services %v", idx, r.Services())
	}
	if r.Functions("no-such-service") != nil {
		t.Error("functions of an unknown service")
	}
	if _, err := store.UpsertPlugin(&records.Plugin{UUID: records.NewID(), Name: "p", State: "running"}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.UpsertOperation(&records.Operation{ID: records.NewID(), ServiceID: r.Services()[0].ID, Kind: records.OpInstantiate,
		Status: records.OpRunning, CorrelationID: "c", RequestedAt: now}); err != nil {
		t.Fatal(err)
	}
	if got := plan.FromSnapshot(store.Snapshot(), false).Index(); got != idx {
		t.Errorf("operations and plugins moved the plan index %d -> %d", idx, got)
	}
	if _, err := store.UpsertVIM(&records.VIM{UUID: desired.VIMUUID("athens"), Name: "athens", CoresTotal: 1, MemoryTotalMB: 1}); err != nil {
		t.Fatal(err)
	}
	if got := plan.FromSnapshot(store.Snapshot(), false).Index(); got != idx {
		t.Errorf("VIM use moved the plan index %d -> %d", idx, got)
	}
	s := r.Services()[0].Copy()
	s.Status = records.ServiceError
	if _, err := store.UpsertService(s); err != nil {
		t.Fatal(err)
	}
	if got := plan.FromSnapshot(store.Snapshot(), false).Index(); got <= idx {
		t.Errorf("a service change left the plan index at %d", got)
	}
}

// TestPlanJSONRoundTrip: the versioned JSON form carries everything apply
// and Check need.
func TestPlanJSONRoundTrip(t *testing.T) {
	st := resolve(t, vims+`services:
  s1:
    nsd: `+demoNSD+`
    instances: {vnf_iperf: 2}
  s2:
    nsd: `+demoNSD+`
`, nil)
	recs := newRecords()
	s, fns := running(svc(t, st, "s2"), desired.VIMUUID("athens"))
	s.Status, s.Error = records.ServiceError, "boom"
	recs.add(s, fns)
	gone, fns := running(svc(t, st, "s2"), desired.VIMUUID("athens"))
	gone.Name = "gone"
	recs.add(gone, fns)
	p := compute(t, st, recs, nil)
	p.ManifestPath = "/work/manoctl.yaml"
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back plan.Plan
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, p) {
		t.Fatalf("round trip changed the plan:\n%+v\n%+v", &back, p)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"format_version", "lineage", "index", "manifest_digest", "descriptor_digests", "changes", "vims", "summary", "infeasible"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	if raw["format_version"] != plan.FormatVersion {
		t.Errorf("format_version %v", raw["format_version"])
	}
	var actions []string
	for _, c := range raw["changes"].([]any) {
		actions = append(actions, c.(map[string]any)["action"].(string))
	}
	if !reflect.DeepEqual(actions, []string{"destroy", "create", "heal"}) {
		t.Errorf("actions %v", actions)
	}
	if err := back.Check("lineage-1", 42, st.ManifestDigest, st.DescriptorDigests); err != nil {
		t.Errorf("decoded plan is stale against its own inputs: %v", err)
	}
}

func TestActionSymbolsAndSummary(t *testing.T) {
	want := map[plan.Action]string{plan.Create: "+", plan.Destroy: "-", plan.Update: "~", plan.Scale: "~",
		plan.Replace: "-/+", plan.Heal: "-/+", plan.NoOp: " "}
	for a, sym := range want {
		if a.Symbol() != sym {
			t.Errorf("%s: symbol %q, want %q", a, a.Symbol(), sym)
		}
	}
	var cs []*plan.Change
	for i, a := range []plan.Action{plan.Create, plan.Create, plan.Destroy, plan.Update, plan.Scale, plan.Replace, plan.Heal, plan.Heal, plan.Heal} {
		cs = append(cs, &plan.Change{Service: fmt.Sprint(i), Action: a})
	}
	s := plan.Summarize(cs)
	if s != (plan.Summary{Create: 2, Destroy: 1, Update: 1, Scale: 1, Replace: 1, Heal: 3}) || s.Total() != 9 {
		t.Errorf("summary %+v", s)
	}
	if (&plan.Plan{}).HasChanges() || !(&plan.Plan{Changes: cs}).HasChanges() {
		t.Error("HasChanges")
	}
}

// TestComputeUpdateScaleInIsLate: an update is make-before-break and
// scales after it is done, so the functions its scale-in removes still
// take their capacity while the update deploys: the preview must not count
// them as free. Here the VIM fits the update's new firewall only once the
// two extra iperfs are gone, which happens after the firewall is deployed:
// the plan must say so rather than apply failing.
func TestComputeUpdateScaleInIsLate(t *testing.T) {
	old := resolve(t, `vims: [{name: tiny, cores: 5, memory_mb: 65536}]
services:
  s1:
    nsd: `+demoNSD+`
    instances: {vnf_iperf: 3}
`, nil)
	recs := newRecords()
	recs.addRunning(t, old, "s1", "tiny")
	st := resolve(t, `vims: [{name: tiny, cores: 5, memory_mb: 65536}]
services:
  s1:
    nsd: {vendor: eu.sonata-nfv.service-descriptor, name: sonata-demo, version: "0.2.2"}
`, map[string]string{"nsd.yml": sonataDemoWith(t, "0.2.2", "0.4"), "fw.yml": firewallAt(t, "0.4")})
	p := compute(t, st, recs, nil)
	c := change(t, p, "s1")
	if c.Action != plan.Update || !reflect.DeepEqual(c.Scale, []plan.ScaleDelta{{VNFID: "vnf_iperf", From: 3, To: 1}}) {
		t.Fatalf("plan %s", describe(p))
	}
	if !p.Infeasible || c.Infeasible == "" {
		t.Fatalf("5 cores used, the update's new firewall needs a 6th before anything is removed: %s", describe(p))
	}
	// With room for the firewall, the VIM ends with one instance each.
	st = resolve(t, `vims: [{name: tiny, cores: 6, memory_mb: 65536}]
services:
  s1:
    nsd: {vendor: eu.sonata-nfv.service-descriptor, name: sonata-demo, version: "0.2.2"}
`, map[string]string{"nsd.yml": sonataDemoWith(t, "0.2.2", "0.4"), "fw.yml": firewallAt(t, "0.4")})
	p = compute(t, st, recs, nil)
	if p.Infeasible || len(p.VIMs) != 1 || p.VIMs[0].CoresBefore != 5 || p.VIMs[0].CoresAfter != 3 {
		t.Fatalf("plan %s, vims %+v", describe(p), p.VIMs)
	}
}

// TestComputeScaleInFreesFirst: a scale change's scale-ins run before
// anything is deployed, so their capacity is free for the scale-outs.
func TestComputeScaleInFreesFirst(t *testing.T) {
	old := resolve(t, `vims: [{name: tiny, cores: 5, memory_mb: 65536}]
services:
  s1:
    nsd: `+demoNSD+`
    instances: {vnf_iperf: 3}
`, nil)
	recs := newRecords()
	recs.addRunning(t, old, "s1", "tiny")
	st := resolve(t, `vims: [{name: tiny, cores: 5, memory_mb: 65536}]
services:
  s1:
    nsd: `+demoNSD+`
    instances: {vnf_tcpdump: 3}
`, nil)
	p := compute(t, st, recs, nil)
	c := change(t, p, "s1")
	if c.Action != plan.Scale || p.Infeasible || len(c.Placement) != 2 {
		t.Fatalf("plan %s", describe(p))
	}
	if v := p.VIMs[0]; v.CoresBefore != 5 || v.CoresAfter != 5 {
		t.Errorf("vim %+v", v)
	}
}

// TestComputeUpdateScaleOutIsPlaced: an update that also raises the count
// of a network function it does not replace deploys those instances too:
// the preview places them, and says so when they do not fit. The property
// test caught a preview that placed only the replaced functions.
func TestComputeUpdateScaleOutIsPlaced(t *testing.T) {
	old := resolve(t, `vims: [{name: tiny, cores: 4, memory_mb: 65536}]
services:
  s1:
    nsd: `+demoNSD+`
`, nil)
	recs := newRecords()
	recs.addRunning(t, old, "s1", "tiny")
	extra := map[string]string{"nsd.yml": sonataDemoWith(t, "0.2.2", "0.4"), "fw.yml": firewallAt(t, "0.4")}
	for _, tc := range []struct {
		cores      int
		infeasible bool
	}{{6, false}, {5, true}} {
		st := resolve(t, fmt.Sprintf(`vims: [{name: tiny, cores: %d, memory_mb: 65536}]
services:
  s1:
    nsd: {vendor: eu.sonata-nfv.service-descriptor, name: sonata-demo, version: "0.2.2"}
    instances: {vnf_iperf: 3}
`, tc.cores), extra)
		p := compute(t, st, recs, nil)
		c := change(t, p, "s1")
		if c.Action != plan.Update || !slices.Equal(c.Replaced, []string{"vnf_firewall"}) ||
			!reflect.DeepEqual(c.Scale, []plan.ScaleDelta{{VNFID: "vnf_iperf", From: 1, To: 3}}) {
			t.Fatalf("plan %s", describe(p))
		}
		if tc.infeasible {
			// 3 cores used; the new firewall and two iperfs make 6 before
			// the old firewall goes.
			if !p.Infeasible {
				t.Errorf("%d cores: the update's deployments do not fit, yet the plan is feasible: %s", tc.cores, describe(p))
			}
			continue
		}
		var placed []string
		for _, fp := range c.Placement {
			placed = append(placed, fp.VNFID)
		}
		slices.Sort(placed)
		if want := []string{"vnf_firewall", "vnf_iperf", "vnf_iperf"}; !slices.Equal(placed, want) || p.Infeasible {
			t.Errorf("%d cores: placed %v, want %v: %s", tc.cores, placed, want, describe(p))
		}
		if v := p.VIMs[0]; v.CoresBefore != 3 || v.CoresAfter != 5 {
			t.Errorf("vim %+v, want 3 cores used before, 5 after", v)
		}
	}
}
