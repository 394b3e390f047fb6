package tui

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/manoctl/manoctl/reconcile/control"
	"github.com/manoctl/manoctl/reconcile/records"
)

// TestList_MatchesRebuild applies random upserts, deletes and filter
// changes and checks the list against one rebuilt from scratch.
func TestList_MatchesRebuild(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 1))
		l := newList()
		model := map[string]string{} // key -> sort value
		filter, invert := "", false
		for range 2000 {
			key := fmt.Sprintf("k%03d", rng.IntN(300))
			switch op := rng.IntN(10); {
			case op < 6:
				v := fmt.Sprintf("v%02d", rng.IntN(50))
				l.upsert(key, v, v+" "+key, v)
				model[key] = v
			case op < 9:
				l.remove(key)
				delete(model, key)
			default:
				filter, invert = fmt.Sprintf("v%d", rng.IntN(5)), rng.IntN(2) == 0
				l.setFilter(filter, invert)
			}
			if rng.IntN(7) == 0 {
				l.move(rng.IntN(21) - 10)
			}
		}
		var want []string
		for k, v := range model {
			if filter == "" || strings.Contains(v+" "+k, filter) != invert {
				want = append(want, v+"\x00"+k)
			}
		}
		slices.Sort(want)
		var got []string
		for _, e := range l.rows() {
			got = append(got, e.sort)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("seed %d: rows differ:\n got %q\nwant %q", seed, got, want)
		}
		if len(l.all) != len(model) || len(l.byKey) != len(model) {
			t.Fatalf("seed %d: %d rows, %d keys, want %d", seed, len(l.all), len(l.byKey), len(model))
		}
		l.restoreCursor()
		if n := l.len(); n > 0 && (l.cursor < 0 || l.cursor >= n) {
			t.Fatalf("seed %d: cursor %d out of %d", seed, l.cursor, n)
		}
	}
}

func TestList_Window(t *testing.T) {
	l := newList()
	for i := range 100 {
		k := fmt.Sprintf("%03d", i)
		l.upsert(k, k, k, i)
	}
	win, first := l.window(10)
	if first != 0 || len(win) != 10 {
		t.Fatalf("window at top: first %d, %d rows", first, len(win))
	}
	l.move(55)
	win, first = l.window(10)
	if l.cursor < first || l.cursor >= first+len(win) {
		t.Errorf("cursor %d outside window [%d, %d)", l.cursor, first, first+len(win))
	}
	l.end()
	win, first = l.window(10)
	if first != 90 || len(win) != 10 || win[9].key != "099" {
		t.Errorf("window at end: first %d, last %s", first, win[len(win)-1].key)
	}
	l.home()
	if _, first = l.window(10); first != 0 {
		t.Errorf("home: first %d", first)
	}
}

func TestLayout_FitsAndKeepsOrder(t *testing.T) {
	for v := range numViews {
		cols := viewColumns[v]
		for total := 1; total <= 300; total++ {
			w := layout(cols, total)
			used, shown := 1, 0
			for _, x := range w {
				if x > 0 {
					used += x
					shown++
				}
			}
			if shown > 1 {
				used += shown - 1
			}
			if used > max(total, 1) && shown > 0 {
				t.Fatalf("%s at %d: widths %v use %d cells", viewID(v), total, w, used)
			}
			for i, c := range cols {
				if w[i] > c.max {
					t.Fatalf("%s at %d: column %s is %d wide, max %d", viewID(v), total, c.title, w[i], c.max)
				}
			}
		}
		// At 80 columns every mandatory column shows.
		w := layout(cols, 80)
		for i, c := range cols {
			if c.min > 0 && w[i] < c.min {
				t.Errorf("%s at 80: column %s hidden (%v)", viewID(v), c.title, w)
			}
		}
	}
}

func TestCutMiddle(t *testing.T) {
	for _, tc := range []struct {
		in   string
		w    int
		want string
	}{
		{"short", 10, "short"},
		{"platform.management.plugin.abcd.heartbeat", 20, "platform.m…heartbeat"},
		{"abcdef", 5, "ab…ef"},
	} {
		if got := cutMiddle(tc.in, tc.w); got != tc.want {
			t.Errorf("cutMiddle(%q, %d) = %q, want %q", tc.in, tc.w, got, tc.want)
		}
	}
}

func TestBar(t *testing.T) {
	for _, tc := range []struct {
		used, total int64
		w           int
		want        string
	}{
		{0, 10, 14, "[░░░░░░░] 0/10"},
		{5, 10, 14, "[███░░░░] 5/10"},
		{10, 10, 15, "[███████] 10/10"},
		{1, 1000, 12, "[█░░] 1/1000"}, // any use shows
		{-1, -1, 12, "[????] -1/-1"},  // the IA reported no data
		{3, 4, 6, "3/4"},              // no room for a bar
	} {
		label := fmt.Sprintf("%d/%d", tc.used, tc.total)
		if got := bar(tc.used, tc.total, tc.w, label); got != tc.want {
			t.Errorf("bar(%d, %d, %d) = %q, want %q", tc.used, tc.total, tc.w, got, tc.want)
		}
	}
}

func TestFeed_CoalescesAndResets(t *testing.T) {
	f := NewFeed(8)
	row := func(v uint64) *ServiceRow { return &ServiceRow{ID: "a", Version: v} }
	f.Change(Change{Kind: KindService, Key: "a", Row: row(1)})
	f.Change(Change{Kind: KindFunction, Key: "a", Row: &FunctionRow{ID: "a"}})
	f.Change(Change{Kind: KindService, Key: "a", Row: row(2)})
	_, has, changes, _ := f.take()
	if has || len(changes) != 2 || changes[0].Row.(*ServiceRow).Version != 2 {
		t.Fatalf("take: reset %v, changes %+v", has, changes)
	}
	f.Change(Change{Kind: KindService, Key: "a", Row: row(3)})
	f.Reset([]Change{{Kind: KindService, Key: "b", Row: &ServiceRow{ID: "b"}}})
	f.Change(Change{Kind: KindService, Key: "c", Row: &ServiceRow{ID: "c"}})
	reset, has, changes, _ := f.take()
	if !has || len(reset) != 1 || len(changes) != 1 || changes[0].Key != "c" {
		t.Fatalf("after reset: %v %+v %+v", has, reset, changes)
	}
}

func TestConvert_RecordsItemsAndEvents(t *testing.T) {
	now := time.Date(2026, 8, 1, 10, 0, 0, 0, time.UTC)
	svc := &records.Service{ID: "s1", Name: "demo", Status: records.ServiceReady, RecordStatus: records.RecordNormal,
		Functions: []string{"f1"}, CreatedAt: now}
	svc.NSD.Identity.Vendor, svc.NSD.Identity.Name, svc.NSD.Identity.Version = "v", "n", "1"
	c, ok := ChangeOf(records.Event{Table: records.TableServices, Key: "s1", Op: records.EventCreate, Object: svc})
	if !ok || c.Kind != KindService {
		t.Fatalf("ChangeOf: %+v %v", c, ok)
	}
	want := c.Row.(*ServiceRow)
	if want.NSD != "v.n.1" || want.NSDName != "n 1" || want.Status != "ready" {
		t.Errorf("row %+v", want)
	}
	if _, ok := ChangeOf(records.Event{Table: records.TableDescriptors, Key: "x", Object: &records.Descriptor{}}); ok {
		t.Error("descriptors are not shown")
	}
	// A daemon event with the record as Go encodes it.
	obj, _ := json.Marshal(svc)
	ev, err := EventChange(control.Event{Table: "services", Key: "s1", Op: "update", Object: obj})
	if err != nil {
		t.Fatal(err)
	}
	got := ev.Row.(*ServiceRow)
	if got.ID != "s1" || got.Name != "demo" || got.Status != "ready" || !got.CreatedAt.Equal(now) || got.NSD != "v.n.1" {
		t.Errorf("Go-shaped event: %+v", got)
	}
	// The same in the `get -o json` shape.
	item := map[string]any{"id": "s1", "name": "demo", "status": "ready", "nsd": "v.n.1", "functions": []any{"f1"},
		"created_at": now.Format(time.RFC3339Nano), "version": 2.0}
	obj, _ = json.Marshal(item)
	ev, err = EventChange(control.Event{Table: "services", Op: "create", Object: obj})
	if err != nil {
		t.Fatal(err)
	}
	got = ev.Row.(*ServiceRow)
	if ev.Key != "s1" || got.Name != "demo" || len(got.Functions) != 1 || !got.CreatedAt.Equal(now) || got.Version != 2 {
		t.Errorf("item-shaped event: key %q row %+v", ev.Key, got)
	}
	// Deletes carry no object.
	ev, err = EventChange(control.Event{Table: "plugins", Key: "p1", Op: "delete"})
	if err != nil || !ev.Deleted || ev.Kind != KindPlugin {
		t.Errorf("delete: %+v %v", ev, err)
	}
	if _, err := EventChange(control.Event{Table: "nope", Op: "create", Object: obj}); err == nil {
		t.Error("unknown table accepted")
	}
	if _, err := EventChange(control.Event{Table: "services", Op: "create", Object: []byte("{")}); err == nil {
		t.Error("malformed object accepted")
	}
	// Every kind of item converts.
	for k, it := range map[Kind]map[string]any{
		KindPlugin:    {"uuid": "p", "name": "pm", "state": "RUNNING", "last_heartbeat_at": now.Format(time.RFC3339)},
		KindFunction:  {"id": "f", "service_id": "s", "vim": "v", "addresses": []any{"a=1"}, "cores": 1.0},
		KindOperation: {"id": "o", "steps": []any{map[string]any{"name": "x", "status": "failed", "error": "e"}}},
		KindVIM:       {"uuid": "v", "name": "athens", "cores_total": 32.0, "cores_used": 3.0},
	} {
		key, row := ItemRow(k, it)
		if key == "" || row == nil {
			t.Errorf("%s: key %q row %v", k, key, row)
		}
	}
}

func TestWrapBlock(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"a", "load", "spread", "0.093", "runner-up:", "infrastructure.function.deploy", "é", "雪",
		strings.Repeat("x", 95), "        ", "\u00a0"}
	for range 500 {
		var b strings.Builder
		for range rng.IntN(40) {
			if rng.IntN(8) == 0 {
				b.WriteString("\n")
			}
			b.WriteString(words[rng.IntN(len(words))])
			b.WriteString(strings.Repeat(" ", rng.IntN(3)))
		}
		width := 8 + rng.IntN(120)
		got := wrapBlock(b.String(), width)
		for _, l := range strings.Split(got, "\n") {
			if n := ansi.StringWidth(l); n > width {
				t.Fatalf("width %d: line of %d cells %q from %q", width, n, l, b.String())
			}
		}
		squash := func(s string) string { return strings.Join(strings.Fields(s), "") }
		if squash(got) != squash(b.String()) {
			t.Fatalf("width %d: text changed:\n%q\n%q", width, b.String(), got)
		}
	}
}
