package tui

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/muesli/termenv"

	"github.com/manoctl/manoctl/adapters/amqp/amqptest"
	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/plan"
)

func TestMain(m *testing.M) {
	// Deterministic output: no colour, times in UTC.
	lipgloss.SetColorProfile(termenv.Ascii)
	time.Local = time.UTC
	amqptest.Main(m) // RabbitMQ tests run unless MANOCTL_SKIP_AMQP=1, loudly
}

// Most tests call Update directly (gh-dash's ui_test.go): a model over a
// fake backend, sized, with TestRows delivered.

func newTestModel(t testing.TB, opts Options, rows ...Change) (*Model, *FakeBackend) {
	t.Helper()
	if rows == nil {
		rows = TestRows()
	}
	b := NewFakeBackend(Info{Source: "embedded .manoctl", Manifest: "manoctl.yaml", Desired: []string{"demo-1", "demo-2", "demo-3"}}, rows)
	if opts.Now == nil {
		opts.Now = func() time.Time { return TestEpoch }
	}
	m := New(b, opts)
	t.Cleanup(m.Close)
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	m.Update(recordsChangedMsg{Reset: true, Changes: rows})
	m.backendUp = true
	return m, b
}

// key builds a key message from a name as bubbletea prints it.
func key(s string) tea.KeyMsg {
	switch s {
	case "enter":
		return tea.KeyMsg{Type: tea.KeyEnter}
	case "esc":
		return tea.KeyMsg{Type: tea.KeyEsc}
	case "tab":
		return tea.KeyMsg{Type: tea.KeyTab}
	case "backspace":
		return tea.KeyMsg{Type: tea.KeyBackspace}
	case "ctrl+c":
		return tea.KeyMsg{Type: tea.KeyCtrlC}
	case "up":
		return tea.KeyMsg{Type: tea.KeyUp}
	case "down":
		return tea.KeyMsg{Type: tea.KeyDown}
	case " ":
		return tea.KeyMsg{Type: tea.KeySpace, Runes: []rune{' '}}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)}
}

// press sends keys and returns the last command.
func press(m *Model, keys ...string) tea.Cmd {
	var cmd tea.Cmd
	for _, k := range keys {
		_, cmd = m.Update(key(k))
	}
	return cmd
}

// typeText types s one rune at a time.
func typeText(m *Model, s string) {
	for _, r := range s {
		m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
	}
}

// run executes a command and feeds its message back, as the runtime
// would; it returns the message.
func run(t *testing.T, m *Model, cmd tea.Cmd) tea.Msg {
	t.Helper()
	if cmd == nil {
		t.Fatal("no command")
	}
	msg := cmd()
	m.Update(msg)
	return msg
}

func mustContain(t *testing.T, view string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(view, w) {
			t.Errorf("view lacks %q:\n%s", w, view)
		}
	}
}

func mustNotContain(t *testing.T, view string, bad ...string) {
	t.Helper()
	for _, w := range bad {
		if strings.Contains(view, w) {
			t.Errorf("view has %q:\n%s", w, view)
		}
	}
}

func checkFrame(t *testing.T, view string, w, h int) {
	t.Helper()
	lines := strings.Split(view, "\n")
	if len(lines) != h {
		t.Errorf("%dx%d: %d lines, want %d", w, h, len(lines), h)
	}
	for i, l := range lines {
		if n := ansi.StringWidth(l); n > w {
			t.Errorf("%dx%d: line %d is %d cells wide: %q", w, h, i, n, l)
		}
	}
}

func TestView_BeforeWindowSize(t *testing.T) {
	b := NewFakeBackend(Info{Source: "x"}, nil)
	m := New(b, Options{})
	defer m.Close()
	if v := m.View(); v != "" {
		t.Errorf("View before the first WindowSizeMsg = %q, want empty", v)
	}
	// Every key must be safe before the size is known.
	for _, k := range []string{"j", "enter", ":", "esc", "/", "x", "esc", "?", "esc", "G"} {
		press(m, k)
	}
	_ = m.View()
}

func TestView_Services(t *testing.T) {
	m, _ := newTestModel(t, Options{})
	v := m.View()
	checkFrame(t, v, 80, 24)
	mustContain(t, v, "embedded .manoctl", "services [3]", ">demo-1", "READY", "athens", "demo-2", "INSTANTIATING",
		"demo-3", "NOT DEPLOYED", "<a>apply", "svc 2")
}

func TestView_AllViewsFitEverySize(t *testing.T) {
	m, _ := newTestModel(t, Options{})
	sink := m.feed
	for i := range 50 {
		sink.Traffic(TestEpoch.Add(time.Duration(i)*time.Millisecond), &bus.Message{Topic: "service.instances.create", AppID: "son-gkeeper",
			CorrelationID: fmt.Sprintf("corr-%d", i), Payload: map[string]any{"i": i}})
	}
	m.Update(frameMsg(TestEpoch))
	for _, size := range [][2]int{{80, 24}, {40, 10}, {120, 40}, {200, 60}, {20, 5}, {1, 1}} {
		m.Update(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		for v := range numViews {
			m.command(viewID(v).String())
			checkFrame(t, m.View(), size[0], size[1])
			press(m, "enter")
			checkFrame(t, m.View(), size[0], size[1])
			press(m, "esc")
		}
		press(m, "?")
		checkFrame(t, m.View(), size[0], size[1])
		press(m, "esc")
	}
}

func TestRecords_IncrementalChanges(t *testing.T) {
	m, _ := newTestModel(t, Options{})
	svc1 := "019a0000-0000-7000-8000-000000000001"
	// demo-2 becomes ready with functions; demo-1 is terminated, which
	// brings its placeholder back; a new unnamed service appears.
	s2 := *(m.lists[KindService].get("019a0000-0000-7000-8000-000000000002").(*ServiceRow))
	s2.Status = "ready"
	s1 := *(m.lists[KindService].get(svc1).(*ServiceRow))
	s1.Status, s1.Name = "terminated", ""
	m.Update(recordsChangedMsg{Changes: []Change{
		{Kind: KindService, Key: s2.ID, Row: &s2},
		{Kind: KindService, Key: s1.ID, Row: &s1},
		{Kind: KindService, Key: "019a0000-0000-7000-8000-0000000000ff", Row: &ServiceRow{ID: "019a0000-0000-7000-8000-0000000000ff", Status: "ready"}},
	}})
	v := m.View()
	mustContain(t, v, "services [5]", "NOT DEPLOYED", "TERMINATED", "svc 3")
	if n := strings.Count(v, "READY"); n != 2 {
		t.Errorf("%d READY rows, want 2:\n%s", n, v)
	}
	// Deleting a record removes its row.
	m.Update(recordsChangedMsg{Changes: []Change{{Kind: KindService, Key: s1.ID, Deleted: true}}})
	mustContain(t, m.View(), "services [4]")
	// Functions moving between VIMs keep the per-VIM counts right.
	m.command("vims")
	mustContain(t, m.View(), "6/64    3")
	m.Update(recordsChangedMsg{Changes: []Change{{Kind: KindFunction, Key: "019a0000-0000-7000-8000-000000000100", Deleted: true}}})
	if got := m.vimFuncs["5f1c0a4e-1111-4111-8111-000000000001"]; got != 2 {
		t.Errorf("athens runs %d functions after a delete, want 2", got)
	}
}

func TestRecords_SelectionFollowsRow(t *testing.T) {
	m, _ := newTestModel(t, Options{})
	press(m, "j") // demo-2
	if e := m.lists[KindService].current(); e.row.(*ServiceRow).Name != "demo-2" {
		t.Fatalf("cursor on %v", e.row)
	}
	// A service sorted before demo-2 appears: the cursor stays on demo-2.
	m.Update(recordsChangedMsg{Changes: []Change{{Kind: KindService, Key: "019a0000-0000-7000-8000-0000000000aa",
		Row: &ServiceRow{ID: "019a0000-0000-7000-8000-0000000000aa", Name: "demo-0", Status: "ready"}}}})
	if e := m.lists[KindService].current(); e.row.(*ServiceRow).Name != "demo-2" {
		t.Errorf("cursor moved to %+v", e.row)
	}
	// A reset with nothing keeps the model sane.
	m.Update(recordsChangedMsg{Reset: true})
	mustContain(t, m.View(), "services [3]", "NOT DEPLOYED")
}

func TestKeys_SwitchViewByName(t *testing.T) {
	m, _ := newTestModel(t, Options{})
	press(m, ":")
	typeText(m, "pl")
	mustContain(t, m.View(), ":pl█ugins")
	press(m, "enter")
	mustContain(t, m.View(), "plugins [4]", "son-plugin.ServiceLifecycleManager")
	// Tab completes; aliases and unique prefixes work.
	press(m, ":")
	typeText(m, "op")
	press(m, "tab", "enter")
	mustContain(t, m.View(), "operations [3]")
	press(m, ":")
	typeText(m, "vnfr")
	press(m, "enter")
	mustContain(t, m.View(), "functions [3]")
	// An unknown name says so and stays put.
	press(m, ":")
	typeText(m, "nope")
	press(m, "enter")
	mustContain(t, m.View(), `unknown view "nope"`, "functions [3]")
	// esc goes back through the views.
	press(m, "esc")
	mustContain(t, m.View(), "operations [3]")
	press(m, "esc")
	mustContain(t, m.View(), "plugins [4]")
	// Keys typed in one burst arrive as one message.
	m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(":svc")})
	press(m, "enter")
	mustContain(t, m.View(), "services [3]")
}

func TestKeys_Filter(t *testing.T) {
	m, _ := newTestModel(t, Options{})
	press(m, "/")
	typeText(m, "demo-2")
	v := m.View()
	mustContain(t, v, "services [1/3]", "/demo-2█", "demo-2")
	mustNotContain(t, v, "demo-1", "NOT DEPLOYED")
	press(m, "enter")
	mustContain(t, m.View(), "─ /demo-2 ─")
	// /! inverts.
	press(m, "/", "backspace", "backspace", "backspace", "backspace", "backspace", "backspace")
	typeText(m, "!demo-2")
	press(m, "enter")
	v = m.View()
	mustContain(t, v, "services [2/3]", "demo-1", "demo-3")
	mustNotContain(t, v, "INSTANTIATING")
	// Filters are per view.
	m.command("plugins")
	mustContain(t, m.View(), "plugins [4]")
	m.command("services")
	// esc clears the filter.
	press(m, "esc")
	mustContain(t, m.View(), "services [3]")
	// esc while typing restores the previous filter.
	press(m, "/")
	typeText(m, "zzz")
	mustContain(t, m.View(), "nothing matches")
	press(m, "esc")
	mustContain(t, m.View(), "services [3]")
}

func TestKeys_DetailsAndBack(t *testing.T) {
	m, _ := newTestModel(t, Options{})
	press(m, "enter")
	v := m.View()
	mustContain(t, v, "service demo-1", "Functions (3):", "vnf_firewall   normal operation   on athens", "vdu01:cp01=172.0.0.2")
	press(m, "G")
	mustContain(t, m.View(), "Operations (1, newest first):", "instantiate succeeded in 7.0s", "✓ inform_gk")
	press(m, "esc")
	mustContain(t, m.View(), "services [3]")
	m.command("operations")
	press(m, "j") // the rolled-back one
	press(m, "enter")
	v = m.View()
	mustContain(t, v, "instantiate demo-3", "rolled-back", "Failed step:", "deploy_vnfs", "✗ deploy_vnfs", "error: infrastructure.function.deploy")
	press(m, "q") // q closes a pane
	mustContain(t, m.View(), "operations [3]")
	m.command("plugins")
	press(m, "j", "enter")
	mustContain(t, m.View(), "plugin son-plugin.PlacementPlugin", "STALE")
}

func TestPlugins_StaleStandOut(t *testing.T) {
	m, _ := newTestModel(t, Options{})
	m.command("plugins")
	v := m.View()
	mustContain(t, v, "42s stale")
	if n := strings.Count(v, "stale"); n != 1 {
		t.Errorf("%d stale plugins, want 1:\n%s", n, v)
	}
	// Time passes without heartbeats: all go stale.
	m.opts.Now = func() time.Time { return TestEpoch.Add(time.Minute) }
	m.Update(frameMsg(TestEpoch))
	if n := strings.Count(m.View(), "stale"); n != 4 {
		t.Errorf("%d stale plugins after a silent minute, want 4", n)
	}
}

func TestActions_ApplyAfterConfirmation(t *testing.T) {
	m, b := newTestModel(t, Options{})
	press(m, "j", "j") // demo-3, not deployed
	cmd := press(m, "a")
	msg := run(t, m, cmd)
	if pm, ok := msg.(proposalMsg); !ok || pm.err != nil {
		t.Fatalf("plan: %#v", msg)
	}
	v := m.View()
	mustContain(t, v, "plan: apply demo-3", "+   demo-3 (create)", "Apply this plan to demo-3? (y/n)")
	// n cancels; a asks again from the plan pane; y applies.
	press(m, "n")
	mustContain(t, m.View(), "plan: apply demo-3", "<a>apply")
	press(m, "a")
	mustContain(t, m.View(), "Apply this plan to demo-3? (y/n)")
	cmd = press(m, "y")
	if m.running != 1 {
		t.Errorf("running = %d, want 1", m.running)
	}
	run(t, m, cmd)
	if got := strings.Join(b.Recorded(), "; "); got != "plan apply demo-3; apply apply demo-3" {
		t.Errorf("backend saw %q", got)
	}
	mustContain(t, m.View(), "apply demo-3: done", "services [3]")
	if m.running != 0 {
		t.Errorf("running = %d after the apply", m.running)
	}
	// The progress lines reach the status bar through the feed.
	b.ApplyErr = errors.New("boom")
	press(m, "k", "k")
	run(t, m, press(m, "d"))
	mustContain(t, m.View(), "Destroy demo-1? (y/n)")
	run(t, m, press(m, "y"))
	mustContain(t, m.View(), "destroy demo-1 failed: boom")
}

func TestActions_PlanOnlyAndNoChanges(t *testing.T) {
	m, b := newTestModel(t, Options{})
	b.Plans = map[string]*plan.Plan{"demo-1": {}}
	run(t, m, press(m, "p"))
	v := m.View()
	mustContain(t, v, "plan: apply demo-1", "No changes", "demo-1: no changes")
	mustNotContain(t, v, "(y/n)", "<a>apply")
	press(m, "esc")
	mustContain(t, m.View(), "services [3]")
	// Destroying a service that does not run is refused at once.
	press(m, "j", "j")
	if cmd := press(m, "d"); cmd != nil {
		t.Error("destroy of a placeholder planned something")
	}
	mustContain(t, m.View(), "demo-3 is not deployed")
}

func TestActions_ReadOnly(t *testing.T) {
	m, b := newTestModel(t, Options{ReadOnly: true})
	mustContain(t, m.View(), "read-only", "<p>plan")
	mustNotContain(t, m.View(), "<a>apply", "<d>destroy")
	for _, k := range []string{"a", "d"} {
		if cmd := press(m, k); cmd != nil {
			t.Errorf("%s returned a command in read-only mode", k)
		}
	}
	mustContain(t, m.View(), "read-only: apply and destroy are disabled")
	// Plan still works, but its pane offers no apply.
	run(t, m, press(m, "p"))
	mustNotContain(t, m.View(), "<a>apply", "(y/n)")
	press(m, "a")
	mustContain(t, m.View(), "read-only: apply is disabled")
	press(m, "esc")
	m.command("plugins")
	press(m, "x")
	mustContain(t, m.View(), "read-only: plugin actions are disabled")
	if m.confirm != nil {
		t.Error("read-only plugin action asked for confirmation")
	}
	if got := b.Recorded(); len(got) != 1 {
		t.Errorf("backend saw %q, want only the plan", got)
	}
}

func TestActions_PluginLifecycle(t *testing.T) {
	m, b := newTestModel(t, Options{})
	m.command("plugins")
	press(m, "j", "j") // ServiceLifecycleManager
	for _, tc := range []struct{ key, action string }{{"p", "pause"}, {"s", "start"}, {"x", "stop"}} {
		press(m, tc.key)
		mustContain(t, m.View(), fmt.Sprintf("Send %s to plugin son-plugin.ServiceLifecycleManager (0a1b2c3d)? (y/n)", tc.action))
		run(t, m, press(m, "y"))
		mustContain(t, m.View(), tc.action+" sent to son-plugin.ServiceLifecycleManager")
	}
	press(m, "x", "esc")
	mustContain(t, m.View(), "cancelled")
	// Pasted text is not taken for commands.
	m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("xy"), Paste: true})
	if m.confirm != nil {
		t.Error("a paste asked for a confirmation")
	}
	want := "plugin pause 0a1b2c3d-0000-4000-8000-000000000002; plugin start 0a1b2c3d-0000-4000-8000-000000000002; plugin stop 0a1b2c3d-0000-4000-8000-000000000002"
	if got := strings.Join(b.Recorded(), "; "); got != want {
		t.Errorf("backend saw %q", got)
	}
}

func TestQuit(t *testing.T) {
	m, _ := newTestModel(t, Options{})
	if cmd := press(m, "q"); cmd == nil || cmd() != tea.Quit() {
		t.Error("q does not quit")
	}
	if m.ctx.Err() == nil {
		t.Error("quitting does not stop the backend")
	}
	// With an action running, q asks first.
	m, _ = newTestModel(t, Options{})
	m.running = 1
	if cmd := press(m, "q"); cmd != nil {
		t.Error("q quit during an action without asking")
	}
	mustContain(t, m.View(), "Quit anyway? (y/n)")
	if cmd := press(m, "y"); cmd == nil || cmd() != tea.Quit() {
		t.Error("y does not quit")
	}
	m, _ = newTestModel(t, Options{})
	press(m, "/")
	if cmd := press(m, "ctrl+c"); cmd == nil || cmd() != tea.Quit() {
		t.Error("ctrl+c does not quit while typing")
	}
}

func trafficMsg(i int) TrafficEntry {
	return TrafficEntry{At: TestEpoch.Add(time.Duration(i) * time.Millisecond), Msg: &bus.Message{
		Topic: fmt.Sprintf("platform.management.plugin.%04d.heartbeat", i), AppID: "son-plugin.SLM", CorrelationID: fmt.Sprintf("c%d", i),
		Body: []byte(fmt.Sprintf(`{"uuid":"%04d","state":"RUNNING"}`, i))}}
}

func TestTraffic_RingIsBoundedAndCountsDrops(t *testing.T) {
	feed := NewFeed(64)
	m, _ := newTestModel(t, Options{TrafficRing: 100, Feed: feed})
	m.command("traffic")
	// 250 messages reach the model: it keeps the last 100.
	var entries []TrafficEntry
	for i := range 250 {
		entries = append(entries, trafficMsg(i))
	}
	m.Update(busEventMsg{Entries: entries})
	if n := m.traffic.all.len(); n != 100 {
		t.Errorf("ring holds %d, want 100", n)
	}
	mustContain(t, m.View(), "kept 100/100 · evicted 150 · dropped 0", ">12:00:00.249", "0249.heartbeat")
	// The tap's channel holds 64: a burst of 100 drops 36, counted, and
	// never blocks the sender.
	done := make(chan struct{})
	go func() {
		for i := range 100 {
			e := trafficMsg(1000 + i)
			feed.Traffic(e.At, e.Msg)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Traffic blocked")
	}
	if d := feed.Dropped(); d != 36 {
		t.Errorf("dropped %d, want 36", d)
	}
	m.Update(frameMsg(TestEpoch))
	mustContain(t, m.View(), "dropped 36")
}

func TestTraffic_PauseFilterDetails(t *testing.T) {
	m, _ := newTestModel(t, Options{})
	m.command("traffic")
	var entries []TrafficEntry
	for i := range 30 {
		entries = append(entries, trafficMsg(i))
	}
	m.Update(busEventMsg{Entries: entries})
	// Follows the newest message.
	mustContain(t, m.View(), ">12:00:00.029")
	press(m, " ")
	m.Update(busEventMsg{Entries: []TrafficEntry{trafficMsg(30), trafficMsg(31)}})
	v := m.View()
	mustContain(t, v, "PAUSED (+2)", "traffic [30]")
	mustNotContain(t, v, "0031")
	press(m, " ")
	mustContain(t, m.View(), "traffic [32]", ">12:00:00.031")
	// Filter on topic, app id or correlation id; /! inverts.
	press(m, "/")
	typeText(m, "c1")
	press(m, "enter")
	mustContain(t, m.View(), "traffic [11 of 32]") // c1, c10..c19
	press(m, "esc", "/")
	typeText(m, "!0001")
	press(m, "enter")
	mustContain(t, m.View(), "traffic [31 of 32]")
	press(m, "esc")
	// enter shows the decoded body; JSON is indented.
	press(m, "k", "enter")
	v = m.View()
	mustContain(t, v, "message platform.management.plugin.0030.heartbeat", "Correlation ID: c30", `"state": "RUNNING"`)
	press(m, "esc", "c")
	mustContain(t, m.View(), "traffic [0]", "traffic cleared")
}

func TestTraffic_InProcessPayloadIsEncoded(t *testing.T) {
	m, _ := newTestModel(t, Options{})
	m.command("traffic")
	m.Update(busEventMsg{Entries: []TrafficEntry{{At: TestEpoch, Msg: &bus.Message{Topic: "service.instances.create",
		AppID: "son-gkeeper", CorrelationID: "abc", ReplyTo: "service.instances.create",
		Payload: map[string]any{"NSD": map[string]any{"name": "sonata-demo"}}}}}})
	v := m.View()
	mustContain(t, v, "service.instances.create", "son-gkeeper")
	press(m, "enter")
	mustContain(t, m.View(), "Reply to:       service.instances.create", `"name": "sonata-demo"`)
}

func TestClean_ControlCharactersNeverReachTheTerminal(t *testing.T) {
	m, _ := newTestModel(t, Options{})
	evil := "x\x1b[2J\x1b]0;pwned\a\ry"
	m.Update(recordsChangedMsg{Changes: []Change{{Kind: KindService, Key: "019a0000-0000-7000-8000-0000000000ee",
		Row: &ServiceRow{ID: "019a0000-0000-7000-8000-0000000000ee", Name: evil, Status: "error", Error: evil}}}})
	m.Update(busEventMsg{Entries: []TrafficEntry{{At: TestEpoch, Msg: &bus.Message{Topic: evil, AppID: evil, Body: []byte(evil)}}}})
	check := func() {
		t.Helper()
		if v := m.View(); strings.ContainsAny(v, "\x1b\a\r") {
			t.Fatalf("control characters in the view: %q", v)
		}
	}
	check()
	press(m, "G", "enter")
	check()
	press(m, "esc")
	m.command("traffic")
	check()
	press(m, "enter")
	check()
}

func TestMouse(t *testing.T) {
	m, _ := newTestModel(t, Options{})
	m.Update(tea.MouseMsg{X: 5, Y: 5, Button: tea.MouseButtonLeft, Action: tea.MouseActionPress})
	if e := m.lists[KindService].current(); e.row.(*ServiceRow).Name != "demo-3" {
		t.Errorf("click selected %+v", e.row)
	}
	m.Update(tea.MouseMsg{Button: tea.MouseButtonWheelUp, Action: tea.MouseActionPress})
	if m.lists[KindService].cursor != 0 {
		t.Errorf("wheel up: cursor %d", m.lists[KindService].cursor)
	}
}

func TestFrame_TakesWhatTheFeedHolds(t *testing.T) {
	m, b := newTestModel(t, Options{})
	feed := m.feed
	// Many changes of one record between two frames arrive as one.
	for i := range 1000 {
		feed.Change(Change{Kind: KindService, Key: "019a0000-0000-7000-8000-000000000002",
			Row: &ServiceRow{ID: "019a0000-0000-7000-8000-000000000002", Name: "demo-2", Status: "ready", Version: uint64(i)}})
	}
	_, changes := feed.pendingCount()
	if changes != 1 {
		t.Errorf("%d pending changes, want 1", changes)
	}
	feed.Notice("hello from the backend")
	cmd := m.onFrame(TestEpoch)
	if cmd == nil {
		t.Error("the frame clock is not re-armed")
	}
	v := m.View()
	mustContain(t, v, "hello from the backend")
	if n := strings.Count(v, "READY"); n != 2 {
		t.Errorf("%d READY, want 2", n)
	}
	_ = b
}

// pendingCount reports what the feed holds for the next frame.
func (f *Feed) pendingCount() (resets, changes int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.hasReset {
		resets = 1
	}
	return resets, len(f.changes)
}
