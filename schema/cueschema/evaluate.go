package cueschema

import (
	"fmt"
	"path"
	"strings"
	"sync"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/literal"
	"cuelang.org/go/cue/load"
)

// Evaluator validates data against the schema with the CUE evaluator. It
// is the reference engine: slower than the compiled fast path, exact by
// construction. An Evaluator is safe for concurrent use; evaluation is
// serialised because a cue.Context is not.
type Evaluator struct {
	mu   sync.Mutex
	ctx  *cue.Context
	root cue.Value
}

// NewEvaluator loads the embedded module with load.Config.FS and builds
// it once.
func NewEvaluator() (*Evaluator, error) {
	cfg := &load.Config{
		FS:  files,
		Dir: "/",
		// Positions in CUE errors name the schema file as schema/x.cue.
		FromFSPath: func(p string) string { return path.Join("schema", strings.TrimPrefix(p, "/")) },
	}
	insts := load.Instances([]string{"."}, cfg)
	if len(insts) != 1 {
		return nil, fmt.Errorf("cueschema: load: %d instances", len(insts))
	}
	if err := insts[0].Err; err != nil {
		return nil, fmt.Errorf("cueschema: load: %w", err)
	}
	ctx := cuecontext.New()
	root := ctx.BuildInstance(insts[0])
	if err := root.Err(); err != nil {
		return nil, fmt.Errorf("cueschema: build: %w", err)
	}
	return &Evaluator{ctx: ctx, root: root}, nil
}

// Error is one CUE error with the definition prefix stripped from its
// path.
type Error struct {
	// Path is the data path (field names and list indexes as strings).
	Path []string
	// Message is CUE's message without the path.
	Message string
	// Choice is true for the summary error of a disjunction or matchN
	// ("N errors in empty disjunction", "does not satisfy matchN"); the
	// errors of its branches follow it with deeper paths.
	Choice bool
}

// Validate unifies data with definition def ("#VNFD") and validates the
// result as concrete. It returns every error CUE reports.
func (e *Evaluator) Validate(def string, data ast.Expr) ([]Error, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	schema := e.root.LookupPath(cue.MakePath(cue.Def(def)))
	if err := schema.Err(); err != nil {
		return nil, fmt.Errorf("cueschema: lookup %s: %w", def, err)
	}
	v := e.ctx.BuildExpr(data)
	if err := v.Err(); err != nil {
		return nil, fmt.Errorf("cueschema: build data: %w", err)
	}
	err := schema.Unify(v).Validate(cue.Concrete(true))
	var out []Error
	for _, ce := range errors.Errors(err) {
		p := append([]string(nil), ce.Path()...)
		if len(p) > 0 && strings.HasPrefix(p[0], "#") {
			p = p[1:]
		}
		for i, sel := range p {
			// Labels that are not identifiers come quoted.
			if strings.HasPrefix(sel, `"`) {
				if u, err := literal.Unquote(sel); err == nil {
					p[i] = u
				}
			}
		}
		format, args := ce.Msg()
		msg := fmt.Sprintf(format, args...)
		out = append(out, Error{
			Path:    append([]string(nil), p...),
			Message: msg,
			Choice:  strings.Contains(msg, "empty disjunction") || strings.Contains(msg, "does not satisfy matchN"),
		})
	}
	return out, nil
}
