package check

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/manoctl/manoctl/schema"
)

// svcGraph is son-validate's service graph (§9.7): an undirected graph
// whose nodes are the connection-point references of the NSD's E-Line
// links (E-LAN bridges excluded, as in son-cli), whose edges are those
// links, plus an edge between two connection points of the same VNF when
// the VNF-internal graph connects them.
type svcGraph struct {
	node  map[string]int
	names []string
	edges map[[2]int]bool // E-Line edges, both directions
	inner []innerKey      // per node: VNF and internal component, or zero
	uf    unionFind
}

// innerKey identifies the VNF-internal component a node belongs to; two
// nodes with the same non-zero key are adjacent.
type innerKey struct {
	nf   *nfModel
	comp int
}

func (n *nsdModel) serviceGraph() *svcGraph {
	if n.graph != nil {
		return n.graph
	}
	g := &svcGraph{node: map[string]int{}, edges: map[[2]int]bool{}}
	id := func(s string) int {
		if i, ok := g.node[s]; ok {
			return i
		}
		i := g.uf.add()
		g.node[s] = i
		g.names = append(g.names, s)
		return i
	}
	for _, l := range n.links {
		a, b, ok := l.eline()
		if !ok {
			continue
		}
		ia, ib := id(a), id(b)
		g.edges[[2]int{ia, ib}] = true
		g.edges[[2]int{ib, ia}] = true
		g.uf.union(ia, ib)
	}
	// VNF-internal edges: son-validate joins vnf_id:u and vnf_id:v when
	// the function graph has both u and v (or the full references) and a
	// path between them. Grouping nodes by internal component gives the
	// same connectivity without materialising every pair.
	g.inner = make([]innerKey, len(g.names))
	first := map[innerKey]int{}
	for i, name := range g.names {
		vnfID, cp, ok := strings.Cut(name, ":")
		if !ok {
			continue
		}
		nf := n.nfs[vnfID]
		if nf == nil || nf.vnf == nil {
			continue
		}
		comp, ok := nf.vnf.component(cp)
		if !ok {
			if comp, ok = nf.vnf.component(name); !ok {
				continue
			}
		}
		k := innerKey{nf, comp}
		g.inner[i] = k
		if j, ok := first[k]; ok {
			g.uf.union(i, j)
		} else {
			first[k] = i
		}
	}
	n.graph = g
	return g
}

// adjacent reports whether a and b are neighbours in the service graph.
func (g *svcGraph) adjacent(a, b string) bool {
	ia, ok := g.node[a]
	if !ok {
		return false
	}
	ib, ok := g.node[b]
	if !ok {
		return false
	}
	if g.edges[[2]int{ia, ib}] {
		return true
	}
	return ia != ib && g.inner[ia].nf != nil && g.inner[ia] == g.inner[ib]
}

// checkTopology runs the topology checks of one NSD (§9.7).
func (r *runner) checkTopology(d *schema.Document, root object, n *nsdModel) {
	if n.linkIDs != nil && !n.incomplete && r.enabled(codeDisconnected) {
		g := n.serviceGraph()
		if parts := g.parts(); len(parts) > 1 {
			r.report(d, codeDisconnected, "/virtual_links", "the service graph is not connected: its E-Line links and the VNFs' internal wiring form %d separate parts (%s)",
				len(parts), strings.Join(parts, " | "))
		}
	}
	fgV, has := root.get("forwarding_graphs")
	if !has {
		r.report(d, codeFGUnavailable, "", "the NSD has no forwarding_graphs section")
		return
	}
	fgs, _ := fgV.([]any)
	for i, it := range fgs {
		o, ok := asObject(it)
		if !ok || !o.has("fg_id") && (o.has("fg_group") || o.has("fg_name")) {
			continue // external graphs are reported at integrity level
		}
		r.checkForwardingGraph(d, n, o, i)
	}
}

// parts describes the connected components, each by up to three nodes.
func (g *svcGraph) parts() []string {
	var roots []int
	members := map[int][]string{}
	for i, name := range g.names {
		root := g.uf.find(i)
		if _, ok := members[root]; !ok {
			roots = append(roots, root)
		}
		members[root] = append(members[root], name)
	}
	out := make([]string, 0, len(roots))
	for _, root := range roots {
		m := members[root]
		s := strings.Join(m[:min(len(m), 3)], ", ")
		if len(m) > 3 {
			s += ", …"
		}
		out = append(out, "{"+s+"}")
	}
	return out
}

// pathEntry is one connection point of a forwarding path.
type pathEntry struct {
	ref    string
	pos    int
	fg, fp int // indices of the graph and the path
	k      int // index of the entry in the path's connection_points
	state  cpState
}

func (e *pathEntry) ptr() string {
	return at("/forwarding_graphs", e.fg, "network_forwarding_paths", e.fp, "connection_points", e.k)
}

type cpState uint8

const (
	cpDefined   cpState = iota
	cpUndefined         // reported
	cpUnknown           // in a missing section, or a function whose VNFD is missing
)

// pathCP checks that a forwarding-path connection point exists, with
// son-validate's rules: a bare reference names an NS connection point,
// vnf_id:cp a VNF-level connection point of that function.
func (r *runner) pathCP(d *schema.Document, n *nsdModel, ref string, ptr func() string, path pathLabel) cpState {
	vnfID, cp, hasVNF := strings.Cut(ref, ":")
	switch {
	case !hasVNF:
		if n.ns.lookup(ref) != nil {
			return cpDefined
		}
		if n.ns.absent {
			return cpUnknown
		}
		r.report(d, codeFGCPUndefined, ptr(), "forwarding path %s: connection point %q is not declared by the NSD (NS connection points: %s)",
			path, ref, idList(n.ns.ids(), 8))
	case strings.IndexByte(cp, ':') >= 0:
		r.report(d, codeFGCPUndefined, ptr(), "forwarding path %s: reference %q has more than one ':'; a reference is cp, or vnf_id:cp", path, ref)
	case n.noNFs:
		return cpUnknown
	case n.nfs[vnfID] == nil:
		r.report(d, codeFGCPUndefined, ptr(), "forwarding path %s: %q names %q, which is not the vnf_id of a network function of this service (vnf_ids: %s)",
			path, ref, vnfID, idList(n.nfIDs, 8))
	case n.nfs[vnfID].unknown, n.nfs[vnfID].vnf.cps.absent:
		return cpUnknown
	case n.nfs[vnfID].vnf.cps.lookup(cp) == nil:
		vnf := n.nfs[vnfID].vnf
		r.report(d, codeFGCPUndefined, ptr(), "forwarding path %s: VNF %q (VNFD %s) declares no connection point %q (it declares: %s)",
			path, vnfID, vnf, cp, idList(vnf.cps.ids(), 8))
	default:
		return cpDefined
	}
	return cpUndefined
}

// hop identifies the node of the function-level graph a connection point
// belongs to: the VNF for vnf_id:cp, the connection point itself for an
// NS connection point. It is a substring of the reference: no allocation.
type hop struct {
	vnf  bool
	name string
}

func hopOf(ref string) hop {
	if vnfID, _, ok := strings.Cut(ref, ":"); ok {
		return hop{true, vnfID}
	}
	return hop{false, ref}
}

func (h hop) String() string {
	if h.vnf {
		return h.name
	}
	return "NS cp " + h.name
}

// pathLabel names a forwarding path in messages; it is formatted only for
// a finding.
type pathLabel struct {
	fgID, fpID   string
	fg, fp       int
	hasFG, hasFP bool
}

func (p pathLabel) graph() string {
	if p.hasFG {
		return strconv.Quote(p.fgID)
	}
	return "#" + strconv.Itoa(p.fg)
}

func (p pathLabel) String() string {
	if p.hasFP {
		return strconv.Quote(p.fpID)
	}
	return "#" + strconv.Itoa(p.fp) + " of forwarding graph " + p.graph()
}

func (p pathLabel) ptr() string {
	return at("/forwarding_graphs", p.fg, "network_forwarding_paths", p.fp)
}

// checkForwardingGraph checks the paths of forwarding graph i: that their
// entries can be read and exist, that positions are unique, and that the
// pairs (link in, link out) walk along the service graph from one
// function to the next; then the cycles of the function-level graph.
func (r *runner) checkForwardingGraph(d *schema.Document, n *nsdModel, fg object, i int) {
	label := pathLabel{fg: i}
	if id, ok := fg.str("fg_id"); ok {
		label.fgID, label.hasFG = trimInvisible(id), true
	}
	paths, _ := fg.list("network_forwarding_paths")
	if _, has := fg.get("network_forwarding_paths"); !has {
		r.report(d, codeFGBadSection, at("/forwarding_graphs", i), "forwarding graph %s has no network_forwarding_paths (son-validate crashed on it)", label.graph())
		return
	}
	var cyc digraph
	for j, pv := range paths {
		p, ok := asObject(pv)
		if !ok {
			continue
		}
		path := label
		path.fp = j
		if id, ok := p.str("fp_id"); ok {
			path.fpID, path.hasFP = trimInvisible(id), true
		} else if !p.has("fp_id") {
			r.report(d, codeFGBadSection, path.ptr(), "forwarding path %s has no fp_id (son-validate crashed on it)", path)
		}
		cpsV, has := p.get("connection_points")
		if !has {
			r.report(d, codeFGBadSection, path.ptr(), "forwarding path %s has no connection_points (son-validate crashed on it)", path)
			continue
		}
		list, _ := cpsV.([]any)
		entries, ok := r.readPath(d, n, list, path)
		if !ok {
			continue
		}
		if len(entries)%2 != 0 {
			r.report(d, codeFGOdd, path.ptr()+"/connection_points", "forwarding path %s has %d connection points; a path is read as pairs (in, out), so the count must be even",
				path, len(entries))
		}
		r.checkPairs(d, n, entries, path, &cyc)
	}
	if len(cyc.nodes) > 0 && r.enabled(codeFGCycles) {
		cycles, truncated := cyc.cycles(3, maxCycles, cycleSteps)
		for k, c := range cycles {
			names := make([]string, 0, len(c)+1)
			for _, v := range c {
				names = append(names, cyc.nodes[v].String())
			}
			names = append(names, names[0])
			more := ""
			if truncated && k == len(cycles)-1 {
				more = "; the search for further cycles was cut short"
			}
			r.report(d, codeFGCycles, at("/forwarding_graphs", i), "forwarding graph %s has a cycle of %d hops: %s%s",
				label.graph(), len(c), strings.Join(names, " → "), more)
		}
	}
}

// readPath reads the entries of one path, reporting unreadable entries,
// undefined connection points and duplicate positions, and returns them
// ordered by position. ok is false when the path cannot be analysed
// further (an entry without a usable reference or position).
func (r *runner) readPath(d *schema.Document, n *nsdModel, list []any, path pathLabel) (entries []pathEntry, ok bool) {
	entries = make([]pathEntry, 0, len(list))
	var byPos map[int]int // for long paths only; short ones are scanned
	if len(list) > scopeMapMin {
		byPos = make(map[int]int, len(list))
	}
	ok = true
	for k, ev := range list {
		e, isObj := asObject(ev)
		if !isObj {
			ok = false
			continue
		}
		pe := pathEntry{fg: path.fg, fp: path.fp, k: k}
		refV, hasRef := e.get("connection_point_ref")
		raw, refOK := scalar(refV)
		if !hasRef {
			r.report(d, codeFGBadSection, pe.ptr(), "entry %d of forwarding path %s has no connection_point_ref (son-validate crashed on it)", k, path)
			ok = false
		} else if !refOK {
			ok = false // the syntax level reports the type
		}
		pos, posOK := e.integer("position")
		if !e.has("position") {
			r.report(d, codeFGBadSection, pe.ptr(), "entry %d of forwarding path %s has no position; positions order the path (son-validate crashed on it)", k, path)
			ok = false
		} else if !posOK {
			ok = false
		}
		if !refOK {
			continue
		}
		refPtr := func() string { return pe.ptr() + "/connection_point_ref" }
		pe.ref = r.checkID(d, raw, refPtr, "forwarding-path connection point")
		pe.pos = pos
		pe.state = r.pathCP(d, n, pe.ref, refPtr, path)
		if !posOK {
			continue
		}
		prev := -1
		if byPos != nil {
			if x, dup := byPos[pos]; dup {
				prev = x
			}
		} else {
			prev = slices.IndexFunc(entries, func(x pathEntry) bool { return x.pos == pos })
		}
		if prev >= 0 {
			r.report(d, codeFGPositionDup, pe.ptr()+"/position", "position %d of forwarding path %s is used twice; %q replaces %q, as in son-validate",
				pos, path, pe.ref, entries[prev].ref)
			entries[prev] = pe
			continue
		}
		if byPos != nil {
			byPos[pos] = len(entries)
		}
		entries = append(entries, pe)
	}
	slices.SortStableFunc(entries, func(a, b pathEntry) int { return cmp.Compare(a.pos, b.pos) })
	return entries, ok
}

// checkPairs walks a path pair by pair. A pair inside one VNF is reported
// as such; any other pair must be adjacent in the service graph. A path
// with a break is not analysed further (son-validate stopped there), and
// paths with undefined connection points are not walked at all: the
// undefined connection point is the finding. Then consecutive pairs must
// meet in the same function, and each pair adds an edge to the
// function-level graph searched for cycles.
func (r *runner) checkPairs(d *schema.Document, n *nsdModel, entries []pathEntry, path pathLabel, cyc *digraph) {
	for _, e := range entries {
		if e.state != cpDefined {
			return
		}
	}
	// Adjacency is judged only on a complete graph: with a missing
	// virtual_links section, a missing VNFD or an unresolved E-Line the
	// break would repeat a finding made elsewhere.
	var g *svcGraph
	if n.linkIDs != nil && !n.incomplete {
		g = n.serviceGraph()
	}
	broken := false
	pairs := len(entries) / 2
	inside := make([]bool, pairs)
	for k := 0; k < pairs; k++ {
		a, b := &entries[2*k], &entries[2*k+1]
		ha, hb := hopOf(a.ref), hopOf(b.ref)
		if ha == hb && ha.vnf {
			r.report(d, codeFPInsideVNF, a.ptr(), "forwarding path %s: positions %d and %d (%q → %q) form a hop inside VNF %q; each pair of a path must be a link between two functions",
				path, a.pos, b.pos, a.ref, b.ref, ha.name)
			inside[k] = true
			continue
		}
		if g != nil && !g.adjacent(a.ref, b.ref) {
			r.report(d, codeFPInvalid, a.ptr(), "forwarding path %s: positions %d and %d (%q → %q) are not adjacent in the service graph: no E-Line link joins them",
				path, a.pos, b.pos, a.ref, b.ref)
			broken = true
		}
	}
	if broken {
		return
	}
	for k := 1; k < pairs; k++ {
		prev, next := &entries[2*k-1], &entries[2*k]
		if hp, hn := hopOf(prev.ref), hopOf(next.ref); hp != hn {
			r.report(d, codeFPDisrupted, next.ptr(), "forwarding path %s is disrupted at position %d: the previous hop ends at %s (%q) but the next starts at %s (%q)",
				path, next.pos, hp, prev.ref, hn, next.ref)
		}
	}
	for k := 0; k < pairs; k++ {
		if !inside[k] {
			cyc.edge(hopOf(entries[2*k].ref), hopOf(entries[2*k+1].ref))
		}
	}
}

// Bounds of the cycle search, so that a pathological graph cannot make
// validation hang: at most maxCycles findings per forwarding graph and
// cycleSteps search steps.
const (
	maxCycles  = 32
	cycleSteps = 1 << 16
)

// digraph is the function-level directed graph of a forwarding graph.
type digraph struct {
	idx   map[hop]int
	nodes []hop
	adj   [][]int
}

func (g *digraph) id(h hop) int {
	if g.idx == nil {
		g.idx = map[hop]int{}
	}
	if i, ok := g.idx[h]; ok {
		return i
	}
	g.idx[h] = len(g.nodes)
	g.nodes = append(g.nodes, h)
	g.adj = append(g.adj, nil)
	return len(g.nodes) - 1
}

func (g *digraph) edge(a, b hop) {
	ia, ib := g.id(a), g.id(b)
	if !slices.Contains(g.adj[ia], ib) {
		g.adj[ia] = append(g.adj[ia], ib)
	}
}

// cycles enumerates the simple cycles with at least minLen nodes, each
// once, starting at its first-seen node. It stops after limit cycles or
// steps search steps and then reports truncated.
func (g *digraph) cycles(minLen, limit, steps int) (out [][]int, truncated bool) {
	onPath := make([]bool, len(g.nodes))
	var path []int
	var visit func(s, v int) bool
	visit = func(s, v int) bool {
		for _, w := range g.adj[v] {
			if steps--; steps < 0 {
				return false
			}
			switch {
			case w == s:
				if len(path) >= minLen {
					out = append(out, slices.Clone(path))
					if len(out) >= limit {
						return false
					}
				}
			case w > s && !onPath[w]:
				onPath[w] = true
				path = append(path, w)
				more := visit(s, w)
				path = path[:len(path)-1]
				onPath[w] = false
				if !more {
					return false
				}
			}
		}
		return true
	}
	for s := range g.nodes {
		path = append(path[:0], s)
		onPath[s] = true
		more := visit(s, s)
		onPath[s] = false
		if !more {
			return out, true
		}
	}
	return out, false
}
