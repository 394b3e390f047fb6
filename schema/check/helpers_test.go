package check

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/manoctl/manoctl/schema"
)

// parseDocs is the test-only loader: every YAML document of src becomes a
// schema.Document with its node tree (for positions) and the generic value
// decoded from it. Null documents are skipped. It does not apply the YAML
// 1.1 scalar rules of the real loader; the checks only need strings, lists
// and mappings, and read numbers as text where ids are concerned.
func parseDocs(file, pkg string, kind schema.Kind, src []byte) ([]*schema.Document, error) {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var docs []*schema.Document
	for i := 0; ; i++ {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return docs, fmt.Errorf("%s: %w", file, err)
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return docs, fmt.Errorf("%s: document %d: %w", file, i, err)
		}
		if v == nil {
			continue
		}
		docs = append(docs, &schema.Document{File: file, Index: i, Package: pkg, Kind: kind, Root: &n, Value: v})
	}
}

// dedent strips the common leading tabs of a raw-string YAML literal, so
// that test documents can be indented with the Go code (YAML forbids tabs
// for indentation).
func dedent(s string) string {
	lines := strings.Split(strings.TrimPrefix(s, "\n"), "\n")
	prefix := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		n := len(l) - len(strings.TrimLeft(l, "\t"))
		if prefix < 0 || n < prefix {
			prefix = n
		}
	}
	for i, l := range lines {
		if len(l) >= prefix && prefix > 0 {
			lines[i] = l[prefix:]
		}
	}
	return strings.Join(lines, "\n")
}

// dump formats findings one per line, for failure messages.
func dump(diags []schema.Diagnostic) string {
	var b strings.Builder
	for _, d := range diags {
		b.WriteString("\n\t")
		b.WriteString(d.String())
	}
	return b.String()
}

// formatCounts prints a code -> count map in a stable order.
func formatCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k, n := range m {
		if n != 0 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s×%d", k, m[k])
	}
	if len(parts) == 0 {
		return "ok"
	}
	return strings.Join(parts, "; ")
}
