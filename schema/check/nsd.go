package check

import (
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/manoctl/manoctl/schema"
)

// nsdModel is what the checks know of an NSD.
type nsdModel struct {
	doc *schema.Document
	nfs map[string]*nfModel // by vnf_id
	// nfIDs lists the vnf_ids in order; noNFs: no readable
	// network_functions section, so references into functions are taken
	// on trust.
	nfIDs []string
	noNFs bool
	ns    *cpScope // NS connection points (empty when absent)
	links []*linkModel
	// linkIDs maps link ids; nil when there is no virtual_links section.
	linkIDs map[string]*linkModel
	// incomplete: some E-Line of the service could not be resolved (a
	// missing VNFD, an unknown reference, a malformed link) or a function
	// it uses is itself invalid, so the service graph may lack edges and
	// graph-wide findings would be guesses.
	incomplete bool

	graph *svcGraph // built on first use
}

// nfModel is one network function of an NSD.
type nfModel struct {
	id  string
	idx int // in network_functions
	vnf *vnfModel
	// unknown: the function's VNFD is not available (not among the
	// inputs, or its triple is unreadable); references into it are taken
	// on trust.
	unknown bool
}

// checkNSD runs the integrity checks of one NSD (§9.5 and §11) and, at
// topology level, the graph checks (§9.7).
func (r *runner) checkNSD(d *schema.Document) {
	root, ok := asObject(d.Value)
	if !ok {
		return
	}
	n := &nsdModel{doc: d, ns: &cpScope{absent: true}}
	r.checkFunctions(d, root, n)

	cpsV, hasCPs := root.get("connection_points")
	if !hasCPs {
		r.report(d, codeNSDBadCPs, "", "the NSD has no connection_points section; a service needs connection points to be reached")
	} else if l, ok := cpsV.([]any); ok {
		n.ns = r.collectCPs(d, l, "NS", nil)
	}

	linksV, hasLinks := root.get("virtual_links")
	if !hasLinks {
		r.report(d, codeNSDBadLinks, "", "the NSD has no virtual_links section; its functions are not connected")
	} else if l, ok := linksV.([]any); ok {
		n.links, n.linkIDs = r.collectLinks(d, l, true)
		r.resolveNSDLinks(d, n)
		for i := range n.ns.cps {
			if c := &n.ns.cps[i]; !c.used {
				r.report(d, codeNSDUnusedCP, c.ptr()+"/id", "NS connection point %q is not referenced by any virtual link", c.id)
			}
		}
	}

	r.checkGraphBookkeeping(d, root, n)
	r.checkSMs(d, root, "service_specific_managers", "SSM", "sonssm")
	if r.level >= schema.LevelTopology {
		r.checkTopology(d, root, n)
	}
}

// checkFunctions resolves network_functions to VNFDs and reports missing
// VNFDs once each, ambiguous ones, and VNFDs with errors of their own.
func (r *runner) checkFunctions(d *schema.Document, root object, n *nsdModel) {
	n.nfs = make(map[string]*nfModel)
	nfV, has := root.get("network_functions")
	if !has {
		n.noNFs = true
		r.report(d, codeFunctionUnavailable, "", "the NSD has no network_functions section; a service is made of network functions")
		return
	}
	list, ok := nfV.([]any)
	if !ok {
		n.noNFs = true // not a list: the syntax level's finding
		return
	}

	type missing struct {
		key, what string
		at        *nfModel
		vnfIDs    []string
	}
	var (
		missed   []*missing
		usedVNFD []*vnfModel
		usedAt   []*nfModel
	)
	for i, it := range list {
		o, ok := asObject(it)
		if !ok {
			continue
		}
		nf := &nfModel{idx: i}
		register := false
		if raw, ok := o.str("vnf_id"); ok {
			idPtr := func() string { return nf.ptr() + "/vnf_id" }
			nf.id = r.checkID(d, raw, idPtr, "vnf_id")
			switch {
			case nf.id == "":
				r.report(d, codeIDInvalid, idPtr(), "network function %d has an empty vnf_id; connection points are referenced as vnf_id:cp", i)
			case strings.IndexByte(nf.id, ':') >= 0:
				r.report(d, codeIDInvalid, idPtr(), "vnf_id %q contains ':', which is reserved: a reference %q:cp could not name it", nf.id, nf.id)
			case n.nfs[nf.id] != nil:
				r.report(d, codeDuplicateID, idPtr(), "vnf_id %q is used twice (first at %s)", nf.id, n.nfs[nf.id].ptr())
			default:
				register = true
			}
		}
		vendor, _ := o.str("vnf_vendor")
		name, _ := o.str("vnf_name")
		version, _ := o.str("vnf_version")
		if vendor == "" || name == "" || version == "" {
			nf.unknown = true // the syntax level reports the missing field
		} else {
			vnf, twins := r.resolve(d, vendor, name, version)
			switch {
			case vnf == nil:
				nf.unknown = true
				key := vendor + "\x00" + name + "\x00" + version
				var m *missing
				for _, x := range missed {
					if x.key == key {
						m = x
						break
					}
				}
				if m == nil {
					m = &missing{key: key, what: describeWanted(vendor, name, version), at: nf}
					missed = append(missed, m)
				}
				if nf.id != "" {
					m.vnfIDs = append(m.vnfIDs, nf.id)
				}
			default:
				nf.vnf = vnf
				if len(twins) > 0 {
					files := make([]string, len(twins))
					for k, t := range twins {
						files[k] = t.doc.File
					}
					r.report(d, codeVNFDAmbiguous, nf.ptr(), "VNFD %s is provided by %d input documents (%s); network function %q uses the first",
						vnf, len(twins), idList(files, 4), nf.id)
				}
				if !containsVNF(usedVNFD, vnf) {
					usedVNFD = append(usedVNFD, vnf)
					usedAt = append(usedAt, nf)
				}
			}
		}
		if register {
			n.nfs[nf.id] = nf
			n.nfIDs = append(n.nfIDs, nf.id)
		}
	}
	for _, m := range missed {
		where := "the loose input files"
		if d.Package != "" {
			where = "package " + strconv.Quote(d.Package) + " or " + where
		}
		ids := "vnf_id " + strings.Join(m.vnfIDs, ", ")
		if len(m.vnfIDs) > 1 {
			ids = "vnf_ids " + strings.Join(m.vnfIDs, ", ")
		}
		r.report(d, codeFunctionUnavailable, m.at.ptr(), "VNFD %s (%s) not among the inputs (looked in %s)", m.what, ids, where)
	}
	for k, v := range usedVNFD {
		if r.opts.Failed[v.doc] || v.errors > 0 {
			// A broken function's internal wiring cannot be trusted for
			// graph-wide findings.
			n.incomplete = true
		}
		switch {
		case r.opts.Failed[v.doc]:
			r.report(d, codeFunctionInvalid, usedAt[k].ptr(), "VNFD %s (%s) that this service uses failed validation", v, v.doc.File)
		case v.errors > 0:
			r.report(d, codeFunctionInvalid, usedAt[k].ptr(), "VNFD %s (%s) that this service uses has %d integrity error(s) of its own", v, v.doc.File, v.errors)
		}
	}
}

func (nf *nfModel) ptr() string { return at("/network_functions", nf.idx) }

func containsVNF(l []*vnfModel, v *vnfModel) bool {
	for _, x := range l {
		if x == v {
			return true
		}
	}
	return false
}

func describeWanted(vendor, name, version string) string {
	if op, want := versionOp(version); op != "" {
		return vendor + "." + name + " with version " + op + " " + want
	}
	return vendor + "." + name + "." + version
}

// resolve finds the VNFD a network function names. Documents of the NSD's
// package are searched first, then the loose documents (Package ""); other
// packages never, as a package is a unit of its own. A plain vnf_version
// matches exactly, as in son-validate; with an operator (==, >=, <=, !=)
// the highest satisfying version wins (§11). twins lists, when there are
// several, the documents of the chosen search that provide the same
// version, the chosen one first.
func (r *runner) resolve(d *schema.Document, vendor, name, version string) (vnf *vnfModel, twins []*vnfModel) {
	cands := r.index[vendor+"\x00"+name]
	if len(cands) == 0 {
		return nil, nil
	}
	op, want := versionOp(version)
	pick := func(pkg string) (best *vnfModel, twins []*vnfModel) {
		for _, c := range cands {
			if c.doc.Package != pkg {
				continue
			}
			if op == "" && c.version != version || op != "" && !satisfies(c.version, op, want) {
				continue
			}
			if best == nil || op != "" && compareVersions(c.version, best.version) > 0 {
				best = c
			}
		}
		if best == nil {
			return nil, nil
		}
		same := 0
		for _, c := range cands {
			if c.doc.Package == pkg && c.version == best.version {
				same++
			}
		}
		if same > 1 { // rare: list them for the finding
			for _, c := range cands {
				if c.doc.Package == pkg && c.version == best.version {
					twins = append(twins, c)
				}
			}
		}
		return best, twins
	}
	if d.Package != "" {
		if best, twins := pick(d.Package); best != nil {
			return best, twins
		}
	}
	return pick("")
}

// resolveNSDLinks resolves every link reference: a bare cp names an NS
// connection point, vnf_id:cp a VNF-level connection point of the VNFD
// bound to vnf_id.
func (r *runner) resolveNSDLinks(d *schema.Document, n *nsdModel) {
	for _, l := range n.links {
		_, _, isEdge := l.eline()
		if l.kind == linkELine && !isEdge {
			n.incomplete = true
		}
		for _, ref := range l.refs {
			if ref.bad {
				continue
			}
			ok := r.resolveNSDRef(d, n, l, ref)
			if !ok && isEdge {
				n.incomplete = true
			}
		}
	}
}

// resolveNSDRef reports an unresolvable reference and whether the
// reference is known to resolve.
func (r *runner) resolveNSDRef(d *schema.Document, n *nsdModel, l *linkModel, ref refModel) bool {
	literal := n.ns.lookup(ref.ref)
	if literal != nil {
		literal.used = true
	}
	vnfID, cp, hasVNF := strings.Cut(ref.ref, ":")
	if !hasVNF {
		if literal == nil && n.ns.absent {
			return false // the missing section is the finding
		}
		if literal == nil {
			r.report(d, codeNSDUndeclaredCP, ref.ptr(), "virtual link %q references connection point %q, which the NSD does not declare (NS connection points: %s)",
				l.name(), ref.ref, idList(n.ns.ids(), 8))
			return false
		}
		return true
	}
	nf := n.nfs[vnfID]
	switch {
	case n.noNFs:
		return false // the missing section is the finding
	case nf == nil:
		r.report(d, codeNSDUndefinedCP, ref.ptr(), "virtual link %q references %q, but %q is not the vnf_id of a network function of this service (vnf_ids: %s)",
			l.name(), ref.ref, vnfID, idList(n.nfIDs, 8))
		return false
	case nf.unknown:
		return false // reported once, as evt_nsd_itg_function_unavailable
	case nf.vnf.cps.absent:
		return false // the VNFD's missing section is reported on the VNFD
	}
	c := nf.vnf.cps.lookup(cp)
	if c == nil {
		hint := ""
		for i := range nf.vnf.cps.cps {
			if x := &nf.vnf.cps.cps[i]; strings.HasSuffix(x.id, ":"+cp) {
				hint = "; its connection point " + strconv.Quote(x.id) + " carries a 2016-style prefix"
				break
			}
		}
		r.report(d, codeNSDUndeclaredCP, ref.ptr(), "virtual link %q references %q, but VNF %q (VNFD %s) declares no connection point %q (it declares: %s%s)",
			l.name(), ref.ref, vnfID, nf.vnf, cp, idList(nf.vnf.cps.ids(), 8), hint)
		return false
	}
	if l.kind == linkELine && c.typ == "management" {
		r.report(d, codeMgmtOnDataLink, ref.ptr(), "E-Line link %q attaches %q, a management connection point of VNF %q, to a data path; management links are usually E-LAN",
			l.name(), ref.ref, vnfID)
	}
	return true
}

// checkGraphBookkeeping checks the forwarding graphs' ids and constituent
// lists (§11); their paths are topology (checkTopology).
func (r *runner) checkGraphBookkeeping(d *schema.Document, root object, n *nsdModel) {
	fgs, _ := root.list("forwarding_graphs")
	var fgIDs []string // by index; duplicates are rare, lists short
	for i, it := range fgs {
		o, ok := asObject(it)
		if !ok {
			continue
		}
		item := func() string { return at("/forwarding_graphs", i) }
		if !o.has("fg_id") && (o.has("fg_group") || o.has("fg_name")) {
			r.report(d, codeExternalRef, item(), "forwarding graph %d refers to an external forwarding-graph descriptor (fg_group/fg_name/fg_version), which is not checked", i)
			continue
		}
		id, hasID := o.str("fg_id")
		if hasID {
			id = r.checkID(d, id, func() string { return item() + "/fg_id" }, "fg_id")
			if k := slices.Index(fgIDs, id); k >= 0 {
				r.report(d, codeDuplicateID, item()+"/fg_id", "fg_id %q is used twice (first at %s)", id, at("/forwarding_graphs", k))
			}
		}
		for len(fgIDs) < i {
			fgIDs = append(fgIDs, "\x00") // items that are not mappings
		}
		if hasID {
			fgIDs = append(fgIDs, id)
		} else {
			fgIDs = append(fgIDs, "\x00")
		}
		name := func() string {
			if hasID {
				return strconv.Quote(id)
			}
			return "#" + strconv.Itoa(i)
		}
		vnfs, _ := o.list("constituent_vnfs")
		for j, x := range vnfs {
			raw, ok := scalar(x)
			if !ok {
				continue
			}
			p := func() string { return at("/forwarding_graphs", i, "constituent_vnfs", j) }
			vnfID := r.checkID(d, raw, p, "constituent VNF")
			if !n.noNFs && n.nfs[vnfID] == nil {
				r.report(d, codeFGVNFUndefined, p(), "forwarding graph %s lists constituent VNF %q, which is not a vnf_id of this service (vnf_ids: %s)",
					name(), vnfID, idList(n.nfIDs, 8))
			}
		}
		cvl, hasCVL := o.list("constituent_virtual_links")
		for j, x := range cvl {
			raw, ok := scalar(x)
			if !ok {
				continue
			}
			p := func() string { return at("/forwarding_graphs", i, "constituent_virtual_links", j) }
			linkID := r.checkID(d, raw, p, "constituent virtual link")
			if n.linkIDs != nil && n.linkIDs[linkID] == nil {
				r.report(d, codeFGLinkUndefined, p(), "forwarding graph %s lists constituent virtual link %q, which is not a virtual link of this service",
					name(), linkID)
			}
		}
		if count, ok := o.integer("number_of_virtual_links"); ok && hasCVL && count != len(cvl) {
			r.report(d, codeFGLinkCount, item()+"/number_of_virtual_links", "forwarding graph %s declares number_of_virtual_links %d but lists %d constituent virtual links",
				name(), count, len(cvl))
		}
		paths, _ := o.list("network_forwarding_paths")
		var fpIDs []string
		for j, pv := range paths {
			po, ok := asObject(pv)
			if !ok {
				continue
			}
			raw, ok := po.str("fp_id")
			if !ok {
				continue
			}
			p := func() string { return at("/forwarding_graphs", i, "network_forwarding_paths", j, "fp_id") }
			fpID := r.checkID(d, raw, p, "fp_id")
			if k := slices.Index(fpIDs, fpID); k >= 0 {
				r.report(d, codeDuplicateID, p(), "fp_id %q is used twice in forwarding graph %s (first in path %d)", fpID, name(), k)
			}
			for len(fpIDs) < j {
				fpIDs = append(fpIDs, "\x00")
			}
			fpIDs = append(fpIDs, fpID)
		}
	}
}

// Specific-manager conventions of wire-protocol §7.4.
var (
	smIDPattern = regexp.MustCompile(`^son(ssm|fsm)[a-z0-9._-]*[a-z._-][0-9]+$`)
	smTypes     = map[string][]string{
		"SSM": {"task", "placement", "configure", "monitor"},
		"FSM": {"start", "stop", "configure", "scale", "task"},
	}
	smExamples = map[string]string{"SSM": "sonssmservice1placement1", "FSM": "sonfsmservice1firewallconfiguration1"}
)

// checkSMs checks the SSM or FSM entries under key (§11): unique ids of
// the computed form, and a known type option.
func (r *runner) checkSMs(d *schema.Document, root object, key, kind, prefix string) {
	list, _ := root.list(key)
	var ids []string
	for i, it := range list {
		o, ok := asObject(it)
		if !ok {
			continue
		}
		item := func() string { return at("/"+key, i) }
		id, hasID := o.str("id")
		if hasID {
			idPtr := func() string { return item() + "/id" }
			id = r.checkID(d, id, idPtr, kind, " id")
			if k := slices.Index(ids, id); k >= 0 {
				r.report(d, codeDuplicateID, idPtr(), "%s id %q is used twice (first at %s)", kind, id, at("/"+key, k))
			}
			if !strings.HasPrefix(id, prefix) || !smIDPattern.MatchString(id) {
				r.report(d, codeSMID, idPtr(), "%s id %q is not of the form %s<service>[<function>]<name><digits> (e.g. %s); the specific-manager registry matches registrations by this id",
					kind, id, prefix, smExamples[kind])
			}
		}
		for len(ids) < i {
			ids = append(ids, "\x00")
		}
		if hasID {
			ids = append(ids, id)
		} else {
			ids = append(ids, "\x00")
		}
		name := func() string {
			if hasID {
				return strconv.Quote(id)
			}
			return "#" + strconv.Itoa(i)
		}
		typ, hasType := "", false
		opts, _ := o.list("options")
		for _, ov := range opts {
			oo, ok := asObject(ov)
			if !ok {
				continue
			}
			if k, _ := oo.str("key"); k == "type" {
				typ, _ = oo.str("value")
				hasType = true
				break
			}
		}
		known := smTypes[kind]
		switch {
		case !hasType:
			r.report(d, codeSMType, item(), "%s %s has no option {key: type, value: …}; the MANO starts only specific managers with a type (%s)",
				kind, name(), strings.Join(known, ", "))
		case !slices.Contains(known, typ):
			r.report(d, codeSMType, item()+"/options", "%s %s has type %q; the MANO knows %s", kind, name(), typ, strings.Join(known, ", "))
		}
	}
}
