package records

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/go-memdb"
)

// DefaultStateDir is the state directory the CLI uses when --state-dir is
// not given, relative to the working directory.
const DefaultStateDir = ".manoctl"

// stateFileName holds the lineage and format version of a state directory.
const stateFileName = "state.json"

// Defaults for automatic snapshots.
const (
	DefaultSnapshotEvery = 10000
	DefaultSnapshotBytes = 64 << 20
)

// DefaultOperationHistory is how many ended operations are kept per
// service (Options.OperationHistory): the last one and the one before.
// Each one kept costs, per 100,000 services, about 260 MB of memory and a
// third of a second of loading (BenchmarkOpen, operations=N), so that with
// 2 a state directory of 100,000 services loads in under 2 s however long
// their history.
const DefaultOperationHistory = 2

// Options configure Open.
type Options struct {
	// ReadOnly opens the state without taking the lock, for commands that
	// only read (get, describe, plan) while another process, typically the
	// daemon, holds it. The state is loaded once, as of the open: what a
	// writer commits later is not seen. A read-only open never modifies a
	// file; a torn tail being written by the holder is skipped, not
	// truncated.
	ReadOnly bool
	// SnapshotEvery is the number of journal transactions after which a
	// snapshot is written and the journal rotated, in the background.
	// 0 means DefaultSnapshotEvery; negative disables automatic snapshots
	// (Compact still works).
	SnapshotEvery int
	// SnapshotBytes triggers a snapshot when the journal since the last one
	// exceeds this size. 0 means DefaultSnapshotBytes; negative disables.
	SnapshotBytes int64
	// Command is recorded in the lock file to tell a second writer who
	// holds the state; empty means the process's command line.
	Command string
	// Now is the clock for record timestamps; nil means time.Now.
	Now func() time.Time
	// LoadWithGC keeps the garbage collector running while the state is
	// loaded. By default Open pauses it for the load (see gcpause.go):
	// about 40% faster for large states, at the price of a higher peak
	// heap (+25% for 100,000 services) until the first collection after.
	LoadWithGC bool
	// OperationHistory is how many ended operations of each service are
	// kept: when an operation ends, the service's oldest ended ones
	// beyond it are deleted in the same transaction, and when a service
	// is deleted only its newest ended operation stays (besides any still
	// running, which are never deleted). Without a bound, a long-lived
	// daemon's records, and the time to load them, grow with every scale,
	// heal and replace. 0 means DefaultOperationHistory; negative keeps
	// every operation.
	OperationHistory int
}

// Store is the records store: go-memdb tables of services, functions,
// descriptors, VIMs, plugins and operations, made durable by a journal and
// snapshots in a state directory (or purely in memory, see NewMemStore).
//
// Reads through the embedded StateStore see the latest committed
// transaction, which may include one whose fsync is still in flight (at
// most one group-commit window). Anything that must only ever see durable
// state — a plan bound to an index, events, replies on the bus — uses
// Snapshot or Subscribe, which expose durable transactions only.
type Store struct {
	*StateStore

	dir      string
	lineage  string
	lineageB [16]byte
	readOnly bool
	opts     Options
	now      func() time.Time

	// writeMu is the single-writer lock. It is taken by Begin and released
	// by Commit/Abort, and it is held while a commit becomes visible and is
	// queued for the journal, so that journal order is index order.
	writeMu sync.Mutex
	// latest is the index of the last visible transaction.
	latest atomic.Uint64
	// durable is the latest snapshot containing only fsync'd transactions.
	durable atomic.Pointer[StateSnapshot]

	journal *journal
	lock    *fileLock
	broker  *eventBroker

	recovery RecoveryInfo

	// snapMu serialises snapshots; snapReq asks the background snapshotter
	// for one; snapErr keeps the last background failure.
	snapMu    sync.Mutex
	snapReq   chan struct{}
	snapDone  chan struct{}
	snapErr   atomic.Pointer[error]
	lastSnap  uint64 // index of the newest snapshot file; guarded by snapMu
	closeOnce sync.Once
	closed    atomic.Bool
	abandoned sync.Once
}

// NewMemStore returns a store that lives only in memory: no journal, no
// lock, commits are "durable" when visible. For tests and for computing on
// records without a state directory.
func NewMemStore() *Store {
	s := newStore(newMemDB(), Options{})
	s.lineage = uuid.NewString()
	s.publishInitial(0)
	return s
}

// newMemDB builds the database. The schema is static and validated by
// every test, so an error here is a programming error.
func newMemDB() *memdb.MemDB {
	db, err := memdb.NewMemDB(stateStoreSchema())
	if err != nil {
		panic(fmt.Sprintf("records: invalid schema: %v", err))
	}
	return db
}

func newStore(db *memdb.MemDB, opts Options) *Store {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Store{
		StateStore: &StateStore{db: db, abandonCh: make(chan struct{})},
		opts:       opts,
		now:        now,
		broker:     newEventBroker(),
	}
}

func (s *Store) publishInitial(index uint64) {
	s.latest.Store(index)
	s.durable.Store(&StateSnapshot{StateStore: StateStore{db: s.db.Snapshot(), abandonCh: s.abandonCh}, index: index, lineage: s.lineage})
}

// stateFile is the content of state.json.
type stateFile struct {
	Format    int       `json:"format"`
	Lineage   string    `json:"lineage"`
	CreatedAt time.Time `json:"created_at"`
}

// Open opens (creating it if needed, unless read-only) the state directory
// dir: it takes the lock, loads the newest valid snapshot, replays the
// journal after it, drops a torn tail and starts the journal writer.
//
// Errors: *LockedError when another writer holds the directory;
// *CorruptionError when committed data is damaged (never repaired
// silently); an error wrapping fs.ErrNotExist for a read-only open of a
// directory that holds no state.
func Open(dir string, opts Options) (*Store, error) {
	if dir == "" {
		dir = DefaultStateDir
	}
	dir = filepath.Clean(dir)
	if opts.ReadOnly {
		return openReadOnly(dir, opts)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("records: create state directory: %w", err)
	}
	s := newStore(newMemDB(), opts)
	s.dir = dir
	cmd := opts.Command
	if cmd == "" {
		cmd = strings.Join(os.Args, " ")
	}
	lock, err := acquireLock(dir, cmd, s.now())
	if err != nil {
		return nil, err
	}
	s.lock = lock
	fail := func(err error) (*Store, error) {
		lock.release()
		return nil, err
	}

	files, err := listStateDir(dir)
	if err != nil {
		return fail(err)
	}
	st, err := readStateFile(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if len(files.snapshots) > 0 || len(files.segments) > 0 {
			return fail(fmt.Errorf("records: %s has journal or snapshot files but no %s; refusing to guess its lineage", dir, stateFileName))
		}
		if st, err = createStateFile(dir, s.now()); err != nil {
			return fail(err)
		}
	case err != nil:
		return fail(err)
	}
	if err := s.setLineage(st); err != nil {
		return fail(err)
	}
	// Leftovers of interrupted snapshots or segment creations: never
	// renamed into place, so never part of the state.
	for _, t := range files.temps {
		os.Remove(t)
	}

	rec, err := s.load(files, true)
	if err != nil {
		return fail(err)
	}
	s.recovery = rec.info
	if len(files.snapshots) > 0 {
		s.lastSnap = files.snapshots[len(files.snapshots)-1].index
	}

	var f *os.File
	var base uint64
	var size int64
	if rec.lastSegment != nil {
		f, err = os.OpenFile(rec.lastSegment.path, os.O_RDWR, 0o600)
		if err == nil {
			_, err = f.Seek(rec.lastSize, 0)
		}
		if err != nil {
			return fail(fmt.Errorf("records: open journal for writing: %w", err))
		}
		base, size = rec.lastSegment.index, rec.lastSize
	} else {
		base = rec.lastIndex + 1
		if f, err = createSegment(dir, s.lineageB, base); err != nil {
			return fail(err)
		}
		size = journalHeaderSize
	}
	s.publishInitial(rec.lastIndex)
	s.journal = newJournal(dir, s.lineageB, f, base, size, rec.lastIndex)
	s.journal.published = func(snap *StateSnapshot) { s.durable.Store(snap) }
	s.journal.events = func(cs []pendingCommit) {
		for _, c := range cs {
			s.broker.publish(EventBatch{Index: c.index, Events: c.events})
		}
	}
	s.journal.maybeSnapshot = s.maybeSnapshot
	s.journal.start()
	s.snapReq = make(chan struct{}, 1)
	s.snapDone = make(chan struct{})
	go s.snapshotLoop()
	return s, nil
}

// openReadOnly loads the state without locking or writing. A writer may
// rotate the journal and delete old files while we read; a file vanishing
// under us means exactly that, so the load is retried.
func openReadOnly(dir string, opts Options) (*Store, error) {
	st, err := readStateFile(dir)
	if err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		s := newStore(newMemDB(), opts)
		s.dir, s.readOnly = dir, true
		if err := s.setLineage(st); err != nil {
			return nil, err
		}
		files, err := listStateDir(dir)
		if err != nil {
			return nil, err
		}
		rec, err := s.load(files, false)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				lastErr = err
				continue
			}
			return nil, err
		}
		s.recovery = rec.info
		s.publishInitial(rec.lastIndex)
		return s, nil
	}
	return nil, fmt.Errorf("records: state directory kept changing while it was read: %w", lastErr)
}

// load rebuilds the state from the files, with the collector paused
// unless the options say otherwise.
func (s *Store) load(files dirFiles, truncate bool) (*recovered, error) {
	if !s.opts.LoadWithGC {
		defer pauseGC()()
	}
	return recoverState(s.dir, s.lineageB, s.db, files, truncate)
}

func (s *Store) setLineage(st stateFile) error {
	if st.Format != formatVersion {
		return fmt.Errorf("records: %s: state format %d, this manoctl reads %d", s.dir, st.Format, formatVersion)
	}
	u, err := uuid.Parse(st.Lineage)
	if err != nil {
		return fmt.Errorf("records: %s: bad lineage %q: %w", stateFileName, st.Lineage, err)
	}
	s.lineage, s.lineageB = u.String(), [16]byte(u)
	return nil
}

func readStateFile(dir string) (stateFile, error) {
	var st stateFile
	b, err := os.ReadFile(filepath.Join(dir, stateFileName))
	if err != nil {
		return st, fmt.Errorf("records: no state in %s: %w", dir, err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("records: %s: %w", filepath.Join(dir, stateFileName), err)
	}
	return st, nil
}

// createStateFile gives a new state directory its lineage, atomically.
func createStateFile(dir string, now time.Time) (stateFile, error) {
	st := stateFile{Format: formatVersion, Lineage: uuid.NewString(), CreatedAt: now.UTC().Truncate(time.Second)}
	b, _ := json.MarshalIndent(st, "", "  ")
	path := filepath.Join(dir, stateFileName)
	tmp := path + ".tmp"
	if err := writeFileSync(tmp, append(b, '\n')); err != nil {
		return st, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return st, fmt.Errorf("records: install %s: %w", stateFileName, err)
	}
	return st, syncDir(dir)
}

func writeFileSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("records: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("records: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("records: %w", err)
	}
	return f.Close()
}

// Dir is the state directory ("" for an in-memory store).
func (s *Store) Dir() string { return s.dir }

// Lineage is the id created with the state directory. Plans carry it, so
// that a plan made against one state directory is never applied to
// another.
func (s *Store) Lineage() string { return s.lineage }

// LatestIndex is the index of the last committed transaction. Indexes
// start at 1 and grow by one per transaction that changed something.
func (s *Store) LatestIndex() uint64 { return s.latest.Load() }

// ReadOnly reports whether the store was opened read-only.
func (s *Store) ReadOnly() bool { return s.readOnly }

// Recovery describes what Open did to rebuild the state.
func (s *Store) Recovery() RecoveryInfo { return s.recovery }

// Snapshot returns the latest durable state, with its index and lineage.
// It never blocks on writers.
func (s *Store) Snapshot() *StateSnapshot { return s.durable.Load() }

// Subscribe returns a subscription to the events of every transaction
// that becomes durable from now on, in index order (a transaction whose
// Commit already returned is never delivered). buffer is how many
// transactions may be pending before a slow subscriber is cut off with
// ErrSubscriptionOverflow.
//
// To follow the state without gaps, subscribe first, then take a Snapshot,
// and apply only batches whose Index is above the snapshot's: a commit in
// flight while subscribing may be in both.
func (s *Store) Subscribe(buffer int) *Subscription { return s.broker.subscribe(buffer) }

// Begin starts a write transaction. It waits for the writer lock; see
// WriteTxn for the rules.
func (s *Store) Begin() (*WriteTxn, error) {
	if s.readOnly {
		return nil, ErrReadOnly
	}
	s.writeMu.Lock()
	if s.closed.Load() {
		s.writeMu.Unlock()
		return nil, ErrClosed
	}
	if s.journal != nil {
		if err := s.journal.failure(); err != nil {
			s.writeMu.Unlock()
			return nil, err
		}
	}
	txn := s.db.Txn(true)
	txn.TrackChanges()
	return &WriteTxn{s: s, txn: txn, index: s.latest.Load() + 1, now: s.now().UTC()}, nil
}

// abandon closes the abandon channel, waking every watcher: the store is
// closed or failed, and reading it further is pointless.
func (s *Store) abandon() {
	s.abandoned.Do(func() { close(s.abandonCh) })
}

// Close waits for pending commits to become durable, stops the journal
// writer and the snapshotter, ends subscriptions and releases the lock.
// It does not write a snapshot. Close is idempotent.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		// Refuse new transactions; wait for the one in progress, if any.
		s.writeMu.Lock()
		s.closed.Store(true)
		s.writeMu.Unlock()
		// Drain the journal before stopping the snapshotter: the flusher
		// may still request a snapshot while it drains.
		if s.journal != nil {
			err = s.journal.close()
		}
		if s.snapReq != nil {
			close(s.snapReq)
			<-s.snapDone
		}
		// Wait for a Compact called directly that may still be writing or
		// pruning: once the lock is released, files belong to the next
		// writer.
		s.snapMu.Lock()
		//lint:ignore SA2001 waiting for a running Compact to let go of snapMu is the point
		s.snapMu.Unlock()
		s.broker.close()
		s.abandon()
		if lerr := s.lock.release(); err == nil {
			err = lerr
		}
	})
	return err
}

// maybeSnapshot is called by the journal flusher after each batch.
func (s *Store) maybeSnapshot(bytes, records int64) {
	every, limit := s.opts.SnapshotEvery, s.opts.SnapshotBytes
	if every == 0 {
		every = DefaultSnapshotEvery
	}
	if limit == 0 {
		limit = DefaultSnapshotBytes
	}
	if (every > 0 && records >= int64(every)) || (limit > 0 && bytes >= limit) {
		select {
		case s.snapReq <- struct{}{}:
		default: // one is already requested
		}
	}
}

func (s *Store) snapshotLoop() {
	defer close(s.snapDone)
	for range s.snapReq {
		if err := s.Compact(); err != nil && !errors.Is(err, ErrClosed) {
			s.snapErr.Store(&err)
		}
	}
}

// SnapshotError returns the error of the last failed background snapshot,
// or nil. A failed snapshot loses nothing (the journal keeps everything);
// it only means recovery will replay more.
func (s *Store) SnapshotError() error {
	if p := s.snapErr.Load(); p != nil {
		return *p
	}
	return nil
}

// Compact writes a snapshot of the durable state, rotates the journal and
// deletes the files no longer needed for recovery. Writers are held only
// while the journal is rotated, not while the snapshot is written. It
// takes the writer lock, so never call it with a WriteTxn open.
//
// Retention: the two newest snapshots are kept, with the journal segments
// needed to replay from the older one, so that a damaged newest snapshot
// can be recovered from the previous one plus the journal.
func (s *Store) Compact() error {
	if s.readOnly {
		return ErrReadOnly
	}
	if s.journal == nil {
		return nil
	}
	s.snapMu.Lock()
	defer s.snapMu.Unlock()

	s.writeMu.Lock()
	if s.closed.Load() {
		s.writeMu.Unlock()
		return ErrClosed
	}
	if err := s.journal.waitIdle(); err != nil {
		s.writeMu.Unlock()
		return err
	}
	snap := s.durable.Load()
	if snap.index == s.lastSnap || snap.index == 0 {
		s.writeMu.Unlock()
		return nil
	}
	// Rotate first, so that the old segments end exactly at the snapshot's
	// index and everything after it goes to the new segment. (If nothing
	// was written since the last rotation, the current segment already
	// starts there.)
	if s.journal.segBase != snap.index+1 {
		if err := s.journal.rotate(snap.index + 1); err != nil {
			s.writeMu.Unlock()
			return err
		}
	}
	s.writeMu.Unlock()

	if _, err := writeSnapshot(s.dir, s.lineageB, snap, s.now()); err != nil {
		return err
	}
	s.lastSnap = snap.index
	return s.prune()
}

// prune applies the retention rule of Compact.
func (s *Store) prune() error {
	files, err := listStateDir(s.dir)
	if err != nil {
		return err
	}
	var keepFrom uint64 // segments wholly below this index may go
	if n := len(files.snapshots); n >= 2 {
		for _, sn := range files.snapshots[:n-2] {
			if err := os.Remove(sn.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("records: remove old snapshot: %w", err)
			}
		}
		keepFrom = files.snapshots[n-2].index + 1
	}
	segs := files.segments
	for i := 0; i+1 < len(segs); i++ {
		// Segment i holds indexes [segs[i].index, segs[i+1].index).
		if segs[i+1].index <= keepFrom {
			if err := os.Remove(segs[i].path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("records: remove old journal segment: %w", err)
			}
		}
	}
	return syncDir(s.dir)
}
