package placement

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/manoctl/manoctl/schema/descriptor"
)

// twoVNFs is the §5.6 pair: vnf1 = 2 cores / 2 GB, vnf2 = 4 cores / 4 GB.
func twoVNFs(t *testing.T) []Function {
	return []Function{
		FunctionOf("f1", "vnf1", vnfd(t, "vforward-vnf-1", shapeTwoVDUs...)),
		FunctionOf("f2", "vnf2", vnfd(t, "vforward-vnf-2", shapeVNF2...)),
	}
}

func mustPlace(t *testing.T, vims []VIM, req Request) *Result {
	t.Helper()
	r, err := Place(vims, req)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func reasons(d Decision) []string {
	var out []string
	for _, c := range d.Candidates {
		out = append(out, c.Name+": "+c.Reason())
	}
	return out
}

// TestExplanation checks the explanation of §5.6 case 4 word for word: the
// plan and the logs print these strings.
func TestExplanation(t *testing.T) {
	r := mustPlace(t, testbed([3]int{4, 7, 45}, [3]float64{5, 5, 44}), Request{Functions: twoVNFs(t)})
	want := [][]string{{
		"Athens: worse: load spread 1.540 (+0.080)",
		"Aveiro: chosen: load spread 1.460",
		"Ghent: worse: load spread 1.620 (+0.160)",
	}, {
		"Athens: chosen: load spread 1.460",
		"Aveiro: worse: load spread 1.600 (+0.140)",
		"Ghent: worse: load spread 1.760 (+0.300)",
	}}
	for i, d := range r.Decisions {
		if got := reasons(d); !reflect.DeepEqual(got, want[i]) {
			t.Errorf("%s:\n got %q\nwant %q", d.Label, got, want[i])
		}
	}
	if got, want := r.Decisions[0].String(), "vnf1 → Aveiro (load spread 1.460); runner-up Athens: load spread 1.540 (+0.080)"; got != want {
		t.Errorf("summary\n got %s\nwant %s", got, want)
	}
	if d := r.Decisions[0]; d.Candidates[d.RunnerUp].Name != "Athens" {
		t.Errorf("vnf1 runner-up %s, want Athens", d.Candidates[d.RunnerUp].Name)
	}
	if d := r.Decisions[1]; d.Candidates[d.RunnerUp].Name != "Aveiro" {
		t.Errorf("vnf2 runner-up %s, want Aveiro", d.Candidates[d.RunnerUp].Name)
	}
	wantUsage := []VIMUsage{
		{VIM: athens, Name: "Athens", Functions: []string{"f2"},
			Before: Capacity{CoresTotal: 50, CoresUsed: 4, MemoryTotalMB: 50000, MemoryUsedMB: 5000},
			After:  Capacity{CoresTotal: 50, CoresUsed: 8, MemoryTotalMB: 50000, MemoryUsedMB: 9000}},
		{VIM: aveiro, Name: "Aveiro", Functions: []string{"f1"},
			Before: Capacity{CoresTotal: 50, CoresUsed: 7, MemoryTotalMB: 50000, MemoryUsedMB: 5000},
			After:  Capacity{CoresTotal: 50, CoresUsed: 9, MemoryTotalMB: 50000, MemoryUsedMB: 7000}},
	}
	got := append([]VIMUsage(nil), r.Usage...)
	for i := range got {
		got[i].delta = slot{} // internal: what Commit adds
	}
	if !reflect.DeepEqual(got, wantUsage) {
		t.Errorf("usage\n got %+v\nwant %+v", got, wantUsage)
	}
	if h := r.Usage[0].After; h.CoresFree() != 42 || h.MemoryFreeMB() != 41000 {
		t.Errorf("Athens headroom %d cores %v MB", h.CoresFree(), h.MemoryFreeMB())
	}
}

// TestPriorityJointBeatsGreedy: the top-priority VIM has room for the big
// function or the two small ones. Greedy (biggest first, best VIM first)
// gives it the big one: priority 2×1 + 1×2 + 1×2 = 6. Weighing by VDUs,
// the joint optimum gives it the small ones: 2×2 + 2×2 + 1×1 = 9.
func TestPriorityJointBeatsGreedy(t *testing.T) {
	vims := []VIM{
		{UUID: "top", Name: "top", CoresTotal: 8, CoresUsed: 4, MemoryTotalMB: 8000},
		{UUID: "mid", Name: "mid", CoresTotal: 16, MemoryTotalMB: 16000},
	}
	req := Request{Policy: Priority, Priority: []string{"top", "mid"}, Functions: []Function{
		{ID: "big", VNFID: "big", Demand: descriptor.Demand{Cores: 4}, VDUs: 1},
		{ID: "s1", VNFID: "s1", Demand: descriptor.Demand{Cores: 2}, VDUs: 2},
		{ID: "s2", VNFID: "s2", Demand: descriptor.Demand{Cores: 2}, VDUs: 2},
	}}
	r := mustPlace(t, vims, req)
	want := map[string]string{"big": "mid", "s1": "top", "s2": "top"}
	if !reflect.DeepEqual(r.Mapping, want) || r.Score.Priority != 9 {
		t.Fatalf("mapping %v priority %v, want %v priority 9", r.Mapping, r.Score.Priority, want)
	}
	if got := r.Decisions[0].Candidates[0].Reason(); got != "needs 4 cores, 0 free (this request already takes 4)" {
		t.Errorf("big on top: %q", got)
	}
	if got := r.Decisions[1].Candidates[1].Reason(); got != "worse: priority 7 (-2)" {
		t.Errorf("s1 on mid: %q", got)
	}

	// With one path of budget the greedy answer comes back, flagged.
	req.MaxNodes = 3
	g := mustPlace(t, vims, req)
	if g.Exact || g.Score.Priority != 6 {
		t.Errorf("budget 3: exact %v priority %v, want a non-exact greedy 6", g.Exact, g.Score.Priority)
	}
}

// TestMemoryUnits (§14.5 L1): a 4 GB VNFD does not fit in 2384 MB. The
// 2017 algorithm compared 4 with 2384 and took the first VIM.
func TestMemoryUnits(t *testing.T) {
	vims := []VIM{
		{UUID: "small", Name: "small", CoresTotal: 8, MemoryTotalMB: 16384, MemoryUsedMB: 14000},
		{UUID: "big", Name: "big", CoresTotal: 8, MemoryTotalMB: 16384},
	}
	f := FunctionOf("f", "vnf", vnfd(t, "v", vdu{1, 4}))
	r := mustPlace(t, vims, Request{Policy: FirstFit, Functions: []Function{f}})
	if r.Mapping["f"] != "big" {
		t.Fatalf("mapping %v, want big", r.Mapping)
	}
	if got := r.Decisions[0].Candidates[0].Reason(); got != "needs 4000 MB memory, 2384 MB free" {
		t.Errorf("small: %q", got)
	}
}

// TestAllVDUs (§14.5 L2): the second VDU counts too.
func TestAllVDUs(t *testing.T) {
	vims := []VIM{
		{UUID: "a", Name: "a", CoresTotal: 8, CoresUsed: 6, MemoryTotalMB: 16000},
		{UUID: "b", Name: "b", CoresTotal: 8, MemoryTotalMB: 16000},
	}
	f := FunctionOf("f", "vnf", vnfd(t, "v", vdu{1, 1}, vdu{3, 3}))
	r := mustPlace(t, vims, Request{Policy: FirstFit, Functions: []Function{f}})
	if r.Mapping["f"] != "b" || r.Decisions[0].Candidates[0].Reason() != "needs 4 cores, 2 free" {
		t.Fatalf("mapping %v, reasons %q", r.Mapping, reasons(r.Decisions[0]))
	}
}

// TestFirstFitBacktracks: 2017 puts f1 on a and then finds no room for
// f2; manoctl's first-fit returns the first placement that works.
func TestFirstFitBacktracks(t *testing.T) {
	vims := []VIM{
		{UUID: "a", Name: "a", CoresTotal: 8, CoresUsed: 4, MemoryTotalMB: 8000},
		{UUID: "b", Name: "b", CoresTotal: 8, CoresUsed: 6, MemoryTotalMB: 8000},
	}
	req := Request{Policy: FirstFit, Functions: []Function{
		{ID: "f1", VNFID: "f1", Demand: descriptor.Demand{Cores: 2}},
		{ID: "f2", VNFID: "f2", Demand: descriptor.Demand{Cores: 4}},
	}}
	if _, ok := firstFit2017(vims, req); ok {
		t.Fatal("the 2017 algorithm should fail here")
	}
	r := mustPlace(t, vims, req)
	if want := map[string]string{"f1": "b", "f2": "a"}; !reflect.DeepEqual(r.Mapping, want) {
		t.Fatalf("mapping %v, want %v", r.Mapping, want)
	}
	if got := reasons(r.Decisions[0]); !reflect.DeepEqual(got, []string{
		"a: needs 2 cores, 0 free (this request already takes 4)",
		"b: chosen: first VIM in list order with room",
	}) {
		t.Errorf("f1: %q", got)
	}

	// One node of budget: the first try fails, and the error says the
	// search gave up rather than proving anything.
	req.MaxNodes = 1
	_, err := Place(vims, req)
	var ie *InfeasibleError
	if !errors.As(err, &ie) || ie.Proven || !strings.HasSuffix(err.Error(), "(search budget exhausted before any placement was found)") {
		t.Fatalf("budget 1: %v", err)
	}
}

func TestInfeasible(t *testing.T) {
	fns := []Function{
		FunctionOf("f1", "vforward_vnf_1_2", vnfd(t, "v1", shapeTwoVDUs...)),
		FunctionOf("f2", "vforward_vnf_2_2", vnfd(t, "v2", shapeVNF2...)),
	}
	cases := []struct {
		name  string
		vims  []VIM
		req   Request
		want  string
		given int
	}{
		{
			name: "alone",
			vims: testbed([3]int{48, 47, 49}, [3]float64{5, 5, 5}),
			req:  Request{Functions: fns},
			want: "placement: no VIM can host vforward_vnf_2_2: Athens: needs 4 cores, 2 free; Aveiro: needs 4 cores, 3 free; Ghent: needs 4 cores, 1 free",
		},
		{
			// Each fits on Athens, not both; Aveiro is blocked, Ghent small.
			name:  "together",
			vims:  testbed([3]int{46, 48, 49}, [3]float64{5, 5, 5}),
			req:   Request{Functions: fns, Blocked: []string{"Aveiro"}},
			want:  "placement: no VIM can host vforward_vnf_1_2 once vforward_vnf_2_2 is on Athens: Athens: needs 2 cores, 0 free (this request already takes 4); Aveiro: blocked by the request; Ghent: needs 2 cores, 1 free",
			given: 1,
		},
		{
			name:  "anti-affinity",
			vims:  testbed([3]int{0, 0, 0}, [3]float64{0, 0, 0}),
			req:   Request{Functions: fns, Allowed: []string{athens}, AntiAffinity: [][2]string{{"vforward_vnf_1_2", "vforward_vnf_2_2"}}},
			want:  "placement: no VIM can host vforward_vnf_1_2 once vforward_vnf_2_2 is on Athens: Athens: anti-affinity with vforward_vnf_2_2, placed there; Aveiro: not in the request's allowed VIMs; Ghent: not in the request's allowed VIMs",
			given: 1,
		},
		{
			name: "unusable and memory",
			vims: []VIM{
				{UUID: "u", Name: "gone", CoresTotal: -1, CoresUsed: -1, MemoryTotalMB: -1, MemoryUsedMB: -1},
				{UUID: "m", Name: "tight", CoresTotal: 8, MemoryTotalMB: 3500.5},
			},
			req:  Request{Functions: fns[1:]},
			want: "placement: no VIM can host vforward_vnf_2_2: gone: reports no usable capacity; tight: needs 4000 MB memory, 3500.5 MB free",
		},
		{
			name: "no VIMs",
			req:  Request{Functions: fns[:1]},
			want: "placement: no VIM can host vforward_vnf_1_2: there are no VIMs",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Place(tc.vims, tc.req)
			var ie *InfeasibleError
			if !errors.As(err, &ie) || !errors.Is(err, ErrInfeasible) {
				t.Fatalf("want *InfeasibleError, got %v", err)
			}
			if err.Error() != tc.want {
				t.Errorf("\n got %s\nwant %s", err, tc.want)
			}
			if !ie.Proven || len(ie.Given) != tc.given {
				t.Errorf("proven %v, given %v", ie.Proven, ie.Given)
			}
		})
	}
}

func TestValidation(t *testing.T) {
	req := Request{
		Policy: "cheapest",
		Functions: []Function{
			{ID: "", VNFID: "a"},
			{ID: "x", VNFID: "b", Demand: descriptor.Demand{Cores: -1}},
			{ID: "x", VNFID: "c"},
		},
		Affinity:     [][2]string{{"a", "b"}, {"a", "zz"}},
		AntiAffinity: [][2]string{{"b", "a"}},
		Preferences:  []Preference{{Objective: "latency", Actors: [2]string{"a", "b"}}, {Objective: Proximity, Actors: [2]string{ActorSource, "c"}}},
		Ingress:      "not-an-ip",
		Weights:      Weights{Operator: -1},
	}
	_, err := Place(testbed([3]int{}, [3]float64{}), req)
	var ve *ValidationError
	if !errors.As(err, &ve) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("want *ValidationError, got %v", err)
	}
	for _, want := range []string{
		`unknown policy "cheapest"`,
		"weights must be finite and not negative",
		"function 0 (a) has no id",
		`functions 1 and 2 share id "x"`,
		"function b: demand must be finite and not negative",
		`affinity "a"–"zz" names a vnf_id no function has`,
		"b and a are bound by affinity and kept apart by anti-affinity",
		`preference objective "latency"`,
		`source address "not-an-ip" is not IPv4`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in\n%v", want, err)
		}
	}
	if len(ve.Problems) != 9 {
		t.Errorf("%d problems, want 9: %q", len(ve.Problems), ve.Problems)
	}

	huge := Request{Functions: make([]Function, MaxSize/3+1)}
	if _, err := Place(testbed([3]int{}, [3]float64{}), huge); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "request too large") {
		t.Errorf("huge request: %v", err)
	}

	_, err = NewPool([]VIM{{Name: "nouuid"}, {UUID: "d"}, {UUID: "d", MemoryTotalMB: 1e300}})
	if !errors.As(err, &ve) || len(ve.Problems) != 3 {
		t.Fatalf("pool: %v", err)
	}
}

// TestHardAffinity: affine functions share a VIM and move as one in the
// explanation.
func TestHardAffinity(t *testing.T) {
	vims := testbed([3]int{45, 10, 44}, [3]float64{5, 10, 44})
	req := Request{Functions: twoVNFs(t), Affinity: [][2]string{{"vnf1", "vnf2"}}}
	r := mustPlace(t, vims, req)
	if r.Mapping["f1"] != aveiro || r.Mapping["f2"] != aveiro {
		t.Fatalf("mapping %v", r.Mapping)
	}
	d := r.Decisions[0]
	if !reflect.DeepEqual(d.With, []string{"vnf2"}) || !reflect.DeepEqual(r.Decisions[1].With, []string{"vnf1"}) {
		t.Errorf("with %v / %v", d.With, r.Decisions[1].With)
	}
	if got := d.Candidates[0].Reason(); got != "needs 6 cores, 5 free" {
		t.Errorf("Athens: %q", got)
	}
	if got := d.Candidates[2].Reason(); got != "worse: load spread 1.600 (+0.480)" {
		t.Errorf("Ghent: %q", got)
	}
}

// TestBrief keeps the chosen VIM and the runner-up, in list order, and
// changes nothing else.
func TestBrief(t *testing.T) {
	vims := testbed([3]int{4, 7, 45}, [3]float64{5, 5, 44})
	full := mustPlace(t, vims, Request{Functions: twoVNFs(t)})
	brief := mustPlace(t, vims, Request{Functions: twoVNFs(t), Brief: true})
	if !reflect.DeepEqual(full.Mapping, brief.Mapping) || full.Score != brief.Score {
		t.Fatalf("brief changed the result: %v %v", full.Mapping, brief.Mapping)
	}
	for i, d := range brief.Decisions {
		f := full.Decisions[i]
		got := []Candidate{d.Candidates[d.Chosen], d.Candidates[d.RunnerUp]}
		want := []Candidate{f.Candidates[f.Chosen], f.Candidates[f.RunnerUp]}
		if len(d.Candidates) != 2 || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %+v", d.Label, d.Candidates)
		}
		if indexByUUID(vims, d.Candidates[0].VIM) > indexByUUID(vims, d.Candidates[1].VIM) {
			t.Errorf("%s: candidates out of list order", d.Label)
		}
	}
}

// TestPoolCommit: results apply to their own pool, once, and the next
// placement sees them.
func TestPoolCommit(t *testing.T) {
	vims := testbed([3]int{10, 10, 10}, [3]float64{10, 10, 10})
	pool, err := NewPool(vims)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewPool(vims)
	req := Request{Functions: twoVNFs(t)[1:]}
	r1, err := pool.Place(req)
	if err != nil {
		t.Fatal(err)
	}
	if r1.Mapping["f2"] != athens {
		t.Fatalf("first: %v", r1.Mapping) // identical VIMs: the first in list order
	}
	if err := other.Commit(r1); !errors.Is(err, ErrStale) {
		t.Errorf("commit to another pool: %v", err)
	}
	if err := pool.Commit(r1); err != nil {
		t.Fatal(err)
	}
	if err := pool.Commit(r1); !errors.Is(err, ErrStale) {
		t.Errorf("second commit: %v", err)
	}
	r2, err := pool.Place(req)
	if err != nil {
		t.Fatal(err)
	}
	if r2.Mapping["f2"] != aveiro {
		t.Errorf("second: %v, want Aveiro (Athens now carries the first)", r2.Mapping)
	}
	if got := pool.VIMs()[0]; got.CoresUsed != 14 || got.MemoryUsedMB != 14000 || pool.Version() != 1 {
		t.Errorf("Athens after commit: %+v, version %d", got, pool.Version())
	}
	if vims[0].CoresUsed != 10 {
		t.Error("the caller's VIM slice changed")
	}
}

func TestEmptyRequest(t *testing.T) {
	r := mustPlace(t, testbed([3]int{}, [3]float64{}), Request{})
	if len(r.Mapping) != 0 || len(r.Decisions) != 0 || len(r.Usage) != 0 || !r.Exact {
		t.Errorf("%+v", r)
	}
}

func TestParsePolicy(t *testing.T) {
	for in, want := range map[string]Policy{
		"": LoadBalanced, "load balanced": LoadBalanced, "load-balanced": LoadBalanced, "Fill First": FillFirst,
		"fill_first": FillFirst, "priority": Priority, "first fit": FirstFit, "first-fit": FirstFit,
	} {
		if got, err := ParsePolicy(in); err != nil || got != want {
			t.Errorf("ParsePolicy(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParsePolicy("random"); err == nil {
		t.Error("ParsePolicy(random) accepted")
	}
}

func TestIPv4Of(t *testing.T) {
	for in, want := range map[string]string{
		"10.100.32.200": "10.100.32.200", " 8.8.8.8 ": "8.8.8.8", "http://10.1.10.1:5000/v2": "10.1.10.1",
		"10.0.0.7:9999": "10.0.0.7", "192.168.1.0/24": "192.168.1.0", "::ffff:10.2.3.4": "10.2.3.4",
		"openstack.example": "", "fe80::1": "", "": "", "https://[fe80::1]:5000": "",
	} {
		ip, ok := ipv4Of(in)
		got := ""
		if ok {
			got = strings.Join([]string{num(float64(ip[0])), num(float64(ip[1])), num(float64(ip[2])), num(float64(ip[3]))}, ".")
		}
		if got != want {
			t.Errorf("ipv4Of(%q) = %q, want %q", in, got, want)
		}
	}
	if n := commonOctets([4]byte{10, 1, 10, 0}, [4]byte{10, 1, 10, 1}); n != 3 {
		t.Errorf("common octets %d", n)
	}
}

func TestPreferencesOf(t *testing.T) {
	nsd := descriptor.Doc{"soft_constraints": []any{
		map[string]any{"objective": "affinity", "involved_actors": []any{"vforward_vnf_2_2", "vforward_vnf_1_2"}},
		map[string]any{"objective": "proximity", "involved_actors": []any{"destination", "vforward_vnf_1_2"}},
		map[string]any{"objective": "proximity", "involved_actors": []any{"source"}},
		"garbage",
	}}
	want := []Preference{
		{Objective: Affinity, Actors: [2]string{"vforward_vnf_2_2", "vforward_vnf_1_2"}},
		{Objective: Proximity, Actors: [2]string{ActorDestination, "vforward_vnf_1_2"}},
	}
	if got := PreferencesOf(nsd); !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v", got)
	}
	if got := PreferencesOf(descriptor.Doc{}); got != nil {
		t.Errorf("no soft_constraints: %+v", got)
	}
}

// TestGreedyQuality measures the trade-off documented in the package:
// the first path of the search (largest group first, best VIM first),
// improved by single moves, against the exact optimum, on random
// SONATA-sized requests. It fails only if the "greedy" result beats the
// "exact" one, which would mean the exact search is not exact.
func TestGreedyQuality(t *testing.T) {
	rng := rand.New(rand.NewPCG(2017, 2018))
	policies := []Policy{LoadBalanced, FillFirst, Priority}
	type tally struct {
		trials, optimal, failed int
		gap                     float64
	}
	stats := map[Policy]*tally{}
	total := 0
	for range 600 {
		vims := make([]VIM, 6)
		for i := range vims {
			cores := 16 << rng.IntN(2)
			vims[i] = VIM{UUID: string(rune('a' + i)), Name: string(rune('a' + i)), CoresTotal: cores, CoresUsed: rng.IntN(cores),
				MemoryTotalMB: 32768, MemoryUsedMB: float64(rng.IntN(32768))}
		}
		req := Request{Policy: policies[rng.IntN(len(policies))], Priority: []string{"c", "a", "e"}}
		for i := range 5 {
			req.Functions = append(req.Functions, Function{ID: string(rune('0' + i)), VDUs: 1 + rng.IntN(3),
				Demand: descriptor.Demand{Cores: 1 + rng.IntN(6), MemoryMB: float64(1024 * (1 + rng.IntN(6)))}})
		}
		exact, err := Place(vims, req)
		if err != nil {
			continue
		}
		st := stats[req.Policy]
		if st == nil {
			st = &tally{}
			stats[req.Policy] = st
		}
		st.trials++
		total++
		req.MaxNodes = len(req.Functions)
		greedy, err := Place(vims, req)
		if err != nil {
			st.failed++ // the first path hit a dead end
			continue
		}
		ge, ee := keyOf(greedy.Score.Total), keyOf(exact.Score.Total)
		if ge < ee {
			t.Fatalf("greedy %v beats exact %v: %v vs %v", greedy.Score, exact.Score, greedy.Mapping, exact.Mapping)
		}
		if ge == ee {
			st.optimal++
		} else if exact.Score.Total != 0 {
			st.gap += (greedy.Score.Total - exact.Score.Total) / abs(exact.Score.Total)
		}
	}
	if total < 400 {
		t.Fatalf("only %d feasible trials", total)
	}
	for _, p := range policies {
		st := stats[p]
		t.Logf("%-13s greedy+local search optimal in %3d of %3d, no placement in %d, mean relative gap %.4f",
			p, st.optimal, st.trials, st.failed, st.gap/float64(st.trials))
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// TestConcurrentPlace: Place only reads the pool, and recycled search
// states never leak between calls, so concurrent placements agree with
// sequential ones (run with -race).
func TestConcurrentPlace(t *testing.T) {
	vims := planPool(12)
	reqs := planServices(64)
	for i := range reqs {
		reqs[i].Brief = i%2 == 0
		reqs[i].Policy = []Policy{LoadBalanced, FillFirst, Priority, FirstFit}[i%4]
		reqs[i].Priority = []string{"pop03", "pop07"}
	}
	pool, err := NewPool(vims)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]*Result, len(reqs))
	for i, req := range reqs {
		if want[i], err = pool.Place(req); err != nil {
			t.Fatal(err)
		}
	}
	errs := make(chan error, 4)
	for w := range 4 {
		go func() {
			for k := range reqs {
				i := (k + w*17) % len(reqs)
				got, err := pool.Place(reqs[i])
				if err == nil && !sameResult(got, want[i]) {
					err = errors.New("request " + reqs[i].Functions[0].ID + ": concurrent result differs")
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
