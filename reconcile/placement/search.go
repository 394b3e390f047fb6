package placement

import (
	"math"
	"slices"
	"sync"
)

// search is one placement problem and the state of its branch and bound.
type search struct {
	pool   *Pool
	vims   []vimState
	policy Policy
	brief  bool
	fns    []Function

	groups  []group
	fnGroup []int32   // function → group
	anti    [][]int32 // group → groups kept apart from it
	soft    []softTerm
	vr      []vimReq
	order   []int32 // groups in phase-1 order (largest first)
	ident   []int32 // groups in index order, for phase 2

	wOp, wDev float64

	// The partial placement: assign[g] is a VIM or −1; slots hold what
	// the request adds to each touched VIM, sorted by VIM index so that
	// scores are summed in one canonical order (equal placements give
	// bit-identical scores whatever path reached them).
	assign   []int32
	slots    []slot
	placed   int     // number of groups assigned
	prioSum  float64 // Σ weight × priority of assigned groups; integral, so exact
	lp, lb   []float64
	kids     []child   // per depth: the children of the node being expanded
	domBuf   []int32   // backing store of the groups' domains
	stamp    []uint32  // per VIM: node stamp of the cached slope
	slope    []float64 // per VIM: cached gradient (load-balanced) or upper slope (fill-first)
	upper    []float64 // per VIM: upper bound on the final load (fill-first)
	curStamp uint32

	// Scratch of the lumpy bound: per VIM, Σ|load_v − load_q| cached
	// under stamp2; per remaining group, its widest increment.
	stamp2 []uint32
	here   []float64
	widest []float64

	// Scratch of waterBound.
	pairs     []pair
	mass      float64
	mark      []uint32
	markStamp uint32
	yv, ys    []float64
	cand      []int32

	nodes, maxNodes int
	exhausted       bool

	// Phase 1: the best placement by score.
	found   bool
	bestKey float64
	best    []int32
	tieRisk bool // another placement may have the best score
	// Phase 2: the lexicographically first placement with score target,
	// at or before ref (nil: anywhere).
	target float64
	done   bool
	ref    []int32
	refBuf []int32

	// Scratch of canonical.
	from, to []int32

	fail failure

	// cand1 is the scratch candidate of the feasibility chain.
	cand1 Candidate

	// buf keeps the scratch memory between placements (see searches).
	buf buffers
}

// buffers are the backing arrays a search reuses across placements: its
// slices are carved from them, so that a placement allocates only its
// Result. Everything else in a search is reset to zero.
type buffers struct {
	ints   []int32
	floats []float64
	stamps []uint32
	kids   []child
	pairs  []pair
	slots  []slot
	vr     []vimReq
	groups []group
	soft   []softTerm
}

// searches recycles search states. Placement stays pure: a recycled
// search is reset completely before use, so results never depend on what
// ran before.
var searches = sync.Pool{New: func() any { return new(search) }}

// getSearch returns a reset search.
func getSearch() *search {
	s := searches.Get().(*search)
	*s = search{buf: s.buf}
	return s
}

// grow returns n zeroed elements of *buf, reallocating it if too small.
func grow[T any](buf *[]T, n int) []T {
	if cap(*buf) < n {
		*buf = make([]T, n)
	}
	b := (*buf)[:n]
	clear(b)
	return b
}

// slot is what the request adds to one VIM.
type slot struct {
	vim             int32
	n               int32 // groups on it
	cores, mem, sto int64
}

// child is a candidate VIM for the group being branched on.
type child struct {
	vim  int32
	cost float64
}

// failure is the deepest point where forward checking found a group that
// fits nowhere: the basis of the infeasibility explanation.
type failure struct {
	set    bool
	depth  int
	group  int32
	assign []int32
}

// Scores are compared on a grid: two scores that round to the same grid
// point are equal, and the tie-break decides. The grid is binary, 2^-30
// (about 9.3e-10), not decimal: loads of power-of-two capacities (8 cores,
// 16384 MB) are dyadic fractions, which fall exactly halfway between the
// points of a decimal grid, where rounding noise of 1e-16 would flip them;
// on a binary grid they fall on the points themselves.
const gridBits = 30

// resolution is the grid step, for thresholds.
const resolution = 1.0 / (1 << gridBits)

// keyOf quantises a score to the grid. Rounding is monotone, so a bound's
// key never exceeds the key of a placement it bounds. Keys stay float64 so
// that large weighted scores cannot overflow; they are integral up to 2^53
// and coarser, still monotone, beyond.
func keyOf(x float64) float64 { return math.Round(x * gridScale) }

// gridScale is 2^gridBits; multiplying by a power of two is exact.
const gridScale = 1 << gridBits

// slack lowers a bound by more than its floating-point error, so that a
// bound that is mathematically tight never rounds above the placement it
// bounds.
func slack(x float64) float64 { return x - 1e-12*(1+math.Abs(x)) }

// alloc carves the search's scratch from its buffers; ints holds what
// prepare has not used of the int32 buffer.
func (s *search) alloc(ints []int32) {
	ng, nv := len(s.groups), len(s.vims)
	s.domBuf, ints = ints[:ng*nv], ints[ng*nv:]
	s.order, ints = ints[:ng:ng], ints[ng:]
	s.ident, ints = ints[:ng:ng], ints[ng:]
	s.assign, ints = ints[:ng:ng], ints[ng:]
	s.best, ints = ints[:ng:ng], ints[ng:]
	s.fail.assign, ints = ints[:ng:ng], ints[ng:]
	s.refBuf, ints = ints[:ng:ng], ints[ng:]
	s.from, ints = ints[:0:ng], ints[ng:]
	s.to, ints = ints[:0:ng], ints[ng:]
	s.cand = ints[:0:nv]
	for i := range s.assign {
		s.assign[i], s.fail.assign[i] = -1, -1
		s.ident[i] = int32(i)
	}
	floats := grow(&s.buf.floats, 3*ng+5*nv)
	s.lp, floats = floats[:ng:ng], floats[ng:]
	s.lb, floats = floats[:ng:ng], floats[ng:]
	s.widest, floats = floats[:ng:ng], floats[ng:]
	s.here, floats = floats[:nv:nv], floats[nv:]
	s.slope, floats = floats[:nv:nv], floats[nv:]
	s.upper, floats = floats[:nv:nv], floats[nv:]
	s.yv, s.ys = floats[:nv:nv], floats[nv:nv]
	stamps := grow(&s.buf.stamps, 3*nv)
	s.stamp, s.mark, s.stamp2 = stamps[:nv:nv], stamps[nv:2*nv:2*nv], stamps[2*nv:]
	s.kids = grow(&s.buf.kids, ng*nv)
	s.slots = grow(&s.buf.slots, ng)[:0]
	s.pairs = grow(&s.buf.pairs, ng*nv)[:0]
}

// apply puts group g on VIM v.
func (s *search) apply(g, v int32) {
	gr := &s.groups[g]
	i := s.vr[v].slot
	if i < 0 {
		// Insert a slot keeping VIM order.
		i = int32(len(s.slots))
		for i > 0 && s.slots[i-1].vim > v {
			i--
		}
		s.slots = slices.Insert(s.slots, int(i), slot{vim: v})
		for j := int(i); j < len(s.slots); j++ {
			s.vr[s.slots[j].vim].slot = int32(j)
		}
	}
	t := &s.slots[i]
	t.n++
	t.cores += gr.cores
	t.mem += gr.mem
	t.sto += gr.sto
	s.assign[g] = v
	s.placed++
	s.prioSum += gr.weight * s.vr[v].prio
}

// undo removes group g from its VIM.
func (s *search) undo(g int32) {
	gr := &s.groups[g]
	v := s.assign[g]
	i := s.vr[v].slot
	t := &s.slots[i]
	t.n--
	t.cores -= gr.cores
	t.mem -= gr.mem
	t.sto -= gr.sto
	if t.n == 0 {
		s.slots = slices.Delete(s.slots, int(i), int(i)+1)
		s.vr[v].slot = -1
		for j := int(i); j < len(s.slots); j++ {
			s.vr[s.slots[j].vim].slot = int32(j)
		}
	}
	s.assign[g] = -1
	s.placed--
	s.prioSum -= gr.weight * s.vr[v].prio
}

// taken is what the request already adds to VIM v.
func (s *search) taken(v int32) (cores, mem, sto int64) {
	if i := s.vr[v].slot; i >= 0 {
		t := &s.slots[i]
		return t.cores, t.mem, t.sto
	}
	return 0, 0, 0
}

// fits reports whether group g fits on VIM v given the placement so far.
// It is the capacity stage of the chain, inlined for the search.
func (s *search) fits(g, v int32) bool {
	gr, st := &s.groups[g], &s.vims[v]
	c, m, o := s.taken(v)
	return gr.cores+c <= st.coresFree && gr.mem+m <= st.memFree && (!st.stoChecked || gr.sto+o <= st.stoFree)
}

// conflict returns a group kept apart from g that is on VIM v, or −1.
func (s *search) conflict(g, v int32) int32 {
	if s.anti == nil {
		return -1
	}
	for _, h := range s.anti[g] {
		if s.assign[h] == v {
			return h
		}
	}
	return -1
}

// symmetric reports whether trying VIM v for group g is pointless because
// a mirror image of every placement below it is tried elsewhere:
//
//   - an identical VIM with a smaller index is untouched, like v: swap
//     the two;
//   - g's twin (an interchangeable group with a smaller index) sits on a
//     VIM with a larger index: swap the two groups.
//
// The lexicographically smallest placement of every set of mirror images
// (in the order of the search) passes both rules, so no score is lost.
func (s *search) symmetric(g, v int32) bool {
	if t := s.groups[g].twin; t >= 0 && s.assign[t] > v {
		return true
	}
	r := s.vr[v].rep
	return r != v && s.vr[r].slot < 0 && s.vr[v].slot < 0
}

// inc is the load group g adds to VIM v.
func (s *search) inc(g, v int32) float64 {
	gr, st := &s.groups[g], &s.vims[v]
	return (float64(gr.cores)*st.invCores + float64(gr.mem)*st.invMem) / 2
}

// spreadNow is the load spread of the partial placement: the pool's spread
// plus the change on the touched VIMs. With T the touched VIMs, b their
// loads before and a after, and A(x) = Σ_q |x − load_q| over all VIMs:
//
//	Δ = Σ_t [A(a_t) − A(b_t)] − Σ_{t,u ∈ T} |a_t − b_u| + Σ_{t<u} (|b_t − b_u| + |a_t − a_u|)
//
// The second sum removes the pairs among touched VIMs that A counted
// against their old loads; the third puts them back with both new loads.
func (s *search) spreadNow() float64 {
	p := s.pool
	k := len(s.slots)
	d := 0.0
	for i := range s.slots {
		t := &s.slots[i]
		st := &s.vims[t.vim]
		s.lb[i] = st.load
		s.lp[i] = st.loadWith(t.cores, t.mem)
		d += p.sumAbs(s.lp[i]) - st.sumAbs
	}
	for i := range k {
		for j := range k {
			d -= math.Abs(s.lp[i] - s.lb[j])
		}
		for j := i + 1; j < k; j++ {
			d += math.Abs(s.lb[i]-s.lb[j]) + math.Abs(s.lp[i]-s.lp[j])
		}
	}
	return p.spread + d
}

// partialLoad is VIM v's load with the request's placements so far.
func (s *search) partialLoad(v int32) float64 {
	st := &s.vims[v]
	if i := s.vr[v].slot; i >= 0 {
		return st.loadWith(s.slots[i].cores, s.slots[i].mem)
	}
	return st.load
}

// cachedLoad is partialLoad from the loads cacheSlots stored.
func (s *search) cachedLoad(v int32) float64 {
	if i := s.vr[v].slot; i >= 0 {
		return s.lp[i]
	}
	return s.vims[v].load
}

// around counts usable VIMs other than ex whose partial load is below and
// above x.
//
// It reads the loads cacheSlots stored.
func (s *search) around(x float64, ex int32) (below, above int) {
	below, above = s.pool.countAround(x)
	for i := range s.slots {
		// Replace the VIM's old load by its new one, or drop it if it is ex.
		if b := s.lb[i]; b < x {
			below--
		} else if b > x {
			above--
		}
		if s.slots[i].vim == ex {
			continue
		}
		if a := s.lp[i]; a < x {
			below++
		} else if a > x {
			above++
		}
	}
	if s.vr[ex].slot < 0 {
		if b := s.vims[ex].load; b < x {
			below--
		} else if b > x {
			above--
		}
	}
	return below, above
}

// aroundUntouched is around(load_v, v) for a VIM the partial placement
// does not touch: the pool's counts, corrected for the touched VIMs only.
func (s *search) aroundUntouched(v int32) (below, above int) {
	st := &s.vims[v]
	x := st.load
	below, above = int(st.below), int(st.above)
	for i := range s.slots {
		if b := s.lb[i]; b < x {
			below--
		} else if b > x {
			above--
		}
		if a := s.lp[i]; a < x {
			below++
		} else if a > x {
			above++
		}
	}
	return below, above
}

// proximity is the sum of the rewards of the preferences whose actors
// are all placed.
func (s *search) proximity() float64 {
	r := 0.0
	for i := range s.soft {
		t := &s.soft[i]
		va := s.assign[t.a]
		if va < 0 {
			continue
		}
		if t.b < 0 {
			r += s.rewardEP(va, t.ep)
		} else if vb := s.assign[t.b]; vb >= 0 {
			r += s.rewardVV(va, vb)
		}
	}
	return r
}

// headroom bounds the reward still to be gained by undecided preferences.
func (s *search) headroom() float64 {
	r := 0.0
	for i := range s.soft {
		t := &s.soft[i]
		if s.assign[t.a] < 0 || (t.b >= 0 && s.assign[t.b] < 0) {
			r += t.maxRew
		}
	}
	return r
}

func (s *search) rewardEP(v int32, ep [4]byte) float64 {
	st := &s.vims[v]
	if !st.hasIP {
		return 0
	}
	return float64(commonOctets(st.ip, ep)) / 4
}

func (s *search) rewardVV(a, b int32) float64 {
	if a == b {
		return 1 // the same VIM: as close as it gets, whatever its address
	}
	sa, sb := &s.vims[a], &s.vims[b]
	if !sa.hasIP || !sb.hasIP {
		return 0
	}
	return float64(commonOctets(sa.ip, sb.ip)) / 4
}

// cost is the weighted objective of the partial placement, computing only
// the terms with a weight.
func (s *search) cost() float64 {
	var sp, prox float64
	if s.wOp != 0 && (s.policy == LoadBalanced || s.policy == FillFirst) {
		sp = s.spreadNow()
	}
	if s.wDev != 0 && len(s.soft) > 0 {
		prox = s.proximity()
	}
	return s.total(sp, prox)
}

// total weighs the terms; spread and proximity must be computed when
// their weight is not 0.
func (s *search) total(spread, proximity float64) float64 {
	c := 0.0
	if s.wOp != 0 {
		switch s.policy {
		case LoadBalanced:
			c = s.wOp * spread
		case FillFirst:
			c = -s.wOp * spread
		case Priority:
			c = -s.wOp * s.prioSum
		}
	}
	if s.wDev != 0 {
		c -= s.wDev * proximity
	}
	return c
}

// score is the full Score of the partial placement, for explanations.
func (s *search) score() Score {
	sc := Score{Spread: s.spreadNow(), Priority: s.prioSum}
	if len(s.soft) > 0 {
		sc.Proximity = s.proximity()
	}
	if s.policy != FirstFit {
		sc.Total = s.total(sc.Spread, sc.Proximity)
	}
	return sc
}

// bound returns a lower bound on the cost of every completion of the
// partial placement. It also forward-checks: if a group of rest fits
// nowhere any more it records the failure and returns false.
//
// The operator part is exact for priority (each group's best VIM). The
// spread is convex in the loads, and the bounds use that:
//
//   - load-balanced, the best of three, cheapest first, each computed only
//     if the previous ones fall short of the cut:
//     (1) linearisation at the partial placement: for a subgradient ∇ at
//     the partial loads, spread(final) ≥ spread(now) + ∇·(final − now),
//     and final − now is one increment per remaining group, so each
//     group adds at least its smallest ∇_v × increment;
//     (2) the lumpy bound (see lump): each group is one lump on one VIM;
//     it is what prunes when many VIMs are balanced and ∇ ≈ 0;
//     (3) linearisation at a water-filled estimate of the final loads
//     (see waterBound), for many groups over uneven loads.
//   - fill-first: spread(final) ≤ spread(now) + Σ_v G_v × Δload_v, where
//     G_v bounds the gradient at the final point from above using u_v, an
//     upper bound on v's final load (the gradient of a convex function at
//     the end point bounds the chord).
//
// cut is the key from which the caller prunes. With no cut (+Inf: no
// incumbent yet) only the forward check is done.
func (s *search) bound(rest []int32, cut float64) (float64, bool) {
	op := s.wOp != 0 && s.policy != FirstFit && !math.IsInf(cut, 1)
	s.curStamp++
	if op {
		s.cacheSlots()
		if s.policy == FillFirst {
			s.upperLoads(rest)
		}
	}
	balanced := op && s.policy == LoadBalanced
	s.pairs, s.mass = s.pairs[:0], 0
	add := 0.0
	for i, h := range rest {
		best, any, least, widest := math.Inf(1), false, math.Inf(1), 0.0
		for _, v := range s.groups[h].dom {
			if !s.fits(h, v) || s.conflict(h, v) >= 0 {
				continue
			}
			any = true
			if !op {
				break
			}
			var x float64
			switch s.policy {
			case LoadBalanced:
				inc := s.inc(h, v)
				x = s.gradient(v) * inc
				// Kept for the tighter bounds, computed only if needed.
				s.pairs = append(s.pairs, pair{h, v, inc})
				least, widest = min(least, inc), max(widest, inc)
			case FillFirst:
				x = -s.upperSlope(v) * s.inc(h, v)
			case Priority:
				x = -s.groups[h].weight * s.vr[v].prio
			}
			best = min(best, x)
		}
		if !any {
			s.recordFail(h)
			return 0, false
		}
		if op {
			add += best
		}
		if balanced {
			s.mass += least
			s.widest[i] = widest
		}
	}
	if math.IsInf(cut, 1) {
		return math.Inf(-1), true
	}
	dev := 0.0
	if s.wDev != 0 && len(s.soft) > 0 {
		dev = -s.wDev * (s.proximity() + s.headroom())
	}
	if !op {
		return dev, true
	}
	var x float64
	switch s.policy {
	case LoadBalanced:
		// Cheapest first; each refinement only if the previous bound
		// falls short of the cut.
		sp := s.spreadNow()
		x = sp + add
		short := func() bool { return keyOf(slack(s.wOp*x+dev)) < cut }
		if len(rest) > 0 && short() {
			x = max(x, sp+s.lumpyGrowth(len(rest)))
		}
		if len(rest) > 1 && short() {
			x = max(x, s.waterBound())
		}
	case FillFirst:
		x = add - s.spreadNow()
	case Priority:
		x = add - s.prioSum
	}
	return s.wOp*x + dev, true
}

// lumpyGrowth is Σ_h min_v M_v(inc_h) − 2 Σ_{h<h'} min(widest_h,
// widest_h') over the r remaining groups, from s.pairs: a lower bound on
// how much the spread still grows (see lump).
func (s *search) lumpyGrowth(r int) float64 {
	sum, best, cur := 0.0, math.Inf(1), int32(-1)
	for _, p := range s.pairs {
		if p.h != cur {
			if cur >= 0 {
				sum += best
			}
			cur, best = p.h, math.Inf(1)
		}
		best = min(best, s.lump(p.v, p.inc))
	}
	sum += best
	// Lumps overlap pairwise at most by the smaller of the two.
	w := s.widest[:r]
	slices.Sort(w)
	overlap := 0.0
	for k, x := range w {
		overlap += x * float64(len(w)-1-k)
	}
	return sum - 2*overlap
}

// cacheSlots stores the touched VIMs' loads before (lb) and after (lp) the
// partial placement, for the bound's many look-ups at one node.
func (s *search) cacheSlots() {
	for i := range s.slots {
		t := &s.slots[i]
		st := &s.vims[t.vim]
		s.lb[i], s.lp[i] = st.load, st.loadWith(t.cores, t.mem)
	}
}

// lump is M_v(inc): how much the spread grows when a lump of load inc
// lands on VIM v alone, at the partial placement: A(l+inc) − A(l) − inc,
// with A(x) = Σ_q |x − load_q| over the partial loads and l = load_v (the
// − inc drops v's pair with itself).
//
// It feeds the "lumpy" bound: with T the VIMs the remaining groups land
// on, the exact change of the spread is Σ_t M_t − 2 Σ_{t<u} |[l_t, l'_t] ∩
// [l_u, l'_u]| (|a'−b'| + |a−b| − |a'−b| − |a−b'| is minus twice the
// overlap of [a, a'] and [b, b']). By convexity of A, a VIM's M for several
// lumps is at least the sum of their single M's; and overlaps are at most
// the smaller lump, pair by pair. So the spread grows by at least
// Σ_h min_v M_v(inc_h) − 2 Σ_{h<h'} min(widest_h, widest_h'). Unlike the
// linearisations, this sees that each group is one lump on one VIM: in a
// balanced pool, where every VIM's gradient is about 0, it is what prunes.
func (s *search) lump(v int32, inc float64) float64 {
	l := s.cachedLoad(v)
	if s.stamp2[v] != s.curStamp {
		if s.vr[v].slot < 0 {
			// Untouched: the pool's Σ for v, corrected for the touched VIMs.
			h := s.vims[v].sumAbs
			for i := range s.slots {
				h += math.Abs(l-s.lp[i]) - math.Abs(l-s.lb[i])
			}
			s.here[v] = h
		} else {
			s.here[v] = s.partialSumAbs(l)
		}
		s.stamp2[v] = s.curStamp
	}
	return s.partialSumAbs(l+inc) - s.here[v] - inc
}

// partialSumAbs is Σ over usable VIMs q of |x − load_q| at the partial
// placement.
// It reads the loads cacheSlots stored.
func (s *search) partialSumAbs(x float64) float64 {
	a := s.pool.sumAbs(x)
	for i := range s.slots {
		a += math.Abs(x-s.lp[i]) - math.Abs(x-s.lb[i])
	}
	return a
}

// pair is a remaining group and a VIM it still fits on.
type pair struct {
	h, v int32
	inc  float64
}

// waterBound is the load-balanced bound linearised at y: the partial
// loads, with the VIMs that remaining groups fit on filled from the
// emptiest up to a common level, as if the remaining load (each group at
// its smallest increment) were a liquid. Any y gives a valid bound; this
// one is close to where a balanced completion ends.
func (s *search) waterBound() float64 {
	s.markStamp++
	cand := s.cand[:0]
	for _, p := range s.pairs {
		if s.mark[p.v] != s.markStamp {
			s.mark[p.v] = s.markStamp
			s.yv[p.v] = s.partialLoad(p.v)
			cand = append(cand, p.v)
		}
	}
	slices.SortFunc(cand, func(a, b int32) int {
		switch ya, yb := s.yv[a], s.yv[b]; {
		case ya < yb:
			return -1
		case ya > yb:
			return 1
		}
		return int(a - b)
	})
	level, acc := 0.0, 0.0
	for k, v := range cand {
		acc += s.yv[v]
		level = (s.mass + acc) / float64(k+1)
		if k+1 == len(cand) || level <= s.yv[cand[k+1]] {
			break
		}
	}
	ys := s.ys[:0]
	for _, v := range s.pool.usable {
		y := s.partialLoad(v)
		if s.mark[v] == s.markStamp {
			y = max(y, level)
		}
		s.yv[v] = y
		ys = append(ys, y)
	}
	slices.Sort(ys)
	n := len(ys)
	f := 0.0
	for i, y := range ys {
		f += y * float64(2*i-n+1)
	}
	// ∇_v at y: VIMs below minus VIMs above (ties 0).
	grad := func(v int32) float64 {
		x := s.yv[v]
		return float64(lowerBound(ys, x) - (n - upperBound(ys, x)))
	}
	for _, v := range cand {
		if y, p := s.yv[v], s.partialLoad(v); y != p {
			f += grad(v) * (p - y)
		}
	}
	// The pairs are grouped by remaining group, in order.
	best, cur := math.Inf(1), int32(-1)
	for _, p := range s.pairs {
		if p.h != cur {
			if cur >= 0 {
				f += best
			}
			cur, best = p.h, math.Inf(1)
		}
		best = min(best, grad(p.v)*p.inc)
	}
	if cur >= 0 {
		f += best
	}
	s.cand = cand
	return f
}

// gradient is ∂spread/∂load_v at the partial placement: VIMs below v
// minus VIMs above (ties count 0, a valid subgradient).
func (s *search) gradient(v int32) float64 {
	if s.stamp[v] == s.curStamp {
		return s.slope[v]
	}
	var below, above int
	if s.vr[v].slot < 0 {
		below, above = s.aroundUntouched(v)
	} else {
		below, above = s.around(s.cachedLoad(v), v)
	}
	s.stamp[v], s.slope[v] = s.curStamp, float64(below-above)
	return s.slope[v]
}

// upperLoads sets upper[v] for every VIM a remaining group still fits on:
// its partial load plus everything that could still land on it, capped
// at 1 (a VIM that receives anything ends within capacity).
func (s *search) upperLoads(rest []int32) {
	for _, h := range rest {
		for _, v := range s.groups[h].dom {
			if s.stamp[v] != s.curStamp {
				s.stamp[v], s.upper[v], s.slope[v] = s.curStamp, s.partialLoad(v), math.NaN()
			}
			if s.fits(h, v) && s.conflict(h, v) < 0 {
				s.upper[v] += s.inc(h, v)
			}
		}
	}
}

// upperSlope bounds ∂spread/∂load_v at any completion: VIMs that may end
// below v minus VIMs that surely end above it.
func (s *search) upperSlope(v int32) float64 {
	if !math.IsNaN(s.slope[v]) {
		return s.slope[v]
	}
	below, above := s.around(min(s.upper[v], 1), v)
	s.slope[v] = float64(below - above)
	return s.slope[v]
}

func (s *search) recordFail(h int32) {
	if s.fail.set && s.placed <= s.fail.depth {
		return
	}
	s.fail.set, s.fail.depth, s.fail.group = true, s.placed, h
	copy(s.fail.assign, s.assign)
}

// phase1 is branch and bound for the best score. Children are tried best
// first, so the first leaf is the greedy placement; subtrees whose bound
// cannot beat the incumbent are pruned.
func (s *search) phase1(depth int) {
	if depth == len(s.order) {
		key := keyOf(s.cost())
		switch {
		case !s.found || key < s.bestKey:
			s.found, s.bestKey, s.tieRisk = true, key, false
			copy(s.best, s.assign)
		case key == s.bestKey:
			s.tieRisk = true
		}
		return
	}
	g := s.order[depth]
	nv := len(s.vims)
	kids := s.kids[depth*nv : depth*nv]
	for _, v := range s.groups[g].dom {
		if s.symmetric(g, v) || !s.fits(g, v) || s.conflict(g, v) >= 0 {
			continue
		}
		s.apply(g, v)
		kids = append(kids, child{v, s.cost()})
		s.undo(g)
	}
	slices.SortFunc(kids, func(a, b child) int {
		switch {
		case a.cost < b.cost:
			return -1
		case a.cost > b.cost:
			return 1
		}
		return int(a.vim - b.vim)
	})
	rest := s.order[depth+1:]
	for _, k := range kids {
		if s.nodes >= s.maxNodes {
			s.exhausted = true
			return
		}
		s.nodes++
		s.apply(g, k.vim)
		cut := math.Inf(1)
		if s.found {
			cut = s.bestKey
		}
		if lb, ok := s.bound(rest, cut); ok {
			switch key := keyOf(slack(lb)); {
			case !s.found || key < s.bestKey:
				s.phase1(depth + 1)
			case key == s.bestKey:
				s.tieRisk = true
			}
		}
		s.undo(g)
		if s.exhausted {
			return
		}
	}
}

// phase2 finds the lexicographically first placement whose score is
// target: groups in order of their first function, VIMs in list order,
// pruning subtrees whose bound exceeds the target. ref is a placement
// known to score target, so only placements up to it need a look: onRef
// says that the prefix so far equals ref's, and then no VIM beyond ref's
// is tried. ref itself is the answer if nothing earlier scores as well.
func (s *search) phase2(g int, onRef bool) {
	if g == len(s.groups) {
		if keyOf(s.cost()) <= s.target {
			s.done = true
			copy(s.best, s.assign)
		}
		return
	}
	rest := s.lexRest(g + 1)
	for _, v := range s.groups[g].dom {
		if onRef && s.ref != nil && v > s.ref[g] {
			return
		}
		if s.symmetric(int32(g), v) || !s.fits(int32(g), v) || s.conflict(int32(g), v) >= 0 {
			continue
		}
		if s.nodes >= s.maxNodes {
			s.exhausted = true
			return
		}
		s.nodes++
		s.apply(int32(g), v)
		if lb, ok := s.bound(rest, s.target+1); ok && keyOf(slack(lb)) <= s.target {
			s.phase2(g+1, onRef && s.ref != nil && v == s.ref[g])
		}
		s.undo(int32(g))
		if s.done || s.exhausted {
			return
		}
	}
}

// lexRest is the groups after g in index order, i.e. in order of their
// first function.
func (s *search) lexRest(g int) []int32 { return s.ident[g:] }
