// Package schema loads SONATA descriptors and records (YAML, JSON, .son
// packages), validates them at three levels (syntax against the CUE port of
// son-schema v3.0, integrity, topology) and reports positioned diagnostics.
// No cue.Value leaves this package: callers get Go types and Diagnostics.
package schema

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Kind is what a document is, detected from its content.
type Kind string

const (
	KindNSD     Kind = "nsd"
	KindVNFD    Kind = "vnfd"
	KindPD      Kind = "pd"
	KindNSR     Kind = "nsr"
	KindVNFR    Kind = "vnfr"
	KindUnknown Kind = ""
)

// Kinds lists the kinds manoctl validates, in display order.
var Kinds = []Kind{KindNSD, KindVNFD, KindPD, KindNSR, KindVNFR}

// Level is a validation level; each includes the ones before it.
type Level int

const (
	LevelSyntax Level = iota + 1
	LevelIntegrity
	LevelTopology
)

func (l Level) String() string {
	switch l {
	case LevelSyntax:
		return "syntax"
	case LevelIntegrity:
		return "integrity"
	case LevelTopology:
		return "topology"
	}
	return "level(" + strconv.Itoa(int(l)) + ")"
}

// ParseLevel reads a --level value.
func ParseLevel(s string) (Level, error) {
	switch s {
	case "syntax":
		return LevelSyntax, nil
	case "integrity":
		return LevelIntegrity, nil
	case "topology", "all", "":
		return LevelTopology, nil
	}
	return 0, fmt.Errorf("unknown level %q (want syntax, integrity or topology)", s)
}

// Severity of a diagnostic. Warnings fail validation only with --strict.
type Severity int

const (
	SeverityError Severity = iota
	SeverityWarning
	SeverityInfo
)

func (s Severity) String() string {
	switch s {
	case SeverityError:
		return "error"
	case SeverityWarning:
		return "warning"
	case SeverityInfo:
		return "info"
	}
	return "severity(" + strconv.Itoa(int(s)) + ")"
}

// Diagnostic is one finding, positioned in its file.
type Diagnostic struct {
	// File is the path as given (for a .son member: "pkg.son:member/path").
	File string
	// Line and Column are 1-based; 0 when the finding has no position
	// (an unreadable file, say).
	Line, Column int
	Severity     Severity
	// Code is stable: son-validate's evt_* ids for the checks it had,
	// manoctl's own prefixed ids for the rest.
	Code    string
	Message string
	// Pointer is the RFC 6901 JSON pointer of the offending value in the
	// document ("" for the whole document).
	Pointer string
	// Level is the validation level that produced the finding.
	Level Level
}

// String formats the diagnostic as file:line:col: severity CODE: message
// (at /pointer), the format of manoctl validate's text output.
func (d Diagnostic) String() string {
	var b strings.Builder
	b.WriteString(d.File)
	if d.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", d.Line, d.Column)
	}
	fmt.Fprintf(&b, ": %s %s: %s", d.Severity, d.Code, d.Message)
	if d.Pointer != "" {
		fmt.Fprintf(&b, " (at %s)", d.Pointer)
	}
	return b.String()
}

// Document is one parsed YAML or JSON document.
type Document struct {
	// File is the path diagnostics name.
	File string
	// Index is the document's position in a multi-document file (0-based).
	// A file whose YAML document is a list of records yields one Document
	// per record, numbered on.
	Index int
	// Base is the JSON pointer of this document inside its YAML document:
	// "" normally, "/2" for the third record of a file holding a list of
	// records. Root is the node at Base; Lookup and Diag take pointers
	// relative to Root, and Diag reports them prefixed with Base.
	Base string
	// Package is the .son package (or unpacked package directory) the
	// document came from, "" for loose files. References resolve inside
	// the package first.
	Package string
	// Kind is detected from content (or forced with --kind).
	Kind Kind
	// Root is the YAML node tree, with YAML 1.1 scalar resolution applied
	// (descriptors.md §1.1) and positions for diagnostics.
	Root *yaml.Node
	// Value is the same document as a generic tree (map[string]any, []any,
	// string, int, float64, bool, nil).
	Value any
}

// Lookup returns the node at a JSON pointer, or the deepest existing node
// on the way to it (so that a diagnostic about a missing key points at the
// mapping that lacks it).
func (d *Document) Lookup(pointer string) *yaml.Node {
	n := d.Root
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n == nil || pointer == "" || pointer == "/" {
		return n
	}
	for _, tok := range strings.Split(strings.TrimPrefix(pointer, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		next := child(n, tok)
		if next == nil {
			return n
		}
		n = next
	}
	return n
}

func child(n *yaml.Node, tok string) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == tok {
				return n.Content[i+1]
			}
		}
	case yaml.SequenceNode:
		i, err := strconv.Atoi(tok)
		if err == nil && i >= 0 && i < len(n.Content) {
			return n.Content[i]
		}
	}
	return nil
}

// KeyNode returns the key node of the last token of pointer, when the
// pointer names a mapping member; diagnostics about unexpected keys point
// at the key rather than its value.
func (d *Document) KeyNode(pointer string) *yaml.Node {
	i := strings.LastIndexByte(pointer, '/')
	if i < 0 {
		return nil
	}
	parent := d.Lookup(pointer[:i])
	if parent == nil || parent.Kind != yaml.MappingNode {
		return nil
	}
	tok := strings.ReplaceAll(strings.ReplaceAll(pointer[i+1:], "~1", "/"), "~0", "~")
	for j := 0; j+1 < len(parent.Content); j += 2 {
		if parent.Content[j].Value == tok {
			return parent.Content[j]
		}
	}
	return nil
}

// Diag builds a diagnostic positioned at pointer in d.
func (d *Document) Diag(level Level, sev Severity, code, pointer, format string, args ...any) Diagnostic {
	diag := Diagnostic{File: d.File, Severity: sev, Code: code, Message: fmt.Sprintf(format, args...), Pointer: d.Base + pointer, Level: level}
	if n := d.Lookup(pointer); n != nil {
		diag.Line, diag.Column = n.Line, n.Column
	}
	return diag
}

// Pointer joins JSON-pointer tokens, escaping them.
func Pointer(tokens ...any) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		s := fmt.Sprint(t)
		s = strings.ReplaceAll(s, "~", "~0")
		s = strings.ReplaceAll(s, "/", "~1")
		b.WriteString(s)
	}
	return b.String()
}
