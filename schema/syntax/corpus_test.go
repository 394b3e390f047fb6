package syntax

import (
	"context"
	"testing"

	"github.com/manoctl/manoctl/schema"
	"github.com/manoctl/manoctl/schema/internal/corpus"
)

// deliberateDifferences lists corpus files whose manoctl verdict differs
// from the son-schema v3.0 column of INDEX.md, with the reason. Empty:
// manoctl's v3.0 verdict matches the 2017 draft-04 result on every file.
var deliberateDifferences = map[string]string{}

// TestCorpusVerdicts checks every corpus file's syntax verdict (v3.0
// strict) against INDEX.md, and the detected kind against its kind
// column.
func TestCorpusVerdicts(t *testing.T) {
	dir, err := corpus.Dir()
	if err != nil {
		t.Fatal(err)
	}
	entries, err := corpus.Index(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < 140 {
		t.Fatalf("INDEX.md lists %d files, want the 145 of the corpus", len(entries))
	}
	for _, e := range entries {
		t.Run(e.Repo+"/"+e.Path, func(t *testing.T) {
			docs, diags := schema.LoadPaths(context.Background(), []string{e.File(dir)}, schema.LoadOptions{})
			for _, d := range diags {
				if d.Severity == schema.SeverityError && d.Code != schema.CodeKindUnknown {
					t.Fatalf("load: %s", d)
				}
			}
			if e.Verdict == "n/a" || e.Kind == "test-instance" {
				if len(docs) != 0 {
					t.Fatalf("INDEX kind %s: want no SONATA document, got %d (%s)", e.Kind, len(docs), docs[0].Kind)
				}
				return
			}
			if len(docs) == 0 {
				t.Fatalf("no document loaded")
			}
			if !e.List && len(docs) != 1 {
				t.Fatalf("%d documents, want 1", len(docs))
			}
			valid := true
			for _, d := range docs {
				if string(d.Kind) != e.Kind {
					t.Errorf("kind %s, INDEX says %s", d.Kind, e.Kind)
				}
				res, err := Check(d, Options{})
				if err != nil {
					t.Fatal(err)
				}
				valid = valid && res.Valid
				if !res.Valid {
					for _, diag := range res.Diagnostics {
						t.Logf("%s", diag)
					}
				}
			}
			got := "INVALID"
			if valid {
				got = "VALID"
			}
			if reason, ok := deliberateDifferences[e.Repo+"/"+e.Path]; ok {
				if got == e.Verdict {
					t.Fatalf("listed as a deliberate difference (%s) but agrees with INDEX", reason)
				}
				return
			}
			if got != e.Verdict {
				t.Errorf("verdict %s, INDEX.md says %s", got, e.Verdict)
			}
		})
	}
}
