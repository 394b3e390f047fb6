package records

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-memdb"
)

// Snapshot file snapshot-<index:020d>.snap, format version 1:
//
//	header (48 bytes): magic "MNCTLSNP", u32 format version, 16-byte
//	lineage, u64 index, i64 creation time (Unix ns), u32 CRC-32C of the
//	preceding 44 bytes
//	frames (as in the journal: u32 length, u32 CRC-32C, payload):
//	  snapChunk:      byte table id, uvarint object count, objects encoded
//	                  back to back with one string dictionary per chunk
//	  snapTableIndex: uvarint count, (string table, uvarint index) pairs
//	  snapEnd:        u64 index, uvarint frame count before it, uvarint
//	                  table count, (byte table id, uvarint objects) pairs
//
// A snapshot is valid only if every frame checks and the end frame is last
// and agrees with what was read. Snapshots are written under a temporary
// name, fsync'd and renamed, so a torn snapshot never has a final name.
const (
	snapshotMagic      = "MNCTLSNP"
	snapshotHeaderSize = 48

	snapChunk      byte = 0x10
	snapTableIndex byte = 0x11
	snapEnd        byte = 0x12

	// chunkTarget is the encoded size at which a chunk is cut: large
	// enough that per-chunk costs vanish, small enough that decoding
	// spreads over all cores and a chunk's shared string buffer stays
	// small.
	chunkTarget = 256 << 10
)

func snapshotName(index uint64) string { return fmt.Sprintf("snapshot-%020d.snap", index) }

func snapshotHeader(lineage [16]byte, index uint64, created time.Time) []byte {
	h := make([]byte, 0, snapshotHeaderSize)
	h = append(h, snapshotMagic...)
	h = binary.LittleEndian.AppendUint32(h, formatVersion)
	h = append(h, lineage[:]...)
	h = binary.LittleEndian.AppendUint64(h, index)
	h = binary.LittleEndian.AppendUint64(h, uint64(created.UnixNano()))
	return binary.LittleEndian.AppendUint32(h, crc32.Checksum(h, crcTable))
}

// frameWriter writes frames and counts them.
type frameWriter struct {
	w      *bufio.Writer
	frames uint64
}

func (fw *frameWriter) frame(parts ...[]byte) error {
	var n int
	var sum uint32
	for _, p := range parts {
		n += len(p)
		sum = crc32.Update(sum, crcTable, p)
	}
	if n > maxFrame {
		return fmt.Errorf("records: snapshot frame of %d bytes exceeds %d", n, maxFrame)
	}
	var hdr [frameHeaderSize]byte
	binary.LittleEndian.PutUint32(hdr[0:], uint32(n))
	binary.LittleEndian.PutUint32(hdr[4:], sum)
	if _, err := fw.w.Write(hdr[:]); err != nil {
		return err
	}
	for _, p := range parts {
		if _, err := fw.w.Write(p); err != nil {
			return err
		}
	}
	fw.frames++
	return nil
}

// writeSnapshot writes snap to dir and returns its path. The file is
// complete and durable under its final name when this returns nil.
func writeSnapshot(dir string, lineage [16]byte, snap *StateSnapshot, created time.Time) (path string, err error) {
	final := filepath.Join(dir, snapshotName(snap.index))
	f, err := os.CreateTemp(dir, "snapshot-*.tmp")
	if err != nil {
		return "", fmt.Errorf("records: create snapshot: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return "", fmt.Errorf("records: snapshot permissions: %w", err)
	}
	fw := &frameWriter{w: bufio.NewWriterSize(f, 1<<20)}
	if _, err := fw.w.Write(snapshotHeader(lineage, snap.index, created)); err != nil {
		return "", fmt.Errorf("records: write snapshot: %w", err)
	}
	txn := snap.db.Txn(false)
	counts := make([]uint64, 0, len(journaledTables))
	for _, table := range journaledTables {
		n, err := writeTable(fw, txn, table)
		if err != nil {
			return "", fmt.Errorf("records: write snapshot: %w", err)
		}
		counts = append(counts, n)
	}

	var e encoder
	e.byte(snapTableIndex)
	it, err := txn.Get(TableIndex, IndexID)
	if err != nil {
		return "", err
	}
	var rows []*tableIndex
	for obj := it.Next(); obj != nil; obj = it.Next() {
		rows = append(rows, obj.(*tableIndex))
	}
	e.count(len(rows))
	for _, r := range rows {
		e.str(r.Key)
		e.uvarint(r.Value)
	}
	if err := fw.frame(e.buf); err != nil {
		return "", fmt.Errorf("records: write snapshot: %w", err)
	}

	e = encoder{}
	e.byte(snapEnd)
	e.buf = binary.LittleEndian.AppendUint64(e.buf, snap.index)
	e.uvarint(fw.frames)
	e.count(len(journaledTables))
	for i, table := range journaledTables {
		e.byte(tableIDs[table])
		e.uvarint(counts[i])
	}
	if err := fw.frame(e.buf); err != nil {
		return "", fmt.Errorf("records: write snapshot: %w", err)
	}
	if err := fw.w.Flush(); err != nil {
		return "", fmt.Errorf("records: write snapshot: %w", err)
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("records: sync snapshot: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("records: close snapshot: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", fmt.Errorf("records: install snapshot: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return "", err
	}
	return final, nil
}

// writeTable writes the rows of one table in chunks, in primary-key order.
// Loading inserts them in that order, and go-immutable-radix inserts
// sorted keys several times faster than random ones (its per-transaction
// cache of writable nodes then keeps hitting): every id index, and the
// status and VIM indexes whose keys end in the id, are built sequentially.
func writeTable(fw *frameWriter, txn *memdb.Txn, table string) (uint64, error) {
	it, err := txn.Get(table, IndexID)
	if err != nil {
		return 0, err
	}
	e := encoder{dict: make(map[string]uint64)}
	var n, total uint64
	flush := func() error {
		if n == 0 {
			return nil
		}
		head := []byte{snapChunk, tableIDs[table]}
		head = binary.AppendUvarint(head, n)
		if err := fw.frame(head, e.buf); err != nil {
			return err
		}
		e = encoder{buf: e.buf[:0], dict: make(map[string]uint64)}
		n = 0
		return nil
	}
	for obj := it.Next(); obj != nil; obj = it.Next() {
		if err := encodeObject(&e, table, obj); err != nil {
			return 0, err
		}
		n++
		total++
		if len(e.buf) >= chunkTarget {
			if err := flush(); err != nil {
				return 0, err
			}
		}
	}
	return total, flush()
}

// snapshotInfo describes a loaded snapshot.
type snapshotInfo struct {
	index   uint64
	created time.Time
	objects uint64
}

// frameResult is one snapshot frame, decoded.
type frameResult struct {
	off   int64
	kind  byte
	table string
	objs  []any
	rows  []*tableIndex
	end   *snapshotEnd
	err   error
}

type snapshotEnd struct {
	index  uint64
	frames uint64
	counts map[string]uint64
}

// loadSnapshot reads the snapshot at path into txn. Frames are read
// sequentially, checked and decoded by GOMAXPROCS workers, and inserted in
// file order by the caller's goroutine (memdb transactions are
// single-threaded); reading, decoding and inserting overlap.
func loadSnapshot(path string, lineage [16]byte, txn *memdb.Txn) (*snapshotInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := fi.Size()
	r := bufio.NewReaderSize(f, 1<<20)
	hdr := make([]byte, snapshotHeaderSize)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, &CorruptionError{Path: path, Offset: 0, Reason: "snapshot header cut short"}
	}
	if string(hdr[:8]) != snapshotMagic {
		return nil, &CorruptionError{Path: path, Reason: "not a manoctl snapshot (bad magic)"}
	}
	if crc32.Checksum(hdr[:44], crcTable) != binary.LittleEndian.Uint32(hdr[44:]) {
		return nil, &CorruptionError{Path: path, Reason: "snapshot header checksum mismatch"}
	}
	if v := binary.LittleEndian.Uint32(hdr[8:]); v != formatVersion {
		return nil, fmt.Errorf("records: %s: snapshot format version %d, this manoctl reads %d", path, v, formatVersion)
	}
	if [16]byte(hdr[12:28]) != lineage {
		return nil, fmt.Errorf("records: %s %w", path, errLineage)
	}
	info := &snapshotInfo{
		index:   binary.LittleEndian.Uint64(hdr[28:]),
		created: time.Unix(0, int64(binary.LittleEndian.Uint64(hdr[36:]))).UTC(),
	}

	workers := max(1, runtime.GOMAXPROCS(0))
	type job struct {
		off     int64
		payload string
		res     chan frameResult
	}
	jobs := make(chan job, workers*2)
	order := make(chan chan frameResult, workers*4)
	var stop atomic.Bool

	go func() {
		defer close(jobs)
		defer close(order)
		off := int64(snapshotHeaderSize)
		var fh [frameHeaderSize]byte
		copyBuf := make([]byte, 64<<10)
		for !stop.Load() {
			res := make(chan frameResult, 1)
			if _, err := io.ReadFull(r, fh[:]); err != nil {
				if err == io.EOF {
					return // the consumer notices a missing end frame
				}
				res <- frameResult{off: off, err: fmt.Errorf("frame header cut short: %v", err)}
				order <- res
				return
			}
			n := binary.LittleEndian.Uint32(fh[0:])
			if n == 0 || n > maxFrame {
				res <- frameResult{off: off, err: fmt.Errorf("bad frame length %d", n)}
				order <- res
				return
			}
			if off+frameHeaderSize+int64(n) > size {
				// Checked before allocating: a damaged length must not
				// make a small file cost maxFrame bytes of memory.
				res <- frameResult{off: off, err: fmt.Errorf("frame of %d bytes runs past the end of the file", n)}
				order <- res
				return
			}
			// The payload is read straight into a string, summed on the
			// way (CRC-32C runs at memory speed, so this does not hold up
			// decoding): the decoded objects' strings are substrings of
			// it, and converting a []byte would copy the whole snapshot
			// once more, garbage the size of the file, which a load with
			// the collector paused pays for in fresh pages.
			var sb strings.Builder
			sb.Grow(int(n))
			sum := crc32.New(crcTable)
			if _, err := io.CopyBuffer(&sb, io.TeeReader(io.LimitReader(r, int64(n)), sum), copyBuf); err != nil || sb.Len() != int(n) {
				res <- frameResult{off: off, err: fmt.Errorf("frame of %d bytes cut short", n)}
				order <- res
				return
			}
			payload := sb.String()
			if sum.Sum32() != binary.LittleEndian.Uint32(fh[4:]) {
				res <- frameResult{off: off, err: errors.New("checksum mismatch")}
				order <- res
				return
			}
			order <- res
			jobs <- job{off: off, payload: payload, res: res}
			off += frameHeaderSize + int64(n)
		}
	}()
	for w := 0; w < workers; w++ {
		go func() {
			for jb := range jobs {
				jb.res <- decodeSnapshotFrame(jb.off, jb.payload)
			}
		}()
	}

	var (
		frames   uint64
		counts   = make(map[string]uint64)
		end      *snapshotEnd
		firstErr error
	)
	for res := range order {
		fr := <-res
		if firstErr != nil {
			continue // drain, so that the goroutines above can finish
		}
		if fr.err == nil && end != nil {
			fr.err = errors.New("data after the end frame")
		}
		if fr.err != nil {
			firstErr = &CorruptionError{Path: path, Offset: fr.off, Reason: fr.err.Error()}
			stop.Store(true)
			continue
		}
		switch fr.kind {
		case snapChunk:
			for _, obj := range fr.objs {
				if err := txn.Insert(fr.table, obj); err != nil {
					firstErr = fmt.Errorf("records: %s: insert %s %s: %w", path, fr.table, primaryKey(obj), err)
					stop.Store(true)
					break
				}
			}
			counts[fr.table] += uint64(len(fr.objs))
			info.objects += uint64(len(fr.objs))
		case snapTableIndex:
			for _, row := range fr.rows {
				if err := txn.Insert(TableIndex, row); err != nil {
					firstErr = fmt.Errorf("records: %s: insert index row: %w", path, err)
					stop.Store(true)
					break
				}
			}
		case snapEnd:
			end = fr.end
			if end.frames != frames {
				firstErr = &CorruptionError{Path: path, Offset: fr.off, Reason: fmt.Sprintf("end frame counts %d frames, read %d", end.frames, frames)}
			}
		}
		frames++
	}
	if firstErr != nil {
		return nil, firstErr
	}
	if end == nil {
		return nil, &CorruptionError{Path: path, Reason: "snapshot has no end frame (incomplete)"}
	}
	if end.index != info.index {
		return nil, &CorruptionError{Path: path, Reason: fmt.Sprintf("end frame index %d differs from header index %d", end.index, info.index)}
	}
	for t, n := range end.counts {
		if counts[t] != n {
			return nil, &CorruptionError{Path: path, Reason: fmt.Sprintf("end frame counts %d %s, read %d", n, t, counts[t])}
		}
	}
	return info, nil
}

// decodeSnapshotFrame decodes one checked frame. The strings of the
// objects it returns are substrings of payload.
func decodeSnapshotFrame(off int64, payload string) frameResult {
	fr := frameResult{off: off, kind: payload[0]}
	switch fr.kind {
	case snapChunk:
		if len(payload) < 2 {
			fr.err = errors.New("chunk frame cut short")
			return fr
		}
		table, ok := tableName(payload[1])
		if !ok {
			fr.err = fmt.Errorf("chunk of unknown table id %d", payload[1])
			return fr
		}
		fr.table = table
		// One string for the whole chunk: every string field of every
		// object is a substring of it.
		d := newDecoder(payload[2:], true)
		n := d.count(8)
		d.slab = &slab{}
		switch table {
		case TableServices:
			d.slab.services = make([]Service, n)
		case TableFunctions:
			d.slab.funcs = make([]Function, n)
		}
		fr.objs = make([]any, 0, n)
		for i := 0; i < n; i++ {
			obj, err := decodeObject(d, table)
			if err != nil {
				fr.err = fmt.Errorf("object %d: %w", i, err)
				return fr
			}
			fr.objs = append(fr.objs, obj)
		}
		if d.err == nil && d.remaining() != 0 {
			fr.err = fmt.Errorf("%d trailing bytes in chunk", d.remaining())
		} else if d.err != nil {
			fr.err = d.err
		}
	case snapTableIndex:
		d := newDecoder(payload[1:], false)
		n := d.count(2)
		for i := 0; i < n && d.err == nil; i++ {
			key := d.str()
			fr.rows = append(fr.rows, &tableIndex{Key: key, Value: d.uvarint()})
		}
		if d.err == nil && d.remaining() != 0 {
			d.fail("%d trailing bytes", d.remaining())
		}
		fr.err = d.err
	case snapEnd:
		if len(payload) < 9 {
			fr.err = errors.New("end frame cut short")
			return fr
		}
		end := &snapshotEnd{index: binary.LittleEndian.Uint64([]byte(payload[1:9])), counts: make(map[string]uint64)}
		d := newDecoder(payload[9:], false)
		end.frames = d.uvarint()
		n := d.count(2)
		for i := 0; i < n && d.err == nil; i++ {
			tid := d.byte()
			cnt := d.uvarint()
			table, ok := tableName(tid)
			if d.err == nil && !ok {
				d.fail("unknown table id %d", tid)
			}
			end.counts[table] = cnt
		}
		if d.err == nil && d.remaining() != 0 {
			d.fail("%d trailing bytes", d.remaining())
		}
		fr.err = d.err
		fr.end = end
	default:
		fr.err = fmt.Errorf("unknown frame type %#x", fr.kind)
	}
	return fr
}
