package placement

import (
	"fmt"
	"math"
	"slices"
)

// Pool is the capacity state of a list of VIMs, shared by successive
// placements. Place reads it and never modifies it, so concurrent Place
// calls are safe; Commit modifies it and must not run concurrently with
// anything else on the same pool.
//
// The pool keeps what every placement would otherwise recompute: exact
// integral capacities, each VIM's load, the loads sorted with prefix sums
// (so that the spread change of touching k VIMs costs O(k log n) instead
// of O(n²)), and classes of identical VIMs for symmetry breaking.
type Pool struct {
	vims    []vimState
	version uint64

	// sorted holds the loads of the usable VIMs in ascending order and
	// prefix their prefix sums (len(sorted)+1 entries).
	sorted, prefix []float64
	// spread is Σ over pairs of usable VIMs of |load_p − load_q|.
	spread float64
	// maxCores and maxMem are the largest totals among usable VIMs; they
	// normalise group sizes for the search order.
	maxCores, maxMem int64
	// usable lists the usable VIMs' indices.
	usable []int32
}

// vimState is a VIM with integral capacities: cores, and memory and storage
// in bytes, so that capacity checks are exact (a sum of GB-converted
// demands never fails a fit by a rounding error).
type vimState struct {
	VIM
	usable             bool
	coresTotal, cores  int64
	memTotal, mem      int64
	stoTotal, sto      int64
	load               float64
	sumAbs             float64 // Σ over usable q of |load − load_q|
	below, above       int32   // usable VIMs with a smaller, larger load
	ip                 [4]byte
	hasIP              bool
	rep                int32 // smallest index of an identical VIM
	repCap             int32 // the same, ignoring the endpoint address
	coresFree, memFree int64 // cached headroom
	stoFree            int64
	stoChecked         bool
	invCores, invMem   float64 // 1/coresTotal, 1/memTotal, for loads
}

// NewPool validates vims and builds a pool over them, in list order. VIMs
// with unusable capacity reports are kept (they explain themselves) but
// never receive functions.
func NewPool(vims []VIM) (*Pool, error) {
	p := &Pool{vims: make([]vimState, len(vims))}
	var problems []string
	var seen map[string]int
	if len(vims) > 16 {
		seen = make(map[string]int, len(vims))
	}
	for i, v := range vims {
		switch {
		case v.UUID == "":
			problems = append(problems, fmt.Sprintf("VIM %d (%q) has no uuid", i, v.Name))
		case seen != nil:
			if j, dup := seen[v.UUID]; dup {
				problems = append(problems, fmt.Sprintf("VIMs %d and %d share uuid %q", j, i, v.UUID))
			} else {
				seen[v.UUID] = i
			}
		default:
			for j := range i {
				if vims[j].UUID == v.UUID {
					problems = append(problems, fmt.Sprintf("VIMs %d and %d share uuid %q", j, i, v.UUID))
					break
				}
			}
		}
		s := &p.vims[i]
		s.VIM = v
		var ok bool
		if s.mem, ok = toBytes(v.MemoryUsedMB); !ok {
			problems = append(problems, fmt.Sprintf("VIM %s: memory_used %v MB is not a usable number", v.Label(), v.MemoryUsedMB))
		}
		if s.memTotal, ok = toBytes(v.MemoryTotalMB); !ok {
			problems = append(problems, fmt.Sprintf("VIM %s: memory_total %v MB is not a usable number", v.Label(), v.MemoryTotalMB))
		}
		if s.sto, ok = toBytes(v.StorageUsedMB); !ok {
			problems = append(problems, fmt.Sprintf("VIM %s: storage used %v MB is not a usable number", v.Label(), v.StorageUsedMB))
		}
		if s.stoTotal, ok = toBytes(v.StorageTotalMB); !ok {
			problems = append(problems, fmt.Sprintf("VIM %s: storage total %v MB is not a usable number", v.Label(), v.StorageTotalMB))
		}
		s.coresTotal, s.cores = int64(v.CoresTotal), int64(v.CoresUsed)
		s.ip, s.hasIP = ipv4Of(v.Endpoint)
	}
	if problems != nil {
		return nil, &ValidationError{Problems: problems}
	}
	p.rebuild()
	return p, nil
}

// maxMB keeps byte counts far from int64 overflow even when summed.
const maxMB = 1e12

// toBytes converts MB to bytes, rounding to the nearest byte.
func toBytes(mb float64) (int64, bool) {
	if math.IsNaN(mb) || math.Abs(mb) > maxMB {
		return 0, false
	}
	return int64(math.Round(mb * 1e6)), true
}

// mbOf converts bytes back to MB.
func mbOf(b int64) float64 { return float64(b) / 1e6 }

// rebuild recomputes every derived field from the capacities.
func (p *Pool) rebuild() {
	if p.sorted == nil {
		n := len(p.vims)
		floats := make([]float64, 2*n+1)
		p.sorted, p.prefix = floats[:0:n], floats[n:]
		p.usable = make([]int32, 0, n)
	}
	p.sorted, p.usable = p.sorted[:0], p.usable[:0]
	p.maxCores, p.maxMem = 0, 0
	for i := range p.vims {
		s := &p.vims[i]
		s.usable = s.coresTotal > 0 && s.memTotal > 0 && s.cores >= 0 && s.mem >= 0 && s.sto >= 0
		s.load, s.sumAbs = 0, 0
		if !s.usable {
			continue
		}
		s.invCores, s.invMem = 1/float64(s.coresTotal), 1/float64(s.memTotal)
		s.coresFree, s.memFree = s.coresTotal-s.cores, s.memTotal-s.mem
		s.stoChecked = s.stoTotal > 0
		s.stoFree = s.stoTotal - s.sto
		s.load = s.loadWith(0, 0)
		p.sorted = append(p.sorted, s.load)
		p.usable = append(p.usable, int32(i))
		p.maxCores = max(p.maxCores, s.coresTotal)
		p.maxMem = max(p.maxMem, s.memTotal)
	}
	slices.Sort(p.sorted)
	p.prefix = p.prefix[:len(p.sorted)+1]
	p.prefix[0] = 0
	p.spread = 0
	n := len(p.sorted)
	for i, x := range p.sorted {
		p.prefix[i+1] = p.prefix[i] + x
		// In ascending order, x is larger than the i loads before it and
		// smaller than the n-1-i after it.
		p.spread += x * float64(2*i-n+1)
	}
	for i := range p.vims {
		if s := &p.vims[i]; s.usable {
			s.sumAbs = p.sumAbs(s.load)
			b, a := p.countAround(s.load)
			s.below, s.above = int32(b), int32(a)
		}
	}
	p.classify()
}

// loadWith is the load after adding cores and mem bytes.
func (s *vimState) loadWith(cores, mem int64) float64 {
	return (float64(s.cores+cores)*s.invCores + float64(s.mem+mem)*s.invMem) / 2
}

// sumAbs is Σ over usable VIMs q of |x − load_q|, from the sorted loads.
func (p *Pool) sumAbs(x float64) float64 {
	n := len(p.sorted)
	k := lowerBound(p.sorted, x)
	return x*float64(k) - p.prefix[k] + (p.prefix[n] - p.prefix[k]) - x*float64(n-k)
}

// countAround returns how many usable loads are below and above x.
func (p *Pool) countAround(x float64) (below, above int) {
	below = lowerBound(p.sorted, x)
	return below, len(p.sorted) - upperBound(p.sorted, x)
}

// lowerBound is the number of elements of a (ascending) smaller than x.
func lowerBound(a []float64, x float64) int {
	lo, hi := 0, len(a)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if a[m] < x {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// upperBound is the number of elements of a (ascending) not larger than x.
func upperBound(a []float64, x float64) int {
	lo, hi := 0, len(a)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if a[m] <= x {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// classKey is what makes two VIMs interchangeable for every request that
// does not name them: the same capacities and the same IPv4 endpoint (the
// address matters only to preferences; repCap ignores it).
type classKey struct {
	usable                     bool
	coresTotal, cores          int64
	memTotal, mem, stoTot, sto int64
	ip                         [4]byte
	hasIP                      bool
}

func (s *vimState) key() classKey {
	return classKey{s.usable, s.coresTotal, s.cores, s.memTotal, s.mem, s.stoTotal, s.sto, s.ip, s.hasIP}
}

// classify sets each VIM's rep (and repCap) to the smallest index of an
// identical VIM (ignoring addresses). The first earlier VIM with an equal
// key is its class's smallest index.
func (p *Pool) classify() {
	if len(p.vims) <= 32 {
		p.classifyScan()
	} else {
		p.classifyMap()
	}
}

// classifyScan compares each VIM with the earlier ones: cheaper than maps
// for small pools.
func (p *Pool) classifyScan() {
	for i := range p.vims {
		vi := &p.vims[i]
		k := vi.key()
		kc := k.capacity()
		vi.rep, vi.repCap = int32(i), int32(i)
		for j := range i {
			if p.vims[j].key() == k {
				vi.rep = int32(j)
				break
			}
		}
		for j := range i {
			if p.vims[j].key().capacity() == kc {
				vi.repCap = int32(j)
				break
			}
		}
	}
}

// classifyMap uses maps, for large pools.
func (p *Pool) classifyMap() {
	// Two maps: an address key without an address equals a capacity key,
	// and must not find a VIM that has an address.
	first := make(map[classKey]int32, len(p.vims))
	firstCap := make(map[classKey]int32, len(p.vims))
	for i := range p.vims {
		k := p.vims[i].key()
		p.vims[i].rep = firstOf(first, k, int32(i))
		p.vims[i].repCap = firstOf(firstCap, k.capacity(), int32(i))
	}
}

// firstOf returns the index recorded for k, recording i if there is none.
func firstOf(m map[classKey]int32, k classKey, i int32) int32 {
	if r, ok := m[k]; ok {
		return r
	}
	m[k] = i
	return i
}

// capacity is the key without the endpoint address.
func (k classKey) capacity() classKey {
	k.ip, k.hasIP = [4]byte{}, false
	return k
}

// Len is the number of VIMs.
func (p *Pool) Len() int { return len(p.vims) }

// Version counts the commits applied to the pool.
func (p *Pool) Version() uint64 { return p.version }

// VIMs returns the VIMs with their current usage, in list order.
func (p *Pool) VIMs() []VIM {
	out := make([]VIM, len(p.vims))
	for i := range p.vims {
		out[i] = p.vims[i].current()
	}
	return out
}

// current is the public view with the current usage.
func (s *vimState) current() VIM {
	v := s.VIM
	v.CoresUsed = int(s.cores)
	v.MemoryUsedMB = mbOf(s.mem)
	v.StorageUsedMB = mbOf(s.sto)
	return v
}

// capacity is the Capacity after adding cores, mem and sto. Storage
// counts only on a VIM that reports it.
func (s *vimState) capacity(cores, mem, sto int64) Capacity {
	if s.stoTotal <= 0 {
		sto = 0
	}
	return Capacity{
		CoresTotal: int(s.coresTotal), CoresUsed: int(s.cores + cores),
		MemoryTotalMB: mbOf(s.memTotal), MemoryUsedMB: mbOf(s.mem + mem),
		StorageTotalMB: mbOf(s.stoTotal), StorageUsedMB: mbOf(s.sto + sto),
	}
}

// Commit applies r to the pool: the capacities its functions use become
// used. r must come from this pool's Place at its current version;
// otherwise Commit returns ErrStale and changes nothing.
func (p *Pool) Commit(r *Result) error {
	if r == nil || r.pool != p || r.version != p.version {
		return ErrStale
	}
	// The deltas are integral and were computed from this very version,
	// so the pool stays exact and within capacity.
	for i := range r.Usage {
		d := &r.Usage[i].delta
		if int(d.vim) >= len(p.vims) || p.vims[d.vim].UUID != r.Usage[i].VIM {
			return ErrStale // not a Usage entry this pool made
		}
	}
	for i := range r.Usage {
		d := &r.Usage[i].delta
		s := &p.vims[d.vim]
		s.cores += d.cores
		s.mem += d.mem
		if s.stoTotal > 0 {
			s.sto += d.sto
		}
	}
	p.version++
	p.rebuild()
	return nil
}

// Place computes a placement for req against vims: NewPool and Pool.Place
// in one call, for a single request.
func Place(vims []VIM, req Request) (*Result, error) {
	p, err := NewPool(vims)
	if err != nil {
		return nil, err
	}
	return p.Place(req)
}
