package records

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// On-disk format, version 1 (README.md has the full description).
//
// Journal segment journal-<base:020d>.wal:
//
//	header (40 bytes): magic "MNCTLJNL", u32 format version, 16-byte
//	lineage, u64 base index (the first index the segment may hold),
//	u32 CRC-32C of the preceding 36 bytes
//	frames: u32 payload length, u32 CRC-32C of the payload, payload
//
// Journal payloads start with a type byte:
//
//	recTxn:    uvarint index, varint commit time (Unix ns), uvarint op count,
//	           ops: byte kind, byte table id, then for an upsert uvarint
//	           length + encoded object, for a delete the key as a string
//	recMarker: u64 durable index: the highest index whose fsync had
//	           completed when this batch was written. Every group-commit
//	           batch starts with one; recovery uses them to tell a torn tail
//	           from corruption of acknowledged data.
//
// All integers are little endian; varints are encoding/binary's.
const (
	formatVersion = 1

	journalMagic      = "MNCTLJNL"
	journalHeaderSize = 40

	frameHeaderSize = 8
	// maxFrame bounds one frame. It guards reads (a corrupt length never
	// makes us allocate gigabytes) and writes (a transaction larger than
	// this is refused rather than written).
	maxFrame = 256 << 20

	recTxn    byte = 1
	recMarker byte = 2

	opUpsert byte = 1
	opDelete byte = 2
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

func appendFrame(dst, payload []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(payload)))
	dst = binary.LittleEndian.AppendUint32(dst, crc32.Checksum(payload, crcTable))
	return append(dst, payload...)
}

// readFrame reads the frame at off. It returns the payload and the frame
// size, or a reason why no valid frame starts there.
func readFrame(data []byte, off int) (payload []byte, size int, reason string) {
	if len(data)-off < frameHeaderSize {
		return nil, 0, "frame header cut short"
	}
	n := binary.LittleEndian.Uint32(data[off:])
	sum := binary.LittleEndian.Uint32(data[off+4:])
	if n == 0 || n > maxFrame {
		return nil, 0, fmt.Sprintf("bad frame length %d", n)
	}
	if int64(n) > int64(len(data)-off-frameHeaderSize) {
		return nil, 0, fmt.Sprintf("frame of %d bytes runs past the end of the file", n)
	}
	payload = data[off+frameHeaderSize : off+frameHeaderSize+int(n)]
	if crc32.Checksum(payload, crcTable) != sum {
		return nil, 0, "checksum mismatch"
	}
	return payload, frameHeaderSize + int(n), ""
}

func segmentName(base uint64) string { return fmt.Sprintf("journal-%020d.wal", base) }

func journalHeader(lineage [16]byte, base uint64) []byte {
	h := make([]byte, 0, journalHeaderSize)
	h = append(h, journalMagic...)
	h = binary.LittleEndian.AppendUint32(h, formatVersion)
	h = append(h, lineage[:]...)
	h = binary.LittleEndian.AppendUint64(h, base)
	return binary.LittleEndian.AppendUint32(h, crc32.Checksum(h, crcTable))
}

// parseJournalHeader checks the header of a segment and returns its base.
func parseJournalHeader(data []byte, lineage [16]byte) (uint64, error) {
	if len(data) < journalHeaderSize {
		return 0, errors.New("header cut short")
	}
	h := data[:journalHeaderSize]
	if string(h[:8]) != journalMagic {
		return 0, errors.New("not a manoctl journal segment (bad magic)")
	}
	if crc32.Checksum(h[:36], crcTable) != binary.LittleEndian.Uint32(h[36:]) {
		return 0, errors.New("header checksum mismatch")
	}
	if v := binary.LittleEndian.Uint32(h[8:]); v != formatVersion {
		return 0, fmt.Errorf("journal format version %d, this manoctl reads %d", v, formatVersion)
	}
	if [16]byte(h[12:28]) != lineage {
		return 0, errLineage
	}
	return binary.LittleEndian.Uint64(h[28:]), nil
}

var errLineage = errors.New("belongs to another state directory (lineage differs)")

// journalOp is one operation of a write transaction, in the order it was
// applied to memdb. Replaying the same operations in the same order through
// the same memdb calls rebuilds the same indexes.
type journalOp struct {
	kind  byte
	table string
	obj   any    // upserts: the inserted (immutable) object
	key   string // deletes: the primary key
}

// encodeTxnRecord builds the frame of one transaction.
func encodeTxnRecord(index uint64, at time.Time, ops []journalOp) ([]byte, error) {
	e := encoder{buf: make([]byte, 0, 256*len(ops)+16)}
	e.byte(recTxn)
	e.uvarint(index)
	e.varint(at.UnixNano())
	e.count(len(ops))
	var obj encoder
	for _, op := range ops {
		e.byte(op.kind)
		e.byte(tableIDs[op.table])
		switch op.kind {
		case opUpsert:
			obj.buf = obj.buf[:0]
			if err := encodeObject(&obj, op.table, op.obj); err != nil {
				return nil, err
			}
			e.uvarint(uint64(len(obj.buf)))
			e.buf = append(e.buf, obj.buf...)
		case opDelete:
			e.str(op.key)
		}
	}
	if len(e.buf) > maxFrame {
		return nil, fmt.Errorf("records: transaction of %d bytes exceeds the %d-byte journal record limit", len(e.buf), maxFrame)
	}
	return appendFrame(nil, e.buf), nil
}

// decodedTxn is a transaction read back from the journal.
type decodedTxn struct {
	index uint64
	at    int64
	ops   []journalOp
}

// decodeTxnRecord parses a recTxn payload. Strings are copied out of the
// payload so that records do not pin whole journal files in memory.
func decodeTxnRecord(payload []byte) (*decodedTxn, error) {
	d := newDecoder(string(payload), false)
	if d.byte() != recTxn {
		return nil, errors.New("not a transaction record")
	}
	t := &decodedTxn{index: d.uvarint(), at: d.varint()}
	n := d.count(3)
	t.ops = make([]journalOp, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		kind := d.byte()
		tid := d.byte()
		table, ok := tableName(tid)
		if d.err == nil && !ok {
			return nil, fmt.Errorf("op %d: unknown table id %d", i, tid)
		}
		switch kind {
		case opUpsert:
			size := d.uvarint()
			if d.err != nil {
				break
			}
			if size > uint64(d.remaining()) {
				return nil, fmt.Errorf("op %d: object of %d bytes with %d left", i, size, d.remaining())
			}
			od := newDecoder(d.src[d.off:d.off+int(size)], false)
			obj, err := decodeObject(od, table)
			if err != nil {
				return nil, fmt.Errorf("op %d: %w", i, err)
			}
			if od.remaining() != 0 {
				return nil, fmt.Errorf("op %d: %d trailing bytes after %s object", i, od.remaining(), table)
			}
			d.off += int(size)
			t.ops = append(t.ops, journalOp{kind: opUpsert, table: table, obj: obj})
		case opDelete:
			t.ops = append(t.ops, journalOp{kind: opDelete, table: table, key: d.str()})
		default:
			if d.err == nil {
				return nil, fmt.Errorf("op %d: unknown op kind %d", i, kind)
			}
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	if d.remaining() != 0 {
		return nil, fmt.Errorf("%d trailing bytes", d.remaining())
	}
	return t, nil
}

// markerFrameSize is the size of a marker frame: frame header, type byte,
// u64 durable index. It is fixed so that the flusher can reserve room for it
// at the start of a batch and fill it in only when it writes the batch,
// with the durable index of that moment.
const markerFrameSize = frameHeaderSize + 1 + 8

func putMarker(dst []byte, durable uint64) {
	payload := dst[frameHeaderSize:markerFrameSize]
	payload[0] = recMarker
	binary.LittleEndian.PutUint64(payload[1:], durable)
	binary.LittleEndian.PutUint32(dst[0:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(dst[4:], crc32.Checksum(payload, crcTable))
}

// parseMarker returns the durable index of a marker payload.
func parseMarker(payload []byte) (uint64, bool) {
	if len(payload) != 9 || payload[0] != recMarker {
		return 0, false
	}
	return binary.LittleEndian.Uint64(payload[1:]), true
}

// pendingCommit is a committed (visible) transaction waiting for its fsync.
type pendingCommit struct {
	index  uint64
	snap   *StateSnapshot
	events []Event
}

// journal is the append side of the current segment, with group commit:
// committers append encoded frames to pending under mu and wait; one
// flusher goroutine writes everything pending with a single write and a
// single fsync, then wakes them all. While it syncs, new commits pile up
// for the next batch, so N concurrent writers share one fsync.
type journal struct {
	dir     string
	lineage [16]byte

	mu      sync.Mutex
	work    *sync.Cond // flusher: pending or closing
	done    *sync.Cond // committers: durable advanced, error or idle
	f       *os.File
	segBase uint64
	segSize int64

	pending  []byte // marker room + frames of the next batch
	spare    []byte // the previous batch's buffer, reused
	commits  []pendingCommit
	flushing bool
	durable  uint64
	err      error // sticky: once a write or fsync fails, nothing more is acknowledged
	closing  bool
	exited   chan struct{}

	// sinceSnapshot counts journal bytes and records since the last
	// rotation, to trigger automatic snapshots.
	bytesSince   int64
	recordsSince int64
	batches      uint64

	// published and events are called by the flusher after each fsync'd
	// batch, outside mu, before the batch's committers are woken.
	published func(last *StateSnapshot)
	events    func([]pendingCommit)
	// maybeSnapshot is called after each batch with the counters.
	maybeSnapshot func(bytes, records int64)
}

func newJournal(dir string, lineage [16]byte, f *os.File, base uint64, size int64, durable uint64) *journal {
	j := &journal{dir: dir, lineage: lineage, f: f, segBase: base, segSize: size, durable: durable, exited: make(chan struct{})}
	j.work = sync.NewCond(&j.mu)
	j.done = sync.NewCond(&j.mu)
	return j
}

func (j *journal) start() { go j.flushLoop() }

// enqueue adds a committed transaction's frame. Called with the store's
// write lock held, so frames arrive in index order.
func (j *journal) enqueue(frame []byte, c pendingCommit) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return j.err
	}
	if j.closing {
		return ErrClosed
	}
	if len(j.pending) == 0 {
		// Room for the batch's marker, filled in by the flusher.
		j.pending = append(j.pending, make([]byte, markerFrameSize)...)
	}
	j.pending = append(j.pending, frame...)
	j.commits = append(j.commits, c)
	j.work.Signal()
	return nil
}

// waitDurable blocks until index is fsync'd or the journal failed.
func (j *journal) waitDurable(index uint64) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for j.durable < index && j.err == nil {
		j.done.Wait()
	}
	if j.durable >= index {
		return nil
	}
	return j.err
}

// waitIdle blocks until nothing is pending or being flushed.
func (j *journal) waitIdle() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for (len(j.pending) > 0 || j.flushing) && j.err == nil {
		j.done.Wait()
	}
	return j.err
}

// stats returns the number of batches (fsyncs) written so far.
func (j *journal) stats() uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.batches
}

func (j *journal) failure() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.err
}

func (j *journal) flushLoop() {
	defer close(j.exited)
	for {
		j.mu.Lock()
		for len(j.pending) == 0 && !j.closing && j.err == nil {
			j.work.Wait()
		}
		if j.err != nil || len(j.pending) == 0 {
			// closing with nothing left, or failed: stop.
			j.mu.Unlock()
			return
		}
		// The marker records what was durable before this batch: every
		// index up to j.durable has been fsync'd, so if recovery finds this
		// marker intact, damage to any record at or below it cannot be a
		// torn write and must not be silently dropped.
		batch := j.pending
		putMarker(batch, j.durable)
		j.pending, j.spare = j.spare[:0], nil
		commits := j.commits
		j.commits = nil
		j.flushing = true
		f := j.f
		j.mu.Unlock()

		// One write and one fsync for the whole batch: this is the group
		// commit. File data and size must reach the disk, hence Sync, not a
		// data-only sync that would skip the size on some file systems.
		_, err := f.Write(batch)
		if err == nil {
			err = f.Sync()
		}
		if err != nil {
			err = fmt.Errorf("records: journal write failed, refusing further writes (reopen the state directory to recover): %w", err)
		} else {
			// Publish before the committers return: a committer that then
			// takes a snapshot sees its own write, and one that then
			// subscribes does not get its own write's events.
			if j.published != nil {
				j.published(commits[len(commits)-1].snap)
			}
			if j.events != nil {
				j.events(commits)
			}
		}

		j.mu.Lock()
		j.flushing = false
		if err != nil {
			j.err = err
		} else {
			j.durable = commits[len(commits)-1].index
			j.segSize += int64(len(batch))
			j.bytesSince += int64(len(batch))
			j.recordsSince += int64(len(commits))
			j.batches++
		}
		bytes, records := j.bytesSince, j.recordsSince
		if cap(batch) <= 4<<20 {
			// Reuse ordinary batch buffers; let a huge one go.
			j.spare = batch[:0]
		}
		j.done.Broadcast()
		j.mu.Unlock()

		if err != nil {
			return
		}
		if j.maybeSnapshot != nil {
			j.maybeSnapshot(bytes, records)
		}
	}
}

// rotate starts a new segment whose first index is base. The caller holds
// the store's write lock and has waited for the journal to be idle.
func (j *journal) rotate(base uint64) error {
	f, err := createSegment(j.dir, j.lineage, base)
	if err != nil {
		return err
	}
	j.mu.Lock()
	old := j.f
	j.f, j.segBase, j.segSize = f, base, journalHeaderSize
	j.bytesSince, j.recordsSince = 0, 0
	j.mu.Unlock()
	return old.Close()
}

// close drains what is pending, stops the flusher and closes the segment.
func (j *journal) close() error {
	j.mu.Lock()
	j.closing = true
	j.work.Broadcast()
	j.mu.Unlock()
	<-j.exited
	j.mu.Lock()
	defer j.mu.Unlock()
	cerr := j.f.Close()
	if j.err != nil {
		return j.err
	}
	return cerr
}

// createSegment writes a new segment with its header under a temporary
// name and renames it into place, so that a segment that exists under its
// final name always has a complete header.
func createSegment(dir string, lineage [16]byte, base uint64) (*os.File, error) {
	final := filepath.Join(dir, segmentName(base))
	tmp := final + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("records: create journal segment: %w", err)
	}
	if _, err := f.Write(journalHeader(lineage, base)); err != nil {
		f.Close()
		return nil, fmt.Errorf("records: write journal header: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("records: sync journal header: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		f.Close()
		return nil, fmt.Errorf("records: install journal segment: %w", err)
	}
	if err := syncDir(dir); err != nil {
		f.Close()
		return nil, err
	}
	if _, err := f.Seek(0, 2); err != nil {
		f.Close()
		return nil, fmt.Errorf("records: seek journal segment: %w", err)
	}
	return f, nil
}

// syncDir fsyncs a directory so that creates, renames and removes in it
// are durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("records: open state directory for sync: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("records: sync state directory: %w", err)
	}
	return nil
}
