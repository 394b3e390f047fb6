package records

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// journalTemplate is a real state directory, read once: its state.json,
// its lineage, the frames of its journal (header stripped) and the frames
// of a snapshot of it (header stripped).
type journalTemplate struct {
	state    []byte
	lineage  [16]byte
	journal  []byte // frames after the segment header
	snapshot []byte // frames after the snapshot header
	snapIdx  uint64
}

var (
	templateOnce sync.Once
	template     *journalTemplate
	templateErr  error
)

func loadJournalTemplate() (*journalTemplate, error) {
	templateOnce.Do(func() { template, templateErr = buildJournalTemplate() })
	return template, templateErr
}

func buildJournalTemplate() (*journalTemplate, error) {
	dir, err := os.MkdirTemp("", "manoctl-fuzz-records-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	s, err := Open(dir, Options{SnapshotEvery: -1, SnapshotBytes: -1})
	if err != nil {
		return nil, err
	}
	demo := DemoDescriptors()
	var svcID string
	write := func(fn func(*WriteTxn) error) {
		if err == nil {
			_, err = s.Write(fn)
		}
	}
	write(func(txn *WriteTxn) error { return demo.StoreTxn(s, txn) })
	write(func(txn *WriteTxn) error {
		svc, fns := demo.Service("demo-1", "athens", 1)
		svcID = svc.ID
		return s.UpsertServiceWithFunctionsTxn(txn, svc, fns)
	})
	write(func(txn *WriteTxn) error {
		return s.UpsertVIMTxn(txn, &VIM{UUID: "v", Name: "athens", CoresTotal: 8, MemoryTotalMB: 1024})
	})
	// A snapshot here, then more journal after it.
	if err == nil {
		err = s.Compact()
	}
	write(func(txn *WriteTxn) error { return s.DeleteServiceTxn(txn, svcID) })
	if err != nil {
		s.Close()
		return nil, err
	}
	if err := s.Close(); err != nil {
		return nil, err
	}
	t := &journalTemplate{}
	if t.state, err = os.ReadFile(filepath.Join(dir, stateFileName)); err != nil {
		return nil, err
	}
	files, err := listStateDir(dir)
	if err != nil {
		return nil, err
	}
	if len(files.snapshots) == 0 || len(files.segments) == 0 {
		return nil, errors.New("template: no snapshot or no journal")
	}
	seg, err := os.ReadFile(files.segments[0].path)
	if err != nil {
		return nil, err
	}
	snap, err := os.ReadFile(files.snapshots[0].path)
	if err != nil {
		return nil, err
	}
	copy(t.lineage[:], seg[12:28])
	t.journal = seg[journalHeaderSize:]
	t.snapshot = snap[snapshotHeaderSize:]
	t.snapIdx = files.snapshots[0].index
	return t, nil
}

// chunked turns fuzz data into well-framed payloads: each payload is a
// uvarint length and that many bytes, framed with a correct checksum, so
// that the fuzzer reaches the decoder and the replay rather than the
// checksum test. What is left at the end is appended unframed: a torn
// tail.
func chunked(data []byte) []byte {
	var out []byte
	for len(data) > 0 {
		n, k := binary.Uvarint(data)
		if k <= 0 || n > uint64(len(data)-k) || n == 0 {
			return append(out, data...)
		}
		out = appendFrame(out, data[k:k+int(n)])
		data = data[k+int(n):]
	}
	return out
}

// unchunked is chunked's inverse for well-formed frames (seeds).
func unchunked(frames []byte) []byte {
	var out []byte
	for off := 0; off < len(frames); {
		payload, size, reason := readFrame(frames, off)
		if reason != "" {
			return append(out, frames[off:]...)
		}
		out = binary.AppendUvarint(out, uint64(len(payload)))
		out = append(out, payload...)
		off += size
	}
	return out
}

// Fuzz modes: what the fuzz data becomes in the state directory.
const (
	fuzzRawJournal     = iota // journal frames as given (checksums and all)
	fuzzFramedJournal         // journal payloads, framed with correct checksums
	fuzzFramedSnapshot        // snapshot payloads, framed, then an empty journal
	fuzzModes
)

// FuzzJournal writes a state directory whose journal (or snapshot) holds
// the fuzz data after a valid header, and opens it read-only and then as
// a writer. Opening must fail with an error or succeed, never panic or
// allocate without bound (a frame is at most maxFrame and never larger
// than the file); when it succeeds, the store must close and reopen at
// the same index with nothing left to truncate: recovery is idempotent.
// Seeds: testdata/fuzz/FuzzJournal.
//
//	go test -run '^$' -fuzz FuzzJournal -fuzztime 5m ./reconcile/records
func FuzzJournal(f *testing.F) {
	tpl, err := loadJournalTemplate()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint8(fuzzRawJournal), tpl.journal)
	f.Add(uint8(fuzzRawJournal), tpl.journal[:len(tpl.journal)-3])
	f.Add(uint8(fuzzFramedJournal), unchunked(tpl.journal))
	f.Add(uint8(fuzzFramedSnapshot), unchunked(tpl.snapshot))
	f.Add(uint8(fuzzFramedJournal), []byte{2, recTxn, 0})
	f.Add(uint8(fuzzFramedJournal), []byte{9, recMarker, 5, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, mode uint8, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, stateFileName), tpl.state, 0o600); err != nil {
			t.Fatal(err)
		}
		segBase := uint64(1)
		switch mode % fuzzModes {
		case fuzzRawJournal:
			writeFuzzFile(t, dir, segmentName(1), journalHeader(tpl.lineage, 1), data)
		case fuzzFramedJournal:
			writeFuzzFile(t, dir, segmentName(1), journalHeader(tpl.lineage, 1), chunked(data))
		case fuzzFramedSnapshot:
			writeFuzzFile(t, dir, snapshotName(tpl.snapIdx), snapshotHeader(tpl.lineage, tpl.snapIdx, time.Unix(1, 0)), chunked(data))
			segBase = tpl.snapIdx + 1
			writeFuzzFile(t, dir, segmentName(segBase), journalHeader(tpl.lineage, segBase), nil)
		}
		ro, roErr := Open(dir, Options{ReadOnly: true})
		var roIndex uint64
		if roErr == nil {
			roIndex = ro.LatestIndex()
			if err := ro.Close(); err != nil {
				t.Fatalf("close read-only: %v", err)
			}
		}
		s, err := Open(dir, Options{SnapshotEvery: -1, SnapshotBytes: -1})
		if err != nil {
			if roErr == nil && !errors.As(err, new(*CorruptionError)) {
				// A read-only open tolerates a torn tail that a writer
				// truncates; anything else it accepted, a writer must too.
				t.Fatalf("read-only open succeeded (index %d), writer failed: %v", roIndex, err)
			}
			return
		}
		index := s.LatestIndex()
		if roErr == nil && index != roIndex {
			t.Fatalf("read-only open at index %d, writer at %d", roIndex, index)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
		again, err := Open(dir, Options{SnapshotEvery: -1, SnapshotBytes: -1})
		if err != nil {
			t.Fatalf("reopen after a successful recovery: %v", err)
		}
		defer again.Close()
		if again.LatestIndex() != index {
			t.Fatalf("reopened at index %d, first open at %d", again.LatestIndex(), index)
		}
		if r := again.Recovery(); r.TruncatedBytes != 0 {
			t.Fatalf("second recovery truncated again: %+v", r)
		}
	})
}

func writeFuzzFile(t *testing.T, dir, name string, header, body []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), append(append([]byte(nil), header...), body...), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestSnapshotFrameLengthPastEOF: a damaged frame length in a small
// snapshot is reported without allocating the length it claims (up to
// maxFrame, 256 MiB).
func TestSnapshotFrameLengthPastEOF(t *testing.T) {
	tpl, err := loadJournalTemplate()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), snapshotName(tpl.snapIdx))
	frame := binary.LittleEndian.AppendUint32(nil, maxFrame) // length
	frame = binary.LittleEndian.AppendUint32(frame, 0)       // checksum
	writeFuzzFile(t, filepath.Dir(path), filepath.Base(path), snapshotHeader(tpl.lineage, tpl.snapIdx, time.Unix(1, 0)), append(frame, "short"...))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	db := newMemDB()
	txn := db.Txn(true)
	defer txn.Abort()
	_, err = loadSnapshot(path, tpl.lineage, txn)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "runs past the end of the file") {
		t.Fatalf("loadSnapshot: %v", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 32<<20 {
		t.Fatalf("allocated %d bytes for a %d-byte file", grew, snapshotHeaderSize+len(frame)+5)
	}
}
