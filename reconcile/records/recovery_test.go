package records

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// tb is the part of testing.TB that rapid.T also has.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// dump reads every record of every journaled table and the index rows, for
// comparing states.
func dump(t tb, s *StateStore) map[string][]any {
	t.Helper()
	txn := s.db.Txn(false)
	out := make(map[string][]any)
	for _, table := range append([]string{TableIndex}, journaledTables...) {
		it, err := txn.Get(table, IndexID)
		if err != nil {
			t.Fatal(err)
		}
		for obj := it.Next(); obj != nil; obj = it.Next() {
			out[table] = append(out[table], obj)
		}
	}
	return out
}

func assertSameState(t tb, want, got map[string][]any) {
	t.Helper()
	for _, table := range append([]string{TableIndex}, journaledTables...) {
		w, g := want[table], got[table]
		if len(w) != len(g) {
			t.Fatalf("%s: %d records, want %d", table, len(g), len(w))
		}
		for i := range w {
			if !reflect.DeepEqual(w[i], g[i]) {
				t.Fatalf("%s[%d] differs:\n got %#v\nwant %#v", table, i, g[i], w[i])
			}
		}
	}
}

type frameInfo struct {
	off, size int
	typ       byte
	index     uint64
}

// journalFrames lists the frames of a segment.
func journalFrames(t testing.TB, path string) []frameInfo {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []frameInfo
	for off := journalHeaderSize; off < len(data); {
		payload, size, reason := readFrame(data, off)
		if reason != "" {
			t.Fatalf("%s at %d: %s", path, off, reason)
		}
		fi := frameInfo{off: off, size: size, typ: payload[0]}
		if fi.typ == recTxn {
			fi.index, _ = binary.Uvarint(payload[1:])
		}
		out = append(out, fi)
		off += size
	}
	return out
}

func segments(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "journal-*.wal"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func copyDir(t testing.TB, src, dst string) {
	t.Helper()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
}

// writeServices commits n demo services, one transaction each, and returns
// the state directory after closing the store.
func writeServices(t testing.TB, dir string, n int, opts Options) map[string][]any {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	demo := DemoDescriptors()
	if _, err := s.Write(func(txn *WriteTxn) error { return demo.StoreTxn(s, txn) }); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < n; i++ {
		svc, fns := demo.Service("svc-"+itoa(i), "vim-1", i)
		if _, err := s.Write(func(txn *WriteTxn) error { return s.UpsertServiceWithFunctionsTxn(txn, svc, fns) }); err != nil {
			t.Fatal(err)
		}
	}
	state := dump(t, s.StateStore)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return state
}

func TestRecovery_ReopenReplaysJournal(t *testing.T) {
	dir := t.TempDir()
	want := writeServices(t, dir, 20, Options{})
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	assertSameState(t, want, dump(t, s.StateStore))
	if s.LatestIndex() != 20 || s.Recovery().Replayed != 20 || s.Recovery().TruncatedPath != "" {
		t.Fatalf("index %d, recovery %+v", s.LatestIndex(), s.Recovery())
	}
	// Writing continues where it stopped.
	if idx, err := s.UpsertVIM(&VIM{UUID: "v"}); err != nil || idx != 21 {
		t.Fatalf("%d, %v", idx, err)
	}
}

// TestRecovery_TornTailEveryOffset truncates the journal at every byte of
// its last batch (marker and record) and checks that the state loads with
// exactly that transaction dropped, the tail cut off, and writing resumes.
func TestRecovery_TornTailEveryOffset(t *testing.T) {
	base := t.TempDir()
	const n = 6
	writeServices(t, base, n-1, Options{})
	// The last record is a small one (an operation step), so that cutting
	// at each of its bytes stays cheap.
	s, err := Open(base, Options{})
	if err != nil {
		t.Fatal(err)
	}
	op := &Operation{ID: "op-1", Kind: OpInstantiate, Status: OpRunning, Steps: []Step{{Name: "ia_prepare", Status: StepRunning, Attempt: 1}}}
	if idx, err := s.UpsertOperation(op); err != nil || idx != n {
		t.Fatalf("%d, %v", idx, err)
	}
	s.Close()
	want := dumpAt(t, base, n-1)
	seg := segments(t, base)[0]
	frames := journalFrames(t, seg)
	last := frames[len(frames)-1]
	marker := frames[len(frames)-2]
	if last.typ != recTxn || last.index != n || marker.typ != recMarker {
		t.Fatalf("unexpected frame layout %+v", frames[len(frames)-2:])
	}
	for cut := marker.off; cut < last.off+last.size; cut++ {
		dir := filepath.Join(t.TempDir(), "state")
		copyDir(t, base, dir)
		path := filepath.Join(dir, filepath.Base(seg))
		if err := os.Truncate(path, int64(cut)); err != nil {
			t.Fatal(err)
		}
		s, err := Open(dir, Options{})
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		info := s.Recovery()
		wantCut := marker.off
		if cut == marker.off || cut == last.off {
			wantCut = -1 // nothing torn: the file ends at a frame boundary
		} else if cut > last.off {
			wantCut = last.off
		}
		if s.LatestIndex() != n-1 {
			t.Fatalf("cut at %d: index %d", cut, s.LatestIndex())
		}
		if wantCut >= 0 && (info.TruncatedOffset != int64(wantCut) || info.TruncatedBytes != int64(cut-wantCut)) {
			t.Fatalf("cut at %d: recovery %+v, want truncation at %d", cut, info, wantCut)
		}
		assertSameState(t, want, dump(t, s.StateStore))
		if fi, _ := os.Stat(path); wantCut >= 0 && fi.Size() != int64(wantCut) {
			t.Fatalf("cut at %d: journal is %d bytes, want %d", cut, fi.Size(), wantCut)
		}
		if idx, err := s.UpsertVIM(&VIM{UUID: "after"}); err != nil || idx != n {
			t.Fatalf("cut at %d: write after recovery: %d, %v", cut, idx, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s, err = Open(dir, Options{})
		if err != nil || s.LatestIndex() != n {
			t.Fatalf("cut at %d: reopen: %v, index %d", cut, err, s.LatestIndex())
		}
		s.Close()
	}
}

// dumpAt is the state of a copy of dir with the journal cut after index.
func dumpAt(t testing.TB, dir string, index uint64) map[string][]any {
	t.Helper()
	cp := filepath.Join(t.TempDir(), "state")
	copyDir(t, dir, cp)
	seg := segments(t, cp)[0]
	for _, f := range journalFrames(t, seg) {
		if f.typ == recTxn && f.index == index {
			if err := os.Truncate(seg, int64(f.off+f.size)); err != nil {
				t.Fatal(err)
			}
		}
	}
	s, err := Open(cp, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if s.LatestIndex() != index {
		t.Fatalf("dumpAt %d: index %d", index, s.LatestIndex())
	}
	return dump(t, s.StateStore)
}

func TestRecovery_GarbageAfterTail(t *testing.T) {
	for name, junk := range map[string][]byte{
		"zeros":         make([]byte, 4096),
		"partial frame": {200, 0, 0, 0, 1, 2, 3},
		"huge length":   {0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 1},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			want := writeServices(t, dir, 4, Options{})
			seg := segments(t, dir)[0]
			f, _ := os.OpenFile(seg, os.O_APPEND|os.O_WRONLY, 0)
			f.Write(junk)
			f.Close()
			s, err := Open(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			assertSameState(t, want, dump(t, s.StateStore))
			if s.Recovery().TruncatedBytes != int64(len(junk)) {
				t.Fatalf("recovery %+v", s.Recovery())
			}
		})
	}
}

// TestRecovery_CorruptionBeforeTail damages acknowledged records: Open
// must fail naming the file and the offset, and must not modify anything.
func TestRecovery_CorruptionBeforeTail(t *testing.T) {
	base := t.TempDir()
	writeServices(t, base, 8, Options{})
	seg := filepath.Base(segments(t, base)[0])
	frames := journalFrames(t, filepath.Join(base, seg))
	var rec3, mark3 frameInfo
	for i, f := range frames {
		if f.typ == recTxn && f.index == 3 {
			rec3, mark3 = f, frames[i-1]
		}
	}
	cases := map[string]struct {
		off     int // byte to flip
		wantOff int
	}{
		"record payload": {rec3.off + rec3.size/2, rec3.off},
		"record length":  {rec3.off, rec3.off},
		"record crc":     {rec3.off + 5, rec3.off},
		"batch marker":   {mark3.off + 10, mark3.off},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			copyDir(t, base, dir)
			path := filepath.Join(dir, seg)
			data, _ := os.ReadFile(path)
			data[tc.off] ^= 0x40
			os.WriteFile(path, data, 0o600)
			before, _ := os.ReadFile(path)

			_, err := Open(dir, Options{})
			var ce *CorruptionError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want *CorruptionError", err)
			}
			if ce.Path != path || ce.Offset != int64(tc.wantOff) || ce.Evidence == "" {
				t.Fatalf("error %+v, want offset %d", ce, tc.wantOff)
			}
			if !strings.Contains(err.Error(), "offset "+itoa(tc.wantOff)) {
				t.Fatalf("message does not name the offset: %v", err)
			}
			after, _ := os.ReadFile(path)
			if string(before) != string(after) {
				t.Fatal("Open modified a corrupt journal")
			}
			// Read-only opens refuse too.
			if _, err := Open(dir, Options{ReadOnly: true}); !errors.As(err, &ce) {
				t.Fatalf("read-only: %v", err)
			}
		})
	}
}

func TestRecovery_DamagedLastRecordIsATornTail(t *testing.T) {
	// Damage inside the last batch cannot be told from a torn write (no
	// later marker vouches for it), so it is dropped. This pins that
	// documented limit.
	dir := t.TempDir()
	writeServices(t, dir, 5, Options{})
	seg := segments(t, dir)[0]
	frames := journalFrames(t, seg)
	last := frames[len(frames)-1]
	data, _ := os.ReadFile(seg)
	data[last.off+last.size-3] ^= 1
	os.WriteFile(seg, data, 0o600)
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.LatestIndex() != 4 || s.Recovery().TruncatedReason != "checksum mismatch" {
		t.Fatalf("index %d, %+v", s.LatestIndex(), s.Recovery())
	}
}

func TestRecovery_SnapshotRotationRetention(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{SnapshotEvery: -1, SnapshotBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	demo := DemoDescriptors()
	write := func(k int) {
		t.Helper()
		for i := 0; i < k; i++ {
			svc, fns := demo.Service(uuid.NewString(), "vim-1", i)
			if _, err := s.Write(func(txn *WriteTxn) error { return s.UpsertServiceWithFunctionsTxn(txn, svc, fns) }); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := s.Write(func(txn *WriteTxn) error { return demo.StoreTxn(s, txn) }); err != nil {
		t.Fatal(err)
	}
	write(4) // indexes 2..5
	if err := s.Compact(); err != nil {
		t.Fatal(err)
	}
	write(3) // 6..8
	if err := s.Compact(); err != nil {
		t.Fatal(err)
	}
	write(2) // 9..10
	if err := s.Compact(); err != nil {
		t.Fatal(err)
	}
	write(2) // 11..12
	// Deleting also goes through snapshots and the journal.
	var victim string
	for svc := range must(s.Services(nil)) {
		victim = svc.ID
		break
	}
	if _, err := s.DeleteService(victim); err != nil {
		t.Fatal(err)
	}
	want := dump(t, s.StateStore)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	snaps, _ := filepath.Glob(filepath.Join(dir, "snapshot-*.snap"))
	if len(snaps) != 2 || !strings.HasSuffix(snaps[0], snapshotName(8)) || !strings.HasSuffix(snaps[1], snapshotName(10)) {
		t.Fatalf("snapshots %v, want the two newest (8, 10)", snaps)
	}
	segs := segments(t, dir)
	// Needed: from the older snapshot (8) on: segments starting at 9 and 11.
	if len(segs) != 2 || !strings.HasSuffix(segs[0], segmentName(9)) || !strings.HasSuffix(segs[1], segmentName(11)) {
		t.Fatalf("segments %v", segs)
	}

	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if info := s.Recovery(); info.SnapshotIndex != 10 || info.Replayed != 3 || info.Index != 13 {
		t.Fatalf("recovery %+v", info)
	}
	assertSameState(t, want, dump(t, s.StateStore))
	s.Close()

	// A damaged newest snapshot: recover from the previous one plus the
	// journal, and say so.
	data, _ := os.ReadFile(snaps[1])
	data[len(data)/2] ^= 0xff
	os.WriteFile(snaps[1], data, 0o600)
	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if info := s.Recovery(); info.SnapshotIndex != 8 || info.Replayed != 5 || len(info.Warnings) != 1 {
		t.Fatalf("recovery %+v", info)
	}
	assertSameState(t, want, dump(t, s.StateStore))
	s.Close()

	// Both snapshots damaged and the journal no longer starts at 1: a
	// clear error, not an empty state.
	data, _ = os.ReadFile(snaps[0])
	data[60] ^= 0xff
	os.WriteFile(snaps[0], data, 0o600)
	if _, err := Open(dir, Options{}); err == nil || !strings.Contains(err.Error(), "no usable snapshot") {
		t.Fatalf("got %v", err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestRecovery_AutomaticSnapshot(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{SnapshotEvery: 5})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 12; i++ {
		if _, err := s.UpsertVIM(&VIM{UUID: "v" + itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	// The snapshot runs in the background; wait for it (bounded, not a
	// performance assertion).
	deadline := time.Now().Add(30 * time.Second)
	for {
		snaps, _ := filepath.Glob(filepath.Join(dir, "snapshot-*.snap"))
		if len(snaps) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no automatic snapshot written")
		}
		time.Sleep(10 * time.Millisecond)
	}
	want := dump(t, s.StateStore)
	if err := s.Close(); err != nil || s.SnapshotError() != nil {
		t.Fatal(err, s.SnapshotError())
	}
	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Recovery().SnapshotIndex == 0 {
		t.Fatalf("recovery %+v", s.Recovery())
	}
	assertSameState(t, want, dump(t, s.StateStore))
}

func TestRecovery_GapAndForeignFiles(t *testing.T) {
	t.Run("missing segment", func(t *testing.T) {
		dir := t.TempDir()
		s, _ := Open(dir, Options{SnapshotEvery: -1})
		s.UpsertVIM(&VIM{UUID: "a"})
		s.Compact()
		s.UpsertVIM(&VIM{UUID: "b"})
		s.Close()
		// Remove the snapshot: replay must start at 1, but the first segment
		// (indexes 1..1) is still there; remove it too to make a gap.
		snaps, _ := filepath.Glob(filepath.Join(dir, "snapshot-*"))
		os.Remove(snaps[0])
		os.Remove(segments(t, dir)[0])
		var ce *CorruptionError
		if _, err := Open(dir, Options{}); !errors.As(err, &ce) || !strings.Contains(err.Error(), "missing indexes 1 to 1") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("segment of another state directory", func(t *testing.T) {
		a, b := t.TempDir(), t.TempDir()
		writeServices(t, a, 2, Options{})
		writeServices(t, b, 2, Options{})
		data, _ := os.ReadFile(segments(t, a)[0])
		os.WriteFile(segments(t, b)[0], data, 0o600)
		if _, err := Open(b, Options{}); err == nil || !strings.Contains(err.Error(), "lineage") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("journal without state.json", func(t *testing.T) {
		dir := t.TempDir()
		writeServices(t, dir, 2, Options{})
		os.Remove(filepath.Join(dir, stateFileName))
		if _, err := Open(dir, Options{}); err == nil || !strings.Contains(err.Error(), "lineage") {
			t.Fatalf("got %v", err)
		}
	})
}

func TestLock(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{Command: "manoctl daemon"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpsertVIM(&VIM{UUID: "v1"}); err != nil {
		t.Fatal(err)
	}

	_, err = Open(dir, Options{Command: "manoctl apply"})
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("second writer: %v", err)
	}
	host, _ := os.Hostname()
	if le.Holder.PID != os.Getpid() || le.Holder.Hostname != host || le.Holder.Command != "manoctl daemon" || le.Holder.StartedAt.IsZero() {
		t.Fatalf("holder %+v", le.Holder)
	}
	if !strings.Contains(le.Error(), "pid "+itoa(os.Getpid())) || !strings.Contains(le.Error(), "manoctl daemon") {
		t.Fatalf("message %q", le.Error())
	}

	// Readers do not need the lock.
	ro, err := Open(dir, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := ro.VIMByUUID(nil, "v1"); v == nil || ro.LatestIndex() != 1 || ro.Lineage() != s.Lineage() {
		t.Fatalf("read-only view: %v index %d", v, ro.LatestIndex())
	}
	if _, err := ro.UpsertVIM(&VIM{UUID: "v2"}); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("read-only write: %v", err)
	}
	if err := ro.Compact(); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("read-only compact: %v", err)
	}
	ro.Close()

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	s2.Close()
}

func TestOpen_PermissionsAndMissing(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "nested", ".manoctl")
	if _, err := Open(dir, Options{ReadOnly: true}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("read-only open of nothing: %v", err)
	}
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpsertVIM(&VIM{UUID: "v"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Compact(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	fi, _ := os.Stat(dir)
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) < 4 {
		t.Fatalf("entries %v", entries)
	}
	for _, e := range entries {
		info, _ := e.Info()
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v", e.Name(), info.Mode().Perm())
		}
	}
}
