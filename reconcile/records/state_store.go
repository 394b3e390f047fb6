package records

import (
	"fmt"
	"iter"

	"github.com/hashicorp/go-memdb"

	"github.com/manoctl/manoctl/schema/descriptor"
)

// StateStore is a read view of the records: the live store (embedded in
// Store) or a point-in-time snapshot (embedded in StateSnapshot). Every
// method reads one consistent memdb transaction; use Reader for several
// reads that must agree with each other.
//
// Readers take a memdb.WatchSet (nil for none). The set collects channels
// that close when what was read changes; block on ws.WatchCtx and read
// again. Returned objects are shared and must not be modified: Copy first.
type StateStore struct {
	db *memdb.MemDB
	// abandonCh closes when the store is closed, so that watchers built with
	// NewWatchSet wake up instead of waiting on a store nobody writes.
	abandonCh chan struct{}
}

// NewWatchSet returns a watch set that also fires when the store is
// closed (Nomad's NewWatchSet + AbandonCh).
func (s *StateStore) NewWatchSet() memdb.WatchSet {
	ws := memdb.NewWatchSet()
	ws.Add(s.abandonCh)
	return ws
}

// AbandonCh closes when the store is closed.
func (s *StateStore) AbandonCh() <-chan struct{} { return s.abandonCh }

// Reader returns a reader over one read transaction: every read through it
// sees the same state.
func (s *StateStore) Reader() Reader { return Reader{txn: s.db.Txn(false)} }

// StateSnapshot is a frozen view of the records at one index, the one
// plans are bound to. Snapshots handed out by Store.Snapshot contain only
// durable (fsync'd) transactions.
type StateSnapshot struct {
	StateStore
	index   uint64
	lineage string
}

// Index is the index of the last transaction the snapshot contains.
func (s *StateSnapshot) Index() uint64 { return s.index }

// Lineage is the lineage id of the state directory the snapshot belongs to.
func (s *StateSnapshot) Lineage() string { return s.lineage }

// Reader reads records from one memdb transaction: a read transaction of
// the live store or of a snapshot, or a write transaction (see
// WriteTxn.Reader), which sees its own uncommitted writes.
//
// Sequences returned by the list methods may be ranged over any number of
// times; each range reads the same transaction again.
type Reader struct {
	txn *memdb.Txn
}

func first[T any](r Reader, ws memdb.WatchSet, table, index string, args ...any) (*T, error) {
	ch, obj, err := r.txn.FirstWatch(table, index, args...)
	if err != nil {
		return nil, fmt.Errorf("records: %s by %s: %w", table, index, err)
	}
	if ws != nil {
		ws.Add(ch)
	}
	if obj == nil {
		return nil, nil
	}
	return obj.(*T), nil
}

func list[T any](r Reader, ws memdb.WatchSet, table, index string, args ...any) (iter.Seq[*T], error) {
	it, err := r.txn.Get(table, index, args...)
	if err != nil {
		return nil, fmt.Errorf("records: %s by %s: %w", table, index, err)
	}
	if ws != nil {
		ws.Add(it.WatchCh())
	}
	return func(yield func(*T) bool) {
		// Each range gets its own iterator, so that the sequence can be
		// ranged again or from several goroutines. The transaction is
		// immutable, so every range yields the same rows, and the error was
		// checked above.
		cur, err := r.txn.Get(table, index, args...)
		if err != nil {
			return
		}
		for obj := cur.Next(); obj != nil; obj = cur.Next() {
			if !yield(obj.(*T)) {
				return
			}
		}
	}, nil
}

// ServiceByID returns the service with id, or nil.
func (r Reader) ServiceByID(ws memdb.WatchSet, id string) (*Service, error) {
	return first[Service](r, ws, TableServices, IndexID, id)
}

// ServiceByName returns the service with instance name name, or nil.
func (r Reader) ServiceByName(ws memdb.WatchSet, name string) (*Service, error) {
	return first[Service](r, ws, TableServices, IndexName, name)
}

// Services returns every service, by id.
func (r Reader) Services(ws memdb.WatchSet) (iter.Seq[*Service], error) {
	return list[Service](r, ws, TableServices, IndexID)
}

// FunctionByID returns the function with id, or nil.
func (r Reader) FunctionByID(ws memdb.WatchSet, id string) (*Function, error) {
	return first[Function](r, ws, TableFunctions, IndexID, id)
}

// Functions returns every function, by id.
func (r Reader) Functions(ws memdb.WatchSet) (iter.Seq[*Function], error) {
	return list[Function](r, ws, TableFunctions, IndexID)
}

// FunctionsByService returns the functions of service serviceID, by id (the
// NSD order is Service.Functions).
func (r Reader) FunctionsByService(ws memdb.WatchSet, serviceID string) (iter.Seq[*Function], error) {
	return list[Function](r, ws, TableFunctions, IndexService, serviceID)
}

// DescriptorByDigest returns the descriptor with digest, or nil.
func (r Reader) DescriptorByDigest(ws memdb.WatchSet, digest string) (*Descriptor, error) {
	return first[Descriptor](r, ws, TableDescriptors, IndexID, digest)
}

// Descriptors returns every stored descriptor, by digest.
func (r Reader) Descriptors(ws memdb.WatchSet) (iter.Seq[*Descriptor], error) {
	return list[Descriptor](r, ws, TableDescriptors, IndexID)
}

// DescriptorsByIdentity returns the stored descriptors of kind with
// identity id (several when the content changed under the same version).
func (r Reader) DescriptorsByIdentity(ws memdb.WatchSet, kind DescriptorKind, id descriptor.Identity) (iter.Seq[*Descriptor], error) {
	return list[Descriptor](r, ws, TableDescriptors, IndexIdentity, identityKey(kind, id.Vendor, id.Name, id.Version))
}

// VIMByUUID returns the VIM with uuid, or nil.
func (r Reader) VIMByUUID(ws memdb.WatchSet, uuid string) (*VIM, error) {
	return first[VIM](r, ws, TableVIMs, IndexID, uuid)
}

// VIMsByName returns the VIMs called name, by uuid.
func (r Reader) VIMsByName(ws memdb.WatchSet, name string) (iter.Seq[*VIM], error) {
	return list[VIM](r, ws, TableVIMs, IndexName, name)
}

// VIMs returns every VIM, by uuid.
func (r Reader) VIMs(ws memdb.WatchSet) (iter.Seq[*VIM], error) {
	return list[VIM](r, ws, TableVIMs, IndexID)
}

// PluginByUUID returns the plugin with uuid, or nil.
func (r Reader) PluginByUUID(ws memdb.WatchSet, uuid string) (*Plugin, error) {
	return first[Plugin](r, ws, TablePlugins, IndexID, uuid)
}

// PluginsByName returns the plugins called name, by uuid.
func (r Reader) PluginsByName(ws memdb.WatchSet, name string) (iter.Seq[*Plugin], error) {
	return list[Plugin](r, ws, TablePlugins, IndexName, name)
}

// Plugins returns every plugin, by uuid.
func (r Reader) Plugins(ws memdb.WatchSet) (iter.Seq[*Plugin], error) {
	return list[Plugin](r, ws, TablePlugins, IndexID)
}

// OperationByID returns the operation with id, or nil.
func (r Reader) OperationByID(ws memdb.WatchSet, id string) (*Operation, error) {
	return first[Operation](r, ws, TableOperations, IndexID, id)
}

// Operations returns every operation, by id.
func (r Reader) Operations(ws memdb.WatchSet) (iter.Seq[*Operation], error) {
	return list[Operation](r, ws, TableOperations, IndexID)
}

// OperationsByService returns the operations on service serviceID, by id;
// "" returns those on no service (creates refused before the SLM gave
// them an id).
func (r Reader) OperationsByService(ws memdb.WatchSet, serviceID string) (iter.Seq[*Operation], error) {
	return list[Operation](r, ws, TableOperations, IndexService, operationServiceKey(serviceID))
}

// OperationsByStatus returns the operations with status st, by id. Only
// operations that have not ended are indexed by status; for an ended
// status this scans the table.
func (r Reader) OperationsByStatus(ws memdb.WatchSet, st OperationStatus) (iter.Seq[*Operation], error) {
	if !st.Done() {
		return list[Operation](r, ws, TableOperations, IndexStatus, string(st))
	}
	all, err := list[Operation](r, ws, TableOperations, IndexID)
	if err != nil {
		return nil, err
	}
	return func(yield func(*Operation) bool) {
		for o := range all {
			if o.Status == st && !yield(o) {
				return
			}
		}
	}, nil
}

// Index returns the index of the last transaction that changed table (0
// if none did).
func (r Reader) Index(table string) (uint64, error) {
	t, err := first[tableIndex](r, nil, TableIndex, IndexID, table)
	if err != nil || t == nil {
		return 0, err
	}
	return t.Value, nil
}

// LatestIndex returns the index of the last transaction in this view.
func (r Reader) LatestIndex() (uint64, error) {
	it, err := r.txn.Get(TableIndex, IndexID)
	if err != nil {
		return 0, fmt.Errorf("records: index table: %w", err)
	}
	var max uint64
	for obj := it.Next(); obj != nil; obj = it.Next() {
		max = maxIndex(max, obj.(*tableIndex).Value)
	}
	return max, nil
}

func maxIndex(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

// ServiceRecord renders the NSR of service id (nil when there is no such
// service).
func (r Reader) ServiceRecord(ws memdb.WatchSet, id string) (descriptor.Doc, error) {
	svc, err := r.ServiceByID(ws, id)
	if err != nil || svc == nil {
		return nil, err
	}
	nsd, err := r.DescriptorByDigest(ws, svc.NSD.Digest)
	if err != nil {
		return nil, err
	}
	if nsd == nil {
		return nil, fmt.Errorf("records: service %s: nsd %s is not stored", id, svc.NSD.Digest)
	}
	return RenderNSR(svc, nsd.Doc), nil
}

// FunctionRecord renders the VNFR of function id (nil when there is no such
// function).
func (r Reader) FunctionRecord(ws memdb.WatchSet, id string) (descriptor.Doc, error) {
	fn, err := r.FunctionByID(ws, id)
	if err != nil || fn == nil {
		return nil, err
	}
	vnfd, err := r.DescriptorByDigest(ws, fn.VNFD.Digest)
	if err != nil {
		return nil, err
	}
	if vnfd == nil {
		return nil, fmt.Errorf("records: function %s: vnfd %s is not stored", id, fn.VNFD.Digest)
	}
	return RenderVNFR(fn, vnfd.Doc), nil
}

// The StateStore methods below each read one fresh transaction.

// ServiceByID returns the service with id, or nil.
func (s *StateStore) ServiceByID(ws memdb.WatchSet, id string) (*Service, error) {
	return s.Reader().ServiceByID(ws, id)
}

// ServiceByName returns the service with instance name name, or nil.
func (s *StateStore) ServiceByName(ws memdb.WatchSet, name string) (*Service, error) {
	return s.Reader().ServiceByName(ws, name)
}

// Services returns every service, by id.
func (s *StateStore) Services(ws memdb.WatchSet) (iter.Seq[*Service], error) {
	return s.Reader().Services(ws)
}

// FunctionByID returns the function with id, or nil.
func (s *StateStore) FunctionByID(ws memdb.WatchSet, id string) (*Function, error) {
	return s.Reader().FunctionByID(ws, id)
}

// Functions returns every function, by id.
func (s *StateStore) Functions(ws memdb.WatchSet) (iter.Seq[*Function], error) {
	return s.Reader().Functions(ws)
}

// FunctionsByService returns the functions of service serviceID.
func (s *StateStore) FunctionsByService(ws memdb.WatchSet, serviceID string) (iter.Seq[*Function], error) {
	return s.Reader().FunctionsByService(ws, serviceID)
}

// DescriptorByDigest returns the descriptor with digest, or nil.
func (s *StateStore) DescriptorByDigest(ws memdb.WatchSet, digest string) (*Descriptor, error) {
	return s.Reader().DescriptorByDigest(ws, digest)
}

// Descriptors returns every stored descriptor.
func (s *StateStore) Descriptors(ws memdb.WatchSet) (iter.Seq[*Descriptor], error) {
	return s.Reader().Descriptors(ws)
}

// DescriptorsByIdentity returns the stored descriptors of kind with
// identity id.
func (s *StateStore) DescriptorsByIdentity(ws memdb.WatchSet, kind DescriptorKind, id descriptor.Identity) (iter.Seq[*Descriptor], error) {
	return s.Reader().DescriptorsByIdentity(ws, kind, id)
}

// VIMByUUID returns the VIM with uuid, or nil.
func (s *StateStore) VIMByUUID(ws memdb.WatchSet, uuid string) (*VIM, error) {
	return s.Reader().VIMByUUID(ws, uuid)
}

// VIMsByName returns the VIMs called name.
func (s *StateStore) VIMsByName(ws memdb.WatchSet, name string) (iter.Seq[*VIM], error) {
	return s.Reader().VIMsByName(ws, name)
}

// VIMs returns every VIM.
func (s *StateStore) VIMs(ws memdb.WatchSet) (iter.Seq[*VIM], error) {
	return s.Reader().VIMs(ws)
}

// PluginByUUID returns the plugin with uuid, or nil.
func (s *StateStore) PluginByUUID(ws memdb.WatchSet, uuid string) (*Plugin, error) {
	return s.Reader().PluginByUUID(ws, uuid)
}

// PluginsByName returns the plugins called name.
func (s *StateStore) PluginsByName(ws memdb.WatchSet, name string) (iter.Seq[*Plugin], error) {
	return s.Reader().PluginsByName(ws, name)
}

// Plugins returns every plugin.
func (s *StateStore) Plugins(ws memdb.WatchSet) (iter.Seq[*Plugin], error) {
	return s.Reader().Plugins(ws)
}

// OperationByID returns the operation with id, or nil.
func (s *StateStore) OperationByID(ws memdb.WatchSet, id string) (*Operation, error) {
	return s.Reader().OperationByID(ws, id)
}

// Operations returns every operation.
func (s *StateStore) Operations(ws memdb.WatchSet) (iter.Seq[*Operation], error) {
	return s.Reader().Operations(ws)
}

// OperationsByService returns the operations on service serviceID.
func (s *StateStore) OperationsByService(ws memdb.WatchSet, serviceID string) (iter.Seq[*Operation], error) {
	return s.Reader().OperationsByService(ws, serviceID)
}

// OperationsByStatus returns the operations with status st.
func (s *StateStore) OperationsByStatus(ws memdb.WatchSet, st OperationStatus) (iter.Seq[*Operation], error) {
	return s.Reader().OperationsByStatus(ws, st)
}

// Index returns the index of the last transaction that changed table.
func (s *StateStore) Index(table string) (uint64, error) { return s.Reader().Index(table) }

// ServiceRecord renders the NSR of service id.
func (s *StateStore) ServiceRecord(ws memdb.WatchSet, id string) (descriptor.Doc, error) {
	return s.Reader().ServiceRecord(ws, id)
}

// FunctionRecord renders the VNFR of function id.
func (s *StateStore) FunctionRecord(ws memdb.WatchSet, id string) (descriptor.Doc, error) {
	return s.Reader().FunctionRecord(ws, id)
}
