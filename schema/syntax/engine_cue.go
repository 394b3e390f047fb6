package syntax

import (
	"strconv"
	"strings"
	"sync"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/token"
	"gopkg.in/yaml.v3"

	"github.com/manoctl/manoctl/schema"
	"github.com/manoctl/manoctl/schema/cueschema"
)

var (
	evalOnce  sync.Once
	evaluator *cueschema.Evaluator
	evalErr   error
)

func cueEvaluator() (*cueschema.Evaluator, error) {
	evalOnce.Do(func() { evaluator, evalErr = cueschema.NewEvaluator() })
	return evaluator, evalErr
}

// evaluateCUE is the reference engine: the document, as YAML 1.1
// resolved it, unified with the CUE definition.
func evaluateCUE(doc *schema.Document, kind cueschema.Kind) (strict, corrected []finding, err error) {
	ev, err := cueEvaluator()
	if err != nil {
		return nil, nil, err
	}
	data := toCUE(doc.Lookup(""), 0)
	def, _ := cueschema.Definition(kind)
	errs, err := ev.Validate(def, data)
	if err != nil {
		return nil, nil, err
	}
	strict = fromCUE(doc, errs)
	if corr, ok := cueschema.CorrectionsDefinition(kind); ok {
		errs, err := ev.Validate(corr, data)
		if err != nil {
			return nil, nil, err
		}
		corrected = fromCUE(doc, errs)
	}
	return strict, corrected, nil
}

// toCUE builds the CUE expression of a resolved YAML tree. It is built
// from the node tree rather than with encoding/yaml, which reads YAML
// 1.2 and would give yes/no/on/off other types than PyYAML did. A YAML
// timestamp becomes a bytes literal: a scalar that is neither string nor
// number, as the datetime PyYAML builds is neither.
func toCUE(v *yaml.Node, depth int) ast.Expr {
	v = deref(v)
	if depth > 512 {
		return ast.NewNull()
	}
	switch v.Kind {
	case yaml.MappingNode:
		s := &ast.StructLit{}
		for i := 0; i+1 < len(v.Content); i += 2 {
			s.Elts = append(s.Elts, &ast.Field{Label: ast.NewString(v.Content[i].Value), Value: toCUE(v.Content[i+1], depth+1)})
		}
		return s
	case yaml.SequenceNode:
		l := &ast.ListLit{}
		for _, c := range v.Content {
			l.Elts = append(l.Elts, toCUE(c, depth+1))
		}
		return l
	case yaml.ScalarNode:
		if typeOf(v) == tTimestamp {
			return ast.NewLit(token.STRING, "'"+strings.ReplaceAll(v.Value, "'", "")+"'")
		}
		switch x := schema.ScalarValue(v).(type) {
		case string:
			return ast.NewString(x)
		case int:
			return ast.NewLit(token.INT, strconv.Itoa(x))
		case float64:
			s := strconv.FormatFloat(x, 'g', -1, 64)
			if !strings.ContainsAny(s, ".eEn") { // keep it a float: 1.0 is not an int
				s += ".0"
			}
			if strings.ContainsAny(s, "In") { // Inf, NaN: no CUE literal
				return ast.NewLit(token.STRING, "'"+s+"'")
			}
			return ast.NewLit(token.FLOAT, s)
		case bool:
			return ast.NewBool(x)
		case nil:
			return ast.NewNull()
		}
	}
	return ast.NewNull()
}

// fromCUE turns CUE errors into findings. The branch errors CUE lists
// after a failed disjunction or matchN are noise for users: only the
// outermost failed choice is kept, positioned at the data; when all its
// branches failed as plain value conflicts it is an enum failure.
func fromCUE(doc *schema.Document, errs []cueschema.Error) []finding {
	var choices []string
	for _, e := range errs {
		if e.Choice {
			choices = append(choices, pointerOf(e.Path))
		}
	}
	// outermost returns the outermost failed choice at or above p.
	outermost := func(p string) (string, bool) {
		best, found := "", false
		for _, c := range choices {
			if (p == c || strings.HasPrefix(p, c+"/")) && (!found || len(c) < len(best)) {
				best, found = c, true
			}
		}
		return best, found
	}
	// CUE reports a disallowed field holding a list at each element
	// ("x.0: field not allowed"); the field is the finding.
	for i, e := range errs {
		if classify(e.Message) != ClassAdditional {
			continue
		}
		p := e.Path
		for len(p) > 1 {
			parent := doc.Lookup(pointerOf(p[:len(p)-1]))
			if parent == nil || deref(parent).Kind != yaml.SequenceNode {
				break
			}
			p = p[:len(p)-1]
		}
		errs[i].Path = p
	}
	// CUE also complains inside a field that is not allowed; the field
	// itself is the finding.
	var notAllowed []string
	for _, e := range errs {
		if classify(e.Message) == ClassAdditional {
			notAllowed = append(notAllowed, pointerOf(e.Path))
		}
	}
	insideNotAllowed := func(p string) bool {
		for _, na := range notAllowed {
			if strings.HasPrefix(p, na+"/") {
				return true
			}
		}
		return false
	}
	seen := map[string]bool{}
	var out []finding
	for _, e := range errs {
		p := pointerOf(e.Path)
		if insideNotAllowed(p) {
			continue
		}
		class, msg := classify(e.Message), e.Message
		if c, ok := outermost(p); ok {
			if !e.Choice || c != p {
				continue
			}
			if enum, first := scalarConflicts(errs, e.Path); enum {
				class, msg = ClassEnum, "no allowed value matches: "+first
			}
		}
		key := p + "\x00" + class
		if seen[key] {
			continue
		}
		seen[key] = true
		f := finding{path: e.Path, class: class, msg: msg, anchor: p}
		if class == ClassAdditional {
			f.node = doc.KeyNode(p)
		}
		if f.node == nil {
			f.node = doc.Lookup(p)
		}
		out = append(out, f)
	}
	return out
}

// scalarConflicts reports whether every branch error of the choice at
// path is a plain value conflict at that same path (an enum), with the
// first such message.
func scalarConflicts(errs []cueschema.Error, path []string) (bool, string) {
	p := pointerOf(path)
	first := ""
	for _, e := range errs {
		if e.Choice {
			continue
		}
		q := pointerOf(e.Path)
		if q != p && !strings.HasPrefix(q, p+"/") {
			continue
		}
		if q != p || classify(e.Message) != ClassEnum {
			return false, ""
		}
		if first == "" {
			first = e.Message
		}
	}
	return first != "", first
}

// classify maps CUE's messages onto manoctl's classes.
func classify(msg string) string {
	switch {
	case strings.Contains(msg, "field not allowed"):
		return ClassAdditional
	case strings.Contains(msg, "field is required but not present"):
		return ClassRequired
	case strings.Contains(msg, "MinItems"):
		return ClassMinItems
	case strings.Contains(msg, "UniqueItems"):
		return ClassUniqueItems
	case strings.Contains(msg, "out of bound =~"):
		return ClassPattern
	case strings.Contains(msg, "out of bound >"):
		return ClassRange
	case strings.Contains(msg, "matchN"), strings.Contains(msg, "empty disjunction"):
		return ClassOneOf
	case strings.Contains(msg, "mismatched types"), strings.Contains(msg, "incompatible list lengths"):
		return ClassType
	case strings.Contains(msg, "conflicting values"):
		return ClassEnum
	}
	return "cue"
}
