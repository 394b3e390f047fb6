package validate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/manoctl/manoctl/schema"
	"github.com/manoctl/manoctl/schema/check"
	"github.com/manoctl/manoctl/schema/internal/corpus"
	"github.com/manoctl/manoctl/schema/syntax"
)

// descriptorSources returns the bytes of every corpus VNFD and NSD file
// (package members included), keyed by path.
func descriptorSources(b *testing.B) (names []string, data [][]byte) {
	b.Helper()
	dir, err := corpus.Dir()
	if err != nil {
		b.Fatal(err)
	}
	docs, _ := schema.LoadPaths(context.Background(), []string{dir}, schema.LoadOptions{})
	for _, d := range docs {
		if d.Kind != schema.KindVNFD && d.Kind != schema.KindNSD {
			continue
		}
		path := d.File
		src, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		names = append(names, path)
		data = append(data, src)
	}
	if len(names) < 100 {
		b.Fatalf("%d corpus descriptors, want about 124", len(names))
	}
	return names, data
}

// cpuTime is the CPU time this process has used. On a shared machine
// wall-clock throughput swings with the neighbours' load; descriptors per
// CPU-second is the per-core figure that does not.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportRates(b *testing.B, descriptors int, cpu0 time.Duration) {
	n := float64(descriptors * b.N)
	b.ReportMetric(n/b.Elapsed().Seconds(), "descriptors/s")
	b.ReportMetric(n/(cpuTime(b)-cpu0).Seconds(), "descriptors/cpu-s")
}

func parseAll(b *testing.B, names []string, data [][]byte) []*schema.Document {
	var docs []*schema.Document
	for i := range names {
		d, _ := schema.LoadBytes(names[i], data[i], schema.LoadOptions{})
		docs = append(docs, d...)
	}
	return docs
}

// BenchmarkSyntax: one core, the corpus VNFDs and NSDs parsed and checked
// against the schema (fast path), reported as descriptors per second.
func BenchmarkSyntax(b *testing.B) {
	names, data := descriptorSources(b)
	b.ResetTimer()
	cpu0 := cpuTime(b)
	for b.Loop() {
		for _, doc := range parseAll(b, names, data) {
			if _, err := syntax.Check(doc, syntax.Options{}); err != nil {
				b.Fatal(err)
			}
		}
	}
	reportRates(b, len(names), cpu0)
}

// BenchmarkSyntaxIntegrity: one core, parse + syntax + integrity and
// topology (check.Run over all of them together).
func BenchmarkSyntaxIntegrity(b *testing.B) {
	names, data := descriptorSources(b)
	b.ResetTimer()
	cpu0 := cpuTime(b)
	for b.Loop() {
		docs := parseAll(b, names, data)
		for _, doc := range docs {
			if _, err := syntax.Check(doc, syntax.Options{}); err != nil {
				b.Fatal(err)
			}
		}
		check.Run(docs, schema.LevelTopology, check.Options{})
	}
	reportRates(b, len(names), cpu0)
}

// BenchmarkSyntaxCUE: the same with the CUE evaluator, for scale.
func BenchmarkSyntaxCUE(b *testing.B) {
	names, data := descriptorSources(b)
	docs := parseAll(b, names, data)
	b.ResetTimer()
	cpu0 := cpuTime(b)
	for b.Loop() {
		for _, doc := range docs {
			if _, err := syntax.Check(doc, syntax.Options{Engine: syntax.EngineCUE}); err != nil {
				b.Fatal(err)
			}
		}
	}
	reportRates(b, len(docs), cpu0)
}

// BenchmarkValidate1000Files: validate.Paths over a directory of 1,000
// corpus descriptor files, all levels, every core (what manoctl validate
// does, minus process start-up). ns/op is the wall time of one run.
func BenchmarkValidate1000Files(b *testing.B) {
	names, data := descriptorSources(b)
	dir := b.TempDir()
	for i := range 1000 {
		j := i % len(names)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("d%04d.yml", i)), data[j], 0o644); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	cpu0 := cpuTime(b)
	for b.Loop() {
		rep, err := Paths(context.Background(), []string{dir}, schema.LoadOptions{}, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if rep.Files != 1000 {
			b.Fatalf("%d files", rep.Files)
		}
	}
	b.ReportMetric((cpuTime(b)-cpu0).Seconds()/float64(b.N), "cpu-s/op")
}
