package syntax

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/manoctl/manoctl/schema"
	"github.com/manoctl/manoctl/schema/cueschema"
	"github.com/manoctl/manoctl/schema/internal/corpus"
)

// anchors runs one engine and returns the verdict and the set of finding
// anchors (the finding's path, or the outermost failed choice above it,
// which is where CUE reports a failed disjunction or matchN).
func anchors(t *testing.T, doc *schema.Document, engine Engine, corrections bool) (bool, map[string]bool) {
	t.Helper()
	kind := cueschema.Kind(doc.Kind)
	var strict, corr []finding
	var err error
	if engine == EngineCUE {
		strict, corr, err = evaluateCUE(doc, kind)
	} else {
		strict, corr, err = walkFast(doc, kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	fs := strict
	if corrections {
		fs = corr
	}
	set := map[string]bool{}
	for _, f := range fs {
		set[f.anchor] = true
	}
	return len(fs) == 0, set
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// compareEngines checks that the fast path and CUE agree on doc: same
// verdict; every anchor CUE reports is one the fast path reports; and,
// when exact, the same anchors. (CUE reports only the first failing
// element of a list and drops "required" errors when other errors exist,
// so on documents with many errors it sees a subset.)
func compareEngines(t *testing.T, name string, doc *schema.Document, exact bool) {
	t.Helper()
	for _, corr := range []bool{false, true} {
		if _, ok := cueschema.CorrectionsDefinition(cueschema.Kind(doc.Kind)); corr && !ok {
			continue
		}
		fv, fa := anchors(t, doc, EngineFast, corr)
		cv, ca := anchors(t, doc, EngineCUE, corr)
		what := "v3.0"
		if corr {
			what = "corrections"
		}
		if fv != cv {
			t.Errorf("%s (%s): fast says valid=%v %v, CUE says valid=%v %v", name, what, fv, keys(fa), cv, keys(ca))
			continue
		}
		for a := range ca {
			if !fa[a] {
				t.Errorf("%s (%s): CUE reports %q, fast path does not (fast: %v)", name, what, a, keys(fa))
			}
		}
		if exact && len(fa) != len(ca) {
			t.Errorf("%s (%s): fast %v, CUE %v", name, what, keys(fa), keys(ca))
		}
	}
}

func corpusDocs(t testing.TB) []*schema.Document {
	dir, err := corpus.Dir()
	if err != nil {
		t.Fatal(err)
	}
	docs, _ := schema.LoadPaths(context.Background(), []string{dir}, schema.LoadOptions{})
	if len(docs) < 140 {
		t.Fatalf("loaded %d corpus documents, want about 143", len(docs))
	}
	return docs
}

// TestEnginesAgreeOnCorpus: fast path and CUE on every corpus document.
func TestEnginesAgreeOnCorpus(t *testing.T) {
	for _, doc := range corpusDocs(t) {
		compareEngines(t, fmt.Sprintf("%s#%d", doc.File, doc.Index), doc, false)
	}
}

// mutation changes one node of a copied tree; it returns false when it
// does not apply to that node.
type mutation struct {
	name  string
	apply func(parent, n *yaml.Node, i int) bool
}

var mutations = []mutation{
	{"extra key", func(_, n *yaml.Node, _ int) bool {
		if n.Kind != yaml.MappingNode {
			return false
		}
		n.Content = append(n.Content, scalar("zz_extra", "!!str"), scalar("1", "!!int"))
		return true
	}},
	{"drop first key", func(_, n *yaml.Node, _ int) bool {
		if n.Kind != yaml.MappingNode || len(n.Content) < 2 {
			return false
		}
		n.Content = n.Content[2:]
		return true
	}},
	{"string to float", func(_, n *yaml.Node, _ int) bool {
		if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
			return false
		}
		n.Tag, n.Value, n.Style = "!!float", "0.3", 0
		return true
	}},
	{"bad string", func(_, n *yaml.Node, _ int) bool {
		if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
			return false
		}
		n.Value = "Not Valid!"
		return true
	}},
	{"number to string", func(_, n *yaml.Node, _ int) bool {
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
			return false
		}
		n.Tag, n.Value = "!!str", "1"
		return true
	}},
	{"number to zero", func(_, n *yaml.Node, _ int) bool {
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
			return false
		}
		n.Value = "0"
		return true
	}},
	{"list to empty", func(_, n *yaml.Node, _ int) bool {
		if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
			return false
		}
		n.Content = nil
		return true
	}},
	{"duplicate item", func(_, n *yaml.Node, _ int) bool {
		if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
			return false
		}
		n.Content = append(n.Content, n.Content[0])
		return true
	}},
	{"list to mapping", func(_, n *yaml.Node, _ int) bool {
		if n.Kind != yaml.SequenceNode {
			return false
		}
		n.Kind, n.Tag, n.Content = yaml.MappingNode, "!!map", nil
		return true
	}},
	{"bool to yes-string", func(_, n *yaml.Node, _ int) bool {
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			return false
		}
		n.Tag, n.Value = "!!str", "yes"
		return true
	}},
}

// isKey reports whether n is a mapping key somewhere in all.
func isKey(all []*yaml.Node, n *yaml.Node) bool {
	for _, m := range all {
		if m.Kind != yaml.MappingNode {
			continue
		}
		for i := 0; i < len(m.Content); i += 2 {
			if m.Content[i] == n {
				return true
			}
		}
	}
	return false
}

func scalar(v, tag string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: v} }

func clone(n *yaml.Node) *yaml.Node {
	c := *n
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, ch := range n.Content {
		c.Content[i] = clone(ch)
	}
	return &c
}

// nodesOf lists the nodes of a tree in document order.
func nodesOf(n *yaml.Node, out []*yaml.Node) []*yaml.Node {
	out = append(out, n)
	for _, c := range n.Content {
		out = nodesOf(c, out)
	}
	return out
}

// TestEnginesAgreeOnMutations applies each mutation to a spread of nodes
// of every distinct corpus document and compares the engines. On
// documents that were valid, the mutation introduces the only error, so
// the anchors must be equal.
func TestEnginesAgreeOnMutations(t *testing.T) {
	if testing.Short() {
		t.Skip("CUE evaluation of thousands of mutants")
	}
	seen := map[string]bool{}
	total := 0
	for _, doc := range corpusDocs(t) {
		res, err := Check(doc, Options{})
		if err != nil {
			t.Fatal(err)
		}
		fingerprint := string(doc.Kind) + canonical(doc.Lookup(""))
		if seen[fingerprint] {
			continue
		}
		seen[fingerprint] = true
		if raceEnabled && len(seen)%4 != 1 {
			continue
		}
		root := doc.Lookup("")
		count := len(nodesOf(root, nil))
		for mi, m := range mutations {
			// Spread the mutants over the document: every stride-th node,
			// offset per mutation, so that every part of the schema is hit
			// across the corpus without thousands of mutants per file.
			stride := max(1, count/12)
			for at := mi % stride; at < count; at += stride {
				mutant := clone(root)
				all := nodesOf(mutant, nil)
				target := all[at]
				if isKey(all, target) && m.name != "extra key" && m.name != "drop first key" {
					continue // renaming a key is two errors, not one
				}
				if !m.apply(nil, target, at) {
					continue
				}
				mdoc := *doc
				mdoc.Root = mutant
				total++
				compareEngines(t, fmt.Sprintf("%s#%d %s at node %d (line %d)", doc.File, doc.Index, m.name, at, target.Line), &mdoc, res.Valid)
			}
		}
	}
	if want := 1000; total < want && !raceEnabled || raceEnabled && total < want/4 {
		t.Fatalf("only %d mutants; the test lost its reach", total)
	}
	t.Logf("%d mutants of %d distinct documents", total, len(seen))
	if testing.Verbose() {
		t.Log(strings.Repeat("-", 10))
	}
}
