// Package syntax checks SONATA documents against the CUE port of
// son-schema v3.0 (package cueschema) and reports positioned diagnostics.
//
// Two engines read the same CUE files:
//
//   - the fast path (the default) compiles the parsed CUE, once and
//     lazily, into a tree of schema nodes and walks each document's YAML
//     node tree against it: no CUE evaluation per document, positions
//     straight from the YAML, about two orders of magnitude faster;
//   - the CUE engine (--engine=cue) unifies each document with the CUE
//     definition and validates it with the CUE evaluator.
//
// A test proves they agree (verdict and error paths) on every corpus
// document and on systematic mutations of them.
//
// Each document gets two verdicts (spec/descriptors.md §7): the v3.0
// verdict, exactly what draft-04 validation against the unmodified 2017
// schema yields (codes schema.<class>), and manoctl's corrected rules
// for the schema's defects, reported beside it as warnings (codes
// schema.corrected.<class>), never instead of it. Records (NSR, VNFR)
// are platform output and advisory: their v3.0 findings are warnings
// unless Options.StrictRecords is set.
package syntax

import (
	"fmt"
	"sort"
	"strings"

	"github.com/manoctl/manoctl/schema"
	"github.com/manoctl/manoctl/schema/cueschema"
)

// Engine selects how documents are checked.
type Engine string

const (
	// EngineFast walks the YAML tree with the compiled schema.
	EngineFast Engine = "fast"
	// EngineCUE evaluates with CUE itself (the reference).
	EngineCUE Engine = "cue"
)

// ParseEngine reads an --engine value.
func ParseEngine(s string) (Engine, error) {
	switch Engine(s) {
	case EngineFast, "":
		return EngineFast, nil
	case EngineCUE:
		return EngineCUE, nil
	}
	return "", fmt.Errorf("unknown engine %q (want fast or cue)", s)
}

// Options tune Check.
type Options struct {
	Engine Engine
	// StrictRecords reports NSR and VNFR v3.0 findings as errors. By
	// default they are warnings: no record the 2017 platform wrote passes
	// the 2017 schema (spec/descriptors.md §6).
	StrictRecords bool
}

// Result is the syntax verdict on one document.
type Result struct {
	// Valid is the v3.0-strict verdict (what son-validate said).
	Valid bool
	// Diagnostics are the v3.0 findings and the corrected-rule findings,
	// in document order.
	Diagnostics []schema.Diagnostic
}

// Codes of the syntax level. Per-error codes are schema.<class>; the
// corrected rules use schema.corrected.<class>. The per-document
// summaries keep son-validate's ids (SummaryCode).
const (
	CodePrefix          = "schema."
	CorrectedCodePrefix = "schema.corrected."
)

// SummaryCode is son-validate's per-document syntax event for kind
// (evt_nsd_stx_invalid, evt_vnfd_stx_invalid, evt_pd_stx_invalid), or a
// manoctl id for the records son-validate never checked.
func SummaryCode(k schema.Kind) string {
	switch k {
	case schema.KindNSD, schema.KindVNFD, schema.KindPD:
		return "evt_" + string(k) + "_stx_invalid"
	}
	return "schema." + string(k) + "_invalid"
}

func isRecord(k schema.Kind) bool { return k == schema.KindNSR || k == schema.KindVNFR }

// Check validates doc at syntax level.
func Check(doc *schema.Document, opts Options) (Result, error) {
	kind := cueschema.Kind(doc.Kind)
	if _, ok := cueschema.Definition(kind); !ok {
		return Result{}, fmt.Errorf("syntax: %s: no schema for kind %q", doc.File, doc.Kind)
	}
	var strict, corrected []finding
	var err error
	switch opts.Engine {
	case EngineCUE:
		strict, corrected, err = evaluateCUE(doc, kind)
	default:
		strict, corrected, err = walkFast(doc, kind)
	}
	if err != nil {
		return Result{}, err
	}
	res := Result{Valid: len(strict) == 0}
	sev := schema.SeverityError
	if isRecord(doc.Kind) && !opts.StrictRecords {
		sev = schema.SeverityWarning
	}
	seen := make(map[string]bool, len(strict))
	for _, f := range strict {
		seen[f.pointer()] = true
		res.Diagnostics = append(res.Diagnostics, toDiag(doc, f, sev, CodePrefix+f.class, f.msg))
	}
	for _, f := range corrected {
		// Where v3.0 already complains about the value or a value that
		// holds it, the corrected rule has nothing to add.
		if coveredBy(f.path, seen) {
			continue
		}
		msg := f.msg
		if f.defect != 0 {
			msg += fmt.Sprintf(" [manoctl's corrected rule for son-schema v3.0 defect #%d]", f.defect)
		}
		res.Diagnostics = append(res.Diagnostics, toDiag(doc, f, schema.SeverityWarning, CorrectedCodePrefix+f.class, msg))
	}
	sort.SliceStable(res.Diagnostics, func(i, j int) bool {
		a, b := res.Diagnostics[i], res.Diagnostics[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	return res, nil
}

// coveredBy reports whether path or one of its ancestors is in pointers.
func coveredBy(path []string, pointers map[string]bool) bool {
	for i := len(path); i >= 0; i-- {
		if pointers[pointerOf(path[:i])] {
			return true
		}
	}
	return false
}

func toDiag(doc *schema.Document, f finding, sev schema.Severity, code, msg string) schema.Diagnostic {
	d := schema.Diagnostic{File: doc.File, Severity: sev, Code: code, Message: msg,
		Pointer: doc.Base + f.pointer(), Level: schema.LevelSyntax}
	if f.node != nil {
		d.Line, d.Column = f.node.Line, f.node.Column
	} else if n := doc.Lookup(f.pointer()); n != nil {
		d.Line, d.Column = n.Line, n.Column
	}
	return d
}

// kindLabel is the kind as messages write it.
func kindLabel(k cueschema.Kind) string { return strings.ToUpper(string(k)) }

func walkFast(doc *schema.Document, kind cueschema.Kind) (strict, corrected []finding, err error) {
	p, err := Compiled()
	if err != nil {
		return nil, nil, err
	}
	root := doc.Lookup("")
	if root == nil {
		return nil, nil, fmt.Errorf("syntax: %s: empty document", doc.File)
	}
	w := &walker{kind: kindLabel(kind)}
	w.check(root, p.strict[kind])
	strict = w.findings
	if c := p.corrections[kind]; c != nil {
		cw := &walker{kind: kindLabel(kind)}
		cw.check(root, c)
		corrected = cw.findings
	}
	return strict, corrected, nil
}
