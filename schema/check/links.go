package check

import (
	"strconv"
	"strings"

	"github.com/manoctl/manoctl/schema"
)

// cpModel is a declared connection point.
type cpModel struct {
	id    string // trimmed of invisible characters
	typ   string // connection point type (management, external, internal)
	vdu   int    // index of its VDU, or -1 for an NS or VNF connection point
	idx   int    // index in its connection_points list
	used  bool   // referenced by a link of its own descriptor
	wired bool   // VNF cp: some link joins it to a VDU cp
}

// ptr is the pointer of the connection point's list item. Pointers are
// built only for findings.
func (c *cpModel) ptr() string {
	if c.vdu < 0 {
		return at("/connection_points", c.idx)
	}
	return at("/virtual_deployment_units", c.vdu, "connection_points", c.idx)
}

// cpScope holds the connection points of one scope (NS, VNF, one VDU),
// in one allocation. Small scopes, the usual case, are searched linearly;
// a map is built only for large ones.
type cpScope struct {
	cps  []cpModel
	byID map[string]int
	// absent: the descriptor has no readable connection_points section.
	// That is reported once; references into the scope are then taken on
	// trust rather than reported one by one.
	absent bool
}

const scopeMapMin = 16

func (s *cpScope) lookup(id string) *cpModel {
	if s == nil {
		return nil
	}
	if s.byID != nil {
		if i, ok := s.byID[id]; ok {
			return &s.cps[i]
		}
		return nil
	}
	for i := range s.cps {
		if s.cps[i].id == id {
			return &s.cps[i]
		}
	}
	return nil
}

func (s *cpScope) add(c cpModel) {
	s.cps = append(s.cps, c)
	switch {
	case s.byID != nil:
		s.byID[c.id] = len(s.cps) - 1
	case len(s.cps) >= scopeMapMin:
		s.byID = make(map[string]int, 2*len(s.cps))
		for i := range s.cps {
			s.byID[s.cps[i].id] = i
		}
	}
}

func (s *cpScope) ids() []string {
	out := make([]string, 0, len(s.cps))
	for i := range s.cps {
		out = append(out, s.cps[i].id)
	}
	return out
}

// collectCPs reads the connection_points list of the root (owner "NS" or
// "VNF", vdu nil) or of a VDU, and reports empty ids, ids with ':',
// whitespace and duplicates. Ids with ':' are kept, because 2016-era
// descriptors reference them by their full id (vdu01:eth0); the id itself
// is the finding.
func (r *runner) collectCPs(d *schema.Document, list []any, owner string, vdu *vduModel) *cpScope {
	s := &cpScope{cps: make([]cpModel, 0, len(list))}
	vduIdx := -1
	if vdu != nil {
		vduIdx = vdu.idx
	}
	scopeName := func() string {
		if vdu != nil {
			return "VDU " + vdu.label()
		}
		return owner
	}
	for i, it := range list {
		o, ok := asObject(it)
		if !ok {
			continue // the syntax level reports the shape
		}
		raw, ok := o.str("id")
		if !ok {
			continue
		}
		c := cpModel{vdu: vduIdx, idx: i}
		idPtr := func() string { return c.ptr() + "/id" }
		c.id = r.checkID(d, raw, idPtr, scopeName, " connection point id")
		switch {
		case c.id == "":
			r.report(d, codeInvalidCP, idPtr(), "%s connection point id is empty; connection points are referenced by id", scopeName())
			continue
		case strings.IndexByte(c.id, ':') >= 0:
			r.report(d, codeInvalidCP, idPtr(), "%s connection point id %q contains ':', which is reserved to separate a unit or function id from a connection point id in references; use %q",
				scopeName(), c.id, c.id[strings.LastIndexByte(c.id, ':')+1:])
		}
		if prev := s.lookup(c.id); prev != nil {
			r.report(d, codeDuplicateCP, idPtr(), "%s connection point %q is declared twice (first at %s)", scopeName(), c.id, prev.ptr())
			continue
		}
		c.typ, _ = o.str("type")
		s.add(c)
	}
	return s
}

// checkID reports whitespace in an id or reference and returns it trimmed,
// so that later checks resolve what the author evidently meant without
// reporting the same blank again. pointer is called only for a finding.
func (r *runner) checkID(d *schema.Document, id string, pointer func() string, whatParts ...any) string {
	if !hasInvisible(id) {
		return id
	}
	var b strings.Builder
	for _, p := range whatParts {
		switch p := p.(type) {
		case string:
			b.WriteString(p)
		case func() string:
			b.WriteString(p())
		}
	}
	what := b.String()
	t := trimInvisible(id)
	if t == "" {
		r.report(d, codeIDWhitespace, pointer(), "%s %q consists of invisible characters only: %s", what, id, describeInvisible(id))
		return t
	}
	r.report(d, codeIDWhitespace, pointer(), "%s %q contains %s; ids are compared exactly, so write %q",
		what, id, describeInvisible(id), strings.Map(func(r rune) rune {
			if isInvisible(r) {
				return -1
			}
			return r
		}, id))
	return t
}

type linkKind uint8

const (
	linkOther linkKind = iota // unknown or missing connectivity_type
	linkELine
	linkELAN
	linkETree
)

// linkKindOf reads connectivity_type case-insensitively, as son-validate
// did (the schema enum is case-sensitive and reports the spelling).
func linkKindOf(s string) linkKind {
	switch {
	case strings.EqualFold(s, "E-Line"):
		return linkELine
	case strings.EqualFold(s, "E-LAN"):
		return linkELAN
	case strings.EqualFold(s, "E-Tree"):
		return linkETree
	}
	return linkOther
}

// refModel is one connection_points_reference of a link.
type refModel struct {
	ref  string // trimmed
	link int    // index of the link in virtual_links
	idx  int    // index in connection_points_reference
	bad  bool   // malformed (more than one ':') or repeated: not resolved
}

func (m refModel) ptr() string {
	return at("/virtual_links", m.link, "connection_points_reference", m.idx)
}

// linkModel is a full-form virtual link.
type linkModel struct {
	id   string
	idx  int
	kind linkKind
	refs []refModel
}

func (l *linkModel) ptr() string { return at("/virtual_links", l.idx) }

// name is the link's id, or its position when it has none.
func (l *linkModel) name() string {
	if l.id != "" {
		return l.id
	}
	return "#" + strconv.Itoa(l.idx)
}

// collectLinks reads a virtual_links list and reports what can be judged
// without resolving references: empty and duplicate ids, the arity of
// E-Line, E-LAN and E-Tree links, duplicate and malformed references.
// externalOK allows the NSD's reference form {vl_group, vl_name,
// vl_version}.
func (r *runner) collectLinks(d *schema.Document, list []any, externalOK bool) (links []*linkModel, ids map[string]*linkModel) {
	// One allocation for the links and one for all their references.
	nrefs := 0
	for _, it := range list {
		if o, ok := asObject(it); ok {
			refs, _ := o.list("connection_points_reference")
			nrefs += len(refs)
		}
	}
	store := make([]linkModel, 0, len(list))
	refStore := make([]refModel, 0, nrefs)
	links = make([]*linkModel, 0, len(list))
	ids = make(map[string]*linkModel, len(list))
	for i, it := range list {
		o, ok := asObject(it)
		if !ok {
			continue
		}
		store = append(store, linkModel{idx: i})
		l := &store[len(store)-1]
		if externalOK && !o.has("id") && (o.has("vl_group") || o.has("vl_name")) {
			r.report(d, codeExternalRef, l.ptr(), "virtual link %d refers to an external link descriptor (vl_group/vl_name/vl_version), which is not checked", i)
			continue
		}
		if raw, ok := o.str("id"); ok {
			idPtr := func() string { return l.ptr() + "/id" }
			l.id = r.checkID(d, raw, idPtr, "virtual link id")
			switch {
			case l.id == "":
				r.report(d, codeInvalidLink, idPtr(), "virtual link %d has an empty id; links need an id", i)
			case ids[l.id] != nil:
				r.report(d, codeDuplicateLink, idPtr(), "virtual link id %q is used twice (first at %s)", l.id, ids[l.id].ptr())
			default:
				ids[l.id] = l
			}
		}
		ct, hasType := o.str("connectivity_type")
		l.kind = linkKindOf(ct)
		refs, hasRefs := o.list("connection_points_reference")
		l.refs = refStore[len(refStore) : len(refStore) : len(refStore)+len(refs)]
		var seen map[string]bool // for long lists only; short ones are scanned
		if len(refs) > scopeMapMin {
			seen = make(map[string]bool, len(refs))
		}
		for j, rv := range refs {
			raw, ok := scalar(rv)
			if !ok {
				continue
			}
			m := refModel{link: i, idx: j}
			m.ref = r.checkID(d, raw, m.ptr, "connection point reference")
			if colons(m.ref) > 1 {
				r.report(d, codeInvalidCPRef, m.ptr(), "reference %q of virtual link %q has more than one ':'; a reference is cp, or unit_id:cp", m.ref, l.name())
				m.bad = true
			}
			if l.hasRef(m.ref, seen) {
				r.report(d, codeLinkDuplicateRef, m.ptr(), "virtual link %q lists connection point %q twice", l.name(), m.ref)
				m.bad = true
			}
			if seen != nil {
				seen[m.ref] = true
			}
			l.refs = append(l.refs, m)
		}
		if hasType && hasRefs {
			n := len(refs)
			p := func() string { return l.ptr() + "/connection_points_reference" }
			switch l.kind {
			case linkELine:
				if n != 2 {
					r.report(d, codeInvalidLink, p(), "E-Line link %q has %d connection point references; an E-Line joins exactly 2", l.name(), n)
				}
			case linkELAN:
				if n < 1 {
					r.report(d, codeInvalidLink, p(), "E-LAN link %q has no connection point references; it needs at least 1", l.name())
				}
			case linkETree:
				if n < 2 {
					r.report(d, codeETreeInvalid, p(), "E-Tree link %q has %d connection point references; it needs a root and at least one leaf", l.name(), n)
				}
			}
		}
		refStore = refStore[:len(refStore)+len(l.refs)]
		links = append(links, l)
	}
	return links, ids
}

// eline returns the two endpoints of an E-Line with exactly two usable
// references: the links son-validate loads into its graphs.
func (l *linkModel) eline() (a, b string, ok bool) {
	if l.kind != linkELine || len(l.refs) != 2 || l.refs[0].bad || l.refs[1].bad {
		return "", "", false
	}
	return l.refs[0].ref, l.refs[1].ref, true
}

func (l *linkModel) hasRef(ref string, seen map[string]bool) bool {
	if seen != nil {
		return seen[ref]
	}
	for _, prev := range l.refs {
		if prev.ref == ref {
			return true
		}
	}
	return false
}
