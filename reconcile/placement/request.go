package placement

import (
	"fmt"
	"math"
	"slices"
)

// MaxSize bounds functions × VIMs in one request: each pair costs about
// 200 bytes of scratch and explanation, so this caps a request near 50 MB.
// SONATA services have tens of functions and pools hundreds of VIMs.
const MaxSize = 1 << 18

// group is a set of functions that hard affinity binds to one VIM; the
// search places groups. Groups are indexed in the order of their first
// member, so comparing placements group by group is comparing them
// function by function in request order.
type group struct {
	members         []int32 // function indices, request order
	cores, mem, sto int64   // summed demand; memory and storage in bytes
	weight          float64 // Σ VDUs, the priority objective's weight
	size            float64 // demand relative to the largest VIM, for the search order
	dom             []int32 // VIMs that pass the static chain, list order
	// twin is the previous group (smaller index) that is interchangeable
	// with this one: same demand (and weight, for the priority policy),
	// and neither constrained nor named by a preference. −1 if none.
	twin int32
}

// vimReq holds what the request says about one VIM, and the search's
// per-VIM bookkeeping.
type vimReq struct {
	status Verdict // Chosen (no objection), NotAllowed or Blocked
	prio   float64 // Priority policy: len(list) − index, 0 when unlisted
	rep    int32   // smallest index of a VIM identical for this request
	slot   int32   // index in search.slots, −1 when untouched
}

// softTerm is one expanded preference: between groups a and b, or between
// group a and the endpoint ep (b < 0).
type softTerm struct {
	a, b   int32
	ep     [4]byte
	maxRew float64 // an upper bound on its reward, for the search bound
}

// prepare validates req against the pool and builds the search problem
// in s, a reset search. Every problem is collected before failing.
func (p *Pool) prepare(s *search, req *Request) error {
	var problems []string
	addf := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	policy, err := ParsePolicy(string(req.Policy))
	if err != nil {
		addf("unknown policy %q", req.Policy)
	}
	w := req.Weights
	if w == (Weights{}) {
		w = Weights{Operator: 1, Developer: 1}
	}
	if bad(w.Operator) || bad(w.Developer) {
		addf("weights must be finite and not negative, got operator %v, developer %v", w.Operator, w.Developer)
	}
	if req.MaxNodes < 0 {
		addf("max nodes %d is negative", req.MaxNodes)
	}

	fns := req.Functions
	nf, nv := len(fns), len(p.vims)
	if nf*max(nv, 1) > MaxSize {
		// The scratch memory grows with functions × VIMs: refuse before
		// allocating it.
		return &ValidationError{Problems: []string{fmt.Sprintf(
			"request too large: %d functions × %d VIMs exceeds %d", nf, nv, MaxSize)}}
	}
	s.pool, s.vims, s.policy, s.brief, s.fns, s.wOp, s.wDev = p, p.vims, policy, req.Brief, fns, w.Operator, w.Developer
	s.maxNodes = req.MaxNodes
	if s.maxNodes == 0 {
		s.maxNodes = DefaultMaxNodes
	}

	// Functions: identity and demand.
	var ids map[string]int
	if nf > 16 {
		ids = make(map[string]int, nf)
	}
	for i, f := range fns {
		switch {
		case f.ID == "":
			addf("function %d (%s) has no id", i, f.Label())
		case ids != nil:
			if j, dup := ids[f.ID]; dup {
				addf("functions %d and %d share id %q", j, i, f.ID)
			}
			ids[f.ID] = i
		default:
			for j := range i {
				if fns[j].ID == f.ID {
					addf("functions %d and %d share id %q", j, i, f.ID)
					break
				}
			}
		}
		d := f.Demand
		mem, okm := toBytes(d.MemoryMB)
		sto, oks := toBytes(d.StorageMB)
		if d.Cores < 0 || !okm || !oks || mem < 0 || sto < 0 || f.VDUs < 0 {
			addf("function %s: demand must be finite and not negative, got %d cores, %v MB memory, %v MB storage, %d VDUs",
				f.Label(), d.Cores, d.MemoryMB, d.StorageMB, f.VDUs)
		}
	}

	// withVNF calls fn for every function with vnf_id id.
	withVNF := func(id string, fn func(int32)) bool {
		found := false
		for i := range fns {
			if fns[i].VNFID == id && id != "" {
				fn(int32(i))
				found = true
			}
		}
		return found
	}

	// Hard affinity: union-find over functions. The int32 buffer holds
	// the parents, the function → group map, the groups' member lists,
	// and (for alloc) the rest, sized for the most groups there can be.
	ints := grow(&s.buf.ints, 3*nf+nf*nv+8*nf+nv)
	parent, members := ints[:nf:nf], ints[2*nf:2*nf:3*nf]
	s.fnGroup = ints[nf : 2*nf : 2*nf]
	for i := range parent {
		parent[i] = int32(i)
	}
	find := func(x int32) int32 {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	union := func(a, b int32) {
		ra, rb := find(a), find(b)
		// The smaller index becomes the root, so that roots are first
		// members.
		if ra < rb {
			parent[rb] = ra
		} else if rb < ra {
			parent[ra] = rb
		}
	}
	for _, pr := range req.Affinity {
		first := int32(-1)
		ok0 := withVNF(pr[0], func(i int32) {
			if first < 0 {
				first = i
			}
			union(first, i)
		})
		ok1 := withVNF(pr[1], func(i int32) {
			if first < 0 {
				first = i
			}
			union(first, i)
		})
		if !ok0 || !ok1 {
			addf("affinity %q–%q names a vnf_id no function has", pr[0], pr[1])
		}
	}

	// Groups in order of their first member: a root is its group's first
	// member, so numbering roots in function order numbers the groups.
	ng := 0
	for i := range fns {
		if find(int32(i)) == int32(i) {
			s.fnGroup[i] = int32(ng)
			ng++
		}
	}
	for i := range fns {
		s.fnGroup[i] = s.fnGroup[find(int32(i))]
	}
	// The union-find is done: its memory counts members.
	counts := parent[:ng]
	clear(counts)
	s.groups = grow(&s.buf.groups, ng)
	for i := range fns {
		g := s.fnGroup[i]
		counts[g]++
		gr := &s.groups[g]
		gr.cores += int64(fns[i].Demand.Cores)
		gr.mem += mbBytes(fns[i].Demand.MemoryMB)
		gr.sto += mbBytes(fns[i].Demand.StorageMB)
		gr.weight += float64(max(fns[i].VDUs, 1))
	}
	off := 0
	for g := range s.groups {
		n := int(counts[g])
		s.groups[g].members = members[off : off : off+n]
		off += n
	}
	for i := range fns {
		gr := &s.groups[s.fnGroup[i]]
		gr.members = append(gr.members, int32(i))
	}

	// Anti-affinity between groups.
	if len(req.AntiAffinity) > 0 {
		s.anti = make([][]int32, len(s.groups))
	}
	for _, pr := range req.AntiAffinity {
		var as, bs []int32
		ok0 := withVNF(pr[0], func(i int32) { as = append(as, i) })
		ok1 := withVNF(pr[1], func(i int32) { bs = append(bs, i) })
		if !ok0 || !ok1 {
			addf("anti-affinity %q–%q names a vnf_id no function has", pr[0], pr[1])
			continue
		}
		for _, x := range as {
			for _, y := range bs {
				if x == y {
					continue
				}
				gx, gy := s.fnGroup[x], s.fnGroup[y]
				if gx == gy {
					addf("%s and %s are bound by affinity and kept apart by anti-affinity", fns[x].Label(), fns[y].Label())
					continue
				}
				if !slices.Contains(s.anti[gx], gy) {
					s.anti[gx] = append(s.anti[gx], gy)
					s.anti[gy] = append(s.anti[gy], gx)
				}
			}
		}
	}

	// Preferences.
	endpoint := func(actor string) (addr string, isEP bool) {
		switch actor {
		case ActorSource:
			return req.Ingress, true
		case ActorDestination:
			return req.Egress, true
		}
		return "", false
	}
	s.soft = s.buf.soft[:0]
	defer func() { s.buf.soft = s.soft[:0] }() // keep what append grew
	for _, pf := range req.Preferences {
		if pf.Objective != Proximity && pf.Objective != Affinity {
			addf("preference objective %q is neither %q nor %q", pf.Objective, Proximity, Affinity)
			continue
		}
		a, b := pf.Actors[0], pf.Actors[1]
		addrA, epA := endpoint(a)
		addrB, epB := endpoint(b)
		if epA && epB {
			continue // between two NAPs: constant, nothing to decide
		}
		if epA {
			a, b, addrB, epB = b, a, addrA, epA
		}
		var as []int32
		if !withVNF(a, func(i int32) { as = append(as, i) }) {
			addf("preference %s %q–%q names a vnf_id no function has", pf.Objective, pf.Actors[0], pf.Actors[1])
			continue
		}
		if epB {
			if addrB == "" {
				continue // no NAP address: dropped, as in 2018
			}
			ip, ok := ipv4Of(addrB)
			if !ok {
				addf("preference %s %q–%q: %s address %q is not IPv4", pf.Objective, pf.Actors[0], pf.Actors[1], b, addrB)
				continue
			}
			for _, x := range as {
				s.soft = append(s.soft, softTerm{a: s.fnGroup[x], b: -1, ep: ip})
			}
			continue
		}
		var bs []int32
		if !withVNF(b, func(i int32) { bs = append(bs, i) }) {
			addf("preference %s %q–%q names a vnf_id no function has", pf.Objective, pf.Actors[0], pf.Actors[1])
			continue
		}
		for _, x := range as {
			for _, y := range bs {
				if x != y {
					s.soft = append(s.soft, softTerm{a: s.fnGroup[x], b: s.fnGroup[y], maxRew: 1})
				}
			}
		}
	}
	if problems != nil {
		return &ValidationError{Problems: problems}
	}

	// What the request says about each VIM.
	s.vr = grow(&s.buf.vr, nv)
	for v := range s.vr {
		r := &s.vr[v]
		r.slot = -1
		id := &p.vims[v].VIM
		switch {
		case len(req.Allowed) > 0 && !names(req.Allowed, id):
			r.status = NotAllowed
		case names(req.Blocked, id):
			r.status = Blocked
		}
		if policy == Priority {
			for i, n := range req.Priority {
				if n == id.Name || n == id.UUID {
					r.prio = float64(len(req.Priority) - i)
					break
				}
			}
		}
		// A VIM identical in capacity is interchangeable only if the
		// request treats it the same too; its address matters only to
		// preferences.
		pr := p.vims[v].rep
		if len(s.soft) == 0 {
			pr = p.vims[v].repCap
		}
		r.rep = int32(v)
		if s.vr[pr].status == r.status && s.vr[pr].prio == r.prio {
			r.rep = pr
		}
	}

	// Static domains and sizes.
	s.alloc(ints[3*nf:])
	for g := range s.groups {
		gr := &s.groups[g]
		gr.dom = s.domBuf[g*nv : g*nv : (g+1)*nv]
		for v := range nv {
			if !s.reject(int32(g), int32(v), &s.cand1) {
				gr.dom = append(gr.dom, int32(v))
			}
		}
		if p.maxCores > 0 && p.maxMem > 0 {
			gr.size = float64(gr.cores)/float64(p.maxCores) + float64(gr.mem)/float64(p.maxMem)
		}
	}
	for i := range s.soft {
		t := &s.soft[i]
		if t.b >= 0 {
			continue
		}
		for _, v := range s.groups[t.a].dom {
			t.maxRew = max(t.maxRew, s.rewardEP(v, t.ep))
		}
	}

	// Interchangeable groups: swapping two of them changes nothing, so the
	// search only tries placements where the earlier one sits on a VIM
	// with an index no larger than the later one's.
	var named []bool
	if len(s.soft) > 0 {
		named = make([]bool, len(s.groups))
	}
	for _, t := range s.soft {
		named[t.a] = true
		if t.b >= 0 {
			named[t.b] = true
		}
	}
	for g := range s.groups {
		gr := &s.groups[g]
		gr.twin = -1
		if (named != nil && named[g]) || (s.anti != nil && len(s.anti[g]) > 0) {
			continue
		}
		for h := g - 1; h >= 0; h-- {
			o := &s.groups[h]
			// The weight (VDUs) only counts under the priority policy.
			if (named == nil || !named[h]) && (s.anti == nil || len(s.anti[h]) == 0) && o.cores == gr.cores && o.mem == gr.mem && o.sto == gr.sto &&
				(policy != Priority || o.weight == gr.weight) {
				gr.twin = int32(h)
				break
			}
		}
	}

	// Largest group first: the first path of the search is then the
	// classic "decreasing" greedy, which is a good first incumbent.
	for i := range s.order {
		s.order[i] = int32(i)
	}
	slices.SortStableFunc(s.order, func(a, b int32) int {
		switch ga, gb := s.groups[a].size, s.groups[b].size; {
		case ga > gb:
			return -1
		case ga < gb:
			return 1
		}
		return int(a - b)
	})
	return nil
}

// mbBytes converts a validated MB value to bytes.
func mbBytes(mb float64) int64 {
	b, _ := toBytes(mb)
	return b
}

// bad reports a weight that is negative or not finite.
func bad(x float64) bool { return x < 0 || math.IsNaN(x) || math.IsInf(x, 0) }

// names reports whether list names the VIM by name or UUID.
func names(list []string, v *VIM) bool {
	for _, n := range list {
		if n == v.Name || n == v.UUID {
			return true
		}
	}
	return false
}
