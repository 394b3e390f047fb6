package placement

// stage is one link of the feasibility chain. reject reports whether VIM v
// cannot take group g, given the placement so far, and fills c with why.
//
// The same chain builds each group's static domain (before the search,
// when nothing is placed yet, so capacity means the pool's capacity) and
// explains every VIM afterwards (with the other groups placed, so capacity
// means what the request left). The search itself calls fits and conflict,
// the functions behind the last two stages, directly. One implementation
// therefore both decides and explains.
type stage interface {
	reject(s *search, g, v int32, c *Candidate) bool
}

// chain runs from the most fundamental objection to the most specific, so
// that the explanation is the one a reader needs first:
//
//   - usable: a VIM without a usable capacity report cannot be judged on
//     anything else;
//   - allowed, blocked: the customer said no; capacity is then beside the
//     point (and these are the cheapest checks);
//   - capacity: cores, then memory, then storage, with the numbers;
//   - anti-affinity: last, because it depends on where other functions
//     went, which capacity already accounts for.
var chain = [...]stage{usableStage{}, allowedStage{}, blockedStage{}, capacityStage{}, antiAffinityStage{}}

func (s *search) reject(g, v int32, c *Candidate) bool {
	for _, st := range chain {
		if st.reject(s, g, v, c) {
			return true
		}
	}
	return false
}

type usableStage struct{}

func (usableStage) reject(s *search, _, v int32, c *Candidate) bool {
	if s.vims[v].usable {
		return false
	}
	c.Verdict = Unusable
	return true
}

type allowedStage struct{}

func (allowedStage) reject(s *search, _, v int32, c *Candidate) bool {
	if s.vr[v].status != NotAllowed {
		return false
	}
	c.Verdict = NotAllowed
	return true
}

type blockedStage struct{}

func (blockedStage) reject(s *search, _, v int32, c *Candidate) bool {
	if s.vr[v].status != Blocked {
		return false
	}
	c.Verdict = Blocked
	return true
}

type capacityStage struct{}

func (capacityStage) reject(s *search, g, v int32, c *Candidate) bool {
	if s.fits(g, v) {
		return false
	}
	gr, st := &s.groups[g], &s.vims[v]
	tc, tm, to := s.taken(v)
	switch {
	case gr.cores+tc > st.coresFree:
		c.Verdict = NoCores
		c.Need, c.Free, c.Taken = float64(gr.cores), float64(st.coresFree-tc), float64(tc)
	case gr.mem+tm > st.memFree:
		c.Verdict = NoMemory
		c.Need, c.Free, c.Taken = mbOf(gr.mem), mbOf(st.memFree-tm), mbOf(tm)
	default:
		c.Verdict = NoStorage
		c.Need, c.Free, c.Taken = mbOf(gr.sto), mbOf(st.stoFree-to), mbOf(to)
	}
	return true
}

type antiAffinityStage struct{}

func (antiAffinityStage) reject(s *search, g, v int32, c *Candidate) bool {
	h := s.conflict(g, v)
	if h < 0 {
		return false
	}
	c.Verdict = AntiAffinity
	c.Conflict = s.fns[s.groups[h].members[0]].Label()
	return true
}
