package tui

import (
	"sort"
	"strings"
)

// entry is one row of a list: the record, its position key and the text
// a filter matches against (lower case).
type entry struct {
	key  string
	sort string // unique: ends with "\x00" + key
	text string
	row  any
}

// list holds the rows of one view, sorted, and the subset a filter shows.
// Changes are applied one at a time by binary search, so keeping 10,000
// rows up to date costs O(log n) plus a memmove per change, and a frame
// renders only the rows that fit (window).
type list struct {
	byKey map[string]*entry
	all   []*entry
	// shown holds the matching rows while a filter is set; nil otherwise.
	shown  []*entry
	filter string // lower case
	invert bool

	cursor int
	offset int
	// selected is the key under the cursor, kept across inserts above it.
	selected string
}

func newList() *list { return &list{byKey: map[string]*entry{}} }

// rows are the rows the view shows, in order.
func (l *list) rows() []*entry {
	if l.filtering() {
		return l.shown
	}
	return l.all
}

func (l *list) filtering() bool { return l.filter != "" }

func (l *list) len() int { return len(l.rows()) }

func (l *list) matches(e *entry) bool {
	return strings.Contains(e.text, l.filter) != l.invert
}

func search(s []*entry, sortKey string) int {
	return sort.Search(len(s), func(i int) bool { return s[i].sort >= sortKey })
}

func insertAt(s []*entry, e *entry) []*entry {
	i := search(s, e.sort)
	s = append(s, nil)
	copy(s[i+1:], s[i:])
	s[i] = e
	return s
}

func removeFrom(s []*entry, sortKey string) []*entry {
	i := search(s, sortKey)
	if i < len(s) && s[i].sort == sortKey {
		copy(s[i:], s[i+1:])
		s[len(s)-1] = nil
		s = s[:len(s)-1]
	}
	return s
}

// upsert adds or replaces the row key. sortKey orders rows (key is
// appended to make it unique); text is what filters match.
func (l *list) upsert(key, sortKey, text string, row any) {
	sortKey += "\x00" + key
	text = strings.ToLower(text)
	if old := l.byKey[key]; old != nil {
		if old.sort == sortKey {
			wasShown := l.filtering() && l.matches(old)
			old.text, old.row = text, row
			if l.filtering() {
				switch now := l.matches(old); {
				case now && !wasShown:
					l.shown = insertAt(l.shown, old)
				case !now && wasShown:
					l.shown = removeFrom(l.shown, old.sort)
				}
			}
			return
		}
		l.remove(key)
	}
	e := &entry{key: key, sort: sortKey, text: text, row: row}
	l.byKey[key] = e
	l.all = insertAt(l.all, e)
	if l.filtering() && l.matches(e) {
		l.shown = insertAt(l.shown, e)
	}
}

func (l *list) remove(key string) {
	e := l.byKey[key]
	if e == nil {
		return
	}
	delete(l.byKey, key)
	l.all = removeFrom(l.all, e.sort)
	if l.filtering() {
		l.shown = removeFrom(l.shown, e.sort)
	}
}

func (l *list) get(key string) any {
	if e := l.byKey[key]; e != nil {
		return e.row
	}
	return nil
}

func (l *list) clear() {
	l.byKey = map[string]*entry{}
	l.all = nil
	l.shown = nil
	if l.filtering() {
		l.shown = []*entry{}
	}
}

// setFilter filters the rows: those whose text contains f (or, inverted,
// those that do not).
func (l *list) setFilter(f string, invert bool) {
	f = strings.ToLower(f)
	if f == l.filter && invert == l.invert {
		return
	}
	l.filter, l.invert = f, invert
	l.shown = nil
	if f != "" {
		l.shown = make([]*entry, 0, len(l.all))
		for _, e := range l.all {
			if l.matches(e) {
				l.shown = append(l.shown, e)
			}
		}
	}
	l.cursor, l.offset = 0, 0
	l.restoreCursor()
}

// restoreCursor puts the cursor back on the selected key after changes,
// or keeps it in range when that row is gone.
func (l *list) restoreCursor() {
	rows := l.rows()
	if e := l.byKey[l.selected]; e != nil {
		i := search(rows, e.sort)
		if i < len(rows) && rows[i] == e {
			l.cursor = i
			return
		}
	}
	l.cursor = min(max(l.cursor, 0), max(len(rows)-1, 0))
	l.syncSelected()
}

func (l *list) syncSelected() {
	rows := l.rows()
	if l.cursor >= 0 && l.cursor < len(rows) {
		l.selected = rows[l.cursor].key
	} else {
		l.selected = ""
	}
}

// move moves the cursor by d rows, clamped.
func (l *list) move(d int) {
	n := l.len()
	l.cursor = min(max(l.cursor+d, 0), max(n-1, 0))
	l.syncSelected()
}

func (l *list) home() { l.cursor = 0; l.syncSelected() }
func (l *list) end()  { l.cursor = max(l.len()-1, 0); l.syncSelected() }

// current is the row under the cursor, or nil.
func (l *list) current() *entry {
	rows := l.rows()
	if l.cursor >= 0 && l.cursor < len(rows) {
		return rows[l.cursor]
	}
	return nil
}

// window returns the rows that fit in height lines, scrolled to keep the
// cursor visible, and the index of the first.
func (l *list) window(height int) ([]*entry, int) {
	rows := l.rows()
	if height <= 0 || len(rows) == 0 {
		return nil, 0
	}
	if l.cursor < l.offset {
		l.offset = l.cursor
	}
	if l.cursor >= l.offset+height {
		l.offset = l.cursor - height + 1
	}
	l.offset = min(l.offset, max(len(rows)-height, 0))
	l.offset = max(l.offset, 0)
	end := min(l.offset+height, len(rows))
	return rows[l.offset:end], l.offset
}
