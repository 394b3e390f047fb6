package schema

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// maxAliasNodes bounds how many nodes a document may expand to through
// YAML aliases, against "billion laughs" documents. Real descriptors do
// not use aliases at all.
const maxAliasNodes = 1 << 20

// parseConfig says how one source is parsed.
type parseConfig struct {
	file    string
	pkg     string
	json    bool // JSON semantics: no YAML 1.1 re-tagging
	kind    Kind // forced kind, "" to detect
	walked  bool // found by walking a directory (unknown kinds are info)
	asIndex int  // first Index to assign
}

// parseSource parses one file's bytes into documents plus the findings
// made while reading it. It never panics: a panic in the YAML library on
// hostile input becomes a finding.
func parseSource(cfg parseConfig, src []byte) (docs []*Document, diags []Diagnostic) {
	defer func() {
		if r := recover(); r != nil {
			diags = append(diags, Diagnostic{File: cfg.file, Severity: SeverityError, Code: CodeInvalidDescriptor,
				Message: fmt.Sprintf("the YAML parser failed on this input: %v", r), Level: LevelSyntax})
		}
	}()
	src = bytes.TrimPrefix(src, []byte("\xef\xbb\xbf"))
	if bytes.IndexByte(src, 0) >= 0 || !utf8.Valid(src) {
		return nil, []Diagnostic{{File: cfg.file, Severity: SeverityError, Code: CodeBinary,
			Message: "binary file: not YAML or JSON text (NUL bytes or invalid UTF-8)", Level: LevelSyntax}}
	}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	index := cfg.asIndex
	found := false
	for {
		var root yaml.Node
		err := dec.Decode(&root)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			diags = append(diags, yamlErrorDiag(cfg.file, err))
			break
		}
		if isEmptyDocument(&root) {
			continue
		}
		found = true
		r := &resolver{json: cfg.json, file: cfg.file}
		r.resolve(&root)
		diags = append(diags, r.diags...)
		if r.tooBig {
			continue
		}
		if n, err := expandedSize(&root); err != nil {
			diags = append(diags, Diagnostic{File: cfg.file, Line: root.Line, Column: root.Column, Severity: SeverityError,
				Code: CodeAliasLimit, Message: err.Error(), Level: LevelSyntax})
			continue
		} else if n > maxAliasNodes {
			diags = append(diags, Diagnostic{File: cfg.file, Line: root.Line, Column: root.Column, Severity: SeverityError,
				Code: CodeAliasLimit, Message: fmt.Sprintf("YAML aliases expand this document to %d nodes (limit %d)", n, maxAliasNodes), Level: LevelSyntax})
			continue
		}
		for _, d := range splitRecords(&root) {
			d.File, d.Package, d.Index = cfg.file, cfg.pkg, index
			index++
			d.Value = toValue(d.Root)
			d.Kind = cfg.kind
			if d.Kind == KindUnknown {
				var tng string
				d.Kind, tng = DetectKind(d.Root)
				if tng != "" {
					diags = append(diags, d.Diag(LevelSyntax, SeverityError, CodeTNG, "",
						"5GTANGO descriptor (tng-schema, descriptor_schema %s), not son-schema v3.0; not validated", tng))
					continue
				}
			}
			if d.Kind == KindUnknown {
				sev, what := SeverityError, "use --kind to say what it is"
				if cfg.walked {
					sev, what = SeverityInfo, "skipped"
				}
				diags = append(diags, d.Diag(LevelSyntax, sev, CodeKindUnknown, "",
					"not a SONATA descriptor or record (no NSD, VNFD, PD, NSR or VNFR keys); %s", what))
				continue
			}
			docs = append(docs, d)
		}
	}
	if !found && len(diags) == 0 {
		diags = append(diags, Diagnostic{File: cfg.file, Severity: SeverityError, Code: CodeInvalidDescriptor,
			Message: "empty file: no YAML document", Level: LevelSyntax})
	}
	return docs, diags
}

var reYAMLLine = regexp.MustCompile(`line (\d+)`)

// yamlErrorDiag positions a yaml.v3 error, which carries a line in its
// text but no column.
func yamlErrorDiag(file string, err error) Diagnostic {
	d := Diagnostic{File: file, Severity: SeverityError, Code: CodeInvalidDescriptor,
		Message: "invalid YAML: " + trimYAMLPrefix(err.Error()), Level: LevelSyntax}
	if m := reYAMLLine.FindStringSubmatch(err.Error()); m != nil {
		if n, perr := strconv.Atoi(m[1]); perr == nil {
			d.Line, d.Column = n, 1
		}
	}
	return d
}

var reYAMLPrefix = regexp.MustCompile(`^yaml: (line \d+: )?`)

func trimYAMLPrefix(s string) string { return reYAMLPrefix.ReplaceAllString(s, "") }

// isEmptyDocument reports a document with no content or only null, which
// PyYAML's load_all yields as None and son-validate skipped.
func isEmptyDocument(n *yaml.Node) bool {
	if n.Kind == 0 {
		return true
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return true
		}
		c := n.Content[0]
		return c.Kind == yaml.ScalarNode && c.Tag == tagNull && isPlain(c) && (c.Value == "" || c.Value == "~" || c.Value == "null")
	}
	return false
}

// splitRecords returns the documents of one YAML document: itself,
// or, when it is a list of mappings (a file of records, as the MANO's
// test fixtures have), one Document per item.
func splitRecords(root *yaml.Node) []*Document {
	body := root
	if body.Kind == yaml.DocumentNode && len(body.Content) > 0 {
		body = body.Content[0]
	}
	if body.Kind == yaml.SequenceNode && len(body.Content) > 0 {
		all := true
		for _, it := range body.Content {
			if deref(it).Kind != yaml.MappingNode {
				all = false
				break
			}
		}
		if all {
			out := make([]*Document, len(body.Content))
			for i, it := range body.Content {
				out[i] = &Document{Root: deref(it), Base: "/" + strconv.Itoa(i)}
			}
			return out
		}
	}
	return []*Document{{Root: root}}
}

func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 64; i++ {
		n = n.Alias
	}
	return n
}

// resolver applies YAML 1.1 tags, merge keys and PyYAML's last-key-wins
// rule to a freshly parsed tree.
type resolver struct {
	json   bool
	file   string
	diags  []Diagnostic
	nodes  int
	tooBig bool
}

func (r *resolver) resolve(n *yaml.Node) {
	r.nodes++
	if r.nodes > maxAliasNodes {
		if !r.tooBig {
			r.tooBig = true
			r.diags = append(r.diags, Diagnostic{File: r.file, Line: n.Line, Column: n.Column, Severity: SeverityError,
				Code: CodeTooLarge, Message: fmt.Sprintf("more than %d YAML nodes in one document", maxAliasNodes), Level: LevelSyntax})
		}
		return
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if !r.json && isPlain(n) {
			n.Tag = resolve11Tag(n.Value)
		}
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			r.resolve(c)
		}
	case yaml.MappingNode:
		for _, c := range n.Content {
			r.resolve(c)
		}
		r.mergeKeys(n)
		r.dedupe(n)
	}
}

// mergeKeys expands "<<: *anchor" (and "<<: [*a, *b]") as PyYAML does:
// keys of the merged mappings that the mapping does not set itself.
func (r *resolver) mergeKeys(n *yaml.Node) {
	var own, merged []*yaml.Node
	hasMerge := false
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.Tag == tagMerge {
			hasMerge = true
			v = deref(v)
			switch v.Kind {
			case yaml.MappingNode:
				merged = append(merged, v.Content...)
			case yaml.SequenceNode:
				for _, it := range v.Content {
					if it = deref(it); it.Kind == yaml.MappingNode {
						merged = append(merged, it.Content...)
					}
				}
			}
			continue
		}
		own = append(own, k, v)
	}
	if !hasMerge {
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(own); i += 2 {
		seen[own[i].Value] = true
	}
	for i := 0; i+1 < len(merged); i += 2 {
		if !seen[merged[i].Value] {
			seen[merged[i].Value] = true
			own = append(own, merged[i], merged[i+1])
		}
	}
	n.Content = own
}

// dedupe keeps the last of repeated keys, like PyYAML, with a warning.
func (r *resolver) dedupe(n *yaml.Node) {
	if len(n.Content) < 4 {
		return
	}
	last := make(map[string]int, len(n.Content)/2)
	dup := false
	for i := 0; i+1 < len(n.Content); i += 2 {
		if _, ok := last[n.Content[i].Value]; ok {
			dup = true
		}
		last[n.Content[i].Value] = i
	}
	if !dup {
		return
	}
	out := n.Content[:0:0]
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if j := last[k.Value]; j != i {
			later := n.Content[j]
			r.diags = append(r.diags, Diagnostic{File: r.file, Line: k.Line, Column: k.Column, Severity: SeverityWarning,
				Code: CodeDuplicateKey, Level: LevelSyntax,
				Message: fmt.Sprintf("key %q is repeated at line %d; the later value wins (as in PyYAML)", k.Value, later.Line)})
			continue
		}
		out = append(out, k, n.Content[i+1])
	}
	n.Content = out
}

// expandedSize counts the nodes of a tree with aliases expanded, and
// fails on recursive aliases.
func expandedSize(root *yaml.Node) (int, error) {
	memo := map[*yaml.Node]int{}
	const inProgress = -1
	var size func(n *yaml.Node) (int, error)
	size = func(n *yaml.Node) (int, error) {
		if n.Kind == yaml.AliasNode {
			if n.Alias == nil {
				return 1, nil
			}
			return size(n.Alias)
		}
		if len(n.Content) == 0 {
			return 1, nil
		}
		if s, ok := memo[n]; ok {
			if s == inProgress {
				return 0, errors.New("recursive YAML alias")
			}
			return s, nil
		}
		memo[n] = inProgress
		total := 1
		for _, c := range n.Content {
			s, err := size(c)
			if err != nil {
				return 0, err
			}
			total += s
			if total > maxAliasNodes {
				break // enough to reject; stop before the arithmetic explodes
			}
		}
		memo[n] = total
		return total, nil
	}
	return size(root)
}

// toValue converts a resolved node tree into the generic Value tree.
// Timestamps stay strings there (the typed views want text); the syntax
// check reads the node tag and reports them.
func toValue(n *yaml.Node) any {
	n = deref(n)
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil
		}
		return toValue(n.Content[0])
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			m[n.Content[i].Value] = toValue(n.Content[i+1])
		}
		return m
	case yaml.SequenceNode:
		l := make([]any, len(n.Content))
		for i, c := range n.Content {
			l[i] = toValue(c)
		}
		return l
	case yaml.ScalarNode:
		return ScalarValue(n)
	}
	return nil
}

// ScalarValue is the Go value of a resolved scalar node: string, int,
// float64, bool or nil.
func ScalarValue(n *yaml.Node) any {
	switch n.Tag {
	case tagNull:
		return nil
	case tagBool:
		if isPlain(n) {
			return parseBool11(n.Value)
		}
		b, _ := strconv.ParseBool(n.Value)
		return b
	case tagInt:
		if v, ok := parseInt11(n.Value); ok {
			return v
		}
		if v, err := strconv.ParseInt(n.Value, 0, 64); err == nil {
			return int(v)
		}
	case tagFloat:
		if v, ok := parseFloat11(n.Value); ok {
			return v
		}
		if v, err := strconv.ParseFloat(n.Value, 64); err == nil {
			return v
		}
	}
	return n.Value
}
