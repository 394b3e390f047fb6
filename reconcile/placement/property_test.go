package placement

import (
	"errors"
	"reflect"
	"testing"

	"pgregory.net/rapid"
)

// TestMatchesReference: on small instances, the search finds exactly the
// placement the naive enumeration finds (same score, same tie-break), and
// reports infeasibility exactly when no placement exists.
func TestMatchesReference(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		vims := genVIMs(t, 4)
		req := genRequest(t, vims, 4)
		res, err := Place(vims, req)
		if refContradictory(req) {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("contradictory affinity: want ErrInvalid, got %v", err)
			}
			return
		}
		ref := refPlace(vims, req)
		if !ref.feasible {
			var ie *InfeasibleError
			if !errors.As(err, &ie) || !ie.Proven {
				t.Fatalf("reference finds no placement; Place returned %v, %v", mappingOf(res), err)
			}
			return
		}
		if err != nil {
			t.Fatalf("reference places %v; Place failed: %v", ref.assign, err)
		}
		if !res.Exact {
			t.Fatalf("not exact after %d nodes", res.Nodes)
		}
		for i, f := range req.Functions {
			if got, want := res.Mapping[f.ID], vims[ref.assign[i]].UUID; got != want {
				t.Fatalf("function %d (%s) → %s, reference → %s\nreference assignment %v\n%s",
					i, f.VNFID, got, want, ref.assign, explainAll(res))
			}
		}
	})
}

// TestInvariants checks, on larger instances than the reference can
// enumerate, what must hold of every result.
func TestInvariants(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		vims := genVIMs(t, 7)
		req := genRequest(t, vims, 6)
		res, err := Place(vims, req)
		if err != nil {
			if errors.Is(err, ErrInvalid) != refContradictory(req) {
				t.Fatalf("unexpected error %v", err)
			}
			if errors.Is(err, ErrInfeasible) {
				checkInfeasible(t, err)
			}
			return
		}
		checkResult(t, vims, req, res)

		// Same input, same output, from a fresh pool.
		again, err := Place(vims, req)
		if err != nil {
			t.Fatalf("second run failed: %v", err)
		}
		if !sameResult(res, again) {
			t.Fatalf("non-deterministic:\n%+v\n%+v", res, again)
		}
	})
}

// checkResult asserts the hard constraints and the explanation's
// consistency.
func checkResult(t *rapid.T, vims []VIM, req Request, res *Result) {
	byUUID := map[string]int{}
	for i, v := range vims {
		byUUID[v.UUID] = i
	}
	assign := make([]int, len(req.Functions))
	for i, f := range req.Functions {
		u, ok := res.Mapping[f.ID]
		if !ok {
			t.Fatalf("function %s not mapped", f.ID)
		}
		assign[i] = byUUID[u]
		vim := vims[assign[i]]
		if len(req.Allowed) > 0 && !refNamed(req.Allowed, vim) {
			t.Fatalf("%s placed on %s, not allowed", f.ID, vim.Name)
		}
		if refNamed(req.Blocked, vim) {
			t.Fatalf("%s placed on blocked %s", f.ID, vim.Name)
		}
		if !refUsable(vim) {
			t.Fatalf("%s placed on unusable %s", f.ID, vim.Name)
		}
	}
	// Never over-commits (the reference's capacity check is independent of
	// the search's), and respects affinity and anti-affinity.
	if !refFeasible(vims, req, assign) {
		t.Fatalf("placement %v violates a hard constraint", assign)
	}
	// Usage: after − before is what the functions placed there demand.
	for _, u := range res.Usage {
		vim := vims[byUUID[u.VIM]]
		var cores int
		var mem float64
		for _, id := range u.Functions {
			for _, f := range req.Functions {
				if f.ID == id {
					cores += f.Demand.Cores
					mem += f.Demand.MemoryMB
				}
			}
		}
		if u.After.CoresUsed-u.Before.CoresUsed != cores || mb(u.After.MemoryUsedMB-u.Before.MemoryUsedMB) != mb(mem) {
			t.Fatalf("usage of %s: %+v for functions %v", vim.Name, u, u.Functions)
		}
		if u.After.CoresFree() < 0 || u.After.MemoryFreeMB() < 0 {
			t.Fatalf("usage of %s over capacity: %+v", vim.Name, u.After)
		}
	}
	// Decisions: the chosen candidate is the mapping, and no feasible
	// alternative scores better than the chosen placement.
	for i, d := range res.Decisions {
		if d.Function != req.Functions[i].ID || d.VIM != res.Mapping[d.Function] {
			t.Fatalf("decision %d is %s → %s", i, d.Function, d.VIM)
		}
		if d.Chosen < 0 || d.Candidates[d.Chosen].VIM != d.VIM || d.Candidates[d.Chosen].Verdict != Chosen {
			t.Fatalf("decision %s: chosen candidate %d wrong", d.Function, d.Chosen)
		}
		for j, c := range d.Candidates {
			if c.Reason() == "" {
				t.Fatalf("candidate without reason")
			}
			if !c.Verdict.Feasible() || c.Verdict == Chosen {
				if j == d.RunnerUp {
					t.Fatalf("runner-up %s is %v", c.Name, c.Verdict)
				}
				continue
			}
			chosenIdx, idx := indexByUUID(vims, d.VIM), indexByUUID(vims, c.VIM)
			switch k, best := keyOf(c.Score.Total), keyOf(res.Score.Total); {
			case res.Policy == FirstFit:
				// Lexicographically first: an earlier VIM that fits alone
				// would have been taken.
				if c.Verdict != Later || (res.Exact && idx < chosenIdx) {
					t.Fatalf("first-fit %s: %s is %v at index %d, chosen index %d", d.Label, c.Name, c.Verdict, idx, chosenIdx)
				}
			case k < best:
				t.Fatalf("%s: moving to %s scores %v, better than the chosen %v", d.Label, c.Name, c.Score.Total, res.Score.Total)
			case k == best && (c.Verdict != Tie || (res.Exact && idx < chosenIdx)):
				// An equal score at an earlier VIM would be the
				// lexicographically smaller placement.
				t.Fatalf("%s: %s has the chosen score but is %v at index %d (chosen %d)", d.Label, c.Name, c.Verdict, idx, chosenIdx)
			case k > best && c.Verdict != Worse:
				t.Fatalf("%s: %s scores worse but is %v", d.Label, c.Name, c.Verdict)
			}
			if d.RunnerUp < 0 {
				t.Fatalf("%s: %s is feasible but there is no runner-up", d.Label, c.Name)
			}
		}
	}
}

func checkInfeasible(t *rapid.T, err error) {
	var ie *InfeasibleError
	if !errors.As(err, &ie) {
		t.Fatalf("%v is not an *InfeasibleError", err)
	}
	if ie.Function == "" || ie.Error() == "" {
		t.Fatalf("infeasible error without function: %+v", ie)
	}
	for _, c := range ie.Candidates {
		if c.Verdict.Feasible() && ie.Proven {
			t.Fatalf("proven infeasible, yet %s accepts %s: %v", c.Name, ie.Label, ie)
		}
	}
}

// sameResult compares everything but the pool the results belong to.
func sameResult(a, b *Result) bool {
	a2, b2 := *a, *b
	a2.pool, b2.pool = nil, nil
	return reflect.DeepEqual(a2, b2)
}

func mappingOf(r *Result) map[string]string {
	if r == nil {
		return nil
	}
	return r.Mapping
}

// TestPoolSequence places requests one after another against one pool:
// the pool's usage is the sum of the committed results, never over
// capacity, and a result cannot be committed twice.
func TestPoolSequence(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		vims := genVIMs(t, 6)
		pool, err := NewPool(vims)
		if err != nil {
			t.Fatal(err)
		}
		cores := make([]int, len(vims))
		mem := make([]int64, len(vims))
		for i, v := range vims {
			cores[i], mem[i] = v.CoresUsed, mb(v.MemoryUsedMB)
		}
		for range rapid.IntRange(1, 8).Draw(t, "requests") {
			req := genRequest(t, vims, 4)
			current := pool.VIMs()
			res, err := pool.Place(req)
			if err != nil {
				continue
			}
			checkResult(t, current, req, res)
			if err := pool.Commit(res); err != nil {
				t.Fatalf("commit: %v", err)
			}
			if err := pool.Commit(res); !errors.Is(err, ErrStale) {
				t.Fatalf("second commit of one result: %v", err)
			}
			for _, f := range req.Functions {
				i := indexByUUID(vims, res.Mapping[f.ID])
				cores[i] += f.Demand.Cores
				mem[i] += mb(f.Demand.MemoryMB)
			}
			for i, v := range pool.VIMs() {
				if v.CoresUsed != cores[i] || mb(v.MemoryUsedMB) != mem[i] {
					t.Fatalf("pool VIM %s: %d cores %v MB used, want %d, %d bytes", v.Name, v.CoresUsed, v.MemoryUsedMB, cores[i], mem[i])
				}
				if refUsable(vims[i]) && (v.CoresUsed > v.CoresTotal || mb(v.MemoryUsedMB) > mb(v.MemoryTotalMB)) {
					t.Fatalf("pool VIM %s over-committed: %+v", v.Name, v)
				}
			}
		}
	})
}

func indexByUUID(vims []VIM, uuid string) int {
	for i, v := range vims {
		if v.UUID == uuid {
			return i
		}
	}
	return -1
}

// TestFirstFitMatches2017: with no constraints, first-fit equals the 2017
// algorithm (§5.2, with demand over all VDUs and memory in MB) whenever
// the 2017 algorithm finds a placement, and it finds one whenever the
// 2017 algorithm does.
func TestFirstFitMatches2017(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		vims := genVIMs(t, 5)
		req := genRequest(t, vims, 5)
		req.Policy = FirstFit
		req.Allowed, req.Blocked, req.Affinity, req.AntiAffinity = nil, nil, nil, nil
		want, ok := firstFit2017(vims, req)
		res, err := Place(vims, req)
		if !ok {
			return // 2017 gave up; manoctl may still find one by backtracking
		}
		if err != nil {
			t.Fatalf("2017 places %v, manoctl fails: %v", want, err)
		}
		if !reflect.DeepEqual(res.Mapping, want) {
			t.Fatalf("mapping %v, 2017 %v", res.Mapping, want)
		}
	})
}

// firstFit2017 is §5.2 literally, with L1/L2 demands and usable VIMs only.
func firstFit2017(vims []VIM, req Request) (map[string]string, bool) {
	cores := make([]int64, len(vims))
	mem := make([]int64, len(vims))
	sto := make([]int64, len(vims))
	for i, v := range vims {
		cores[i], mem[i], sto[i] = int64(v.CoresUsed), mb(v.MemoryUsedMB), mb(v.StorageUsedMB)
	}
	out := map[string]string{}
	for _, f := range req.Functions {
		placed := false
		for i, v := range vims {
			c, m, s := int64(f.Demand.Cores), mb(f.Demand.MemoryMB), mb(f.Demand.StorageMB)
			if !refUsable(v) || cores[i]+c > int64(v.CoresTotal) || mem[i]+m > mb(v.MemoryTotalMB) ||
				(v.StorageTotalMB > 0 && sto[i]+s > mb(v.StorageTotalMB)) {
				continue
			}
			cores[i], mem[i], sto[i] = cores[i]+c, mem[i]+m, sto[i]+s
			out[f.ID] = v.UUID
			placed = true
			break
		}
		if !placed {
			return nil, false
		}
	}
	return out, true
}

// TestClassify: the map-based classification of large pools agrees with
// the scan of small ones.
func TestClassify(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		vims := genVIMs(t, 7)
		for range rapid.IntRange(0, 40).Draw(t, "clones") {
			c := vims[rapid.IntRange(0, len(vims)-1).Draw(t, "of")]
			c.UUID, c.Name = "c"+string(rune('A'+len(vims))), "clone"
			if rapid.Bool().Draw(t, "otherIP") {
				c.Endpoint = rapid.SampledFrom(endpoints).Draw(t, "ip")
			}
			vims = append(vims, c)
		}
		p, err := NewPool(vims)
		if err != nil {
			t.Fatal(err)
		}
		p.classifyScan()
		scan := make([][2]int32, len(vims))
		for i, v := range p.vims {
			scan[i] = [2]int32{v.rep, v.repCap}
		}
		p.classifyMap()
		for i, v := range p.vims {
			if got := [2]int32{v.rep, v.repCap}; got != scan[i] {
				t.Fatalf("VIM %d: map gives %v, scan %v", i, got, scan[i])
			}
			if a, b := p.vims[v.rep].key(), v.key(); a != b {
				t.Fatalf("VIM %d: rep %d is not identical", i, v.rep)
			}
			if a, b := p.vims[v.repCap].key().capacity(), v.key().capacity(); a != b {
				t.Fatalf("VIM %d: repCap %d has another capacity", i, v.repCap)
			}
		}
	})
}
