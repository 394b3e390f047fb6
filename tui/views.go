package tui

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
)

// column is a table column: its title and how wide it may be. Columns
// get min first (a min of 0 hides the column when there is no room),
// then the rest is shared by weight up to max.
type column struct {
	title    string
	min, max int
	weight   int
	right    bool
	clip     bool // ids: cut without an ellipsis
	middle   bool // cut in the middle: the end of a topic matters
}

var viewColumns = [numViews][]column{
	viewPlugins: {
		{title: "NAME", min: 16, max: 40, weight: 1},
		{title: "UUID", min: 8, max: 36, clip: true},
		{title: "VERSION", min: 7, max: 10},
		{title: "STATE", min: 10, max: 10},
		{title: "HEARTBEAT", min: 11, max: 11},
	},
	viewServices: {
		{title: "NAME", min: 12, max: 20, weight: 2},
		{title: "STATUS", min: 13, max: 13},
		{title: "VNFS", min: 4, max: 4, right: true},
		{title: "VIMS", min: 8, max: 14, weight: 1},
		{title: "AGE", min: 5, max: 5, right: true},
		{title: "NSD", min: 0, max: 24},
		{title: "ID", min: 0, max: 36, clip: true},
	},
	viewFunctions: {
		{title: "ID", min: 8, max: 36, clip: true},
		{title: "SERVICE", min: 10, max: 20, weight: 1},
		{title: "VNF", min: 12, max: 16, weight: 1},
		{title: "STATUS", min: 16, max: 18},
		{title: "VIM", min: 8, max: 12, weight: 1},
		{title: "ADDRESSES", min: 16, max: 200, weight: 4},
	},
	viewOperations: {
		{title: "ID", min: 8, max: 36, clip: true},
		{title: "SERVICE", min: 10, max: 16, weight: 1},
		{title: "KIND", min: 11, max: 11},
		{title: "STATUS", min: 11, max: 11},
		{title: "STEP", min: 14, max: 28, weight: 1},
		{title: "STARTED", min: 0, max: 8},
		{title: "ERROR", min: 10, max: 200, weight: 4},
		{title: "TOOK", min: 0, max: 8, right: true},
	},
	viewVIMs: {
		{title: "NAME", min: 8, max: 20, weight: 1},
		{title: "CITY", min: 0, max: 14},
		{title: "CORES", min: 22, max: 40, weight: 2},
		{title: "MEMORY (GB)", min: 26, max: 44, weight: 2},
		{title: "VNFS", min: 4, max: 5, right: true},
	},
	viewTraffic: {
		{title: "TIME", min: 12, max: 12},
		{title: "TOPIC", min: 20, max: 70, weight: 3, middle: true},
		{title: "APP ID", min: 12, max: 40, weight: 1, middle: true},
		{title: "CORR", min: 8, max: 36, clip: true},
		{title: "SIZE", min: 6, max: 7, right: true},
	},
}

// layout computes the column widths for a total width (one space between
// columns, one cell for the cursor gutter). Columns first get their min
// (in order, while they fit), weighted columns then grow up to their max,
// then the fixed ones, and optional columns (min 0) take what is left.
func layout(cols []column, total int) []int {
	w := make([]int, len(cols))
	avail := total - 1
	shown := 0
	for i, c := range cols {
		need := c.min
		if shown > 0 {
			need++
		}
		if c.min > 0 && need <= avail {
			w[i] = c.min
			avail -= need
			shown++
		}
	}
	grow := func(eligible func(i int) bool) {
		for avail > 0 {
			weights := 0
			for i, c := range cols {
				if eligible(i) && w[i] < c.max {
					weights += max(c.weight, 1)
				}
			}
			if weights == 0 {
				return
			}
			share, progressed := max(avail/weights, 1), false
			for i, c := range cols {
				if avail == 0 || !eligible(i) || w[i] >= c.max {
					continue
				}
				add := min(share*max(c.weight, 1), c.max-w[i], avail)
				w[i] += add
				avail -= add
				progressed = progressed || add > 0
			}
			if !progressed {
				return
			}
		}
	}
	grow(func(i int) bool { return w[i] > 0 && cols[i].weight > 0 })
	grow(func(i int) bool { return w[i] > 0 && cols[i].weight == 0 })
	const minOptional = 8
	for i, c := range cols {
		if c.min == 0 && avail-1 >= minOptional {
			w[i] = min(c.max, avail-1)
			avail -= w[i] + 1
		}
	}
	return w
}

// renderCells joins cells into a line of the given column widths.
func renderCells(cols []column, widths []int, cells []string) string {
	var b strings.Builder
	first := true
	for i, c := range cols {
		if widths[i] <= 0 {
			continue
		}
		if !first {
			b.WriteByte(' ')
		}
		first = false
		s := ""
		if i < len(cells) {
			s = cells[i]
		}
		switch {
		case c.clip && len(s) > widths[i]:
			s = s[:widths[i]]
		case c.middle:
			s = cutMiddle(s, widths[i])
		}
		b.WriteString(fit(s, widths[i], c.right))
	}
	return b.String()
}

// fit truncates or pads s to exactly w cells.
func fit(s string, w int, right bool) string {
	if w <= 0 {
		return ""
	}
	n := ansi.StringWidth(s)
	if n > w {
		return ansi.Truncate(s, w, "…")
	}
	pad := strings.Repeat(" ", w-n)
	if right {
		return pad + s
	}
	return s + pad
}

// cutMiddle shortens s to w cells by replacing its middle with "…".
func cutMiddle(s string, w int) string {
	n := ansi.StringWidth(s)
	if n <= w || w < 5 {
		return s
	}
	tail := (w - 1) / 2
	head := w - 1 - tail
	return ansi.Truncate(s, head, "") + "…" + ansi.TruncateLeft(s, n-tail, "")
}

// clean makes text from the outside (topics, names, errors, bodies) safe
// to print: control characters would move the cursor or change colours.
func clean(s string) string {
	ok := true
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t':
			return ' '
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			return '?'
		}
		return r
	}, s)
}

// cleanBlock is clean for multi-line text.
func cleanBlock(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = clean(strings.TrimSuffix(l, "\r"))
	}
	return strings.Join(lines, "\n")
}

// wrapBlock wraps each line of s to width cells. Continuation lines keep
// the line's indentation plus two; an indentation wider than half the
// width (a tabwriter column far to the right) is shortened first.
func wrapBlock(s string, width int) string {
	if width < 8 {
		return s
	}
	lines := strings.Split(s, "\n")
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		if ansi.StringWidth(l) <= width {
			out = append(out, l)
			continue
		}
		body := strings.TrimLeft(l, " ")
		indent := len(l) - len(body)
		if indent > width/2 {
			indent = min(10, width/4)
		}
		pad := strings.Repeat(" ", indent)
		first := true
		for body != "" {
			w := width - indent
			if !first {
				w -= 2
			}
			chunk := strings.Split(ansi.Wrap(body, w, ""), "\n")[0]
			if chunk == "" || !strings.HasPrefix(body, chunk) {
				chunk = ansi.Truncate(body, w, "")
			}
			if chunk == "" || !strings.HasPrefix(body, chunk) {
				_, n := utf8.DecodeRuneInString(body) // always progress
				chunk = body[:n]
			}
			body = strings.TrimLeft(body[len(chunk):], " ")
			if first {
				out = append(out, pad+strings.TrimRight(chunk, " "))
			} else {
				out = append(out, pad+"  "+strings.TrimRight(chunk, " "))
			}
			first = false
		}
	}
	return strings.Join(out, "\n")
}

// tone is how a row is coloured.
type tone uint8

const (
	toneNormal tone = iota
	toneGood
	toneBusy
	toneBad
	toneFaint
)

func (st *styles) toneStyle(t tone) *lipgloss.Style {
	switch t {
	case toneGood:
		return &st.good
	case toneBusy:
		return &st.busy
	case toneBad:
		return &st.bad
	case toneFaint:
		return &st.faint
	}
	return nil
}

func age(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

func short(id string, n int) string {
	if len(id) > n {
		return id[:n]
	}
	return id
}

// StaleAfter is how long a plugin may stay silent before the plugins view
// marks it stale: five of the default 2 s heartbeats. The plugin manager
// itself marks it FAILED after three of its observed intervals, and at
// least 30 s.
const StaleAfter = 10 * time.Second

func pluginStale(p *PluginRow, now time.Time) bool {
	if p.State == "FAILED" {
		return true
	}
	last := p.LastHeartbeat
	if last.IsZero() {
		last = p.RegisteredAt
	}
	return !last.IsZero() && now.Sub(last) > StaleAfter
}

func serviceTone(status string) tone {
	switch status {
	case "ready":
		return toneGood
	case "error":
		return toneBad
	case "terminated":
		return toneFaint
	case "":
		return toneNormal
	}
	return toneBusy
}

func operationTone(status string) tone {
	switch status {
	case "succeeded":
		return toneGood
	case "failed", "rolled-back", "interrupted":
		return toneBad
	case "running", "pending":
		return toneBusy
	}
	return toneNormal
}

// cells renders the visible row e of view v.
func (m *Model) cells(v viewID, e *entry) ([]string, tone) {
	switch v {
	case viewPlugins:
		p := e.row.(*PluginRow)
		hb := age(m.now, p.LastHeartbeat)
		t := toneNormal
		switch {
		case pluginStale(p, m.now):
			hb += " stale"
			t = toneBad
		case p.State == "RUNNING":
			t = toneGood
		}
		return []string{p.Name, p.UUID, p.Version, p.State, hb}, t
	case viewServices:
		s := e.row.(*ServiceRow)
		if s.Placeholder {
			return []string{s.Name, "NOT DEPLOYED", "-", "-", "-", "-", "-"}, toneFaint
		}
		vims := m.serviceVIMs(s)
		return []string{dash(s.Name), strings.ToUpper(s.Status), fmt.Sprint(len(s.Functions)), dash(strings.Join(vims, ",")),
			age(m.now, s.CreatedAt), s.nsdShort(), s.ID}, serviceTone(s.Status)
	case viewFunctions:
		f := e.row.(*FunctionRow)
		t := toneNormal
		switch f.Status {
		case "normal operation":
			t = toneGood
		case "failed", "offline", "degraded operation":
			t = toneBad
		case "terminated":
			t = toneFaint
		}
		return []string{f.ID, dash(m.serviceName(f.ServiceID)), f.VNFID, f.Status, dash(m.vimName(f.VIM)), dash(strings.Join(f.Addresses, " "))}, t
	case viewOperations:
		o := e.row.(*OperationRow)
		step := dash(o.FailedStep)
		if o.FailedStep == "" && len(o.Steps) > 0 {
			cur := o.Steps[len(o.Steps)-1]
			for _, s := range o.Steps {
				if s.Status == "running" {
					cur = s
				}
			}
			done := 0
			for _, s := range o.Steps {
				if s.Status == "succeeded" || s.Status == "skipped" {
					done++
				}
			}
			step = fmt.Sprintf("%d/%d %s", done, len(o.Steps), cur.Name)
		} else if o.FailedStep != "" {
			step = "✗ " + o.FailedStep
		}
		started, took := "-", "-"
		if !o.StartedAt.IsZero() {
			started = o.StartedAt.Local().Format("15:04:05")
			end := o.EndedAt
			if end.IsZero() {
				end = m.now
			}
			took = duration(end.Sub(o.StartedAt))
		}
		return []string{o.ID, dash(o.ServiceName), o.Kind, o.Status, step, started, dash(firstLine(o.Error)), took}, operationTone(o.Status)
	case viewVIMs:
		v := e.row.(*VIMRow)
		w := m.widths[viewVIMs]
		cores := bar(v.CoresUsed, v.CoresTotal, w[2], fmt.Sprintf("%d/%d", v.CoresUsed, v.CoresTotal))
		mem := bar(v.MemoryUsed, v.MemoryTotalMB, w[3], fmt.Sprintf("%s/%s", gb(v.MemoryUsed), gb(v.MemoryTotalMB)))
		t := toneNormal
		if (v.CoresTotal > 0 && v.CoresUsed*10 >= v.CoresTotal*9) || (v.MemoryTotalMB > 0 && v.MemoryUsed*10 >= v.MemoryTotalMB*9) {
			t = toneBad
		}
		return []string{v.Name, dash(v.City), cores, mem, fmt.Sprint(m.vimFuncs[v.UUID])}, t
	}
	return nil, toneNormal
}

func (m *Model) trafficCells(msg *message) []string {
	mm := msg.msg
	return []string{msg.at.Local().Format("15:04:05.000"), mm.Topic, dash(mm.AppID), dash(mm.CorrelationID), fmt.Sprint(msg.Size())}
}

// nsdShort is the NSD's name and version when known.
func (s *ServiceRow) nsdShort() string {
	if s.NSDName != "" {
		return s.NSDName
	}
	return s.NSD
}

func gb(mb int64) string {
	if mb < 0 {
		return "?"
	}
	g := float64(mb) / 1024
	if g == float64(int64(g)) {
		return fmt.Sprintf("%d", int64(g))
	}
	return fmt.Sprintf("%.1f", g)
}

// bar draws used/total as "[████░░░░] label" in w cells.
func bar(used, total int64, w int, label string) string {
	inner := w - len(label) - 3
	if inner < 3 {
		return label
	}
	if total <= 0 || used < 0 {
		return "[" + strings.Repeat("?", inner) + "] " + label
	}
	full := int(min(used, total) * int64(inner) / total)
	if used > 0 && full == 0 {
		full = 1
	}
	return "[" + strings.Repeat("█", full) + strings.Repeat("░", inner-full) + "] " + label
}

func duration(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// sortKey and filter text of a row.
func rowIndex(c Change) (sortKey, text string) {
	switch r := c.Row.(type) {
	case *PluginRow:
		return r.Name, r.Name + " " + r.UUID + " " + r.Version + " " + r.State
	case *ServiceRow:
		name := r.Name
		if name == "" {
			name = "\xff" // unnamed (GK-created) services last
		}
		created := ""
		if !r.CreatedAt.IsZero() {
			created = r.CreatedAt.UTC().Format(time.RFC3339Nano)
		}
		status := r.Status
		if r.Placeholder {
			status = "not deployed"
		}
		return name + "\x00" + created, r.Name + " " + r.ID + " " + status + " " + r.NSD
	case *FunctionRow:
		return r.ServiceID + "\x00" + r.VNFID, r.ID + " " + r.ServiceID + " " + r.VNFID + " " + r.VNFD + " " + r.VIM + " " +
			r.Status + " " + strings.Join(r.Addresses, " ")
	case *OperationRow:
		t := r.RequestedAt
		if t.IsZero() {
			t = r.StartedAt
		}
		// Newest first.
		return fmt.Sprintf("%020d", int64(1<<62)-t.UnixNano()), r.ID + " " + r.ServiceName + " " + r.ServiceID + " " + r.Kind + " " +
			r.Status + " " + r.FailedStep + " " + r.CorrelationID
	case *VIMRow:
		return r.Name, r.Name + " " + r.UUID + " " + r.City + " " + r.Endpoint
	}
	return c.Key, c.Key
}

// details renders the pane for a row of view v.
func (m *Model) details(v viewID, key string) (title, body string) {
	var b strings.Builder
	kv := func(k string, v any) { fmt.Fprintf(&b, "  %-15s %v\n", k+":", v) }
	when := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return fmt.Sprintf("%s (%s ago)", t.Local().Format("2006-01-02 15:04:05"), age(m.now, t))
	}
	switch v {
	case viewPlugins:
		p, _ := m.lists[KindPlugin].get(key).(*PluginRow)
		if p == nil {
			return "plugin " + key, "  (gone)\n"
		}
		title = "plugin " + p.Name
		kv("Name", p.Name)
		kv("UUID", p.UUID)
		kv("Version", dash(p.Version))
		kv("State", p.State)
		kv("Description", dash(p.Description))
		kv("Registered", when(p.RegisteredAt))
		hb := when(p.LastHeartbeat)
		if pluginStale(p, m.now) {
			hb += "  STALE"
		}
		kv("Last heartbeat", hb)
	case viewServices:
		s, _ := m.lists[KindService].get(key).(*ServiceRow)
		if s == nil {
			return "service " + key, "  (gone)\n"
		}
		title = "service " + dash(s.Name)
		if s.Placeholder {
			kv("Name", s.Name)
			kv("Status", "not deployed: in the manifest, not running")
			b.WriteString("\n  a: apply it   p: plan it\n")
			return title, b.String()
		}
		kv("Name", dash(s.Name))
		kv("ID", s.ID)
		kv("Status", strings.ToUpper(s.Status)+" ("+dash(s.RecordStatus)+")")
		kv("NSD", s.NSD)
		kv("Version", s.Version)
		kv("Created", when(s.CreatedAt))
		kv("Updated", when(s.UpdatedAt))
		if s.Error != "" {
			kv("Error", s.Error)
		}
		fmt.Fprintf(&b, "\nFunctions (%d):\n", len(s.Functions))
		for _, id := range s.Functions {
			f, _ := m.lists[KindFunction].get(id).(*FunctionRow)
			if f == nil {
				fmt.Fprintf(&b, "  %s (no record)\n", id)
				continue
			}
			fmt.Fprintf(&b, "  %-14s %-18s on %s\n", f.VNFID, f.Status, dash(m.vimName(f.VIM)))
			fmt.Fprintf(&b, "      id %s\n", f.ID)
			for _, a := range f.Addresses {
				fmt.Fprintf(&b, "      %s\n", a)
			}
		}
		ops := m.operationsOf(s.ID)
		fmt.Fprintf(&b, "\nOperations (%d, newest first):\n", len(ops))
		for i, o := range ops {
			if i == 5 {
				fmt.Fprintf(&b, "  ... %d more in :operations\n", len(ops)-5)
				break
			}
			writeOperation(&b, o, m.now)
		}
	case viewFunctions:
		f, _ := m.lists[KindFunction].get(key).(*FunctionRow)
		if f == nil {
			return "function " + key, "  (gone)\n"
		}
		title = "function " + f.VNFID
		kv("ID", f.ID)
		kv("VNF", f.VNFID)
		kv("VNFD", f.VNFD)
		kv("Service", dash(m.serviceName(f.ServiceID))+" ("+f.ServiceID+")")
		kv("Status", f.Status)
		kv("VIM", dash(m.vimName(f.VIM))+" ("+dash(f.VIM)+")")
		kv("Demand", fmt.Sprintf("%d cores, %s MB", f.Cores, trimFloat(f.MemoryMB)))
		b.WriteString("\nAddresses:\n")
		if len(f.Addresses) == 0 {
			b.WriteString("  -\n")
		}
		for _, a := range f.Addresses {
			fmt.Fprintf(&b, "  %s\n", a)
		}
	case viewOperations:
		o, _ := m.lists[KindOperation].get(key).(*OperationRow)
		if o == nil {
			return "operation " + key, "  (gone)\n"
		}
		title = o.Kind + " " + dash(o.ServiceName)
		kv("ID", o.ID)
		kv("Service", dash(o.ServiceName)+" ("+dash(o.ServiceID)+")")
		kv("Kind", o.Kind)
		kv("Status", o.Status)
		kv("Correlation", dash(o.CorrelationID))
		kv("Requested", when(o.RequestedAt))
		kv("Started", when(o.StartedAt))
		kv("Ended", when(o.EndedAt))
		if o.FailedStep != "" {
			kv("Failed step", o.FailedStep)
		}
		if o.Error != "" {
			kv("Error", o.Error)
		}
		fmt.Fprintf(&b, "\nSteps (%d):\n", len(o.Steps))
		writeSteps(&b, o, m.now, "  ")
	case viewVIMs:
		vm, _ := m.lists[KindVIM].get(key).(*VIMRow)
		if vm == nil {
			return "vim " + key, "  (gone)\n"
		}
		title = "vim " + vm.Name
		kv("Name", vm.Name)
		kv("UUID", vm.UUID)
		kv("City", dash(vm.City))
		kv("Endpoint", dash(vm.Endpoint))
		kv("Cores", fmt.Sprintf("%d used of %d", vm.CoresUsed, vm.CoresTotal))
		kv("Memory", fmt.Sprintf("%d MB used of %d MB", vm.MemoryUsed, vm.MemoryTotalMB))
		fmt.Fprintf(&b, "\nFunctions on it: %d\n", m.vimFuncs[vm.UUID])
	}
	return title, b.String()
}

func writeOperation(b *strings.Builder, o *OperationRow, now time.Time) {
	took := ""
	if !o.StartedAt.IsZero() {
		end := o.EndedAt
		if end.IsZero() {
			end = now
		}
		took = " in " + duration(end.Sub(o.StartedAt))
	}
	fmt.Fprintf(b, "  %s %s%s  (%s)\n", o.Kind, o.Status, took, short(o.ID, 8))
	if o.Error != "" {
		fmt.Fprintf(b, "    error: %s\n", o.Error)
	}
	writeSteps(b, o, now, "    ")
}

func writeSteps(b *strings.Builder, o *OperationRow, now time.Time, indent string) {
	for _, s := range o.Steps {
		mark := map[string]string{"succeeded": "✓", "failed": "✗", "running": "…", "skipped": "-", "rolled-back": "↺", "pending": " "}[s.Status]
		if mark == "" {
			mark = "?"
		}
		took := ""
		if !s.StartedAt.IsZero() {
			end := s.EndedAt
			if end.IsZero() {
				end = now
			}
			took = duration(end.Sub(s.StartedAt))
		}
		fmt.Fprintf(b, "%s%s %-28s %-11s %8s\n", indent, mark, s.Name, s.Status, took)
		if s.Error != "" {
			fmt.Fprintf(b, "%s    error: %s\n", indent, s.Error)
		}
	}
}

func trimFloat(f float64) string {
	if f == float64(int64(f)) {
		return fmt.Sprintf("%d", int64(f))
	}
	return fmt.Sprintf("%.1f", f)
}

// operationsOf lists a service's operations, newest first. It scans the
// operations, which only a details pane does.
func (m *Model) operationsOf(serviceID string) []*OperationRow {
	var out []*OperationRow
	for _, e := range m.lists[KindOperation].all {
		if o := e.row.(*OperationRow); o.ServiceID == serviceID {
			out = append(out, o)
		}
	}
	return out
}

func (m *Model) serviceName(id string) string {
	if s, _ := m.lists[KindService].get(id).(*ServiceRow); s != nil {
		return s.Name
	}
	return ""
}

func (m *Model) vimName(uuid string) string {
	if v, _ := m.lists[KindVIM].get(uuid).(*VIMRow); v != nil && v.Name != "" {
		return v.Name
	}
	return short(uuid, 8)
}

func (m *Model) serviceVIMs(s *ServiceRow) []string {
	var out []string
	for _, id := range s.Functions {
		if f, _ := m.lists[KindFunction].get(id).(*FunctionRow); f != nil && f.VIM != "" {
			if n := m.vimName(f.VIM); !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	return out
}
