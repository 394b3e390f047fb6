package placement

import (
	"math"

	"pgregory.net/rapid"

	"github.com/manoctl/manoctl/schema/descriptor"
)

// This file holds a reference placement written from the package
// documentation only, deliberately naive: it enumerates every assignment
// of functions (not groups) to VIMs, checks the constraints one by one and
// computes the objective from scratch (O(n²) spread). Property tests
// compare the search against it on small instances.

// refOutcome is the reference's answer.
type refOutcome struct {
	feasible bool
	assign   []int // function → VIM index
	key      float64
}

// refPlace solves req over vims by enumeration.
func refPlace(vims []VIM, req Request) refOutcome {
	nf, nv := len(req.Functions), len(vims)
	policy, _ := ParsePolicy(string(req.Policy))
	w := req.Weights
	if w == (Weights{}) {
		w = Weights{1, 1}
	}
	feasibleAll := func(fn func(a []int)) {
		a := make([]int, nf)
		var rec func(i int)
		rec = func(i int) {
			if i == nf {
				if refFeasible(vims, req, a) {
					fn(a)
				}
				return
			}
			for v := range nv {
				a[i] = v
				rec(i + 1)
			}
		}
		rec(0)
	}
	// best returns the first assignment in lexicographic order with the
	// minimum key of cost.
	best := func(cost func(a []int) float64) refOutcome {
		out := refOutcome{}
		feasibleAll(func(a []int) {
			k := keyOf(cost(a))
			if !out.feasible || k < out.key {
				out = refOutcome{feasible: true, assign: append([]int(nil), a...), key: k}
			}
		})
		return out
	}
	if policy == FirstFit {
		return best(func([]int) float64 { return 0 })
	}
	op := func(a []int) float64 {
		switch policy {
		case LoadBalanced:
			return refSpread(vims, req, a)
		case FillFirst:
			return -refSpread(vims, req, a)
		}
		return -refPriority(vims, req, a)
	}
	dev := func(a []int) float64 { return -refProximity(vims, req, a) }
	wOp, wDev := w.Operator, w.Developer
	if wOp > 0 && wDev > 0 {
		dOpt := best(dev)
		if dOpt.feasible {
			dv := dev(dOpt.assign)
			oOpt := best(op)
			ov := op(oOpt.assign)
			if math.Abs(dv) > resolution {
				if math.Abs(ov) > resolution {
					wOp /= math.Abs(ov)
				}
				wDev /= math.Abs(dv)
			}
		}
	}
	return best(func(a []int) float64 {
		c := 0.0
		if wOp != 0 {
			c = wOp * op(a)
		}
		if wDev != 0 {
			c += wDev * dev(a)
		}
		return c
	})
}

func refNamed(list []string, v VIM) bool {
	for _, n := range list {
		if n == v.Name || n == v.UUID {
			return true
		}
	}
	return false
}

func refUsable(v VIM) bool {
	return v.CoresTotal > 0 && v.MemoryTotalMB > 0 && v.CoresUsed >= 0 && v.MemoryUsedMB >= 0 && v.StorageUsedMB >= 0
}

func mb(x float64) int64 { return int64(math.Round(x * 1e6)) }

// refFeasible checks every hard constraint of assignment a.
func refFeasible(vims []VIM, req Request, a []int) bool {
	fns := req.Functions
	for i, v := range a {
		vim := vims[v]
		if !refUsable(vim) || (len(req.Allowed) > 0 && !refNamed(req.Allowed, vim)) || refNamed(req.Blocked, vim) {
			return false
		}
		_ = i
	}
	for v, vim := range vims {
		var c, m, s int64
		for i, u := range a {
			if u == v {
				c += int64(fns[i].Demand.Cores)
				m += mb(fns[i].Demand.MemoryMB)
				s += mb(fns[i].Demand.StorageMB)
			}
		}
		if c == 0 && m == 0 && s == 0 && !contains(a, v) {
			continue
		}
		if int64(vim.CoresUsed)+c > int64(vim.CoresTotal) || mb(vim.MemoryUsedMB)+m > mb(vim.MemoryTotalMB) {
			return false
		}
		if vim.StorageTotalMB > 0 && mb(vim.StorageUsedMB)+s > mb(vim.StorageTotalMB) {
			return false
		}
	}
	for _, p := range req.Affinity {
		for i := range fns {
			for j := range fns {
				if i != j && fns[i].VNFID == p[0] && fns[j].VNFID == p[1] && a[i] != a[j] {
					return false
				}
			}
		}
	}
	for _, p := range req.AntiAffinity {
		for i := range fns {
			for j := range fns {
				if i != j && fns[i].VNFID == p[0] && fns[j].VNFID == p[1] && a[i] == a[j] {
					return false
				}
			}
		}
	}
	return true
}

func contains(a []int, x int) bool {
	for _, y := range a {
		if y == x {
			return true
		}
	}
	return false
}

// refLoads is every usable VIM's load after a.
func refLoads(vims []VIM, req Request, a []int) []float64 {
	var loads []float64
	for v, vim := range vims {
		if !refUsable(vim) {
			continue
		}
		c, m := int64(vim.CoresUsed), mb(vim.MemoryUsedMB)
		for i, u := range a {
			if u == v {
				c += int64(req.Functions[i].Demand.Cores)
				m += mb(req.Functions[i].Demand.MemoryMB)
			}
		}
		loads = append(loads, (float64(c)/float64(vim.CoresTotal)+float64(m)/float64(mb(vim.MemoryTotalMB)))/2)
	}
	return loads
}

func refSpread(vims []VIM, req Request, a []int) float64 {
	l := refLoads(vims, req, a)
	s := 0.0
	for i := range l {
		for j := i + 1; j < len(l); j++ {
			s += math.Abs(l[i] - l[j])
		}
	}
	return s
}

func refPriority(vims []VIM, req Request, a []int) float64 {
	s := 0.0
	for i, v := range a {
		p := 0.0
		for k, n := range req.Priority {
			if n == vims[v].Name || n == vims[v].UUID {
				p = float64(len(req.Priority) - k)
				break
			}
		}
		s += float64(max(req.Functions[i].VDUs, 1)) * p
	}
	return s
}

func refProximity(vims []VIM, req Request, a []int) float64 {
	fns := req.Functions
	octets := func(x, y string) float64 {
		ix, okx := ipv4Of(x)
		iy, oky := ipv4Of(y)
		if !okx || !oky {
			return 0
		}
		return float64(commonOctets(ix, iy)) / 4
	}
	addr := func(actor string) (string, bool) {
		switch actor {
		case ActorSource:
			return req.Ingress, true
		case ActorDestination:
			return req.Egress, true
		}
		return "", false
	}
	r := 0.0
	for _, p := range req.Preferences {
		x, y := p.Actors[0], p.Actors[1]
		ax, ex := addr(x)
		ay, ey := addr(y)
		switch {
		case ex && ey:
		case ex || ey:
			vnf, ep := y, ax
			if ey {
				vnf, ep = x, ay
			}
			if ep == "" {
				continue
			}
			for i := range fns {
				if fns[i].VNFID == vnf {
					r += octets(vims[a[i]].Endpoint, ep)
				}
			}
		default:
			for i := range fns {
				for j := range fns {
					if i == j || fns[i].VNFID != x || fns[j].VNFID != y {
						continue
					}
					if a[i] == a[j] {
						r++
					} else {
						r += octets(vims[a[i]].Endpoint, vims[a[j]].Endpoint)
					}
				}
			}
		}
	}
	return r
}

// refContradictory reports whether some pair is both affine (transitively)
// and anti-affine: such requests are invalid.
func refContradictory(req Request) bool {
	fns := req.Functions
	n := len(fns)
	comp := make([]int, n)
	for i := range comp {
		comp[i] = i
	}
	for changed := true; changed; {
		changed = false
		for _, p := range req.Affinity {
			for i := range fns {
				for j := range fns {
					if fns[i].VNFID == p[0] && fns[j].VNFID == p[1] && comp[i] != comp[j] {
						c := min(comp[i], comp[j])
						comp[i], comp[j], changed = c, c, true
					}
				}
			}
		}
	}
	for _, p := range req.AntiAffinity {
		for i := range fns {
			for j := range fns {
				if i != j && fns[i].VNFID == p[0] && fns[j].VNFID == p[1] && comp[i] == comp[j] {
					return true
				}
			}
		}
	}
	return false
}

// Generators. Small ranges on purpose: they make identical VIMs, exact
// fits and ties common, which is where placement goes wrong. rapid favours
// small draws, so rare events are the largest value of their range.

var endpoints = []string{"10.0.0.1", "10.0.0.2", "10.0.1.1", "10.1.0.1", "192.168.0.1", "", "http://10.0.0.1:5000", "ctl.example"}

func genVIMs(t *rapid.T, maxN int) []VIM {
	n := maxN - rapid.IntRange(0, maxN-1).Draw(t, "fewerVIMs") // mostly maxN
	vims := make([]VIM, n)
	for i := range vims {
		// Mostly usable VIMs, sized so that a few functions contend for them.
		total := rapid.SampledFrom([]int{8, 8, 12, 16, 16}).Draw(t, "coresTotal")
		memTotal := rapid.SampledFrom([]float64{8000, 8000, 12000, 16384, 16384}).Draw(t, "memTotal")
		v := VIM{
			UUID: "uuid-" + string(rune('a'+i)), Name: "vim" + string(rune('a'+i)),
			Endpoint:      rapid.SampledFrom(endpoints).Draw(t, "endpoint"),
			CoresTotal:    total,
			CoresUsed:     total * rapid.IntRange(0, 4).Draw(t, "coresUsed4") / 4,
			MemoryTotalMB: memTotal,
			MemoryUsedMB:  float64(rapid.IntRange(0, 4).Draw(t, "memUsed4")) * memTotal / 4,
		}
		switch rapid.IntRange(0, 19).Draw(t, "unusable") {
		case 19:
			v.CoresUsed = -1 // the IA's "no data"
		case 18:
			v.CoresTotal, v.CoresUsed, v.MemoryTotalMB, v.MemoryUsedMB = 0, 0, 0, 0 // unreachable PoP
		}
		if rapid.IntRange(0, 3).Draw(t, "storage") == 3 {
			v.StorageTotalMB = 10000
			v.StorageUsedMB = float64(rapid.IntRange(0, 10).Draw(t, "stoUsed")) * 1000
		}
		if i > 0 && rapid.IntRange(0, 2).Draw(t, "clone") == 2 {
			// An identical twin of an earlier VIM: symmetry breaking and
			// its tie-break must hold.
			c := vims[rapid.IntRange(0, i-1).Draw(t, "twin")]
			c.UUID, c.Name = v.UUID, v.Name
			v = c
		}
		vims[i] = v
	}
	return vims
}

var vnfIDs = []string{"a", "b", "c", "d", "e"}

func genRequest(t *rapid.T, vims []VIM, maxF int) Request {
	nf := maxF - rapid.IntRange(0, maxF-1).Draw(t, "fewerFunctions") // mostly maxF
	req := Request{
		Policy:  rapid.SampledFrom([]Policy{"", LoadBalanced, FillFirst, Priority, FirstFit, "load balanced"}).Draw(t, "policy"),
		Ingress: rapid.SampledFrom(endpoints[:6]).Draw(t, "ingress"),
		Egress:  rapid.SampledFrom(endpoints[:6]).Draw(t, "egress"),
		Weights: Weights{
			Operator:  rapid.SampledFrom([]float64{0, 0.5, 1}).Draw(t, "wOp"),
			Developer: rapid.SampledFrom([]float64{0, 0.5, 1}).Draw(t, "wDev"),
		},
	}
	uniqueIDs := rapid.IntRange(0, 3).Draw(t, "uniqueIDs") > 0
	for i := range nf {
		id := vnfIDs[i%len(vnfIDs)]
		if !uniqueIDs {
			id = rapid.SampledFrom(vnfIDs[:3]).Draw(t, "vnfID")
		}
		req.Functions = append(req.Functions, Function{
			ID: "f" + string(rune('0'+i)), VNFID: id,
			Demand: descriptor.Demand{
				Cores:     rapid.IntRange(0, 5).Draw(t, "cores"),
				MemoryMB:  rapid.SampledFrom([]float64{0, 500, 1000, 2000, 4000}).Draw(t, "mem"),
				StorageMB: rapid.SampledFrom([]float64{0, 0, 0, 2000, 5000}).Draw(t, "sto"),
			},
			VDUs: rapid.IntRange(0, 3).Draw(t, "vdus"),
		})
	}
	names := func(label string, oneIn int) []string {
		var out []string
		for _, v := range vims {
			if rapid.IntRange(0, oneIn-1).Draw(t, label) == oneIn-1 {
				if rapid.Bool().Draw(t, label+"ByUUID") {
					out = append(out, v.UUID)
				} else {
					out = append(out, v.Name)
				}
			}
		}
		return out
	}
	if rapid.IntRange(0, 3).Draw(t, "useAllowed") == 3 {
		req.Allowed = names("allowed", 2)
	}
	req.Blocked = names("blocked", 6)
	req.Priority = names("priority", 2)
	if len(req.Priority) > 1 && rapid.Bool().Draw(t, "reversePriority") {
		req.Priority[0], req.Priority[len(req.Priority)-1] = req.Priority[len(req.Priority)-1], req.Priority[0]
	}
	used := func() string { return req.Functions[rapid.IntRange(0, nf-1).Draw(t, "actor")].VNFID }
	for range rapid.IntRange(0, 1).Draw(t, "affinities") {
		req.Affinity = append(req.Affinity, [2]string{used(), used()})
	}
	for range rapid.IntRange(0, 2).Draw(t, "antiAffinities") {
		req.AntiAffinity = append(req.AntiAffinity, [2]string{used(), used()})
	}
	actor := func() string {
		switch rapid.IntRange(0, 3).Draw(t, "actorKind") {
		case 0:
			return ActorSource
		case 1:
			return ActorDestination
		}
		return used()
	}
	for range rapid.IntRange(0, 3).Draw(t, "preferences") {
		req.Preferences = append(req.Preferences, Preference{
			Objective: rapid.SampledFrom([]string{Proximity, Affinity}).Draw(t, "objective"),
			Actors:    [2]string{actor(), actor()},
		})
	}
	return req
}
