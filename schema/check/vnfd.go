package check

import (
	"slices"
	"strconv"
	"strings"

	"github.com/manoctl/manoctl/schema"
	"github.com/manoctl/manoctl/schema/descriptor"
)

// vnfModel is what the checks know of a VNFD: its identity, connection
// points, VDUs and links, and the number of errors it had of its own.
type vnfModel struct {
	doc                   *schema.Document
	vendor, name, version string
	// complete: vendor, name and version are all present, so that network
	// functions can resolve to this VNFD (son-validate skipped VNFDs
	// lacking one of them).
	complete bool
	cps      *cpScope // VNF-level connection points (empty when absent)
	vdus     map[string]*vduModel
	vduIDs   []string
	// noVDUs: no readable, non-empty virtual_deployment_units section;
	// unit references are then taken on trust.
	noVDUs bool
	// prefixed maps the VDU connection points whose ids carry a 2016-style
	// unit prefix (vdu01:eth0) by their full id.
	prefixed map[string]*cpModel
	links    []*linkModel
	errors   int

	graph *vnfGraph // internal connectivity, built on first use
}

// vduModel is one VDU.
type vduModel struct {
	id     string
	idx    int      // in virtual_deployment_units
	cps    *cpScope // nil when the VDU has no connection_points list
	params []string // names of its monitoring parameters
}

func (u *vduModel) ptr() string { return at("/virtual_deployment_units", u.idx) }

// label names the VDU in messages: its id, or its position.
func (u *vduModel) label() string {
	if u.id != "" {
		return strconv.Quote(u.id)
	}
	return "#" + strconv.Itoa(u.idx)
}

func (v *vnfModel) String() string { return v.vendor + "." + v.name + "." + v.version }

// checkVNFD runs the integrity checks of one VNFD (§9.6 and §11) and
// returns its model for the NSDs that use it.
func (r *runner) checkVNFD(d *schema.Document) *vnfModel {
	v := &vnfModel{doc: d, cps: &cpScope{absent: true}, vdus: map[string]*vduModel{}}
	root, ok := asObject(d.Value)
	if !ok {
		return v // not a mapping: the syntax level's finding
	}
	v.vendor, _ = root.str("vendor")
	v.name, _ = root.str("name")
	v.version, _ = root.str("version")
	v.complete = v.vendor != "" && v.name != "" && v.version != ""

	r.checkVDUs(d, root, v)

	cpsV, hasCPs := root.get("connection_points")
	if !hasCPs {
		r.report(d, codeVNFDBadCPs, "", "the VNFD has no connection_points section; a VNF needs connection points to be linked into a service")
	} else if l, ok := cpsV.([]any); ok {
		v.cps = r.collectCPs(d, l, "VNF", nil)
	}

	linksV, hasLinks := root.get("virtual_links")
	if !hasLinks {
		r.report(d, codeVNFDBadLinks, "", "the VNFD has no virtual_links section; its connection points are not wired to any VDU")
	} else if l, ok := linksV.([]any); ok {
		v.links, _ = r.collectLinks(d, l, false)
		r.resolveVNFDLinks(d, v)
		r.checkVNFUsage(d, v)
	}

	r.checkMonitoringRules(d, root, v)
	r.checkSMs(d, root, "function_specific_managers", "FSM", "sonfsm")
	return v
}

func (r *runner) checkVDUs(d *schema.Document, root object, v *vnfModel) {
	vdusV, has := root.get("virtual_deployment_units")
	list, isList := vdusV.([]any)
	v.noVDUs = len(list) == 0
	switch {
	case !has:
		r.report(d, codeVNFDBadVDUs, "", "the VNFD has no virtual_deployment_units section; a VNF needs at least one VDU")
		return
	case isList && len(list) == 0:
		r.report(d, codeVNFDBadVDUs, "/virtual_deployment_units", "the VNFD has no virtual deployment units; a VNF needs at least one VDU")
		return
	}
	for i, it := range list {
		o, ok := asObject(it)
		if !ok {
			continue
		}
		u := &vduModel{idx: i}
		register := false
		if raw, ok := o.str("id"); ok {
			idPtr := func() string { return u.ptr() + "/id" }
			u.id = r.checkID(d, raw, idPtr, "VDU id")
			switch {
			case u.id == "":
				r.report(d, codeIDInvalid, idPtr(), "VDU %d has an empty id; connection points are referenced as vdu_id:cp", i)
			case strings.IndexByte(u.id, ':') >= 0:
				r.report(d, codeIDInvalid, idPtr(), "VDU id %q contains ':', which is reserved: a reference %q:cp could not name it", u.id, u.id)
			case v.vdus[u.id] != nil:
				r.report(d, codeDuplicateID, idPtr(), "VDU id %q is used twice (first at %s)", u.id, v.vdus[u.id].ptr())
			default:
				register = true
			}
		}
		if !o.has("vm_image") {
			r.report(d, codeVDUImageMissing, u.ptr(), "VDU %s has no vm_image, so there is nothing to deploy", u.label())
		}
		cpsV, hasCPs := o.get("connection_points")
		if !hasCPs {
			r.report(d, codeVDUBadCPs, u.ptr(), "VDU %s has no connection_points section; a VDU without connection points cannot be wired to the VNF", u.label())
		} else if l, ok := cpsV.([]any); ok {
			u.cps = r.collectCPs(d, l, "", u)
			for k := range u.cps.cps {
				if c := &u.cps.cps[k]; strings.IndexByte(c.id, ':') >= 0 {
					if v.prefixed == nil {
						v.prefixed = make(map[string]*cpModel)
					}
					if v.prefixed[c.id] == nil {
						v.prefixed[c.id] = c
					}
				}
			}
		}
		for _, pv := range listOf(o, "monitoring_parameters") {
			if po, ok := asObject(pv); ok {
				if n, ok := po.str("name"); ok {
					u.params = append(u.params, n)
				}
			}
		}
		r.checkResources(d, o, u)
		r.checkScaling(d, o, u)
		if register {
			v.vdus[u.id] = u
			v.vduIDs = append(v.vduIDs, u.id)
		}
	}
}

func listOf(o object, key string) []any {
	l, _ := o.list(key)
	return l
}

// resolveVNFDLinks resolves every link reference: a bare cp names a VNF
// connection point, unit:cp a connection point of VDU unit. As in
// son-validate, a reference with ':' never names a VNF connection point.
// A 2016-era VDU connection point whose id carries the prefix
// (vdu01:eth0) is found by its full id, even when the VDU is called
// otherwise: the id is the finding (evt_invalid_cpoint), and a reference
// that names it exactly is not reported again.
func (r *runner) resolveVNFDLinks(d *schema.Document, v *vnfModel) {
	var vnfCPs []*cpModel
	for _, l := range v.links {
		toVDU := false
		vnfCPs = vnfCPs[:0]
		for _, ref := range l.refs {
			if ref.bad {
				continue
			}
			literal := v.cps.lookup(ref.ref)
			if literal != nil {
				literal.used = true
				vnfCPs = append(vnfCPs, literal)
			}
			unit, cp, hasUnit := strings.Cut(ref.ref, ":")
			if !hasUnit {
				if literal == nil && !v.cps.absent {
					r.report(d, codeVNFDUndeclaredCP, ref.ptr(), "virtual link %q references connection point %q, which the VNF does not declare (VNF connection points: %s)",
						l.name(), ref.ref, idList(v.cps.ids(), 8))
				}
				continue
			}
			if c := v.prefixed[ref.ref]; c != nil {
				c.used = true
				toVDU = true
				continue
			}
			// From here on the reference aims at a VDU: even when it does
			// not resolve, the link is meant to reach one, and calling its
			// VNF connection points unwired would repeat the finding.
			toVDU = true
			if v.noVDUs {
				continue // the missing section is the finding
			}
			u := v.vdus[unit]
			if u == nil {
				r.report(d, codeVNFDUndefinedCP, ref.ptr(), "virtual link %q references %q, but %q is not a VDU of this VNF (VDUs: %s)",
					l.name(), ref.ref, unit, idList(v.vduIDs, 8))
				continue
			}
			if u.cps == nil {
				continue // the VDU's missing connection_points is the finding
			}
			c := u.cps.lookup(cp)
			if c == nil {
				r.report(d, codeVNFDUndeclaredCP, ref.ptr(), "virtual link %q references %q, but VDU %q has no connection point %q (it has: %s)",
					l.name(), ref.ref, unit, cp, idList(u.cps.ids(), 8))
				continue
			}
			c.used = true
		}
		if toVDU {
			for _, c := range vnfCPs {
				c.wired = true
			}
		}
	}
}

// checkVNFUsage reports connection points that no link uses, and VNF
// connection points that are linked but never reach a VDU.
func (r *runner) checkVNFUsage(d *schema.Document, v *vnfModel) {
	for i := range v.cps.cps {
		c := &v.cps.cps[i]
		switch {
		case !c.used:
			r.report(d, codeVNFDUnusedCP, c.ptr()+"/id", "VNF connection point %q is not referenced by any virtual link of the VNFD", c.id)
		case !c.wired:
			r.report(d, codeVNFCPUnwired, c.ptr()+"/id", "VNF connection point %q is linked, but no virtual link joins it to a VDU connection point, so traffic through it reaches no VDU", c.id)
		}
	}
	// One finding per VDU: a VDU left out of the wiring is one problem,
	// however many connection points it has.
	var unused []string
	for _, id := range v.vduIDs {
		u := v.vdus[id]
		if u.cps == nil {
			continue
		}
		unused = unused[:0]
		first := ""
		for k := range u.cps.cps {
			if c := &u.cps.cps[k]; !c.used {
				if first == "" {
					first = c.ptr() + "/id"
				}
				unused = append(unused, c.id)
			}
		}
		switch {
		case len(unused) == 1:
			r.report(d, codeVDUCPUnused, first, "connection point %q of VDU %q is not referenced by any virtual link of the VNFD", unused[0], id)
		case len(unused) == len(u.cps.cps):
			r.report(d, codeVDUCPUnused, first, "no virtual link of the VNFD references a connection point of VDU %q (%s): the VDU is not wired", id, idList(unused, 8))
		case len(unused) > 1:
			r.report(d, codeVDUCPUnused, first, "connection points %s of VDU %q are not referenced by any virtual link of the VNFD", idList(unused, 8), id)
		}
	}
}

// Thresholds of integrity.size_implausible, in MB: below minSizeMB a VDU
// cannot boot (and the value was most likely meant in GB: size: 2 without
// size_unit is 2 MB); above maxMemoryMB (1 TB) the memory was most likely
// meant in MB.
const (
	minSizeMB   = 32
	maxMemoryMB = 1e6
)

func (r *runner) checkResources(d *schema.Document, vdu object, u *vduModel) {
	rrV, _ := vdu.get("resource_requirements")
	rr, ok := asObject(rrV)
	if !ok {
		return
	}
	for _, kind := range [...]string{"memory", "storage"} {
		mv, _ := rr.get(kind)
		m, ok := asObject(mv)
		if !ok {
			continue
		}
		size, ok := m.number("size")
		if !ok || size <= 0 {
			continue // the schema requires a positive number
		}
		unit, hasUnit := m.str("size_unit")
		mb, err := descriptor.ToMB(size, unit)
		if err != nil {
			continue // unknown unit: the schema's finding
		}
		if mb >= minSizeMB && (kind != "memory" || mb <= maxMemoryMB) {
			continue
		}
		p := u.ptr() + "/resource_requirements/" + kind + "/size"
		name, sz := u.label(), strconv.FormatFloat(size, 'f', -1, 64)
		switch {
		case mb < minSizeMB && !hasUnit:
			r.report(d, codeSizeImplausible, p, "VDU %s %s size %s has no size_unit, so it means %s MB (the default unit), which is too small for a VDU; did you mean size_unit: GB?",
				name, kind, sz, sz)
		case mb < minSizeMB:
			r.report(d, codeSizeImplausible, p, "VDU %s %s size %s %s is %s MB, which is too small for a VDU; check the size_unit",
				name, kind, sz, unit, strconv.FormatFloat(mb, 'f', -1, 64))
		case kind == "memory" && mb > maxMemoryMB:
			r.report(d, codeSizeImplausible, p, "VDU %s memory size %s %s is %s TB, which is implausibly large for a VDU; was it meant in MB?",
				name, sz, unit, strconv.FormatFloat(mb/1e6, 'f', -1, 64))
		}
	}
}

func (r *runner) checkScaling(d *schema.Document, vdu object, u *vduModel) {
	sv, _ := vdu.get("scale_in_out")
	s, ok := asObject(sv)
	if !ok {
		return
	}
	lo, hi := 1, 1 // the schema's defaults
	if s.has("minimum") {
		if lo, ok = s.integer("minimum"); !ok {
			return
		}
	}
	defaulted := !s.has("maximum")
	if !defaulted {
		if hi, ok = s.integer("maximum"); !ok {
			return
		}
	}
	if hi != 0 && lo > hi {
		note := ""
		if defaulted {
			note = "; maximum defaults to 1"
		}
		r.report(d, codeScaleInOut, u.ptr()+"/scale_in_out", "VDU %s scales between minimum %d and maximum %d: the minimum exceeds the maximum (maximum 0 means unlimited%s)",
			u.label(), lo, hi, note)
	}
}

// checkMonitoringRules checks the vdu_id:parameter names in rule
// conditions against the VDUs' monitoring_parameters (§11). Conditions
// are free text; only tokens of the form unit:parameter are read.
func (r *runner) checkMonitoringRules(d *schema.Document, root object, v *vnfModel) {
	if v.noVDUs {
		return
	}
	rules, _ := root.list("monitoring_rules")
	for i, rv := range rules {
		o, ok := asObject(rv)
		if !ok {
			continue
		}
		cond, ok := o.str("condition")
		if !ok {
			continue
		}
		name, _ := o.str("name")
		rule := func() string {
			if name != "" {
				return strconv.Quote(name)
			}
			return "#" + strconv.Itoa(i)
		}
		p := func() string { return at("/monitoring_rules", i, "condition") }
		var seen []string
		for rest := cond; ; {
			unit, param, next, ok := nextQualified(rest)
			if !ok {
				break
			}
			rest = next
			u := v.vdus[unit]
			if u != nil && slices.Contains(u.params, param) {
				continue
			}
			tok := unit + ":" + param
			if slices.Contains(seen, tok) {
				continue
			}
			seen = append(seen, tok)
			if u == nil {
				r.report(d, codeMonitoringParam, p(), "monitoring rule %s: condition %q names %q, but %q is not a VDU of this VNF (VDUs: %s)",
					rule(), cond, tok, unit, idList(v.vduIDs, 8))
				continue
			}
			r.report(d, codeMonitoringParam, p(), "monitoring rule %s: condition names %q, but VDU %q defines no monitoring parameter %q (it defines: %s)",
				rule(), tok, unit, param, idList(u.params, 8))
		}
	}
}

func isNameByte(c byte) bool {
	return c == '_' || c == '-' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// nextQualified finds the next unit:parameter token in s and returns it
// with the rest of s after it.
func nextQualified(s string) (unit, param, rest string, ok bool) {
	for i := strings.IndexByte(s, ':'); i >= 0; {
		a := i
		for a > 0 && isNameByte(s[a-1]) {
			a--
		}
		b := i + 1
		for b < len(s) && isNameByte(s[b]) {
			b++
		}
		if a < i && b > i+1 && !allDigits(s[a:i]) {
			return s[a:i], s[i+1 : b], s[b:], true
		}
		j := strings.IndexByte(s[i+1:], ':')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return "", "", "", false
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// vnfGraph is the VNF-internal graph of §9.7: connection points and VDUs
// as nodes, the VNF's E-Line links as edges (E-LAN bridges excluded, as in
// son-cli). Only connectivity matters, so it is kept as components.
type vnfGraph struct {
	comp map[string]int
}

// component returns the component of node name and whether the node
// exists. Nodes are every E-Line reference (as written) and every E-Line
// endpoint collapsed the way son-validate's level-0 function graph does:
// a VNF connection point stays itself, unit:cp becomes unit.
func (v *vnfModel) component(name string) (int, bool) {
	if v.graph == nil {
		v.graph = v.buildGraph()
	}
	c, ok := v.graph.comp[name]
	return c, ok
}

func (v *vnfModel) buildGraph() *vnfGraph {
	idx := make(map[string]int)
	var uf unionFind
	node := func(s string) int {
		if i, ok := idx[s]; ok {
			return i
		}
		i := uf.add()
		idx[s] = i
		return i
	}
	collapse := func(e string) string {
		if v.cps.lookup(e) != nil {
			return e
		}
		if i := strings.IndexByte(e, ':'); i >= 0 {
			return e[:i]
		}
		return e
	}
	for _, l := range v.links {
		a, b, ok := l.eline()
		if !ok {
			continue
		}
		node(a)
		node(b)
		uf.union(node(collapse(a)), node(collapse(b)))
	}
	g := &vnfGraph{comp: make(map[string]int, len(idx))}
	for s, i := range idx {
		g.comp[s] = uf.find(i)
	}
	return g
}

// unionFind is a disjoint-set forest over 0..n-1.
type unionFind struct{ parent []int }

func (u *unionFind) add() int {
	u.parent = append(u.parent, len(u.parent))
	return len(u.parent) - 1
}

func (u *unionFind) find(i int) int {
	for u.parent[i] != i {
		u.parent[i] = u.parent[u.parent[i]]
		i = u.parent[i]
	}
	return i
}

func (u *unionFind) union(a, b int) {
	if ra, rb := u.find(a), u.find(b); ra != rb {
		u.parent[ra] = rb
	}
}
