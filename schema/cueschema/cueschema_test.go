package cueschema

import (
	"strings"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/cuecontext"
)

// TestSourceIsSelfContained: what manoctl schema show prints compiles on
// its own (as cue vet would use it) and defines the kind's definition.
func TestSourceIsSelfContained(t *testing.T) {
	t.Setenv("CUE_EXPERIMENT", "")
	t.Setenv("CUE_DEBUG", "")
	ctx := cuecontext.New()
	for _, k := range Kinds() {
		src, err := Source(k)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(src), "// #") {
			t.Errorf("%s: source should open with its doc comment", k)
		}
		v := ctx.CompileBytes(src)
		if err := v.Err(); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		def, _ := Definition(k)
		if err := v.LookupPath(cue.ParsePath(def)).Err(); err != nil {
			t.Errorf("%s: %s: %v", k, def, err)
		}
	}
	if _, err := Source("tosca"); err == nil {
		t.Error("Source of an unknown kind succeeded")
	}
}

// TestEvaluatorLoadsEmbeddedModule: load.Config.FS with cue.mod/module.cue.
func TestEvaluatorLoadsEmbeddedModule(t *testing.T) {
	ev, err := NewEvaluator()
	if err != nil {
		t.Fatal(err)
	}
	errs, err := ev.Validate("#VNFD", ast.NewStruct("vendor", ast.NewString("UPPER")))
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, e := range errs {
		paths = append(paths, strings.Join(e.Path, "/"))
	}
	got := strings.Join(paths, ",")
	if !strings.Contains(got, "vendor") {
		t.Errorf("errors at %s, want one at vendor (definition prefix stripped)", got)
	}
	for _, p := range paths {
		if strings.HasPrefix(p, "#") {
			t.Errorf("path %s keeps the definition prefix", p)
		}
	}
}

func TestCorrectionsDefinitions(t *testing.T) {
	for _, k := range []Kind{"nsd", "vnfd", "nsr", "vnfr"} {
		if _, ok := CorrectionsDefinition(k); !ok {
			t.Errorf("%s: no corrections definition", k)
		}
	}
	if _, ok := CorrectionsDefinition("pd"); ok {
		t.Error("pd has no defects to correct, yet a corrections definition")
	}
}
