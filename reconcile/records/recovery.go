package records

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-memdb"
)

// CorruptionError reports damage that recovery must not repair silently:
// corruption before the journal's tail, a damaged sealed segment or
// snapshot, or a gap in the journal. It names the file and the offset.
type CorruptionError struct {
	// Path is the damaged file.
	Path string
	// Offset is the byte offset of the damaged frame (0 for the header).
	Offset int64
	// Index is the first transaction index affected, when known.
	Index uint64
	// Reason says what is wrong with the frame.
	Reason string
	// Evidence says why the damage cannot be a torn write at the tail.
	Evidence string
}

func (e *CorruptionError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "records: %s: corrupt at offset %d: %s", e.Path, e.Offset, e.Reason)
	if e.Index > 0 {
		fmt.Fprintf(&b, " (transaction index %d)", e.Index)
	}
	if e.Evidence != "" {
		fmt.Fprintf(&b, "; %s", e.Evidence)
	}
	return b.String()
}

// RecoveryInfo describes how Open rebuilt the state.
type RecoveryInfo struct {
	// SnapshotPath and SnapshotIndex name the snapshot loaded ("" and 0 when
	// the state was rebuilt from the journal alone).
	SnapshotPath  string
	SnapshotIndex uint64
	// Replayed counts the journal transactions applied after the snapshot.
	Replayed int
	// Index is the state's index after recovery.
	Index uint64
	// TruncatedPath, TruncatedOffset and TruncatedBytes describe the torn
	// tail dropped from the last journal segment, if any. A read-only open
	// ignores the tail instead of truncating it.
	TruncatedPath   string
	TruncatedOffset int64
	TruncatedBytes  int64
	TruncatedReason string
	// Warnings lists problems recovery worked around, such as a damaged
	// newest snapshot replaced by the previous one and the journal.
	Warnings []string
	// Duration is how long loading took.
	Duration time.Duration
}

type fileRef struct {
	index uint64 // snapshot index or segment base
	path  string
}

type dirFiles struct {
	snapshots []fileRef // ascending index
	segments  []fileRef // ascending base
	temps     []string
}

// listStateDir finds snapshots, journal segments and leftover temporary
// files. Names it does not know are ignored.
func listStateDir(dir string) (dirFiles, error) {
	var df dirFiles
	entries, err := os.ReadDir(dir)
	if err != nil {
		return df, fmt.Errorf("records: read state directory: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		full := filepath.Join(dir, name)
		switch {
		case strings.HasSuffix(name, ".tmp"):
			df.temps = append(df.temps, full)
		case strings.HasPrefix(name, "snapshot-") && strings.HasSuffix(name, ".snap"):
			if n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(name, "snapshot-"), ".snap"), 10, 64); err == nil {
				df.snapshots = append(df.snapshots, fileRef{n, full})
			}
		case strings.HasPrefix(name, "journal-") && strings.HasSuffix(name, ".wal"):
			if n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(name, "journal-"), ".wal"), 10, 64); err == nil {
				df.segments = append(df.segments, fileRef{n, full})
			}
		}
	}
	byIndex := func(a, b fileRef) int { return cmp.Compare(a.index, b.index) }
	slices.SortFunc(df.snapshots, byIndex)
	slices.SortFunc(df.segments, byIndex)
	return df, nil
}

// recovered is the result of loading a state directory.
type recovered struct {
	info      RecoveryInfo
	lastIndex uint64
	// lastSegment is the segment new records are appended to; nil when
	// there is none yet. lastSize is its valid length.
	lastSegment *fileRef
	lastSize    int64
}

// recoverState loads the newest usable snapshot and replays the journal
// after it into db. With truncate, a torn tail is cut off the last segment
// (writers); without, it is ignored (read-only opens, which must not touch
// files a writer may be appending to).
func recoverState(dir string, lineage [16]byte, db *memdb.MemDB, files dirFiles, truncate bool) (*recovered, error) {
	start := time.Now()
	var warnings []string
	// Candidates: snapshots newest first, then the empty state. The empty
	// state is only usable if the journal still starts at index 1.
	cands := make([]*fileRef, 0, len(files.snapshots)+1)
	for i := len(files.snapshots) - 1; i >= 0; i-- {
		cands = append(cands, &files.snapshots[i])
	}
	cands = append(cands, nil)

	for _, c := range cands {
		txn := db.Txn(true)
		var after uint64
		if c != nil {
			info, err := loadSnapshot(c.path, lineage, txn)
			if err == nil && info.index != c.index {
				err = &CorruptionError{Path: c.path, Reason: fmt.Sprintf("header index %d differs from the file name", info.index)}
			}
			if err != nil {
				txn.Abort()
				if errors.Is(err, errLineage) {
					return nil, err
				}
				warnings = append(warnings, fmt.Sprintf("snapshot %s unusable, trying an older state: %v", filepath.Base(c.path), err))
				continue
			}
			after = info.index
		} else if len(files.snapshots) > 0 && (len(files.segments) == 0 || files.segments[0].index > 1) {
			txn.Abort()
			return nil, fmt.Errorf("records: no usable snapshot and the journal does not start at index 1:\n  %s", strings.Join(warnings, "\n  "))
		}
		rec, err := replaySegments(files.segments, lineage, after, txn, truncate)
		if err != nil {
			txn.Abort()
			return nil, err
		}
		txn.Commit()
		rec.info.Warnings = warnings
		if c != nil {
			rec.info.SnapshotPath, rec.info.SnapshotIndex = c.path, c.index
		}
		rec.info.Index = rec.lastIndex
		rec.info.Duration = time.Since(start)
		return rec, nil
	}
	// Not reached: the last candidate (the empty state) always returns.
	return nil, errors.New("records: no state to recover")
}

// replaySegments applies every journal transaction after index after, in
// order, checking that the indexes are consecutive across segments.
func replaySegments(segs []fileRef, lineage [16]byte, after uint64, txn *memdb.Txn, truncate bool) (*recovered, error) {
	rec := &recovered{lastIndex: after}
	next := after + 1  // the index the next applied transaction must have
	var prevEnd uint64 // one past the last index of the previous scanned segment
	for i := range segs {
		seg := &segs[i]
		last := i == len(segs)-1
		if !last && segs[i+1].index <= next {
			// Every transaction in this segment is already in the snapshot.
			continue
		}
		data, err := os.ReadFile(seg.path)
		if err != nil {
			return nil, fmt.Errorf("records: read journal: %w", err)
		}
		base, err := parseJournalHeader(data, lineage)
		if err != nil {
			if errors.Is(err, errLineage) {
				return nil, fmt.Errorf("records: %s %w", seg.path, err)
			}
			return nil, &CorruptionError{Path: seg.path, Offset: 0, Reason: err.Error(), Evidence: "segment headers are written before the segment is renamed into place, so a damaged header is never a torn write"}
		}
		if base != seg.index {
			return nil, &CorruptionError{Path: seg.path, Reason: fmt.Sprintf("header base %d differs from the file name", base)}
		}
		if prevEnd != 0 && base != prevEnd {
			return nil, &CorruptionError{Path: seg.path, Index: prevEnd, Reason: fmt.Sprintf("segment starts at index %d but the previous one ended before %d", base, prevEnd)}
		}
		if base > next {
			return nil, &CorruptionError{Path: seg.path, Index: next, Reason: fmt.Sprintf("journal is missing indexes %d to %d (segment starts at %d)", next, base-1, base)}
		}
		segNext := base
		off := journalHeaderSize
		for off < len(data) {
			payload, size, reason := readFrame(data, off)
			if reason != "" {
				cerr := &CorruptionError{Path: seg.path, Offset: int64(off), Index: segNext, Reason: reason}
				if !last {
					cerr.Evidence = "the segment was sealed (fsync'd) before the next one was started, so this is not a torn write"
					return nil, cerr
				}
				if p, durable, ok := findDurableMarker(data, off+1, segNext); ok {
					cerr.Evidence = fmt.Sprintf("an intact batch marker at offset %d records index %d as fsync'd, so this record was acknowledged; refusing to drop committed data", p, durable)
					return nil, cerr
				}
				// A torn tail: the last batch was being written when the
				// process or machine stopped. None of it was acknowledged
				// (acknowledgement waits for the fsync), so dropping it
				// loses nothing committed.
				rec.info.TruncatedPath = seg.path
				rec.info.TruncatedOffset = int64(off)
				rec.info.TruncatedBytes = int64(len(data) - off)
				rec.info.TruncatedReason = reason
				if truncate {
					if err := truncateFile(seg.path, int64(off)); err != nil {
						return nil, err
					}
				}
				data = data[:off]
				break
			}
			switch payload[0] {
			case recMarker:
				durable, ok := parseMarker(payload)
				if !ok {
					return nil, &CorruptionError{Path: seg.path, Offset: int64(off), Reason: "malformed batch marker"}
				}
				if durable >= segNext {
					return nil, &CorruptionError{Path: seg.path, Offset: int64(off), Index: segNext,
						Reason: fmt.Sprintf("batch marker records index %d as fsync'd, but the journal holds only up to %d", durable, segNext-1)}
				}
			case recTxn:
				t, err := decodeTxnRecord(payload)
				if err != nil {
					return nil, &CorruptionError{Path: seg.path, Offset: int64(off), Index: segNext, Reason: "undecodable transaction: " + err.Error(),
						Evidence: "its checksum is intact, so it was written this way"}
				}
				if t.index != segNext {
					return nil, &CorruptionError{Path: seg.path, Offset: int64(off), Index: segNext, Reason: fmt.Sprintf("transaction index %d where %d was expected", t.index, segNext)}
				}
				segNext++
				if t.index < next {
					break // already in the snapshot
				}
				if err := replayTxn(txn, t); err != nil {
					return nil, &CorruptionError{Path: seg.path, Offset: int64(off), Index: t.index, Reason: err.Error()}
				}
				next++
				rec.lastIndex = t.index
				rec.info.Replayed++
			default:
				return nil, &CorruptionError{Path: seg.path, Offset: int64(off), Reason: fmt.Sprintf("unknown record type %d", payload[0])}
			}
			off += size
		}
		prevEnd = segNext
		if last {
			rec.lastSegment = seg
			rec.lastSize = int64(len(data))
		}
	}
	return rec, nil
}

// findDurableMarker searches data from off on for an intact batch marker
// that records an index >= index as fsync'd. Its presence proves that the
// damaged frame before it held acknowledged data (markers are written only
// after the batches before them were fsync'd), so the damage is not a torn
// tail. Candidates are filtered on the fixed marker length and type byte
// before the checksum, so a scan over a long tail stays cheap.
func findDurableMarker(data []byte, off int, index uint64) (int, uint64, bool) {
	for p := off; p+markerFrameSize <= len(data); p++ {
		if data[p] != markerFrameSize-frameHeaderSize || data[p+1] != 0 || data[p+2] != 0 || data[p+3] != 0 || data[p+frameHeaderSize] != recMarker {
			continue
		}
		payload, _, reason := readFrame(data[:p+markerFrameSize], p)
		if reason != "" {
			continue
		}
		if durable, ok := parseMarker(payload); ok && durable >= index {
			return p, durable, true
		}
	}
	return 0, 0, false
}

// replayTxn applies a journaled transaction with the same memdb calls, in
// the same order, as the original commit.
func replayTxn(txn *memdb.Txn, t *decodedTxn) error {
	touched := make(map[string]bool, 2)
	for _, op := range t.ops {
		touched[op.table] = true
		switch op.kind {
		case opUpsert:
			if err := txn.Insert(op.table, op.obj); err != nil {
				return fmt.Errorf("replay upsert %s %s: %w", op.table, primaryKey(op.obj), err)
			}
		case opDelete:
			obj, err := txn.First(op.table, IndexID, op.key)
			if err != nil {
				return fmt.Errorf("replay delete %s %s: %w", op.table, op.key, err)
			}
			if obj == nil {
				return fmt.Errorf("replay delete %s %s: no such record (the journal disagrees with the state before it)", op.table, op.key)
			}
			if err := txn.Delete(op.table, obj); err != nil {
				return fmt.Errorf("replay delete %s %s: %w", op.table, op.key, err)
			}
		}
	}
	for table := range touched {
		if err := txn.Insert(TableIndex, &tableIndex{Key: table, Value: t.index}); err != nil {
			return fmt.Errorf("replay index row: %w", err)
		}
	}
	return nil
}

func truncateFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("records: open journal to drop its torn tail: %w", err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("records: drop torn journal tail: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("records: sync truncated journal: %w", err)
	}
	return nil
}
