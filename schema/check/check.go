// Package check runs the integrity and topology levels of descriptor
// validation: references between and inside descriptors, duplicates,
// reserved characters, and the service graph (son-validate's checks with
// their event ids, plus manoctl's own, spec/descriptors.md §9 and §11).
//
// # What the levels check
//
// Integrity resolves every NSD network function to a VNFD among the given
// documents, then checks the connection points, virtual links and VDUs of
// every NSD and VNFD: duplicate and malformed ids, references that name
// nothing, connection points nobody uses, and the §11 additions
// (whitespace in ids, monitoring rules, forwarding-graph bookkeeping,
// specific managers, scaling bounds, implausible sizes, E-Tree links).
// Topology builds son-validate's service graph (§9.7) and checks that it
// is connected and that every forwarding path walks along it pair by pair,
// from one function to the next, then looks for cycles.
//
// Checks returns the catalogue: stable codes with default severities.
// son-validate's event ids (evt_*) keep their meaning and default levels
// (§9.8); manoctl's own checks have dotted codes, integrity.<problem>,
// like the loader's (schema/codes.go). Options.Levels
// overrides severities like son-validate's eventcfg.yml, SeverityNone
// switching a check off.
//
// # Resolution
//
// A network function names its VNFD by vnf_vendor, vnf_name and
// vnf_version. An NSD of a package (Document.Package) looks in that
// package first, then among the loose documents; a loose NSD looks among
// the loose documents only; other packages are never searched. A plain
// vnf_version matches exactly, as in son-validate; with an operator (==,
// >=, <=, !=) the highest satisfying version wins (§11). When several
// documents provide the chosen VNFD, the first in input order is used and
// integrity.vnfd_ambiguous says so.
//
// # How it differs from son-validate
//
// son-validate stopped at the first error of a descriptor, and crashed on
// several schema-valid gaps (a VDU without connection_points or vm_image, a
// forwarding-path entry without position). Run reports every finding, and
// turns those gaps into ordinary findings. To keep one finding per
// problem it avoids cascades:
//
//   - A VNFD that is not among the inputs is reported once, as
//     evt_nsd_itg_function_unavailable, naming every vnf_id that uses it;
//     references into that function are then taken on trust.
//   - Likewise a missing section (network_functions, connection_points,
//     virtual_deployment_units, virtual_links, a VDU's connection_points) is
//     reported once, and references into it or connection points left
//     unused by it are not reported again.
//   - Shapes the schema rejects (a missing required key, a number where a
//     list belongs) are the syntax level's findings. These levels skip what
//     they cannot read and do not report it again, except where
//     son-validate had its own event for it (an empty virtual-link id).
//     Scalars of the wrong type are read as text (an unquoted version: 1.0
//     reads "1.0", as PyYAML printed it).
//   - An id or reference with leading or trailing whitespace is reported
//     once (integrity.id_whitespace, naming the invisible characters) and then
//     resolved by its trimmed form.
//   - A 2016-era VDU connection point id carrying its unit prefix
//     (vdu01:eth0) is reported (evt_invalid_cpoint); references that name
//     it by that full id resolve to it.
//   - Graph-wide topology findings (disconnected graph, non-adjacent path
//     pairs) are skipped while the graph is known to be incomplete: a
//     missing VNFD, an unresolved or malformed E-Line, a function that is
//     itself invalid. A forwarding path with a break or an undefined
//     connection point is not analysed further.
//   - Unused connection points of a VDU are one finding per VDU.
//
// A referenced VNFD that has errors of its own (or failed an earlier level,
// Options.Failed) also makes the NSD fail with evt_nsd_itg_function_invalid,
// once per VNFD, at the first network_functions entry that uses it. That
// repeats a problem reported on the VNFD, but it is what makes the verdict
// of an NSD include its functions, as in son-validate, and it tells the
// author of a service which function it depends on is broken. Switch it
// off with Options.Levels when validating a VNFD library with its
// services.
//
// Not implemented: evt_vnfd_itg_vdu_image_not_found (an HTTP HEAD per
// vm_image URL during validation), evt_nsd_top_topgraph_failed and
// evt_vnfd_top_topgraph_failed (building the graphs here cannot fail),
// the records checks of §11, and PD package checks (the loader's).
package check

import (
	"fmt"
	"strings"

	"github.com/manoctl/manoctl/schema"
)

// SeverityNone switches a check off: in Options.Levels it suppresses the
// check's findings, and as a default severity (Check.Severity) it means the
// check is off unless a level is given, like "none" in son-validate's
// eventcfg.yml.
const SeverityNone schema.Severity = -1

// ParseSeverity reads an eventcfg-style level: error, warning, info or none.
func ParseSeverity(s string) (schema.Severity, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "error":
		return schema.SeverityError, nil
	case "warning", "warn":
		return schema.SeverityWarning, nil
	case "info":
		return schema.SeverityInfo, nil
	case "none", "off":
		return SeverityNone, nil
	}
	return 0, fmt.Errorf("unknown severity %q (want error, warning, info or none)", s)
}

// Options tunes the checks.
type Options struct {
	// Levels overrides the default severity of a check by code, like
	// son-validate's eventcfg.yml. SeverityNone switches the check off.
	// Codes that are not in the catalogue are ignored.
	Levels map[string]schema.Severity
	// Failed marks documents that already failed an earlier level (syntax).
	// An NSD that uses such a VNFD fails with evt_nsd_itg_function_invalid,
	// as son-validate's did when a function failed its schema. Nil means
	// no document failed.
	Failed map[*schema.Document]bool
}

// Run checks docs at integrity level, and at topology level too when
// level is schema.LevelTopology. Documents are checked together: NSD
// network functions resolve to the VNFDs among docs (inside the same
// package first). Only NSDs and VNFDs are checked; other kinds are ignored.
// The result is deterministic: documents in input order, and each
// document's findings in the order of its checks.
func Run(docs []*schema.Document, level schema.Level, opts Options) []schema.Diagnostic {
	if level < schema.LevelIntegrity {
		return nil
	}
	r := &runner{docs: docs, level: level, opts: opts}
	return r.run()
}

// runner holds the state of one Run.
type runner struct {
	docs  []*schema.Document
	level schema.Level
	opts  Options

	vnfs  []*vnfModel            // every VNFD, in input order
	index map[string][]*vnfModel // vendor + "\x00" + name -> VNFDs

	// out collects findings per document, so that the result is in input
	// order although VNFDs are checked before the NSDs that use them.
	out [][]schema.Diagnostic
	cur int // index in docs of the document being checked
	// errs counts error-severity findings of the current document.
	errs int
}

func (r *runner) run() []schema.Diagnostic {
	r.out = make([][]schema.Diagnostic, len(r.docs))
	r.index = make(map[string][]*vnfModel)
	for i, d := range r.docs {
		if d == nil || d.Kind != schema.KindVNFD {
			continue
		}
		r.begin(i)
		v := r.checkVNFD(d)
		v.errors = r.errs
		r.vnfs = append(r.vnfs, v)
		if v.complete {
			key := v.vendor + "\x00" + v.name
			r.index[key] = append(r.index[key], v)
		}
	}
	for i, d := range r.docs {
		if d == nil || d.Kind != schema.KindNSD {
			continue
		}
		r.begin(i)
		r.checkNSD(d)
	}
	n := 0
	for _, ds := range r.out {
		n += len(ds)
	}
	if n == 0 {
		return nil
	}
	all := make([]schema.Diagnostic, 0, n)
	for _, ds := range r.out {
		all = append(all, ds...)
	}
	return all
}

func (r *runner) begin(i int) {
	r.cur = i
	r.errs = 0
}

// severity returns the effective severity of code.
func (r *runner) severity(c *Check) schema.Severity {
	if s, ok := r.opts.Levels[c.Code]; ok {
		return s
	}
	return c.Severity
}

// enabled reports whether code would produce a finding; callers use it to
// skip work that only serves a finding (building a message, a search).
func (r *runner) enabled(code string) bool {
	c := catalogueByCode[code]
	return c != nil && r.severity(c) >= 0 && (c.Level <= r.level)
}

// report records a finding of check code at pointer in d.
func (r *runner) report(d *schema.Document, code, pointer, format string, args ...any) {
	c := catalogueByCode[code]
	if c == nil {
		// A code missing from the catalogue is a programming error; keep
		// the finding rather than lose it.
		c = &Check{Code: code, Level: schema.LevelIntegrity, Severity: schema.SeverityError}
	}
	if c.Level > r.level {
		return
	}
	sev := r.severity(c)
	if sev < 0 {
		return
	}
	r.out[r.cur] = append(r.out[r.cur], d.Diag(c.Level, sev, code, pointer, format, args...))
	if sev == schema.SeverityError {
		r.errs++
	}
}
