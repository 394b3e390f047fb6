package placement

import "math"

// Place computes a placement for req against the pool's current state. It
// does not change the pool; Commit the result to make its usage count for
// the next request.
//
// Errors: *ValidationError (errors.Is ErrInvalid) for a malformed request,
// *InfeasibleError (errors.Is ErrInfeasible) when no VIM can host some
// function.
func (p *Pool) Place(req Request) (*Result, error) {
	s := getSearch()
	// Nothing the caller receives points into s: results and errors are
	// built from fresh memory, so s can be recycled on return.
	defer searches.Put(s)
	if err := p.prepare(s, &req); err != nil {
		return nil, err
	}
	exact, err := s.solve()
	if err != nil {
		return nil, err
	}
	return s.result(exact), nil
}

// solve leaves the chosen placement in s.best and reports whether the
// search proved it optimal and tie-broken as documented.
func (s *search) solve() (bool, error) {
	// A group that fits nowhere even alone needs no search to explain.
	for g := range s.groups {
		if len(s.groups[g].dom) == 0 {
			s.fail.set, s.fail.group = true, int32(g)
			return false, s.infeasible(true)
		}
	}
	if len(s.groups) == 0 {
		return true, nil
	}

	if s.policy == FirstFit {
		// No objective: every placement scores 0, and phase 2 returns the
		// lexicographically first feasible one.
		s.wOp, s.wDev, s.target = 0, 0, 0
		s.run(func() { s.phase2(0, false) })
		if !s.done {
			return false, s.infeasible(!s.exhausted)
		}
		return true, nil
	}

	if s.wOp > 0 && s.wDev > 0 && s.softMatters() {
		if err := s.calibrate(); err != nil {
			return false, err
		}
	}

	s.run(func() { s.phase1(0) })
	switch {
	case !s.found:
		return false, s.infeasible(!s.exhausted)
	case s.exhausted:
		s.improve()
		return false, nil
	case !s.tieRisk && !s.twinsApart():
		// Only mirror images of the incumbent (identical VIMs swapped) can
		// share its score; the canonical one is the tie-break's winner.
		s.canonical(s.best)
		return true, nil
	}
	// Other placements may share the best score: find the
	// lexicographically first of them, which is at or before the
	// incumbent's canonical mirror image.
	s.canonical(s.best)
	s.ref = s.refBuf
	copy(s.ref, s.best)
	s.target = s.bestKey
	s.run(func() { s.phase2(0, true) })
	if s.done {
		return true, nil
	}
	// The budget ran out: the score is optimal, the tie-break unproven.
	copy(s.best, s.ref)
	return false, nil
}

// run starts a search phase with a fresh budget.
func (s *search) run(phase func()) {
	s.found, s.tieRisk, s.done, s.exhausted = false, false, false, false
	limit := s.maxNodes
	s.maxNodes = s.nodes + limit
	phase()
	s.maxNodes = limit
}

// twinsApart reports whether the incumbent puts interchangeable groups on
// different VIMs. Its mirror images then include group swaps, and
// relabelling identical VIMs alone no longer finds the lexicographically
// smallest: phase 2 must.
func (s *search) twinsApart() bool {
	for g := range s.groups {
		if t := s.groups[g].twin; t >= 0 && s.best[t] != s.best[g] {
			return true
		}
	}
	return false
}

// softMatters reports whether any preference can earn a reward.
func (s *search) softMatters() bool {
	for i := range s.soft {
		if s.soft[i].maxRew > 0 {
			return true
		}
	}
	return false
}

// calibrate divides each weight by the magnitude of its term's own optimum
// (the 2018 calibration in 8908aa7), so that the weights compare
// importance, not the terms' units. Nothing is calibrated when no
// preference can earn a reward; an operator optimum of 0 keeps its weight.
func (s *search) calibrate() error {
	wOp, wDev := s.wOp, s.wDev
	optimum := func(op, dev float64) (float64, bool) {
		s.wOp, s.wDev = op, dev
		s.run(func() { s.phase1(0) })
		if !s.found {
			return 0, false
		}
		return s.evaluate(s.best), true
	}
	opt, ok := optimum(1, 0)
	if !ok {
		return s.infeasible(!s.exhausted)
	}
	dopt, _ := optimum(0, 1)
	s.wOp, s.wDev = wOp, wDev
	if math.Abs(dopt) <= resolution {
		return nil // no preference can earn anything: nothing to balance
	}
	if math.Abs(opt) > resolution {
		s.wOp = wOp / math.Abs(opt)
	}
	if math.Abs(dopt) > resolution {
		s.wDev = wDev / math.Abs(dopt)
	}
	return nil
}

// load applies the placement a; unload removes it.
func (s *search) load(a []int32) {
	for g, v := range a {
		if v >= 0 {
			s.apply(int32(g), v)
		}
	}
}

func (s *search) unload() {
	for g := len(s.assign) - 1; g >= 0; g-- {
		if s.assign[g] >= 0 {
			s.undo(int32(g))
		}
	}
}

// evaluate is the cost of the complete placement a.
func (s *search) evaluate(a []int32) float64 {
	s.load(a)
	c := s.cost()
	s.unload()
	return c
}

// maxRounds caps local search. Each round moves at least one group to a
// strictly better VIM, so the cap only guards against pathological
// cycling through many near-equal scores.
const maxRounds = 64

// improve moves single groups to better VIMs until no move helps, so that
// even a budget-limited result explains consistently: no runner-up is
// better than the chosen VIM.
func (s *search) improve() {
	s.load(s.best)
	cur := keyOf(s.cost())
	for range maxRounds {
		improved := false
		for g := range s.groups {
			g := int32(g)
			old := s.assign[g]
			s.undo(g)
			bestV, bestK := old, cur
			for _, v := range s.groups[g].dom {
				if v == old || !s.fits(g, v) || s.conflict(g, v) >= 0 {
					continue
				}
				s.apply(g, v)
				if k := keyOf(s.cost()); k < bestK || (k == bestK && v < bestV) {
					bestV, bestK = v, k
				}
				s.undo(g)
			}
			s.apply(g, bestV)
			if bestK < cur {
				improved = true
			}
			cur = bestK
		}
		if !improved {
			break
		}
	}
	copy(s.best, s.assign)
	s.unload()
}

// canonical rewrites a so that, within each class of identical VIMs, the
// VIM used first (in group order) is the class's first VIM, the next one
// used the class's next VIM, and so on. Swapping identical VIMs changes
// neither feasibility nor score, and the result is the lexicographically
// smallest of the mirror images the symmetry breaking may have left.
func (s *search) canonical(a []int32) {
	from, to := s.from[:0], s.to[:0]
	for g, v := range a {
		if i := indexOf(from, v); i >= 0 {
			a[g] = to[i]
			continue
		}
		r := s.vr[v].rep
		w := r
		for ; int(w) < len(s.vr); w++ {
			if s.vr[w].rep == r && indexOf(to, w) < 0 {
				break
			}
		}
		if int(w) == len(s.vr) {
			w = v // cannot happen: v itself is an unused member of its class
		}
		from, to = append(from, v), append(to, w)
		a[g] = w
	}
}

func indexOf(a []int32, x int32) int {
	for i, y := range a {
		if y == x {
			return i
		}
	}
	return -1
}
