package records

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/go-memdb"

	"github.com/manoctl/manoctl/schema/descriptor"
)

var (
	// ErrReadOnly is returned by writes to a read-only store or a snapshot.
	ErrReadOnly = errors.New("records: store is read-only")
	// ErrClosed is returned by writes after Close.
	ErrClosed = errors.New("records: store is closed")
	// ErrTxnDone is returned by a WriteTxn used after Commit or Abort.
	ErrTxnDone = errors.New("records: transaction already committed or aborted")
)

// NameConflictError is returned when an upsert would give a service an
// instance name another service has.
type NameConflictError struct {
	Name     string
	Existing string // id of the service that has the name
}

func (e *NameConflictError) Error() string {
	return fmt.Sprintf("records: service name %q is taken by service %s", e.Name, e.Existing)
}

// ReferenceError is returned when a record points at something that is not
// stored (a descriptor, a service).
type ReferenceError struct {
	From, To string
}

func (e *ReferenceError) Error() string {
	return fmt.Sprintf("records: %s refers to %s, which is not stored", e.From, e.To)
}

// WriteTxn is an atomic write transaction: every upsert and delete made
// through it commits together, at one index, or not at all.
//
// It holds the store's single writer lock until Commit or Abort, so put
// `defer txn.Abort()` right after Begin (Abort after Commit is a no-op), and
// never keep one open across a bus request or any other wait.
type WriteTxn struct {
	s     *Store
	txn   *memdb.Txn
	index uint64
	now   time.Time
	ops   []journalOp
	// broken is set when memdb failed half-way through an operation; the
	// memdb transaction may then be inconsistent and must not commit.
	broken error
	done   bool
}

// Index is the index this transaction commits at.
func (t *WriteTxn) Index() uint64 { return t.index }

// Now is the transaction's timestamp, used for CreatedAt/UpdatedAt.
func (t *WriteTxn) Now() time.Time { return t.now }

// Reader reads the transaction's view, including its own uncommitted
// writes.
func (t *WriteTxn) Reader() Reader { return Reader{txn: t.txn} }

// Abort discards the transaction. It is a no-op after Commit or Abort.
func (t *WriteTxn) Abort() {
	if t.done {
		return
	}
	t.done = true
	t.txn.Abort()
	t.s.writeMu.Unlock()
}

// Commit makes the transaction visible and durable and returns its index.
// It returns only once the journal record is fsync'd (several concurrent
// commits share one fsync). A transaction with no changes commits nothing
// and returns the current index.
//
// If Commit fails after the transaction became visible (a journal write or
// fsync failed), the store refuses every later write: reopen the state
// directory, which recovers exactly the acknowledged transactions.
func (t *WriteTxn) Commit() (uint64, error) {
	if t.done {
		return 0, ErrTxnDone
	}
	s := t.s
	if t.broken != nil {
		t.Abort()
		return 0, fmt.Errorf("records: transaction %d not committed: %w", t.index, t.broken)
	}
	if len(t.ops) == 0 {
		t.Abort()
		return s.latest.Load(), nil
	}
	t.done = true
	touched := make(map[string]bool, 4)
	for _, op := range t.ops {
		touched[op.table] = true
	}
	for table := range touched {
		if err := t.txn.Insert(TableIndex, &tableIndex{Key: table, Value: t.index}); err != nil {
			t.txn.Abort()
			s.writeMu.Unlock()
			return 0, fmt.Errorf("records: index row: %w", err)
		}
	}
	var frame []byte
	if s.journal != nil {
		var err error
		if frame, err = encodeTxnRecord(t.index, t.now, t.ops); err != nil {
			t.txn.Abort()
			s.writeMu.Unlock()
			return 0, err
		}
	}
	events := eventsFromChanges(t.index, t.txn.Changes())
	t.txn.Commit()
	s.latest.Store(t.index)
	snap := &StateSnapshot{StateStore: StateStore{db: s.db.Snapshot(), abandonCh: s.abandonCh}, index: t.index, lineage: s.lineage}

	if s.journal == nil {
		// In-memory store: durable as soon as it is visible.
		s.durable.Store(snap)
		s.broker.publish(EventBatch{Index: t.index, Events: events})
		s.writeMu.Unlock()
		return t.index, nil
	}
	err := s.journal.enqueue(frame, pendingCommit{index: t.index, snap: snap, events: events})
	s.writeMu.Unlock()
	if err == nil {
		err = s.journal.waitDurable(t.index)
	}
	if err != nil {
		s.abandon()
		return 0, err
	}
	return t.index, nil
}

// insert and remove are the only ways records reach memdb: each records
// the operation for the journal.
func (t *WriteTxn) insert(table string, obj any) error {
	if err := t.txn.Insert(table, obj); err != nil {
		t.broken = err
		return fmt.Errorf("records: insert %s %s: %w", table, primaryKey(obj), err)
	}
	t.ops = append(t.ops, journalOp{kind: opUpsert, table: table, obj: obj})
	return nil
}

func (t *WriteTxn) remove(table string, obj any) error {
	if err := t.txn.Delete(table, obj); err != nil {
		t.broken = err
		return fmt.Errorf("records: delete %s %s: %w", table, primaryKey(obj), err)
	}
	t.ops = append(t.ops, journalOp{kind: opDelete, table: table, key: primaryKey(obj)})
	return nil
}

func (s *Store) checkTxn(t *WriteTxn) error {
	switch {
	case t == nil:
		return errors.New("records: nil transaction")
	case t.s != s:
		return errors.New("records: transaction belongs to another store")
	case t.done:
		return ErrTxnDone
	case t.broken != nil:
		return fmt.Errorf("records: transaction is broken: %w", t.broken)
	}
	return nil
}

// Write runs fn in a write transaction and commits it, or aborts it if fn
// returns an error. It returns the commit index.
func (s *Store) Write(fn func(txn *WriteTxn) error) (uint64, error) {
	txn, err := s.Begin()
	if err != nil {
		return 0, err
	}
	defer txn.Abort()
	if err := fn(txn); err != nil {
		return 0, err
	}
	return txn.Commit()
}

// ---- services ----

// UpsertService inserts or replaces a service in its own transaction.
func (s *Store) UpsertService(svc *Service) (uint64, error) {
	return s.Write(func(txn *WriteTxn) error { return s.UpsertServiceTxn(txn, svc) })
}

// UpsertServiceTxn inserts or replaces a service. The store inserts a copy
// (svc is not retained), sets CreateIndex/CreatedAt on first insert and
// ModifyIndex/UpdatedAt always, checks that the instance name is free and
// that the NSD is stored.
func (s *Store) UpsertServiceTxn(txn *WriteTxn, svc *Service) error {
	if err := s.checkTxn(txn); err != nil {
		return err
	}
	if svc == nil {
		return errors.New("records: upsert of a nil service")
	}
	if err := svc.Validate(); err != nil {
		return err
	}
	r := txn.Reader()
	existing, err := r.ServiceByID(nil, svc.ID)
	if err != nil {
		return err
	}
	if svc.Name != "" {
		other, err := r.ServiceByName(nil, svc.Name)
		if err != nil {
			return err
		}
		if other != nil && other.ID != svc.ID {
			return &NameConflictError{Name: svc.Name, Existing: other.ID}
		}
	}
	if err := s.requireDescriptor(r, "service "+svc.ID, svc.NSD.Digest, KindNSD); err != nil {
		return err
	}
	c := svc.Copy()
	c.normalize()
	c.CreateIndex, c.CreatedAt = txn.index, txn.now
	if existing != nil {
		c.CreateIndex, c.CreatedAt = existing.CreateIndex, existing.CreatedAt
	}
	c.ModifyIndex, c.UpdatedAt = txn.index, txn.now
	return txn.insert(TableServices, c)
}

// DeleteService deletes a service and its functions in one transaction.
func (s *Store) DeleteService(id string) (uint64, error) {
	return s.Write(func(txn *WriteTxn) error { return s.DeleteServiceTxn(txn, id) })
}

// DeleteServiceTxn deletes a service and the functions that belong to it.
// Of its ended operations the newest stays as history (unless
// Options.OperationHistory is negative: then all do), and those still
// running stay until they end. Deleting a missing service is not an
// error.
func (s *Store) DeleteServiceTxn(txn *WriteTxn, id string) error {
	if err := s.checkTxn(txn); err != nil {
		return err
	}
	r := txn.Reader()
	svc, err := r.ServiceByID(nil, id)
	if err != nil || svc == nil {
		return err
	}
	fns, err := r.FunctionsByService(nil, id)
	if err != nil {
		return err
	}
	// Collect first: deleting while iterating a memdb write transaction
	// would invalidate the iterator.
	var doomed []*Function
	for f := range fns {
		doomed = append(doomed, f)
	}
	for _, f := range doomed {
		if err := txn.remove(TableFunctions, f); err != nil {
			return err
		}
	}
	if err := txn.remove(TableServices, svc); err != nil {
		return err
	}
	return s.trimOperationsTxn(txn, id, min(s.operationHistory(), 1))
}

// UpsertServiceWithFunctionsTxn upserts a service and then its functions,
// the usual shape of an instantiation step.
func (s *Store) UpsertServiceWithFunctionsTxn(txn *WriteTxn, svc *Service, fns []*Function) error {
	if err := s.UpsertServiceTxn(txn, svc); err != nil {
		return err
	}
	for _, f := range fns {
		if err := s.UpsertFunctionTxn(txn, f); err != nil {
			return err
		}
	}
	return nil
}

// ---- functions ----

// UpsertFunction inserts or replaces a function in its own transaction.
func (s *Store) UpsertFunction(fn *Function) (uint64, error) {
	return s.Write(func(txn *WriteTxn) error { return s.UpsertFunctionTxn(txn, fn) })
}

// UpsertFunctionTxn inserts or replaces a function. Its service and VNFD
// must be stored (upsert the service first in the same transaction).
func (s *Store) UpsertFunctionTxn(txn *WriteTxn, fn *Function) error {
	if err := s.checkTxn(txn); err != nil {
		return err
	}
	if fn == nil {
		return errors.New("records: upsert of a nil function")
	}
	if err := fn.Validate(); err != nil {
		return err
	}
	r := txn.Reader()
	svc, err := r.ServiceByID(nil, fn.ServiceID)
	if err != nil {
		return err
	}
	if svc == nil {
		return &ReferenceError{From: "function " + fn.ID, To: "service " + fn.ServiceID}
	}
	if err := s.requireDescriptor(r, "function "+fn.ID, fn.VNFD.Digest, KindVNFD); err != nil {
		return err
	}
	existing, err := r.FunctionByID(nil, fn.ID)
	if err != nil {
		return err
	}
	c := fn.Copy()
	c.normalize()
	c.CreateIndex = txn.index
	if existing != nil {
		c.CreateIndex = existing.CreateIndex
	}
	c.ModifyIndex = txn.index
	return txn.insert(TableFunctions, c)
}

// DeleteFunction deletes a function in its own transaction.
func (s *Store) DeleteFunction(id string) (uint64, error) {
	return s.Write(func(txn *WriteTxn) error { return s.DeleteFunctionTxn(txn, id) })
}

// DeleteFunctionTxn deletes a function and drops its id from its
// service's function list, so that the NSR never names a VNFR that no
// longer exists. A missing function is not an error.
func (s *Store) DeleteFunctionTxn(txn *WriteTxn, id string) error {
	if err := s.checkTxn(txn); err != nil {
		return err
	}
	r := txn.Reader()
	f, err := r.FunctionByID(nil, id)
	if err != nil || f == nil {
		return err
	}
	if err := txn.remove(TableFunctions, f); err != nil {
		return err
	}
	svc, err := r.ServiceByID(nil, f.ServiceID)
	if err != nil || svc == nil || !slices.Contains(svc.Functions, id) {
		return err
	}
	c := svc.Copy()
	c.Functions = slices.DeleteFunc(c.Functions, func(x string) bool { return x == id })
	c.normalize()
	c.ModifyIndex, c.UpdatedAt = txn.index, txn.now
	return txn.insert(TableServices, c)
}

// ---- descriptors ----

// UpsertDescriptor stores a descriptor in its own transaction and returns
// its digest and the commit index.
func (s *Store) UpsertDescriptor(kind DescriptorKind, doc descriptor.Doc) (digest string, index uint64, err error) {
	index, err = s.Write(func(txn *WriteTxn) error {
		digest, err = s.UpsertDescriptorTxn(txn, kind, doc)
		return err
	})
	return digest, index, err
}

// UpsertDescriptorTxn stores a descriptor, in canonical form, under its
// content digest, and returns the digest. Storing content that is already
// stored changes nothing.
func (s *Store) UpsertDescriptorTxn(txn *WriteTxn, kind DescriptorKind, doc descriptor.Doc) (string, error) {
	if err := s.checkTxn(txn); err != nil {
		return "", err
	}
	if !kind.Valid() {
		return "", fmt.Errorf("records: descriptor kind %q is not nsd or vnfd", kind)
	}
	if doc == nil {
		return "", errors.New("records: upsert of a nil descriptor")
	}
	// Almost every upsert finds its descriptor stored already (every
	// save of a service passes its NSD and VNFDs again): the digest alone
	// says so, and the canonical copy is only built for a new one.
	digest, err := DigestDoc(doc)
	if err != nil {
		return "", fmt.Errorf("records: descriptor: %w", err)
	}
	existing, err := txn.Reader().DescriptorByDigest(nil, digest)
	if err != nil {
		return "", err
	}
	if existing != nil {
		if existing.Kind != kind {
			return "", fmt.Errorf("records: descriptor %s is stored as %s, not %s", digest, existing.Kind, kind)
		}
		return digest, nil
	}
	canon, digest, err := CanonicalDoc(doc)
	if err != nil {
		return "", fmt.Errorf("records: descriptor: %w", err)
	}
	id := descriptor.IdentityOf(canon)
	d := &Descriptor{
		Digest:      intern(digest),
		Kind:        kind,
		Identity:    descriptor.Identity{Vendor: intern(id.Vendor), Name: intern(id.Name), Version: intern(id.Version)},
		UUID:        intern(descriptor.Str(canon, "uuid")),
		Doc:         canon,
		CreateIndex: txn.index,
		ModifyIndex: txn.index,
	}
	return digest, txn.insert(TableDescriptors, d)
}

// PruneDescriptorsTxn deletes the descriptors no service or function
// refers to, and returns how many it deleted. It reads every record, so
// run it occasionally (after destroys), not on every write.
func (s *Store) PruneDescriptorsTxn(txn *WriteTxn) (int, error) {
	if err := s.checkTxn(txn); err != nil {
		return 0, err
	}
	r := txn.Reader()
	used := make(map[string]bool)
	svcs, err := r.Services(nil)
	if err != nil {
		return 0, err
	}
	for svc := range svcs {
		used[svc.NSD.Digest] = true
	}
	fns, err := r.Functions(nil)
	if err != nil {
		return 0, err
	}
	for fn := range fns {
		used[fn.VNFD.Digest] = true
	}
	descs, err := r.Descriptors(nil)
	if err != nil {
		return 0, err
	}
	var doomed []*Descriptor
	for d := range descs {
		if !used[d.Digest] {
			doomed = append(doomed, d)
		}
	}
	for _, d := range doomed {
		if err := txn.remove(TableDescriptors, d); err != nil {
			return 0, err
		}
	}
	return len(doomed), nil
}

func (s *Store) requireDescriptor(r Reader, from, digest string, kind DescriptorKind) error {
	d, err := r.DescriptorByDigest(nil, digest)
	if err != nil {
		return err
	}
	if d == nil {
		return &ReferenceError{From: from, To: string(kind) + " " + digest}
	}
	if d.Kind != kind {
		return fmt.Errorf("records: %s refers to %s as its %s, but it is a %s", from, digest, kind, d.Kind)
	}
	return nil
}

// ---- VIMs ----

// UpsertVIM inserts or replaces a VIM in its own transaction.
func (s *Store) UpsertVIM(v *VIM) (uint64, error) {
	return s.Write(func(txn *WriteTxn) error { return s.UpsertVIMTxn(txn, v) })
}

// UpsertVIMTxn inserts or replaces a VIM.
func (s *Store) UpsertVIMTxn(txn *WriteTxn, v *VIM) error {
	if err := s.checkTxn(txn); err != nil {
		return err
	}
	if v == nil {
		return errors.New("records: upsert of a nil vim")
	}
	if err := v.Validate(); err != nil {
		return err
	}
	existing, err := txn.Reader().VIMByUUID(nil, v.UUID)
	if err != nil {
		return err
	}
	c := v.Copy()
	c.City, c.Domain = intern(c.City), intern(c.Domain)
	c.CreateIndex = txn.index
	if existing != nil {
		c.CreateIndex = existing.CreateIndex
	}
	c.ModifyIndex = txn.index
	return txn.insert(TableVIMs, c)
}

// DeleteVIM deletes a VIM in its own transaction.
func (s *Store) DeleteVIM(uuid string) (uint64, error) {
	return s.Write(func(txn *WriteTxn) error { return s.DeleteVIMTxn(txn, uuid) })
}

// DeleteVIMTxn deletes a VIM; a missing one is not an error. Functions
// placed on it keep their VIM uuid (they still run there as far as the
// records know).
func (s *Store) DeleteVIMTxn(txn *WriteTxn, uuid string) error {
	if err := s.checkTxn(txn); err != nil {
		return err
	}
	v, err := txn.Reader().VIMByUUID(nil, uuid)
	if err != nil || v == nil {
		return err
	}
	return txn.remove(TableVIMs, v)
}

// ---- plugins ----

// UpsertPlugin inserts or replaces a plugin in its own transaction.
func (s *Store) UpsertPlugin(p *Plugin) (uint64, error) {
	return s.Write(func(txn *WriteTxn) error { return s.UpsertPluginTxn(txn, p) })
}

// UpsertPluginTxn inserts or replaces a plugin.
func (s *Store) UpsertPluginTxn(txn *WriteTxn, p *Plugin) error {
	if err := s.checkTxn(txn); err != nil {
		return err
	}
	if p == nil {
		return errors.New("records: upsert of a nil plugin")
	}
	if err := p.Validate(); err != nil {
		return err
	}
	existing, err := txn.Reader().PluginByUUID(nil, p.UUID)
	if err != nil {
		return err
	}
	c := p.Copy()
	c.Name, c.Version, c.State = intern(c.Name), intern(c.Version), intern(c.State)
	c.RegisteredAt, c.LastHeartbeatAt = utc(c.RegisteredAt), utc(c.LastHeartbeatAt)
	c.CreateIndex = txn.index
	if existing != nil {
		c.CreateIndex = existing.CreateIndex
	}
	c.ModifyIndex = txn.index
	return txn.insert(TablePlugins, c)
}

// DeletePlugin deletes a plugin in its own transaction.
func (s *Store) DeletePlugin(uuid string) (uint64, error) {
	return s.Write(func(txn *WriteTxn) error { return s.DeletePluginTxn(txn, uuid) })
}

// DeletePluginTxn deletes a plugin; a missing one is not an error.
func (s *Store) DeletePluginTxn(txn *WriteTxn, uuid string) error {
	if err := s.checkTxn(txn); err != nil {
		return err
	}
	p, err := txn.Reader().PluginByUUID(nil, uuid)
	if err != nil || p == nil {
		return err
	}
	return txn.remove(TablePlugins, p)
}

// ---- operations ----

// UpsertOperation inserts or replaces an operation in its own transaction.
func (s *Store) UpsertOperation(o *Operation) (uint64, error) {
	return s.Write(func(txn *WriteTxn) error { return s.UpsertOperationTxn(txn, o) })
}

// UpsertOperationTxn inserts or replaces an operation. Typically a step's
// result and the records it changed commit in one transaction.
func (s *Store) UpsertOperationTxn(txn *WriteTxn, o *Operation) error {
	if err := s.checkTxn(txn); err != nil {
		return err
	}
	if o == nil {
		return errors.New("records: upsert of a nil operation")
	}
	if err := o.Validate(); err != nil {
		return err
	}
	existing, err := txn.Reader().OperationByID(nil, o.ID)
	if err != nil {
		return err
	}
	c := o.Copy()
	c.normalize()
	c.CreateIndex = txn.index
	if existing != nil {
		c.CreateIndex = existing.CreateIndex
	}
	c.ModifyIndex = txn.index
	if err := txn.insert(TableOperations, c); err != nil {
		return err
	}
	if !c.Status.Done() {
		return nil
	}
	keep := s.operationHistory()
	if r := txn.Reader(); keep >= 0 && c.ServiceID != "" {
		if svc, err := r.ServiceByID(nil, c.ServiceID); err == nil && svc == nil {
			keep = min(keep, 1) // the service is gone (see DeleteServiceTxn)
		}
	}
	return s.trimOperationsTxn(txn, c.ServiceID, keep)
}

// operationHistory is Options.OperationHistory with its default.
func (s *Store) operationHistory() int {
	if s.opts.OperationHistory == 0 {
		return DefaultOperationHistory
	}
	return s.opts.OperationHistory
}

// trimOperationsTxn deletes the ended operations of service serviceID but
// the newest keep (by end time, then id); keep < 0 keeps all.
func (s *Store) trimOperationsTxn(txn *WriteTxn, serviceID string, keep int) error {
	if keep < 0 {
		return nil
	}
	ops, err := txn.Reader().OperationsByService(nil, serviceID)
	if err != nil {
		return err
	}
	var ended []*Operation
	for o := range ops {
		if o.Status.Done() {
			ended = append(ended, o)
		}
	}
	if len(ended) <= keep {
		return nil
	}
	slices.SortFunc(ended, func(a, b *Operation) int {
		if c := b.EndedAt.Compare(a.EndedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	for _, o := range ended[keep:] {
		if err := txn.remove(TableOperations, o); err != nil {
			return fmt.Errorf("records: trim operations of service %s: %w", serviceID, err)
		}
	}
	return nil
}

// DeleteOperation deletes an operation in its own transaction.
func (s *Store) DeleteOperation(id string) (uint64, error) {
	return s.Write(func(txn *WriteTxn) error { return s.DeleteOperationTxn(txn, id) })
}

// DeleteOperationTxn deletes an operation (history pruning); a missing one
// is not an error.
func (s *Store) DeleteOperationTxn(txn *WriteTxn, id string) error {
	if err := s.checkTxn(txn); err != nil {
		return err
	}
	o, err := txn.Reader().OperationByID(nil, id)
	if err != nil || o == nil {
		return err
	}
	return txn.remove(TableOperations, o)
}

// ---- normalisation ----

// utc strips the location and monotonic reading, so that a record read
// back from the journal is identical to the one stored.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// nilIfEmpty makes empty slices nil: the codec cannot tell them apart, so
// the store keeps one form and a record read back from the journal equals
// the one stored.
func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// normalize puts a service in stored form: empty slices nil, repetitive
// strings replaced by shared (interned) copies.
func (s *Service) normalize() {
	s.Functions, s.Ingresses, s.Egresses = nilIfEmpty(s.Functions), nilIfEmpty(s.Ingresses), nilIfEmpty(s.Egresses)
	s.Status = ServiceStatus(intern(string(s.Status)))
	s.RecordStatus = RecordStatus(intern(string(s.RecordStatus)))
	s.NSD.intern()
	s.Spec.Placement = intern(s.Spec.Placement)
	for i := range s.Ingresses {
		s.Ingresses[i].Location = intern(s.Ingresses[i].Location)
	}
	for i := range s.Egresses {
		s.Egresses[i].Location = intern(s.Egresses[i].Location)
	}
}

func (r *DescriptorRef) intern() {
	r.Digest, r.UUID = intern(r.Digest), intern(r.UUID)
	r.Identity.Vendor, r.Identity.Name, r.Identity.Version = intern(r.Identity.Vendor), intern(r.Identity.Name), intern(r.Identity.Version)
}

func (f *Function) normalize() {
	f.VDUs, f.ConnectionPoints = nilIfEmpty(f.VDUs), nilIfEmpty(f.ConnectionPoints)
	f.VNFID, f.VIM = intern(f.VNFID), intern(f.VIM)
	f.Status = RecordStatus(intern(string(f.Status)))
	f.DescriptorVersion, f.DeploymentFlavour = intern(f.DescriptorVersion), intern(f.DeploymentFlavour)
	f.VNFD.intern()
	for i := range f.VDUs {
		u := &f.VDUs[i]
		u.ID, u.Reference, u.VMImage = intern(u.ID), intern(u.Reference), intern(u.VMImage)
		u.VNFCs = nilIfEmpty(u.VNFCs)
		for j := range u.VNFCs {
			c := &u.VNFCs[j]
			c.VIMID = intern(c.VIMID)
			c.ConnectionPoints = nilIfEmpty(c.ConnectionPoints)
			internCPs(c.ConnectionPoints)
		}
	}
	internCPs(f.ConnectionPoints)
}

func internCPs(cps []ConnectionPoint) {
	for i := range cps {
		cps[i].ID, cps[i].Type, cps[i].Netmask = intern(cps[i].ID), intern(cps[i].Type), intern(cps[i].Netmask)
	}
}

func (o *Operation) normalize() {
	o.Steps = nilIfEmpty(o.Steps)
	o.Kind, o.Status = OperationKind(intern(string(o.Kind))), OperationStatus(intern(string(o.Status)))
	o.RequestedAt, o.StartedAt, o.EndedAt = utc(o.RequestedAt), utc(o.StartedAt), utc(o.EndedAt)
	o.FailedStep, o.Resume = intern(o.FailedStep), intern(o.Resume)
	for i := range o.Steps {
		st := &o.Steps[i]
		st.Name, st.Status = intern(st.Name), StepStatus(intern(string(st.Status)))
		st.StartedAt, st.EndedAt = utc(st.StartedAt), utc(st.EndedAt)
	}
}
