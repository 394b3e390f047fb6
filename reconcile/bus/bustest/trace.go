package bustest

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/schema/descriptor"
)

// parallelTopics are the steps the SLM runs for all functions at once;
// their interleaving is not deterministic, so the canonical trace orders
// each parallel block by function.
var parallelTopics = map[string]string{
	bus.TopicFunctionDeploy: "deploy", bus.TopicIAFunctionDeploy: "deploy",
	bus.TopicFunctionStart: "start", bus.TopicFunctionStop: "stop",
}

// Canonical renders a trace as one line per message: topic, app_id,
// whether reply_to is set, correlation label (c1, c2, ... in order of
// first use) and the payload's top-level keys, the columns of
// spec/observed-trace.md. Parallel blocks are sorted by the function
// they concern, then request before reply.
func Canonical(t testing.TB, msgs []*bus.Message) []string {
	t.Helper()
	type entry struct {
		m       *bus.Message
		body    any
		subject string
	}
	subjectOf := map[string]string{} // correlation id -> function name
	var es []entry
	for _, m := range msgs {
		if strings.HasPrefix(m.Topic, "platform.management.plugin.") || strings.HasPrefix(m.Topic, "manoctl.") {
			continue // registration and heartbeats run on their own clock; manoctl's own topics are not SONATA's
		}
		var body any
		if err := m.Decode(&body); err != nil {
			t.Fatalf("undecodable %s: %v", m.Topic, err)
		}
		e := entry{m: m, body: body}
		if parallelTopics[m.Topic] != "" {
			if m.ReplyTo != "" {
				bm := descriptor.AsMap(body)
				e.subject = descriptor.Str(descriptor.Map(bm, "vnfd"), "name")
				subjectOf[m.CorrelationID] = e.subject
			} else {
				e.subject = subjectOf[m.CorrelationID]
			}
		}
		es = append(es, e)
	}
	// Sort maximal runs of messages of one parallel step.
	for i := 0; i < len(es); {
		j := i
		step := parallelTopics[es[i].m.Topic]
		for step != "" && j < len(es) && parallelTopics[es[j].m.Topic] == step {
			j++
		}
		if j > i {
			run := es[i:j]
			rank := map[string]int{bus.TopicFunctionDeploy: 0, bus.TopicIAFunctionDeploy: 1, bus.TopicFunctionStart: 0, bus.TopicFunctionStop: 0}
			sort.SliceStable(run, func(a, b int) bool {
				x, y := run[a], run[b]
				if x.subject != y.subject {
					return x.subject < y.subject
				}
				kx, ky := rank[x.m.Topic]*2, rank[y.m.Topic]*2
				if x.m.ReplyTo == "" {
					kx = 5 - kx
				}
				if y.m.ReplyTo == "" {
					ky = 5 - ky
				}
				return kx < ky
			})
			i = j
			continue
		}
		i++
	}
	labels := map[string]string{}
	var lines []string
	for _, e := range es {
		m := e.m
		corr := "-"
		if m.CorrelationID != "" {
			if _, ok := labels[m.CorrelationID]; !ok {
				labels[m.CorrelationID] = fmt.Sprintf("c%d", len(labels)+1)
			}
			corr = labels[m.CorrelationID]
		}
		rt := "no"
		if m.ReplyTo != "" {
			rt = "yes"
		}
		lines = append(lines, fmt.Sprintf("%s | %s | %s | %s | %s", m.Topic, m.AppID, rt, corr, Shape(e.body)))
	}
	return lines
}

// Shape summarises a payload as its sorted top-level keys, with the value
// of status fields, or as list[n].
func Shape(v any) string {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			switch k {
			case "status", "request_status":
				keys = append(keys, k+"="+descriptor.ToString(x[k]))
			default:
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		return "{" + strings.Join(keys, ",") + "}"
	case []any:
		return fmt.Sprintf("list[%d]", len(x))
	}
	return fmt.Sprintf("%T", v)
}

// CheckGolden compares lines with the golden file at path;
// MANOCTL_UPDATE=1 rewrites it instead.
func CheckGolden(t testing.TB, path string, lines []string) {
	t.Helper()
	got := strings.Join(lines, "\n") + "\n"
	if os.Getenv("MANOCTL_UPDATE") == "1" {
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with MANOCTL_UPDATE=1 to create it)", err)
	}
	if got != string(want) {
		t.Errorf("bus trace differs from %s (MANOCTL_UPDATE=1 rewrites it):\n%s", path, lineDiff(string(want), got))
	}
}

func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			fmt.Fprintf(&b, "line %d:\n  want %s\n  got  %s\n", i+1, a, c)
		}
	}
	return b.String()
}
