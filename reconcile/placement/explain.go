package placement

// result builds the Result of the placement in s.best: the mapping, a
// decision per function, and the usage of the VIMs it touches.
func (s *search) result(exact bool) *Result {
	s.load(s.best)
	nf, nv := len(s.fns), len(s.vims)
	r := &Result{
		Policy:    s.policy,
		Mapping:   make(map[string]string, nf),
		Decisions: make([]Decision, nf),
		Usage:     make([]VIMUsage, len(s.slots)),
		Exact:     exact,
		Nodes:     s.nodes,
		pool:      s.pool,
		version:   s.pool.version,
	}
	final := s.score()
	r.Score = final

	per := nv
	if s.brief {
		per = min(nv, 2)
	}
	cands := make([]Candidate, len(s.groups)*per)
	strs := make([]string, 2*nf)
	labels, ids := strs[:0:nf], strs[nf:]
	for g := range s.groups {
		g := int32(g)
		gr := &s.groups[g]
		cs, chosen, runnerUp := s.explain(g, final, cands[int(g)*per:int(g)*per:int(g+1)*per])
		start := len(labels)
		for _, f := range gr.members {
			labels = append(labels, s.fns[f].Label())
		}
		members := labels[start:len(labels):len(labels)]
		for k, f := range gr.members {
			fn := &s.fns[f]
			d := &r.Decisions[f]
			d.Function, d.Label, d.VIM = fn.ID, members[k], s.vims[s.best[g]].UUID
			d.Policy, d.Score = s.policy, final
			d.Candidates, d.Chosen, d.RunnerUp = cs, chosen, runnerUp
			if len(members) > 1 {
				d.With = make([]string, 0, len(members)-1)
				d.With = append(d.With, members[:k]...)
				d.With = append(d.With, members[k+1:]...)
			}
			r.Mapping[fn.ID] = d.VIM
		}
	}

	// Usage: the touched VIMs, in list order (slots are sorted by VIM).
	n := 0
	for i := range s.slots {
		t := &s.slots[i]
		st := &s.vims[t.vim]
		u := &r.Usage[i]
		u.VIM, u.Name = st.UUID, st.Label()
		u.Before, u.After = st.capacity(0, 0, 0), st.capacity(t.cores, t.mem, t.sto)
		start := n
		for f := range s.fns {
			if s.best[s.fnGroup[f]] == t.vim {
				ids[n] = s.fns[f].ID
				n++
			}
		}
		u.Functions = ids[start:n:n]
		u.delta = *t
	}
	s.unload()
	return r
}

// explain examines every VIM for group g with the other groups where the
// placement put them, and returns the candidates (into buf), the index of
// the chosen one and of the runner-up (−1 if none).
func (s *search) explain(g int32, final Score, buf []Candidate) ([]Candidate, int, int) {
	chosenVIM := s.assign[g]
	finalKey := keyOf(final.Total)
	s.undo(g)
	defer s.apply(g, chosenVIM)

	brief := s.brief
	chosen, runnerUp := -1, -1
	rcV := int32(-1)
	var rc, cc Candidate
	// c is filled in place: a local Candidate would escape to the heap
	// through the feasibility chain's interface calls.
	c := &s.cand1
	for v := range s.vims {
		v := int32(v)
		st := &s.vims[v]
		*c = Candidate{VIM: st.UUID, Name: st.Label(), policy: s.policy}
		switch {
		case v == chosenVIM:
			c.Verdict, c.Score = Chosen, final
		case s.reject(g, v, c):
		default:
			s.apply(g, v)
			c.Score = s.score()
			s.undo(g)
			c.Delta = c.Score.Sub(final)
			switch {
			case s.policy == FirstFit:
				c.Verdict = Later
			case keyOf(c.Score.Total) == finalKey:
				c.Verdict = Tie
			default:
				c.Verdict = Worse
			}
		}
		// The runner-up is the best alternative: lowest score, then list
		// order; for first-fit simply the next VIM that fits.
		better := c.Verdict.Feasible() && c.Verdict != Chosen &&
			(rcV < 0 || (s.policy != FirstFit && keyOf(c.Score.Total) < keyOf(rc.Score.Total)))
		if better {
			rc, rcV = *c, v
		}
		if brief {
			if c.Verdict == Chosen {
				cc = *c
			}
			continue
		}
		if c.Verdict == Chosen {
			chosen = len(buf)
		} else if better {
			runnerUp = len(buf)
		}
		buf = append(buf, *c)
	}
	if brief {
		// The two survivors, still in VIM list order.
		switch {
		case rcV < 0:
			buf, chosen = append(buf, cc), 0
		case rcV < chosenVIM:
			buf, runnerUp, chosen = append(buf, rc, cc), 0, 1
		default:
			buf, chosen, runnerUp = append(buf, cc, rc), 0, 1
		}
	}
	return buf, chosen, runnerUp
}

// infeasible explains the recorded failure: the group that fitted nowhere,
// under the deepest partial placement the search reached.
func (s *search) infeasible(proven bool) error {
	h := s.fail.group
	if !s.fail.set {
		// The budget ran out before any failure was seen: explain the
		// first group on its own.
		h = 0
		for i := range s.fail.assign {
			s.fail.assign[i] = -1
		}
	}
	s.unload()
	for g, v := range s.fail.assign {
		if v >= 0 && int32(g) != h {
			s.apply(int32(g), v)
		}
	}
	e := &InfeasibleError{Proven: proven}
	gr := &s.groups[h]
	f0 := &s.fns[gr.members[0]]
	e.Function, e.Label = f0.ID, f0.Label()
	for _, f := range gr.members[1:] {
		e.With = append(e.With, s.fns[f].Label())
	}
	for f := range s.fns {
		if v := s.assign[s.fnGroup[f]]; v >= 0 {
			e.Given = append(e.Given, Assignment{Function: s.fns[f].ID, Label: s.fns[f].Label(), VIM: s.vims[v].UUID, VIMName: s.vims[v].Label()})
		}
	}
	e.Candidates = make([]Candidate, len(s.vims))
	for v := range s.vims {
		c := &e.Candidates[v]
		c.VIM, c.Name, c.policy = s.vims[v].UUID, s.vims[v].Label(), s.policy
		if !s.reject(h, int32(v), c) {
			// Only when the budget ran out: this VIM would take it, but no
			// complete placement was found in time.
			c.Verdict = Untried
		}
	}
	s.unload()
	return e
}
