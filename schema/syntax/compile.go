package syntax

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/literal"
	"cuelang.org/go/cue/token"

	"github.com/manoctl/manoctl/schema/cueschema"
)

// typeSet is a set of value types; a schema accepts the union.
type typeSet uint16

const (
	tString typeSet = 1 << iota
	tInt
	tFloat
	tBool
	tNull
	tStruct
	tList
	tTimestamp // a YAML 1.1 date or time (PyYAML builds a datetime)

	tNumber = tInt | tFloat
	tAny    = tString | tInt | tFloat | tBool | tNull | tStruct | tList | tTimestamp
)

// node is one compiled schema: the conjunction of everything a CUE
// expression says about a value. The fast path never evaluates CUE; it
// walks these.
type node struct {
	types typeSet
	// name is the definition this node was compiled from ("#Version"),
	// "" for anonymous expressions; messages use it.
	name string
	// explain is the definition's @explain attribute, added to pattern
	// and enum messages.
	explain string

	enum     []any // allowed literal values; nil means no enum
	patterns []*regexp.Regexp
	min      *bound

	// Structs.
	fields  map[string]*field
	order   []string // field names in declaration order
	open    bool     // the struct ends with ...; closed otherwise
	aliases map[string]string

	// Lists.
	elem     *node // [...T]
	tuple    *node // [T, ...]: first element only (draft-04 tuple items)
	empty    bool  // [] allowed by a disjunction branch
	minItems int
	unique   bool

	// Choices.
	oneOf []*node // matchN(1, [...])
	anyOf []*node // matchN(>=1, [...])
	disj  []*node // A | B of non-literal branches
}

type bound struct {
	v         float64
	exclusive bool
}

type field struct {
	name     string
	required bool
	schema   *node
	defect   int
}

// compiler turns the parsed CUE of package cueschema into nodes. It
// accepts the restricted dialect documented in common.cue and rejects
// anything else with a positioned error, so that a schema edit the fast
// path cannot follow fails the build's tests rather than validating
// wrongly.
type compiler struct {
	decls map[string]*ast.Field
	defs  map[string]*node
}

// Program is the compiled schema of every kind.
type Program struct {
	strict      map[cueschema.Kind]*node
	corrections map[cueschema.Kind]*node
}

var (
	programOnce sync.Once
	program     *Program
	programErr  error
)

// Compiled returns the program compiled from the embedded CUE, compiling
// it on first use.
func Compiled() (*Program, error) {
	programOnce.Do(func() {
		s, err := cueschema.Parse()
		if err != nil {
			programErr = err
			return
		}
		program, programErr = compileSchema(s)
	})
	return program, programErr
}

func compileSchema(s *cueschema.Schema) (*Program, error) {
	c := &compiler{decls: s.Decls, defs: map[string]*node{}}
	p := &Program{strict: map[cueschema.Kind]*node{}, corrections: map[cueschema.Kind]*node{}}
	for _, k := range cueschema.Kinds() {
		def, _ := cueschema.Definition(k)
		n, err := c.def(def)
		if err != nil {
			return nil, err
		}
		p.strict[k] = n
		if corr, ok := cueschema.CorrectionsDefinition(k); ok {
			n, err := c.def(corr)
			if err != nil {
				return nil, err
			}
			p.corrections[k] = n
		}
	}
	// Compile every other definition too, so that a definition no kind
	// uses yet still has to be in the dialect.
	names := make([]string, 0, len(s.Decls))
	for name := range s.Decls {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if strings.HasPrefix(name, "#") {
			if _, err := c.def(name); err != nil {
				return nil, err
			}
		}
	}
	return p, nil
}

func errAt(n ast.Node, format string, args ...any) error {
	return fmt.Errorf("syntax: compile %s: %s", n.Pos(), fmt.Sprintf(format, args...))
}

func (c *compiler) def(name string) (*node, error) {
	if n, ok := c.defs[name]; ok {
		return n, nil
	}
	decl, ok := c.decls[name]
	if !ok {
		return nil, fmt.Errorf("syntax: compile: undefined %s", name)
	}
	// Register before compiling the body so that a (future) recursive
	// definition refers to itself instead of looping.
	n := &node{}
	c.defs[name] = n
	body, err := c.expr(decl.Value)
	if err != nil {
		return nil, err
	}
	*n = *body
	n.name = name
	for _, a := range decl.Attrs {
		key, args := parseAttr(a.Text)
		if key == "explain" && len(args) == 1 {
			n.explain = args[0]
		}
	}
	return n, nil
}

// parseAttr splits @key(a,b) into key and args; quoted args are
// unquoted.
func parseAttr(text string) (string, []string) {
	text = strings.TrimPrefix(text, "@")
	i := strings.IndexByte(text, '(')
	if i < 0 || !strings.HasSuffix(text, ")") {
		return text, nil
	}
	body := strings.TrimSpace(text[i+1 : len(text)-1])
	if strings.HasPrefix(body, `"`) {
		if u, err := literal.Unquote(body); err == nil {
			return text[:i], []string{u}
		}
	}
	var args []string
	for _, a := range strings.Split(body, ",") {
		a = strings.TrimSpace(a)
		if u, err := literal.Unquote(a); err == nil {
			a = u
		}
		args = append(args, a)
	}
	return text[:i], args
}

func (c *compiler) expr(e ast.Expr) (*node, error) {
	switch x := e.(type) {
	case *ast.ParenExpr:
		return c.expr(x.X)
	case *ast.Ident:
		switch x.Name {
		case "string":
			return &node{types: tString}, nil
		case "int":
			return &node{types: tInt}, nil
		case "number":
			return &node{types: tNumber}, nil
		case "bool":
			return &node{types: tBool}, nil
		case "null":
			return &node{types: tNull, enum: []any{nil}}, nil
		case "_":
			return &node{types: tAny}, nil
		}
		if strings.HasPrefix(x.Name, "#") {
			return c.def(x.Name)
		}
		return nil, errAt(x, "identifier %s is outside the dialect", x.Name)
	case *ast.BasicLit:
		v, t, err := literalValue(x)
		if err != nil {
			return nil, err
		}
		return &node{types: t, enum: []any{v}}, nil
	case *ast.UnaryExpr:
		return c.unary(x)
	case *ast.BinaryExpr:
		switch x.Op {
		case token.AND:
			l, err := c.expr(x.X)
			if err != nil {
				return nil, err
			}
			r, err := c.expr(x.Y)
			if err != nil {
				return nil, err
			}
			return conjoin(l, r, x)
		case token.OR:
			return c.disjunction(x)
		}
		return nil, errAt(x, "operator %s is outside the dialect", x.Op)
	case *ast.StructLit:
		return c.structLit(x)
	case *ast.ListLit:
		return c.listLit(x)
	case *ast.CallExpr:
		return c.call(x)
	}
	return nil, errAt(e, "expression %T is outside the dialect", e)
}

func literalValue(x *ast.BasicLit) (any, typeSet, error) {
	switch x.Kind {
	case token.STRING:
		s, err := literal.Unquote(x.Value)
		if err != nil {
			return nil, 0, errAt(x, "string literal: %v", err)
		}
		return s, tString, nil
	case token.INT:
		i, err := strconv.ParseInt(strings.ReplaceAll(x.Value, "_", ""), 0, 64)
		if err != nil {
			return nil, 0, errAt(x, "integer literal: %v", err)
		}
		return float64(i), tInt, nil
	case token.FLOAT:
		f, err := strconv.ParseFloat(x.Value, 64)
		if err != nil {
			return nil, 0, errAt(x, "float literal: %v", err)
		}
		return f, tFloat, nil
	case token.TRUE:
		return true, tBool, nil
	case token.FALSE:
		return false, tBool, nil
	case token.NULL:
		return nil, tNull, nil
	}
	return nil, 0, errAt(x, "literal %s is outside the dialect", x.Value)
}

func (c *compiler) unary(x *ast.UnaryExpr) (*node, error) {
	lit, ok := x.X.(*ast.BasicLit)
	if !ok {
		return nil, errAt(x, "operand of %s must be a literal", x.Op)
	}
	v, t, err := literalValue(lit)
	if err != nil {
		return nil, err
	}
	switch x.Op {
	case token.MAT:
		s, ok := v.(string)
		if !ok {
			return nil, errAt(x, "=~ needs a string")
		}
		re, err := regexp.Compile(s)
		if err != nil {
			return nil, errAt(x, "pattern %q: %v", s, err)
		}
		return &node{types: tString, patterns: []*regexp.Regexp{re}}, nil
	case token.GTR, token.GEQ:
		f, ok := v.(float64)
		if !ok || t&tNumber == 0 {
			return nil, errAt(x, "%s needs a number", x.Op)
		}
		return &node{types: tNumber, min: &bound{v: f, exclusive: x.Op == token.GTR}}, nil
	}
	return nil, errAt(x, "operator %s is outside the dialect", x.Op)
}

// disjunction compiles A | B | ...: literal branches merge into one enum
// (of their union of types); anything else stays a choice.
func (c *compiler) disjunction(x *ast.BinaryExpr) (*node, error) {
	var branches []*node
	var collect func(e ast.Expr) error
	collect = func(e ast.Expr) error {
		if b, ok := e.(*ast.BinaryExpr); ok && b.Op == token.OR {
			if err := collect(b.X); err != nil {
				return err
			}
			return collect(b.Y)
		}
		n, err := c.expr(e)
		if err != nil {
			return err
		}
		branches = append(branches, n)
		return nil
	}
	if err := collect(x); err != nil {
		return nil, err
	}
	allEnum := true
	for _, b := range branches {
		if !isPureEnum(b) {
			allEnum = false
		}
	}
	if allEnum {
		out := &node{}
		for _, b := range branches {
			out.types |= b.types
			out.enum = append(out.enum, b.enum...)
		}
		return out, nil
	}
	out := &node{disj: branches}
	for _, b := range branches {
		out.types |= b.types
	}
	return out, nil
}

// isPureEnum: a node that only lists literal values.
func isPureEnum(n *node) bool {
	return n.enum != nil && n.patterns == nil && n.min == nil && n.fields == nil && n.elem == nil &&
		n.tuple == nil && n.oneOf == nil && n.anyOf == nil && n.disj == nil && !n.empty
}

func (c *compiler) structLit(x *ast.StructLit) (*node, error) {
	n := &node{types: tStruct, fields: map[string]*field{}}
	for _, d := range x.Elts {
		switch f := d.(type) {
		case *ast.Ellipsis:
			if f.Type != nil {
				return nil, errAt(f, "typed ... in a struct is outside the dialect")
			}
			n.open = true
		case *ast.Field:
			name, _, err := ast.LabelName(f.Label)
			if err != nil {
				return nil, errAt(f, "label: %v", err)
			}
			fl := &field{name: name}
			switch f.Constraint {
			case token.NOT:
				fl.required = true
			case token.OPTION:
			default:
				return nil, errAt(f, "field %s must be optional (?) or required (!)", name)
			}
			if fl.schema, err = c.expr(f.Value); err != nil {
				return nil, err
			}
			for _, a := range f.Attrs {
				key, args := parseAttr(a.Text)
				switch key {
				case "alias":
					for _, al := range args {
						if n.aliases == nil {
							n.aliases = map[string]string{}
						}
						n.aliases[al] = name
					}
				case "defect":
					if len(args) == 1 {
						fl.defect, _ = strconv.Atoi(args[0])
					}
				}
			}
			if _, dup := n.fields[name]; dup {
				return nil, errAt(f, "field %s declared twice", name)
			}
			n.fields[name] = fl
			n.order = append(n.order, name)
		case *ast.CommentGroup, *ast.Attribute:
		default:
			return nil, errAt(d, "struct element %T is outside the dialect", d)
		}
	}
	return n, nil
}

func (c *compiler) listLit(x *ast.ListLit) (*node, error) {
	n := &node{types: tList}
	switch len(x.Elts) {
	case 0:
		n.empty = true
		return n, nil
	case 1:
		if el, ok := x.Elts[0].(*ast.Ellipsis); ok && el.Type != nil {
			e, err := c.expr(el.Type)
			if err != nil {
				return nil, err
			}
			n.elem = e
			return n, nil
		}
	case 2:
		if el, ok := x.Elts[1].(*ast.Ellipsis); ok && el.Type == nil {
			e, err := c.expr(x.Elts[0])
			if err != nil {
				return nil, err
			}
			n.tuple = e
			return n, nil
		}
	}
	return nil, errAt(x, "list form outside the dialect (want [...T], [T, ...] or [])")
}

func (c *compiler) call(x *ast.CallExpr) (*node, error) {
	name := ""
	switch f := x.Fun.(type) {
	case *ast.Ident:
		name = f.Name
	case *ast.SelectorExpr:
		if pkg, ok := f.X.(*ast.Ident); ok {
			sel, _, _ := ast.LabelName(f.Sel)
			name = pkg.Name + "." + sel
		}
	}
	switch name {
	case "list.MinItems":
		if len(x.Args) == 1 {
			if lit, ok := x.Args[0].(*ast.BasicLit); ok && lit.Kind == token.INT {
				v, err := strconv.Atoi(lit.Value)
				if err == nil {
					return &node{types: tList, minItems: v}, nil
				}
			}
		}
	case "list.UniqueItems":
		if len(x.Args) == 0 {
			return &node{types: tList, unique: true}, nil
		}
	case "matchN":
		if len(x.Args) != 2 {
			break
		}
		list, ok := x.Args[1].(*ast.ListLit)
		if !ok {
			break
		}
		var branches []*node
		types := typeSet(0)
		for _, e := range list.Elts {
			id, ok := e.(*ast.Ident)
			if !ok || !strings.HasPrefix(id.Name, "#") {
				return nil, errAt(e, "matchN branches must be definitions (struct literals there are not closed)")
			}
			b, err := c.def(id.Name)
			if err != nil {
				return nil, err
			}
			branches = append(branches, b)
			types |= b.types
		}
		switch a := x.Args[0].(type) {
		case *ast.BasicLit:
			if a.Value == "1" {
				return &node{types: types, oneOf: branches}, nil
			}
		case *ast.UnaryExpr:
			if lit, ok := a.X.(*ast.BasicLit); ok && a.Op == token.GEQ && lit.Value == "1" {
				return &node{types: types, anyOf: branches}, nil
			}
		}
	}
	return nil, errAt(x, "call outside the dialect (want list.MinItems(n), list.UniqueItems(), matchN(1|>=1, [#A, ...]))")
}

// conjoin merges A & B into one node. Every combination the dialect
// produces merges without loss; two constraints of the same sort that
// cannot merge (two element schemas, two choices) are an error, so the
// dialect stays something the walker can follow exactly.
func conjoin(a, b *node, at ast.Node) (*node, error) {
	out := *a
	out.types = a.types & b.types
	if out.types == 0 {
		return nil, errAt(at, "conjunction of disjoint types")
	}
	if a.name != "" || b.name != "" {
		// Keep the more specific name for messages: the named side that
		// says more than a type.
		out.name, out.explain = a.name, a.explain
		if out.name == "" || (b.name != "" && len(b.patterns)+len(b.enum) > 0) {
			out.name, out.explain = b.name, b.explain
		}
	}
	switch {
	case a.enum == nil:
		out.enum = b.enum
	case b.enum != nil:
		var both []any
		for _, v := range a.enum {
			for _, w := range b.enum {
				if v == w {
					both = append(both, v)
				}
			}
		}
		if both == nil {
			both = []any{}
		}
		out.enum = both
	}
	out.patterns = append(append([]*regexp.Regexp(nil), a.patterns...), b.patterns...)
	if b.min != nil {
		if a.min != nil && a.min.v != b.min.v {
			return nil, errAt(at, "two different minimums")
		}
		out.min = b.min
	}
	if b.fields != nil {
		if a.fields != nil {
			// {...} & {fields}: an open struct adds nothing.
			switch {
			case len(a.fields) == 0 && a.open:
				out.fields, out.order, out.open, out.aliases = b.fields, b.order, b.open, b.aliases
			case len(b.fields) == 0 && b.open:
			default:
				return nil, errAt(at, "conjunction of two struct literals")
			}
		} else {
			out.fields, out.order, out.open, out.aliases = b.fields, b.order, b.open, b.aliases
		}
	}
	pick := func(x, y *node, what string) (*node, error) {
		if x != nil && y != nil {
			return nil, errAt(at, "conjunction of two %s", what)
		}
		if x != nil {
			return x, nil
		}
		return y, nil
	}
	var err error
	if out.elem, err = pick(a.elem, b.elem, "list element schemas"); err != nil {
		return nil, err
	}
	if out.tuple, err = pick(a.tuple, b.tuple, "tuple schemas"); err != nil {
		return nil, err
	}
	out.empty = a.empty || b.empty
	out.minItems = max(a.minItems, b.minItems)
	out.unique = a.unique || b.unique
	if len(a.oneOf)+len(a.anyOf)+len(a.disj) > 0 && len(b.oneOf)+len(b.anyOf)+len(b.disj) > 0 {
		return nil, errAt(at, "conjunction of two choices")
	}
	out.oneOf = append(a.oneOf, b.oneOf...)
	out.anyOf = append(a.anyOf, b.anyOf...)
	out.disj = append(a.disj, b.disj...)
	return &out, nil
}
