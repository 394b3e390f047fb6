// Package cueschema holds the CUE port of son-schema v3.0 (NSD, VNFD, PD,
// NSR, VNFR), embedded in the binary, and evaluates documents against it
// with the CUE evaluator.
//
// The .cue files in this directory are the single source of truth for
// syntax validation. Two engines read them: this package's Evaluator
// (full CUE evaluation, manoctl validate --engine=cue, and what `cue vet`
// does with the output of manoctl schema show), and package syntax, which
// compiles the same files, parsed but not evaluated, into a Go program
// that walks YAML node trees directly. The dialect both agree on is
// described at the top of common.cue; a test in package syntax proves
// the two engines agree on the corpus and on systematic mutations of it.
package cueschema

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/parser"
)

// files are the schema sources. cue.mod/module.cue must be named
// explicitly: a *.cue pattern does not descend into cue.mod.
//
//go:embed cue.mod/module.cue *.cue
var files embed.FS

// FS returns the embedded CUE module (cue.mod/module.cue and the
// package's .cue files at the root).
func FS() fs.FS { return files }

// PackageName is the CUE package of the schema files.
const PackageName = "sonata"

// Kind names one schema. The values match schema.Kind; this package does
// not import schema so that it stays a leaf.
type Kind string

// kindFiles maps each kind to its file and its definitions.
var kindFiles = map[Kind]struct{ file, def string }{
	"nsd":  {"nsd.cue", "#NSD"},
	"vnfd": {"vnfd.cue", "#VNFD"},
	"pd":   {"pd.cue", "#PD"},
	"nsr":  {"nsr.cue", "#NSR"},
	"vnfr": {"vnfr.cue", "#VNFR"},
}

// commonFile holds the definitions shared by every kind.
const commonFile = "common.cue"

// Definition returns the name of kind's v3.0 definition ("#NSD").
func Definition(k Kind) (string, bool) {
	f, ok := kindFiles[k]
	return f.def, ok
}

// CorrectionsDefinition returns the name of the definition holding
// manoctl's corrected rules for kind ("#NSDCorrections"), or false when
// the kind has none.
func CorrectionsDefinition(k Kind) (string, bool) {
	f, ok := kindFiles[k]
	if !ok {
		return "", false
	}
	name := f.def + "Corrections"
	if _, ok := Parsed().Decls[name]; !ok {
		return "", false
	}
	return name, true
}

// Kinds lists the kinds with a schema, sorted.
func Kinds() []Kind {
	out := make([]Kind, 0, len(kindFiles))
	for k := range kindFiles {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Source returns a self-contained CUE file for kind: its own file followed
// by the shared definitions, in one package, so that users can run
//
//	manoctl schema show vnfd > vnfd.cue
//	cue vet -d '#VNFD' vnfd.cue my-vnfd.yml
//
// (cue vet reads YAML as YAML 1.2: quote yes/no/on/off values.)
func Source(k Kind) ([]byte, error) {
	f, ok := kindFiles[k]
	if !ok {
		return nil, fmt.Errorf("cueschema: no schema for kind %q", k)
	}
	own, err := fs.ReadFile(files, f.file)
	if err != nil {
		return nil, fmt.Errorf("cueschema: read %s: %w", f.file, err)
	}
	common, err := fs.ReadFile(files, commonFile)
	if err != nil {
		return nil, fmt.Errorf("cueschema: read %s: %w", commonFile, err)
	}
	var b bytes.Buffer
	b.Write(own)
	b.WriteString("\n// ---- shared definitions (" + commonFile + ") ----\n\n")
	b.Write(withoutHeader(common))
	return b.Bytes(), nil
}

// withoutHeader drops the package clause and import of a file that is
// appended to another file of the same package, keeping its comments.
func withoutHeader(src []byte) []byte {
	var out bytes.Buffer
	for _, line := range strings.SplitAfter(string(src), "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "package ") || strings.HasPrefix(t, "import ") {
			continue
		}
		out.WriteString(line)
	}
	return out.Bytes()
}

// Schema is the parsed (not evaluated) schema package: every top-level
// definition by name.
type Schema struct {
	Files []*ast.File
	// Decls maps "#Name" to its field declaration.
	Decls map[string]*ast.Field
}

var (
	parseOnce sync.Once
	parsed    *Schema
	parseErr  error
)

// Parse parses the embedded files once. Parsing is cheap (no evaluation),
// which is what lets the fast path start in well under a millisecond of
// schema work.
func Parse() (*Schema, error) {
	parseOnce.Do(func() { parsed, parseErr = parseFiles() })
	return parsed, parseErr
}

// Parsed is Parse for callers that rely on the embedded files being
// well-formed, which the package's tests guarantee; it panics otherwise,
// which can only happen with a broken build.
func Parsed() *Schema {
	s, err := Parse()
	if err != nil {
		panic(err)
	}
	return s
}

func parseFiles() (*Schema, error) {
	names, err := fs.Glob(files, "*.cue")
	if err != nil {
		return nil, err
	}
	s := &Schema{Decls: map[string]*ast.Field{}}
	for _, name := range names {
		src, err := fs.ReadFile(files, name)
		if err != nil {
			return nil, fmt.Errorf("cueschema: read %s: %w", name, err)
		}
		f, err := parser.ParseFile(path.Join("schema", name), src, parser.ParseComments)
		if err != nil {
			return nil, fmt.Errorf("cueschema: parse %s: %w", name, err)
		}
		s.Files = append(s.Files, f)
		for _, d := range f.Decls {
			fd, ok := d.(*ast.Field)
			if !ok {
				continue
			}
			label, _, err := ast.LabelName(fd.Label)
			if err != nil {
				return nil, fmt.Errorf("cueschema: %s: %w", name, err)
			}
			if _, dup := s.Decls[label]; dup {
				return nil, fmt.Errorf("cueschema: %s: %s declared twice", name, label)
			}
			s.Decls[label] = fd
		}
	}
	return s, nil
}
