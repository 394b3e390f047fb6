package placement

import (
	"os"
	"path/filepath"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/manoctl/manoctl/schema/descriptor"
)

// The §5.6 testbed: three PoPs of 50 cores and 50 GB each. The 2018 tests
// gave memory in GB and called the algorithm directly; here both sides are
// MB, as in production (×1000, decimal, as descriptor.ToMB converts GB).
const (
	athens = "1111-22222222-33333333-4444"
	aveiro = "1111-22222222-33333333-5555"
	ghent  = "1111-22222222-33333333-6666"
)

// testbed builds the three VIMs with used cores and used memory in GB.
func testbed(cores [3]int, memGB [3]float64) []VIM {
	vims := []VIM{
		{UUID: athens, Name: "Athens", Endpoint: "10.100.32.200"},
		{UUID: aveiro, Name: "Aveiro", Endpoint: "10.1.10.0"},
		{UUID: ghent, Name: "Ghent", Endpoint: "8.8.8.8"},
	}
	for i := range vims {
		vims[i].CoresTotal, vims[i].MemoryTotalMB = 50, 50*1000
		vims[i].CoresUsed, vims[i].MemoryUsedMB = cores[i], memGB[i]*1000
	}
	return vims
}

// vdu is one VDU's cores and memory in GB.
type vdu struct{ cores, memGB int }

// vnfd builds a VNFD the way the artefacts declare them (memory in GB) and
// parses it, so that the demand goes through descriptor's unit handling.
func vnfd(t testing.TB, name string, vdus ...vdu) *descriptor.VNFD {
	t.Helper()
	var us []any
	for i, u := range vdus {
		us = append(us, map[string]any{
			"id": "vdu0" + string(rune('1'+i)),
			"resource_requirements": map[string]any{
				"cpu":     map[string]any{"vcpus": u.cores},
				"memory":  map[string]any{"size": u.memGB, "size_unit": "GB"},
				"storage": map[string]any{"size": 10, "size_unit": "GB"},
			},
		})
	}
	v, err := descriptor.ParseVNFD(descriptor.Doc{"vendor": "everything-must-go", "name": name, "version": "0.1", "virtual_deployment_units": us})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// The artefacts' VNF shapes (§5.6): vnfd_1_1 and vnfd_1_2 have one 1/1
// VDU, vnfd_1_3 on two; vnfd_2_* a 1/1 and a 3/3 VDU.
var (
	shapeOneVDU  = []vdu{{1, 1}}
	shapeTwoVDUs = []vdu{{1, 1}, {1, 1}}
	shapeVNF2    = []vdu{{1, 1}, {3, 3}}
)

// TestArtefactShapes checks the synthetic VNFDs against the artefacts kept
// in testdata (copied from son-mano-framework), through the YAML parser.
func TestArtefactShapes(t *testing.T) {
	for file, shape := range map[string][]vdu{
		"vnfd_1_1.yml": shapeOneVDU,
		"vnfd_1_4.yml": shapeTwoVDUs,
		"vnfd_2_4.yml": shapeVNF2,
	} {
		raw, err := os.ReadFile(filepath.Join("testdata", "son-mano-placement", file))
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		got, err := descriptor.ParseVNFD(doc)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		want := vnfd(t, "x", shape...)
		if got.Demand() != want.Demand() || len(got.VDUs) != len(want.VDUs) {
			t.Errorf("%s: demand %+v over %d VDUs, want %+v over %d", file, got.Demand(), len(got.VDUs), want.Demand(), len(want.VDUs))
		}
	}
}

// TestSONATACases encodes the 20 cases of son-mano-placement's
// test_placement.py (§5.6). They were written for the 2018 ILP, which
// optimised all VNFs jointly; manoctl's exact search reproduces each.
func TestSONATACases(t *testing.T) {
	type fn struct {
		vnfID string
		shape []vdu
	}
	one := []fn{{"vforward_vnf_1_1", shapeOneVDU}}
	oneTwo := []fn{{"vforward_vnf_1_1", shapeTwoVDUs}}
	two := []fn{{"vforward_vnf_1_2", shapeTwoVDUs}, {"vforward_vnf_2_2", shapeVNF2}}
	const vnf1, vnf2 = "vforward_vnf_1_2", "vforward_vnf_2_2"
	devOnly := Weights{Operator: 0, Developer: 1}
	prio := []string{"Ghent", "Athens", "Aveiro"}
	prox := func(a, b string) Preference { return Preference{Objective: Proximity, Actors: [2]string{a, b}} }
	aff := func(a, b string) Preference { return Preference{Objective: Affinity, Actors: [2]string{a, b}} }
	same := func(x, y, z int) ([3]int, [3]float64) {
		return [3]int{x, y, z}, [3]float64{float64(x), float64(y), float64(z)}
	}

	cases := []struct {
		name     string
		fns      []fn
		cores    [3]int
		memGB    [3]float64
		policy   Policy
		priority []string
		blocked  []string
		weights  Weights
		prefs    []Preference
		egress   string
		aveiroEP string // endpoint override (#20)
		want     []string
	}{
		{name: "01 load_balanced_1_vnf_1_vdu_a", fns: one, cores: [3]int{45, 5, 8}, memGB: [3]float64{5, 44, 10},
			policy: LoadBalanced, want: []string{ghent}},
		{name: "02 load_balanced_1_vnf_1_vdu_b", fns: one, cores: [3]int{45, 10, 45}, memGB: [3]float64{5, 44, 10},
			policy: LoadBalanced, want: []string{athens}},
		{name: "03 load_balanced_1_vnf_2_vdu", fns: oneTwo, cores: [3]int{45, 10, 45}, memGB: [3]float64{5, 10, 10},
			policy: LoadBalanced, want: []string{aveiro}},
		{name: "04 load_balanced_2_vnf_2_vdu", fns: two, cores: [3]int{4, 7, 45}, memGB: [3]float64{5, 5, 44},
			policy: LoadBalanced, want: []string{aveiro, athens}},
		{name: "05 fill_first_2_vnf_2_vdu_a", fns: two, cores: [3]int{4, 7, 44}, memGB: [3]float64{5, 5, 44},
			policy: FillFirst, want: []string{ghent, ghent}},
		{name: "06 fill_first_2_vnf_2_vdu_b", fns: two, cores: [3]int{4, 7, 46}, memGB: [3]float64{5, 5, 45.9},
			policy: FillFirst, want: []string{aveiro, ghent}},
		{name: "07 fill_first_2_vnf_2_vdu_c", fns: two, cores: [3]int{4, 7, 46}, memGB: [3]float64{5, 5, 46.1},
			policy: FillFirst, want: []string{ghent, aveiro}},
		{name: "08 fill_first_2_vnf_2_vdu_d", fns: two, cores: [3]int{25, 25, 25}, memGB: [3]float64{25.1, 25, 25},
			policy: FillFirst, want: []string{athens, athens}},
		{name: "09 fill_first_2_vnf_2_vdu_e", fns: two, cores: [3]int{25, 26, 25}, memGB: [3]float64{25, 24.5, 25},
			policy: FillFirst, want: []string{aveiro, aveiro}},
		{name: "10 priority_2_vnf_2_vdu_a", fns: two, cores: [3]int{44, 26, 25}, memGB: [3]float64{44, 24.5, 25},
			policy: Priority, priority: []string{"Athens", "Ghent", "Aveiro"}, want: []string{athens, athens}},
		{name: "11 priority_2_vnf_2_vdu_b", fns: two, cores: [3]int{44, 26, 25}, memGB: [3]float64{46.1, 24.5, 25},
			policy: Priority, priority: []string{"Athens", "Ghent", "Aveiro"}, want: []string{athens, ghent}},
		{name: "12 load_balanced_blacklist", fns: two, cores: [3]int{25, 10, 25}, memGB: [3]float64{25.1, 10, 25},
			policy: LoadBalanced, blocked: []string{"Aveiro"}, want: []string{athens, ghent}},
		{name: "13 fill_first_blacklist", fns: two, cores: [3]int{47, 45, 25}, memGB: [3]float64{47, 45, 25},
			policy: FillFirst, blocked: []string{"Athens"}, want: []string{ghent, aveiro}},
		{name: "14 priority_blacklist", fns: two, cores: [3]int{44, 45, 48}, memGB: [3]float64{44, 45, 48},
			policy: Priority, priority: prio, blocked: []string{"Athens"}, want: []string{ghent, aveiro}},
		{name: "15 proximity_blacklist", fns: two, cores: [3]int{44, 45, 44}, memGB: [3]float64{44, 45, 44},
			policy: Priority, priority: prio, weights: devOnly, blocked: []string{"Athens"},
			prefs: []Preference{prox(ActorSource, vnf1), prox(ActorDestination, vnf2)}, egress: "8.8.8.8",
			want: []string{aveiro, ghent}},
		{name: "16 proximity", fns: two, cores: [3]int{44, 44, 44}, memGB: [3]float64{44, 44, 44},
			policy: Priority, priority: prio, weights: devOnly,
			prefs:  []Preference{prox(ActorSource, vnf1), prox(ActorDestination, vnf1), prox(ActorDestination, vnf2)},
			egress: "10.1.10.1", want: []string{aveiro, aveiro}},
		{name: "17 affinity_a", fns: two, policy: Priority, priority: prio, weights: devOnly,
			prefs: []Preference{aff(vnf2, vnf1)}, egress: "10.1.10.1", want: []string{aveiro, aveiro}},
		{name: "18 affinity_blacklist_a", fns: two, policy: Priority, priority: prio, weights: devOnly, blocked: []string{"Aveiro"},
			prefs: []Preference{aff(vnf2, vnf1)}, egress: "10.1.10.1", want: []string{ghent, ghent}},
		{name: "19 affinity_proximity_blacklist", fns: two, cores: [3]int{44, 44, 44}, memGB: [3]float64{44, 44, 44},
			policy: Priority, priority: prio, weights: devOnly, blocked: []string{"Aveiro"},
			prefs: []Preference{aff(vnf2, vnf1), prox(ActorDestination, vnf1)}, egress: "10.1.10.1",
			want: []string{athens, athens}},
		{name: "20 load_balanced_proximity_a", fns: two, policy: LoadBalanced, priority: prio,
			weights: Weights{Operator: 0.5, Developer: 0.5}, prefs: []Preference{prox(ActorDestination, vnf1)},
			egress: "10.1.10.1", aveiroEP: "10.1.10.1", want: []string{aveiro, athens}},
	}
	cases[16].cores, cases[16].memGB = same(45, 44, 45)
	cases[17].cores, cases[17].memGB = same(45, 44, 44)
	cases[19].cores, cases[19].memGB = same(20, 30, 40)

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vims := testbed(tc.cores, tc.memGB)
			if tc.aveiroEP != "" {
				vims[1].Endpoint = tc.aveiroEP
			}
			req := Request{
				Policy: tc.policy, Priority: tc.priority, Blocked: tc.blocked, Weights: tc.weights,
				Preferences: tc.prefs, Ingress: "10.100.10.100", Egress: tc.egress,
			}
			if req.Egress == "" {
				req.Egress = "8.8.8.8"
			}
			for i, f := range tc.fns {
				req.Functions = append(req.Functions, FunctionOf("f"+string(rune('1'+i)), f.vnfID, vnfd(t, f.vnfID, f.shape...)))
			}
			res, err := Place(vims, req)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Exact {
				t.Errorf("result not exact after %d nodes", res.Nodes)
			}
			if len(res.Mapping) != len(tc.fns) {
				t.Fatalf("mapping %v has %d entries, want %d", res.Mapping, len(res.Mapping), len(tc.fns))
			}
			for i, f := range req.Functions {
				if got := res.Mapping[f.ID]; got != tc.want[i] {
					t.Errorf("%s → %s, want %s\n%s", f.VNFID, nameOf(got), nameOf(tc.want[i]), explainAll(res))
				}
			}
		})
	}
}

func nameOf(uuid string) string {
	switch uuid {
	case athens:
		return "Athens"
	case aveiro:
		return "Aveiro"
	case ghent:
		return "Ghent"
	}
	return uuid
}

// explainAll renders every decision, for failure messages.
func explainAll(r *Result) string {
	var s string
	for _, d := range r.Decisions {
		s += d.Label + ":\n"
		for i, c := range d.Candidates {
			mark := "  "
			if i == d.RunnerUp {
				mark = "2 "
			}
			s += "  " + mark + c.Name + ": " + c.Reason() + "\n"
		}
	}
	return s
}
