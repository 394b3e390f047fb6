package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
)

// DefaultFrame is how often the model takes what the backend delivered:
// ten frames a second is live to the eye and bounds the work per second
// whatever the event rate.
const DefaultFrame = 100 * time.Millisecond

// Options tune the model.
type Options struct {
	// ReadOnly disables apply, destroy and plugin actions (plan stays).
	ReadOnly bool
	// Now is the clock; nil means time.Now (tests fix it for goldens).
	Now func() time.Time
	// Frame is the interval between frames; 0 means DefaultFrame.
	Frame time.Duration
	// TrafficRing is how many messages the traffic view keeps; 0 means
	// DefaultTrafficRing.
	TrafficRing int
	// Feed connects the backend to the model; nil makes one.
	Feed *Feed
	// View is the view shown first (a name `:` accepts); default services.
	View string
}

// Messages. Record changes and bus traffic reach the model once per frame
// as recordsChangedMsg and busEventMsg; tests send them directly.
type (
	frameMsg          time.Time
	recordsChangedMsg struct {
		Reset   bool
		Changes []Change
	}
	busEventMsg struct {
		Entries []TrafficEntry
	}
	backendDoneMsg struct{ err error }
	proposalMsg    struct {
		p       *Proposal
		err     error
		confirm bool
	}
	applyDoneMsg struct {
		p   *Proposal
		err error
	}
	pluginDoneMsg struct {
		name, action string
		err          error
	}
)

type overlay uint8

const (
	overlayNone overlay = iota
	overlayDetails
	overlayPlan
	overlayHelp
)

// confirmation is a yes/no question on the bottom line.
type confirmation struct {
	prompt string
	yes    func() tea.Cmd
}

// lineInput is the command line (":") or the filter line ("/").
type lineInput struct {
	active bool
	prompt byte
	value  []rune
	// before is the filter to restore when a filter edit is cancelled.
	before string
}

// Model is the root bubbletea model.
type Model struct {
	backend Backend
	info    Info
	opts    Options
	feed    *Feed
	ctx     context.Context
	cancel  context.CancelFunc
	st      styles

	width, height int
	widths        [numViews][]int
	now           time.Time

	view    viewID
	history []viewID
	lists   [numKinds]*list
	traffic *traffic
	filters [numViews]string

	// Derived indexes, kept up to date change by change.
	desired      map[string]bool
	liveByName   map[string]map[string]bool // service name -> ids not terminated
	placeholders int
	funcVIM      map[string]string
	vimFuncs     map[string]int

	input   lineInput
	overlay overlay
	pane    viewport.Model
	// paneTitle, paneView and paneKey say what the pane shows; a record
	// pane is re-rendered when records change.
	paneTitle string
	paneBody  string
	paneView  viewID
	paneKey   string
	proposal  *Proposal
	confirm   *confirmation

	status    string
	statusBad bool
	running   int // actions (apply, plugin lifecycle) in flight
	backendUp bool
	quitting  bool
}

// New returns the model over b.
func New(b Backend, opts Options) *Model {
	if opts.Frame <= 0 {
		opts.Frame = DefaultFrame
	}
	if opts.Feed == nil {
		opts.Feed = NewFeed(0)
	}
	m := &Model{
		backend: b, info: b.Info(), opts: opts, feed: opts.Feed, st: defaultStyles(),
		traffic: newTraffic(opts.TrafficRing), view: viewServices,
		desired: map[string]bool{}, liveByName: map[string]map[string]bool{},
		funcVIM: map[string]string{}, vimFuncs: map[string]int{},
		pane: viewport.New(0, 0),
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	for k := range m.lists {
		m.lists[k] = newList()
	}
	for _, n := range m.info.Desired {
		m.desired[n] = true
		m.syncPlaceholder(n)
	}
	if opts.View != "" {
		if v, ok := resolveView(opts.View); ok {
			m.view = v
		}
	}
	m.now = m.clock(time.Now())
	return m
}

func (m *Model) clock(t time.Time) time.Time {
	if m.opts.Now != nil {
		return m.opts.Now()
	}
	return t
}

// Close stops what the model started (the backend's Run, actions).
func (m *Model) Close() { m.cancel() }

// Init starts the backend and the frame clock.
func (m *Model) Init() tea.Cmd {
	return tea.Batch(m.runBackend(), m.tick())
}

func (m *Model) runBackend() tea.Cmd {
	ctx, b, feed := m.ctx, m.backend, m.feed
	return func() tea.Msg { return backendDoneMsg{b.Run(ctx, feed)} }
}

func (m *Model) tick() tea.Cmd {
	return tea.Tick(m.opts.Frame, func(t time.Time) tea.Msg { return frameMsg(t) })
}

// Update handles one message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.resize(msg.Width, msg.Height)
	case frameMsg:
		return m, m.onFrame(time.Time(msg))
	case recordsChangedMsg:
		m.applyRecords(msg)
	case busEventMsg:
		m.applyTraffic(msg)
	case backendDoneMsg:
		if msg.err != nil && !errors.Is(msg.err, context.Canceled) && !m.quitting {
			m.setStatus("source stopped: "+msg.err.Error(), true)
		}
	case proposalMsg:
		return m, m.onProposal(msg)
	case applyDoneMsg:
		m.running--
		if msg.err != nil {
			m.setStatus(fmt.Sprintf("%s %s failed: %v", msg.p.Action, msg.p.Service, msg.err), true)
		} else {
			m.setStatus(fmt.Sprintf("%s %s: done", msg.p.Action, msg.p.Service), false)
		}
	case pluginDoneMsg:
		m.running--
		if msg.err != nil {
			m.setStatus(fmt.Sprintf("%s %s failed: %v", msg.action, msg.name, msg.err), true)
		} else {
			m.setStatus(fmt.Sprintf("%s sent to %s", msg.action, msg.name), false)
		}
	case tea.KeyMsg:
		return m, m.onKey(msg)
	case tea.MouseMsg:
		m.onMouse(msg)
	}
	return m, nil
}

func (m *Model) resize(w, h int) {
	m.width, m.height = w, h
	for v := range m.widths {
		m.widths[v] = layout(viewColumns[v], w)
	}
	m.pane.Width, m.pane.Height = w, max(m.bodyHeight()-1, 1)
	if m.overlay != overlayNone {
		m.setPaneContent(m.paneBody)
	}
}

// setPaneContent shows body in the pane, wrapped to the width, keeping
// the scroll position.
func (m *Model) setPaneContent(body string) {
	m.paneBody = body
	y := m.pane.YOffset
	m.pane.SetContent(wrapBlock(cleanBlock(body), m.width-1))
	m.pane.SetYOffset(y)
}

// bodyHeight is the height between the header and the two bottom lines.
func (m *Model) bodyHeight() int { return max(m.height-3, 0) }

func (m *Model) setStatus(s string, bad bool) {
	m.status, m.statusBad = s, bad
}

// onFrame takes what the backend delivered since the last frame.
func (m *Model) onFrame(t time.Time) tea.Cmd {
	m.now = m.clock(t)
	reset, hasReset, changes, notices := m.feed.take()
	if hasReset {
		m.applyRecords(recordsChangedMsg{Reset: true, Changes: reset})
		m.backendUp = true
	}
	if len(changes) > 0 {
		m.applyRecords(recordsChangedMsg{Changes: changes})
	}
	if entries := m.feed.takeTraffic(cap(m.feed.traffic)); len(entries) > 0 {
		m.applyTraffic(busEventMsg{Entries: entries})
	}
	for _, n := range notices {
		m.setStatus(n, strings.HasPrefix(n, "error") || strings.Contains(n, "failed"))
	}
	m.traffic.tickRate(m.now)
	if m.overlay == overlayDetails && m.paneView != viewTraffic {
		m.refreshPane()
	}
	return m.tick()
}

func (m *Model) applyRecords(msg recordsChangedMsg) {
	if msg.Reset {
		for _, l := range m.lists {
			l.clear()
		}
		clear(m.liveByName)
		clear(m.funcVIM)
		clear(m.vimFuncs)
		m.placeholders = 0
		for n := range m.desired {
			m.syncPlaceholder(n)
		}
	}
	for _, c := range msg.Changes {
		m.applyChange(c)
	}
	for _, l := range m.lists {
		l.restoreCursor()
	}
}

func (m *Model) applyChange(c Change) {
	if c.Kind >= numKinds {
		return
	}
	l := m.lists[c.Kind]
	switch c.Kind {
	case KindService:
		// Keep the names of running services, so that a manifest service
		// without one shows as a placeholder; both names are synced once
		// the row is in place.
		var names [2]string
		if old, _ := l.get(c.Key).(*ServiceRow); old != nil {
			if ids := m.liveByName[old.Name]; ids != nil {
				delete(ids, old.ID)
				if len(ids) == 0 {
					delete(m.liveByName, old.Name)
				}
			}
			names[0] = old.Name
		}
		if s, _ := c.Row.(*ServiceRow); s != nil && !c.Deleted {
			if s.Status != "terminated" && s.Name != "" {
				if m.liveByName[s.Name] == nil {
					m.liveByName[s.Name] = map[string]bool{}
				}
				m.liveByName[s.Name][s.ID] = true
			}
			names[1] = s.Name
		}
		defer func() {
			m.syncPlaceholder(names[0])
			if names[1] != names[0] {
				m.syncPlaceholder(names[1])
			}
		}()
	case KindFunction:
		if vim, ok := m.funcVIM[c.Key]; ok {
			m.vimFuncs[vim]--
			if m.vimFuncs[vim] <= 0 {
				delete(m.vimFuncs, vim)
			}
			delete(m.funcVIM, c.Key)
		}
		if f, _ := c.Row.(*FunctionRow); f != nil && !c.Deleted && f.VIM != "" && f.Status != "terminated" {
			m.funcVIM[c.Key] = f.VIM
			m.vimFuncs[f.VIM]++
		}
	}
	if c.Deleted || c.Row == nil {
		l.remove(c.Key)
		return
	}
	sortKey, text := rowIndex(c)
	l.upsert(c.Key, sortKey, text, c.Row)
}

const placeholderPrefix = "desired:"

// syncPlaceholder shows a manifest service that does not run as a
// placeholder row, and hides it once an instance exists.
func (m *Model) syncPlaceholder(name string) {
	if name == "" {
		return
	}
	l := m.lists[KindService]
	key := placeholderPrefix + name
	want := m.desired[name] && len(m.liveByName[name]) == 0
	has := l.byKey[key] != nil
	switch {
	case want && !has:
		row := &ServiceRow{Name: name, Placeholder: true}
		sortKey, text := rowIndex(Change{Kind: KindService, Key: key, Row: row})
		l.upsert(key, sortKey, text, row)
		m.placeholders++
	case !want && has:
		l.remove(key)
		m.placeholders--
	}
}

func (m *Model) applyTraffic(msg busEventMsg) {
	for _, e := range msg.Entries {
		if e.Msg != nil {
			m.traffic.add(newMessage(e))
		}
	}
}

// Keys.

func (m *Model) onKey(k tea.KeyMsg) tea.Cmd {
	if k.Paste && !m.input.active {
		return nil // pasted text is not a string of commands
	}
	if k.Type == tea.KeyRunes && len(k.Runes) > 1 && !m.input.active {
		// Keys typed quickly (or sent by a script) arrive as one message:
		// handle them one by one, so that ":svc" opens the command line.
		var cmds []tea.Cmd
		for _, r := range k.Runes {
			cmds = append(cmds, m.onKey(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}, Alt: k.Alt}))
		}
		return tea.Batch(cmds...)
	}
	if k.Type == tea.KeyCtrlC {
		return m.quit()
	}
	if m.confirm != nil {
		switch k.String() {
		case "y", "Y":
			c := m.confirm
			m.confirm = nil
			return c.yes()
		case "n", "N", "esc", "q":
			m.confirm = nil
			m.setStatus("cancelled", false)
		}
		return nil
	}
	if m.input.active {
		return m.onInputKey(k)
	}
	if m.overlay != overlayNone {
		return m.onPaneKey(k)
	}
	switch k.String() {
	case "q":
		if m.running > 0 {
			m.confirm = &confirmation{prompt: "An action is running and would be interrupted. Quit anyway? (y/n)", yes: m.quit}
			return nil
		}
		return m.quit()
	case ":":
		m.input = lineInput{active: true, prompt: ':'}
		return nil
	case "/":
		m.input = lineInput{active: true, prompt: '/', value: []rune(m.filters[m.view]), before: m.filters[m.view]}
		return nil
	case "?":
		m.openHelp()
		return nil
	case "esc":
		m.back()
		return nil
	case "enter":
		m.openDetails()
		return nil
	}
	if m.view == viewTraffic {
		return m.onTrafficKey(k)
	}
	l := m.lists[m.view.kind()]
	page := max(m.bodyHeight()-2, 1)
	switch k.String() {
	case "up", "k":
		l.move(-1)
	case "down", "j":
		l.move(1)
	case "pgup", "ctrl+b":
		l.move(-page)
	case "pgdown", "ctrl+f", " ":
		l.move(page)
	case "home", "g":
		l.home()
	case "end", "G":
		l.end()
	default:
		return m.onActionKey(k.String())
	}
	return nil
}

func (m *Model) onTrafficKey(k tea.KeyMsg) tea.Cmd {
	t := m.traffic
	page := max(m.bodyHeight()-2, 1)
	switch k.String() {
	case "up", "k":
		t.move(-1)
	case "down", "j":
		t.move(1)
	case "pgup", "ctrl+b":
		t.move(-page)
	case "pgdown", "ctrl+f":
		t.move(page)
	case "home", "g":
		t.cursor, t.follow = 0, false
	case "end", "G":
		t.follow = true
	case " ", "p":
		t.togglePause()
		if t.paused {
			m.setStatus("traffic paused: space resumes", false)
		} else {
			m.setStatus("traffic resumed", false)
		}
	case "c":
		t.clear()
		m.setStatus("traffic cleared", false)
	}
	return nil
}

func (m *Model) onActionKey(key string) tea.Cmd {
	switch m.view {
	case viewServices:
		var action Action
		confirm := true
		switch key {
		case "p":
			action, confirm = ActionApply, false
		case "a":
			action = ActionApply
		case "d":
			action = ActionDestroy
		default:
			return nil
		}
		e := m.lists[KindService].current()
		if e == nil {
			return nil
		}
		s := e.row.(*ServiceRow)
		if confirm && m.opts.ReadOnly {
			m.setStatus("read-only: apply and destroy are disabled", true)
			return nil
		}
		if s.Name == "" {
			m.setStatus("this service has no name (created outside manoctl): it is not in the manifest", true)
			return nil
		}
		if action == ActionDestroy && s.Placeholder {
			m.setStatus(s.Name+" is not deployed", true)
			return nil
		}
		return m.plan(action, s.Name, confirm)
	case viewPlugins:
		var action string
		switch key {
		case "s":
			action = "start"
		case "p":
			action = "pause"
		case "x":
			action = "stop"
		default:
			return nil
		}
		if m.opts.ReadOnly {
			m.setStatus("read-only: plugin actions are disabled", true)
			return nil
		}
		e := m.lists[KindPlugin].current()
		if e == nil {
			return nil
		}
		p := e.row.(*PluginRow)
		m.confirm = &confirmation{
			prompt: fmt.Sprintf("Send %s to plugin %s (%s)? (y/n)", action, p.Name, short(p.UUID, 8)),
			yes:    func() tea.Cmd { return m.pluginAction(p, action) },
		}
	}
	return nil
}

func (m *Model) plan(action Action, service string, confirm bool) tea.Cmd {
	m.setStatus(fmt.Sprintf("planning %s of %s…", action, service), false)
	ctx, b := m.ctx, m.backend
	return func() tea.Msg {
		p, err := b.Plan(ctx, action, service)
		return proposalMsg{p: p, err: err, confirm: confirm}
	}
}

func (m *Model) onProposal(msg proposalMsg) tea.Cmd {
	if msg.err != nil {
		m.setStatus("plan failed: "+msg.err.Error(), true)
		return nil
	}
	p := msg.p
	m.proposal = p
	m.openPane(overlayPlan, fmt.Sprintf("plan: %s %s", p.Action, p.Service), viewServices, "", p.Text)
	if !p.Plan.HasChanges() {
		m.setStatus(p.Service+": no changes", false)
		return nil
	}
	if p.Plan.Infeasible {
		m.setStatus("this plan cannot be applied: some functions do not fit on the VIMs", true)
		return nil
	}
	if msg.confirm {
		m.setStatus("", false)
		m.askApply(p)
	} else {
		m.setStatus("review the plan: a applies it, esc closes", false)
	}
	return nil
}

func (m *Model) askApply(p *Proposal) {
	verb := "Apply this plan to " + p.Service
	if p.Action == ActionDestroy {
		verb = "Destroy " + p.Service
	}
	m.confirm = &confirmation{prompt: verb + "? (y/n)", yes: func() tea.Cmd { return m.apply(p) }}
}

func (m *Model) apply(p *Proposal) tea.Cmd {
	m.closePane()
	m.running++
	m.setStatus(fmt.Sprintf("%s %s: running…", p.Action, p.Service), false)
	ctx, b, feed := m.ctx, m.backend, m.feed
	return func() tea.Msg {
		err := b.Apply(ctx, p, func(line string) { feed.Notice(line) })
		return applyDoneMsg{p: p, err: err}
	}
}

func (m *Model) pluginAction(p *PluginRow, action string) tea.Cmd {
	m.running++
	m.setStatus(fmt.Sprintf("sending %s to %s…", action, p.Name), false)
	ctx, b := m.ctx, m.backend
	return func() tea.Msg {
		return pluginDoneMsg{name: p.Name, action: action, err: b.PluginLifecycle(ctx, p.UUID, action)}
	}
}

func (m *Model) quit() tea.Cmd {
	m.quitting = true
	m.cancel()
	return tea.Quit
}

// back closes what is open, or clears the filter, or returns to the
// previous view.
func (m *Model) back() {
	switch {
	case m.filters[m.view] != "":
		m.setFilter("")
	case len(m.history) > 0:
		m.view = m.history[len(m.history)-1]
		m.history = m.history[:len(m.history)-1]
	}
}

func (m *Model) switchView(v viewID) {
	if v == m.view {
		return
	}
	m.history = append(m.history, m.view)
	if len(m.history) > 32 {
		m.history = m.history[1:]
	}
	m.view = v
}

func (m *Model) setFilter(f string) {
	m.filters[m.view] = f
	invert := strings.HasPrefix(f, "!")
	term := strings.TrimPrefix(f, "!")
	if m.view == viewTraffic {
		m.traffic.setFilter(term, invert && term != "")
		return
	}
	m.lists[m.view.kind()].setFilter(term, invert && term != "")
}

func (m *Model) onInputKey(k tea.KeyMsg) tea.Cmd {
	in := &m.input
	switch k.Type {
	case tea.KeyEsc:
		if in.prompt == '/' {
			m.setFilter(in.before)
		}
		m.input = lineInput{}
		return nil
	case tea.KeyEnter:
		value, prompt := strings.TrimSpace(string(in.value)), in.prompt
		m.input = lineInput{}
		if prompt == '/' {
			return nil
		}
		return m.command(value)
	case tea.KeyBackspace:
		if len(in.value) == 0 {
			if in.prompt == '/' {
				m.setFilter(in.before)
			}
			m.input = lineInput{}
			return nil
		}
		in.value = in.value[:len(in.value)-1]
	case tea.KeyCtrlU:
		in.value = nil
	case tea.KeyCtrlW:
		s := strings.TrimRight(string(in.value), " ")
		if i := strings.LastIndexAny(s, " /."); i >= 0 {
			in.value = []rune(s[:i+1])
		} else {
			in.value = nil
		}
	case tea.KeyTab:
		if in.prompt == ':' {
			if c := complete(string(in.value)); c != "" {
				in.value = []rune(c)
			}
		}
	case tea.KeySpace:
		in.value = append(in.value, ' ')
	case tea.KeyRunes:
		in.value = append(in.value, k.Runes...)
	default:
		return nil
	}
	if in.prompt == '/' {
		m.setFilter(string(in.value))
	}
	return nil
}

func (m *Model) command(s string) tea.Cmd {
	switch strings.ToLower(s) {
	case "":
		return nil
	case "q", "quit", "q!":
		return m.quit()
	case "help", "h":
		m.openHelp()
		return nil
	}
	v, ok := resolveView(s)
	if !ok {
		m.setStatus(fmt.Sprintf("unknown view %q: plugins, services, functions, operations, vims, traffic", s), true)
		return nil
	}
	m.switchView(v)
	return nil
}

// Panes.

func (m *Model) openPane(o overlay, title string, v viewID, key, body string) {
	m.overlay, m.paneTitle, m.paneView, m.paneKey = o, title, v, key
	m.pane.SetYOffset(0)
	m.setPaneContent(body)
}

func (m *Model) closePane() {
	m.overlay, m.proposal, m.paneKey, m.paneBody = overlayNone, nil, "", ""
	m.pane.SetContent("")
}

// refreshPane re-renders a record's details (statuses, steps and ages
// move while it is open).
func (m *Model) refreshPane() {
	title, body := m.details(m.paneView, m.paneKey)
	m.paneTitle = title
	if body != m.paneBody {
		m.setPaneContent(body)
	}
}

func (m *Model) openDetails() {
	if m.view == viewTraffic {
		msg := m.traffic.current()
		if msg == nil {
			return
		}
		m.openPane(overlayDetails, "message "+msg.msg.Topic, viewTraffic, "", decodeBody(msg))
		return
	}
	e := m.lists[m.view.kind()].current()
	if e == nil {
		return
	}
	title, body := m.details(m.view, e.key)
	m.openPane(overlayDetails, title, m.view, e.key, body)
}

func (m *Model) openHelp() {
	var b strings.Builder
	b.WriteString("Views (type : and a name; tab completes):\n")
	for v := range numViews {
		fmt.Fprintf(&b, "  %-12s %s\n", viewID(v).String(), strings.Join(viewNames[v][1:], ", "))
	}
	b.WriteString("\nEverywhere:\n")
	for _, k := range globalKeys {
		fmt.Fprintf(&b, "  %-12s %s\n", k.key, k.what)
	}
	b.WriteString("  ctrl+c       quit at once\n")
	for v := range numViews {
		keys := viewKeys(viewID(v), m.opts.ReadOnly)
		if len(keys) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\nIn %s:\n", viewID(v))
		for _, k := range keys {
			fmt.Fprintf(&b, "  %-12s %s\n", k.key, k.what)
		}
	}
	b.WriteString("\nIn a pane: j/k, pgup/pgdn scroll; esc closes.\n")
	if m.opts.ReadOnly {
		b.WriteString("\nRead-only: apply, destroy and plugin actions are disabled.\n")
	}
	m.openPane(overlayHelp, "help", m.view, "", b.String())
}

func (m *Model) onPaneKey(k tea.KeyMsg) tea.Cmd {
	switch k.String() {
	case "esc", "q", "enter":
		m.closePane()
		return nil
	case "?":
		if m.overlay == overlayHelp {
			m.closePane()
		}
		return nil
	case "a":
		if m.overlay == overlayPlan && m.proposal != nil {
			switch {
			case m.opts.ReadOnly:
				m.setStatus("read-only: apply is disabled", true)
			case m.proposal.Plan.HasChanges() && !m.proposal.Plan.Infeasible:
				m.askApply(m.proposal)
			}
			return nil
		}
	case "g", "home":
		m.pane.GotoTop()
		return nil
	case "G", "end":
		m.pane.GotoBottom()
		return nil
	}
	var cmd tea.Cmd
	m.pane, cmd = m.pane.Update(k)
	return cmd
}

func (m *Model) onMouse(msg tea.MouseMsg) {
	ev := tea.MouseEvent(msg)
	if m.overlay != overlayNone {
		m.pane, _ = m.pane.Update(msg)
		return
	}
	d := 0
	switch ev.Button {
	case tea.MouseButtonWheelUp:
		d = -3
	case tea.MouseButtonWheelDown:
		d = 3
	case tea.MouseButtonLeft:
		if ev.Action != tea.MouseActionPress {
			return
		}
		// Rows start below the header, title and column header.
		row := ev.Y - 3
		if m.view == viewTraffic {
			first, end := m.traffic.window(m.rowsHeight())
			if row >= 0 && first+row < end {
				m.traffic.cursor, m.traffic.follow = first+row, false
			}
			return
		}
		l := m.lists[m.view.kind()]
		_, first := l.window(m.rowsHeight())
		if row >= 0 && first+row < l.len() {
			l.cursor = first + row
			l.syncSelected()
		}
		return
	default:
		return
	}
	if m.view == viewTraffic {
		m.traffic.move(d)
		return
	}
	m.lists[m.view.kind()].move(d)
}

// rowsHeight is how many rows a list shows.
func (m *Model) rowsHeight() int { return max(m.bodyHeight()-2, 0) }

// View.

// View renders the screen: header, title, column header, rows, status
// line and key line. Only the visible rows are rendered.
func (m *Model) View() string {
	if m.width <= 0 || m.height <= 0 {
		return ""
	}
	lines := make([]string, 0, m.height)
	lines = append(lines, m.headerLine())
	if m.overlay != overlayNone {
		lines = append(lines, m.titleLine(m.paneTitle, m.paneInfo()))
		content := strings.Split(m.pane.View(), "\n")
		for i := 0; i < m.bodyHeight()-1; i++ {
			s := ""
			if i < len(content) {
				s = content[i]
			}
			lines = append(lines, fit(s, m.width, false))
		}
	} else {
		lines = append(lines, m.listLines()...)
	}
	lines = append(lines, m.statusLine(), m.bottomLine())
	if len(lines) > m.height {
		lines = lines[:m.height]
	}
	return strings.Join(lines, "\n")
}

func (m *Model) paneInfo() string {
	if m.pane.TotalLineCount() <= m.pane.Height {
		return ""
	}
	return fmt.Sprintf("%d%%", int(m.pane.ScrollPercent()*100))
}

func (m *Model) headerLine() string {
	left := " manoctl │ " + m.info.Source
	if m.opts.ReadOnly {
		left += " │ read-only"
	}
	svc := len(m.lists[KindService].all) - m.placeholders
	right := fmt.Sprintf("pl %d · svc %d · fn %d · ops %d · bus %.0f/s ", m.lists[KindPlugin].len(), svc,
		len(m.lists[KindFunction].all), len(m.lists[KindOperation].all), m.traffic.rate)
	if d := m.feed.Dropped(); d > 0 {
		right = fmt.Sprintf("dropped %d · ", d) + right
	}
	if !m.backendUp {
		right = "loading… " + right
	}
	gap := m.width - ansi.StringWidth(left) - ansi.StringWidth(right)
	var s string
	if gap >= 1 {
		s = left + strings.Repeat(" ", gap) + right
	} else {
		s = fit(left, m.width, false)
	}
	return m.st.header.Render(fit(clean(s), m.width, false))
}

func (m *Model) titleLine(title, info string) string {
	s := "─ " + clean(title) + " "
	if info != "" {
		s += "─ " + info + " "
	}
	n := m.width - ansi.StringWidth(s)
	if n > 0 {
		s += strings.Repeat("─", n)
	}
	return m.st.title.Render(fit(s, m.width, false))
}

func (m *Model) listLines() []string {
	h := m.bodyHeight()
	if h <= 0 {
		return nil
	}
	out := make([]string, 0, h)
	cols, widths := viewColumns[m.view], m.widths[m.view]
	var title string
	filter := ""
	if f := m.filters[m.view]; f != "" {
		filter = "/" + f
	}
	if m.view == viewTraffic {
		t := m.traffic
		title = fmt.Sprintf("traffic [%d", t.len())
		if t.shown != nil {
			title += fmt.Sprintf(" of %d", t.all.len())
		}
		title += fmt.Sprintf("] kept %d/%d · evicted %d · dropped %d", t.all.len(), len(t.all.buf), t.all.evicted, m.feed.Dropped())
		if t.paused {
			title += fmt.Sprintf(" · PAUSED (+%d)", t.missed)
		}
	} else {
		l := m.lists[m.view.kind()]
		n, total := l.len(), len(l.all)
		if l.filtering() {
			title = fmt.Sprintf("%s [%d/%d]", m.view, n, total)
		} else {
			title = fmt.Sprintf("%s [%d]", m.view, total)
		}
	}
	out = append(out, m.titleLine(title, filter))
	if h == 1 {
		return out
	}
	heads := make([]string, len(cols))
	for i, c := range cols {
		heads[i] = c.title
	}
	out = append(out, m.st.colHead.Render(fit(" "+renderCells(cols, widths, heads), m.width, false)))
	rows := h - 2
	if m.view == viewTraffic {
		first, end := m.traffic.window(rows)
		for i := first; i < end; i++ {
			cells := m.trafficCells(m.traffic.row(i))
			out = append(out, m.rowLine(cols, widths, cells, i == m.traffic.cursor, toneNormal))
		}
	} else {
		l := m.lists[m.view.kind()]
		win, first := l.window(rows)
		for i, e := range win {
			cells, t := m.cells(m.view, e)
			out = append(out, m.rowLine(cols, widths, cells, first+i == l.cursor, t))
		}
		if len(win) == 0 {
			msg := "  (none)"
			if !m.backendUp {
				msg = "  loading…"
			} else if l.filtering() {
				msg = "  (nothing matches the filter; esc clears it)"
			}
			out = append(out, m.st.faint.Render(fit(msg, m.width, false)))
		}
	}
	for len(out) < h {
		out = append(out, "")
	}
	return out
}

func (m *Model) rowLine(cols []column, widths []int, cells []string, selected bool, t tone) string {
	for i, c := range cells {
		cells[i] = clean(c)
	}
	gutter := " "
	if selected {
		gutter = ">"
	}
	s := fit(gutter+renderCells(cols, widths, cells), m.width, false)
	if selected {
		return m.st.selected.Render(s)
	}
	if st := m.st.toneStyle(t); st != nil {
		return st.Render(s)
	}
	return s
}

func (m *Model) statusLine() string {
	s := m.status
	if s == "" {
		return ""
	}
	s = fit(" "+clean(s), m.width, false)
	if m.statusBad {
		return m.st.errText.Render(s)
	}
	return m.st.status.Render(s)
}

func (m *Model) bottomLine() string {
	switch {
	case m.confirm != nil:
		return m.st.prompt.Render(fit(" "+clean(m.confirm.prompt), m.width, false))
	case m.input.active:
		v := string(m.input.value)
		s := string(m.input.prompt) + v + "█"
		if m.input.prompt == ':' {
			if c := complete(v); c != "" && len(c) > len(v) {
				s += m.st.faint.Render(c[len(v):])
			}
		}
		return m.st.prompt.Render(" ") + fit(clean(s), m.width-1, false)
	}
	var hints []keyHint
	switch m.overlay {
	case overlayPlan:
		if !m.opts.ReadOnly && m.proposal != nil && m.proposal.Plan.HasChanges() {
			hints = append(hints, keyHint{"a", "apply"})
		}
		hints = append(hints, keyHint{"j/k", "scroll"}, keyHint{"esc", "close"})
	case overlayDetails, overlayHelp:
		hints = []keyHint{{"j/k", "scroll"}, {"esc", "close"}}
	default:
		hints = append(hints, keyHint{":", "view"}, keyHint{"/", "filter"}, keyHint{"enter", "details"})
		hints = append(hints, viewKeys(m.view, m.opts.ReadOnly)...)
		hints = append(hints, keyHint{"?", "help"}, keyHint{"q", "quit"})
	}
	parts := make([]string, len(hints))
	for i, h := range hints {
		parts[i] = "<" + h.key + ">" + h.what
	}
	return m.st.keys.Render(fit(" "+strings.Join(parts, " "), m.width, false))
}
