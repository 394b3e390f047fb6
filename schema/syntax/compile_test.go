package syntax

import (
	"strings"
	"testing"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/parser"

	"github.com/manoctl/manoctl/schema/cueschema"
)

func compileSrc(t *testing.T, src string) (*Program, error) {
	t.Helper()
	f, err := parser.ParseFile("test.cue", "package sonata\n"+src)
	if err != nil {
		t.Fatal(err)
	}
	s := &cueschema.Schema{Files: []*ast.File{f}, Decls: map[string]*ast.Field{}}
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.Field); ok {
			name, _, _ := ast.LabelName(fd.Label)
			s.Decls[name] = fd
		}
	}
	c := &compiler{decls: s.Decls, defs: map[string]*node{}}
	for name := range s.Decls {
		if _, err := c.def(name); err != nil {
			return nil, err
		}
	}
	return &Program{}, nil
}

// TestDialectRejects: CUE the fast path cannot follow exactly is a
// compile error, never a silently wrong validator.
func TestDialectRejects(t *testing.T) {
	tests := []struct{ src, want string }{
		{`#A: {a: string}`, "must be optional (?) or required (!)"},
		{`#A: {a?: string | int}`, ""}, // a disjunction of types is fine
		{`#A: {a?: <5}`, "operator < is outside the dialect"},
		{`#A: {a?: strings.MinRunes(1)}`, "call outside the dialect"},
		{`#A: {a?: matchN(1, [{x?: int}, {y?: int}])}`, "matchN branches must be definitions"},
		{`#A: {a?: [string, int]}`, "list form outside the dialect"},
		{`#A: {a?: {x?: int} & {y?: int}}`, "conjunction of two struct literals"},
		{`#A: {a?: b}`, "identifier b is outside the dialect"},
		{`#A: {a?: =~"("}`, "pattern"},
		{`#A: {for x in [] {}}`, "outside the dialect"},
		{`#A: {a?: #Missing}`, "undefined #Missing"},
	}
	for _, tc := range tests {
		_, err := compileSrc(t, tc.src)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: unexpected error %v", tc.src, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want %q", tc.src, err, tc.want)
		}
	}
}

// TestEmbeddedSchemaCompiles: the shipped CUE is in the dialect, and every
// kind has a program.
func TestEmbeddedSchemaCompiles(t *testing.T) {
	p, err := Compiled()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range cueschema.Kinds() {
		if p.strict[k] == nil {
			t.Errorf("no program for %s", k)
		}
		if p.corrections[k] == nil && k != "pd" {
			t.Errorf("no corrections program for %s", k)
		}
	}
}
