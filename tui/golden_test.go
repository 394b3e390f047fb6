package tui

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/manoctl/manoctl/reconcile/bus"
)

// Goldens: the whole program runs under teatest at 80x24 with ASCII
// colour (TestMain) and a fixed clock; the final screen is compared with
// testdata/<name>.golden. MANOCTL_UPDATE=1 rewrites them (never -update:
// teatest's golden package owns that flag).

func requireGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	got = strings.Join(trimRight(strings.Split(got, "\n")), "\n") + "\n"
	if os.Getenv("MANOCTL_UPDATE") == "1" {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with MANOCTL_UPDATE=1 to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden (MANOCTL_UPDATE=1 updates it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func trimRight(lines []string) []string {
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return lines
}

// step is something done to the running program: keys typed, a message
// sent, then a wait until the screen shows want.
type step struct {
	keys string
	msg  tea.Msg
	want string
}

func runGolden(t *testing.T, name string, steps ...step) {
	t.Helper()
	b := NewFakeBackend(Info{Source: "embedded .manoctl", Manifest: "manoctl.yaml", Desired: []string{"demo-1", "demo-2", "demo-3"}}, TestRows())
	m := New(b, Options{Now: func() time.Time { return TestEpoch }, Frame: 5 * time.Millisecond})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(80, 24))
	wait := func(want string) {
		t.Helper()
		teatest.WaitFor(t, tm.Output(), func(out []byte) bool { return bytes.Contains(out, []byte(want)) },
			teatest.WithDuration(5*time.Second), teatest.WithCheckInterval(5*time.Millisecond))
	}
	wait("READY") // the records arrived (placeholder rows show before)
	sink := b.Sink()
	for i := range 40 {
		topic := []string{"platform.management.plugin.0a1b2c3d-0000-4000-8000-000000000002.heartbeat",
			"service.instances.create", "infrastructure.function.deploy", "mano.function.deploy"}[i%4]
		app := []string{"son-plugin.ServiceLifecycleManager", "son-gkeeper", "son-plugin.FunctionLifecycleManager", "son-plugin.ServiceLifecycleManager"}[i%4]
		corr := ""
		if i%4 != 0 {
			corr = fmt.Sprintf("5eb67f62-3ac7-4fe0-8dc3-%012d", i/4)
		}
		sink.Traffic(TestEpoch.Add(time.Duration(i)*37*time.Millisecond), &bus.Message{Topic: topic, AppID: app, CorrelationID: corr,
			Body: []byte(fmt.Sprintf(`{"uuid": "0a1b2c3d", "state": "RUNNING", "seq": %d}`, i))})
	}
	for _, s := range steps {
		if s.msg != nil {
			tm.Send(s.msg)
		}
		for _, r := range s.keys {
			switch r {
			case '\r':
				tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
			case '\x1b':
				tm.Send(tea.KeyMsg{Type: tea.KeyEsc})
			default:
				tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
			}
		}
		if s.want != "" {
			wait(s.want)
		}
	}
	tm.Send(tea.KeyMsg{Type: tea.KeyCtrlC})
	fm := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(*Model)
	requireGolden(t, name, fm.View())
}

func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"services", nil},
		{"plugins", []step{{keys: ":pl\r", want: "plugins [4]"}}},
		{"functions", []step{{keys: ":fn\r", want: "functions [3]"}}},
		{"operations", []step{{keys: ":ops\r", want: "operations [3]"}}},
		{"operation_details", []step{{keys: ":ops\r", want: "operations [3]"}, {keys: "j\r", want: "Steps (4)"}}},
		{"vims", []step{{keys: ":vim\r", want: "vims [2]"}}},
		{"traffic", []step{{keys: ":bus\r", want: "traffic [40]"}}},
		{"traffic_body", []step{{keys: ":bus\r", want: "traffic [40]"}, {keys: "kkk\r", want: "Size:"}}},
		{"filter", []step{{keys: "/!demo-1", want: "[2/3]"}}},
		{"command_completion", []step{{keys: ":op", want: "op█"}}},
		{"plan_confirm", []step{{keys: "jja", want: "(y/n)"}}},
		{"help", []step{{keys: "?", want: "Everywhere:"}}},
		{"resize_120x30", []step{{msg: tea.WindowSizeMsg{Width: 120, Height: 30}, keys: ":svc\r", want: "ID"}}},
		{"resize_60x12", []step{{msg: tea.WindowSizeMsg{Width: 60, Height: 12}, keys: ":pl\r", want: "plugins [4]"}}},
	} {
		t.Run(tc.name, func(t *testing.T) { runGolden(t, tc.name, tc.steps...) })
	}
}
