// Package validate is the one-call entry point of descriptor validation:
// load paths, check syntax against the CUE port of son-schema v3.0 (in
// parallel), run the integrity and topology checks of package check over
// all documents together, and return one sorted report.
//
// Callers that already hold documents (the manifest and plan code) use
// Documents; the CLI uses Paths.
package validate

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"sync"

	"github.com/manoctl/manoctl/schema"
	"github.com/manoctl/manoctl/schema/check"
	"github.com/manoctl/manoctl/schema/syntax"
)

// Options tune a validation run. The zero value validates at every level
// with the fast engine.
type Options struct {
	// Level is the deepest level run; 0 means schema.LevelTopology.
	Level schema.Level
	// Engine is the syntax engine; "" means syntax.EngineFast.
	Engine syntax.Engine
	// StrictRecords reports NSR/VNFR schema findings as errors instead of
	// warnings.
	StrictRecords bool
	// Check is passed to check.Run.
	Check check.Options
	// Workers bounds the documents checked at once; 0 means GOMAXPROCS.
	Workers int
}

func (o Options) level() schema.Level {
	if o.Level == 0 {
		return schema.LevelTopology
	}
	return o.Level
}

// DocumentResult is the verdict on one document.
type DocumentResult struct {
	Doc *schema.Document
	// SyntaxValid is the son-schema v3.0 (strict draft-04) verdict, the
	// one son-validate and the corpus INDEX report.
	SyntaxValid bool
	// SummaryCode is son-validate's per-document event when the syntax
	// verdict is invalid (evt_vnfd_stx_invalid, ...), "" when valid.
	SummaryCode string
}

// Report is the outcome of a run.
type Report struct {
	Documents []DocumentResult
	// Diagnostics are sorted by file (in the order files were given),
	// then line, column and code.
	Diagnostics []schema.Diagnostic
	// Files is the number of files (and package members) looked at.
	Files int
}

// Counts returns the number of errors, warnings and infos.
func (r *Report) Counts() (errs, warns, infos int) {
	for _, d := range r.Diagnostics {
		switch d.Severity {
		case schema.SeverityError:
			errs++
		case schema.SeverityWarning:
			warns++
		default:
			infos++
		}
	}
	return errs, warns, infos
}

// Unreadable reports whether some input could not be read at all.
func (r *Report) Unreadable() bool {
	for _, d := range r.Diagnostics {
		if schema.IsReadFailure(d) {
			return true
		}
	}
	return false
}

// Failed reports whether the inputs are invalid: any error, or, with
// strict, any warning.
func (r *Report) Failed(strict bool) bool {
	errs, warns, _ := r.Counts()
	return errs > 0 || (strict && warns > 0)
}

// Summary is the closing line of the text output: "3 files, 2 errors,
// 1 warning".
func (r *Report) Summary() string {
	errs, warns, _ := r.Counts()
	return fmt.Sprintf("%s, %s, %s", plural(r.Files, "file"), plural(errs, "error"), plural(warns, "warning"))
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// Paths loads paths and validates everything in them.
func Paths(ctx context.Context, paths []string, load schema.LoadOptions, opts Options) (*Report, error) {
	if load.Workers == 0 {
		load.Workers = opts.Workers
	}
	docs, diags := schema.LoadPaths(ctx, paths, load)
	return Documents(ctx, docs, diags, opts)
}

// Documents validates loaded documents; loadDiags are the loader's
// findings, merged into the report (those of levels beyond opts.Level
// are dropped).
func Documents(ctx context.Context, docs []*schema.Document, loadDiags []schema.Diagnostic, opts Options) (*Report, error) {
	level := opts.level()
	rep := &Report{Documents: make([]DocumentResult, len(docs))}
	for _, d := range loadDiags {
		if d.Level <= level {
			rep.Diagnostics = append(rep.Diagnostics, d)
		}
	}
	results := make([][]schema.Diagnostic, len(docs))
	errs := make([]error, len(docs))
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	// Documents are independent at syntax level: check them in parallel.
	// Static chunks keep the hand-off cheap for thousands of small files.
	var wg sync.WaitGroup
	chunk := (len(docs) + workers - 1) / max(workers, 1)
	for start := 0; start < len(docs); start += max(chunk, 1) {
		end := min(start+max(chunk, 1), len(docs))
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				if ctx.Err() != nil {
					errs[i] = ctx.Err()
					return
				}
				res, err := syntax.Check(docs[i], syntax.Options{Engine: opts.Engine, StrictRecords: opts.StrictRecords})
				if err != nil {
					errs[i] = err
					continue
				}
				results[i] = res.Diagnostics
				rep.Documents[i] = DocumentResult{Doc: docs[i], SyntaxValid: res.Valid}
				if !res.Valid {
					rep.Documents[i].SummaryCode = syntax.SummaryCode(docs[i].Kind)
				}
			}
		}(start, end)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("validate: %w", err)
		}
	}
	for _, r := range results {
		rep.Diagnostics = append(rep.Diagnostics, r...)
	}
	if level >= schema.LevelIntegrity {
		rep.Diagnostics = append(rep.Diagnostics, runChecks(docs, level, opts.Check)...)
	}
	rep.Files = countFiles(docs, rep.Diagnostics)
	sortDiagnostics(rep.Diagnostics)
	return rep, nil
}

// runChecks calls the integrity and topology checks. A panic there is a
// bug, but it must not take the user's run down with it: it becomes an
// error finding.
func runChecks(docs []*schema.Document, level schema.Level, opts check.Options) (out []schema.Diagnostic) {
	defer func() {
		if r := recover(); r != nil {
			out = append(out, schema.Diagnostic{Severity: schema.SeverityError, Code: CodeInternal, Level: schema.LevelIntegrity,
				Message: fmt.Sprintf("internal error in the integrity checks (please report): %v", r)})
		}
	}()
	return check.Run(docs, level, opts)
}

// CodeInternal marks a bug in manoctl's own checks.
const CodeInternal = "manoctl.internal"

// countFiles counts the files findings and documents name; a package
// member counts as a file of its own.
func countFiles(docs []*schema.Document, diags []schema.Diagnostic) int {
	seen := map[string]bool{}
	for _, d := range docs {
		seen[d.File] = true
	}
	for _, d := range diags {
		if d.File != "" && d.Code != schema.CodePackageStruct {
			seen[d.File] = true
		}
	}
	return len(seen)
}

// sortDiagnostics orders by file name, position, then code and message,
// so that output is stable whatever the goroutine schedule. Findings
// without a file (a run-level problem) come first.
func sortDiagnostics(diags []schema.Diagnostic) {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i], diags[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		if a.Code != b.Code {
			return a.Code < b.Code
		}
		return a.Message < b.Message
	})
}
