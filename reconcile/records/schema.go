package records

import (
	"fmt"

	"github.com/hashicorp/go-memdb"
)

// Table names.
const (
	TableServices    = "services"
	TableFunctions   = "functions"
	TableDescriptors = "descriptors"
	TableVIMs        = "vims"
	TablePlugins     = "plugins"
	TableOperations  = "operations"
	// TableIndex holds, per table, the index of the last transaction that
	// changed it (Nomad's "index" table). It is rebuilt from the journal and
	// carried in snapshots; it is not journaled itself.
	TableIndex = "index"
)

// Index names. "id" is memdb's primary index and must be called that.
const (
	IndexID       = "id"
	IndexName     = "name"
	IndexStatus   = "status"
	IndexService  = "service"
	IndexIdentity = "identity"
)

// tableIDs number the journaled tables in the journal and snapshot formats.
// The numbers are part of the on-disk format: never renumber.
var tableIDs = map[string]byte{
	TableServices:    1,
	TableFunctions:   2,
	TableDescriptors: 3,
	TableVIMs:        4,
	TablePlugins:     5,
	TableOperations:  6,
}

// journaledTables is the order in which snapshots write tables. Descriptors
// come first so that a reader of a snapshot stream meets them before the
// records that point at them.
var journaledTables = []string{TableDescriptors, TableVIMs, TablePlugins, TableServices, TableFunctions, TableOperations}

func tableName(id byte) (string, bool) {
	for n, i := range tableIDs {
		if i == id {
			return n, true
		}
	}
	return "", false
}

// schemaFactory returns the schema of one table.
type schemaFactory func() *memdb.TableSchema

// schemaFactories are registered here, one per table (Nomad's
// RegisterSchemaFactories without the global registry: this package is the
// only one that owns tables).
var schemaFactories = []schemaFactory{
	indexTableSchema,
	servicesTableSchema,
	functionsTableSchema,
	descriptorsTableSchema,
	vimsTableSchema,
	pluginsTableSchema,
	operationsTableSchema,
}

// stateStoreSchema builds the memdb schema from the factories.
func stateStoreSchema() *memdb.DBSchema {
	db := &memdb.DBSchema{Tables: make(map[string]*memdb.TableSchema)}
	for _, f := range schemaFactories {
		t := f()
		if _, dup := db.Tables[t.Name]; dup {
			panic(fmt.Sprintf("records: table %q defined twice", t.Name)) // programming error, caught by every test
		}
		db.Tables[t.Name] = t
	}
	return db
}

// tableIndex is a row of TableIndex.
type tableIndex struct {
	Key   string
	Value uint64
}

func indexTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableIndex,
		Indexes: map[string]*memdb.IndexSchema{
			IndexID: {Name: IndexID, Unique: true, Indexer: strIndex[tableIndex](func(t *tableIndex) string { return t.Key })},
		},
	}
}

// Every secondary index is paid for at each insert, and loading a state
// directory inserts every object: with the functions-by-VIM and
// services-by-status indexes, which nothing read, loading 100,000 services
// took half as long again and 18% more memory. A table gets an index only
// when a command or plugin looks rows up by it; filters over a whole table
// (the TUI's, plan's per-VIM totals) scan it.

// servicesTableSchema: services by id and by instance name (unique;
// gatekeeper services have none).
func servicesTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableServices,
		Indexes: map[string]*memdb.IndexSchema{
			IndexID: {Name: IndexID, Unique: true,
				Indexer: strIndex[Service](func(s *Service) string { return s.ID })},
			IndexName: {Name: IndexName, Unique: true, AllowMissing: true,
				Indexer: strIndex[Service](func(s *Service) string { return s.Name })},
		},
	}
}

// functionsTableSchema: functions by id and by owning service (describe,
// the SLM's terminate and scale).
func functionsTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableFunctions,
		Indexes: map[string]*memdb.IndexSchema{
			IndexID: {Name: IndexID, Unique: true,
				Indexer: strIndex[Function](func(f *Function) string { return f.ID })},
			IndexService: {Name: IndexService,
				Indexer: strIndex[Function](func(f *Function) string { return f.ServiceID })},
		},
	}
}

// descriptorsTableSchema: descriptors by digest and by kind + identity (the
// manifest names NSDs by vendor/name/version; several contents may share an
// identity, so the index is not unique).
func descriptorsTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableDescriptors,
		Indexes: map[string]*memdb.IndexSchema{
			IndexID: {Name: IndexID, Unique: true,
				Indexer: strIndex[Descriptor](func(d *Descriptor) string { return d.Digest })},
			IndexIdentity: {Name: IndexIdentity,
				Indexer: strIndex[Descriptor](func(d *Descriptor) string {
					return identityKey(d.Kind, d.Identity.Vendor, d.Identity.Name, d.Identity.Version)
				})},
		},
	}
}

// identityKey joins kind and identity with NULs, which cannot occur in YAML
// scalars that survived parsing, so distinct triples never collide.
func identityKey(kind DescriptorKind, vendor, name, version string) string {
	return string(kind) + "\x00" + vendor + "\x00" + name + "\x00" + version
}

// vimsTableSchema: VIMs by uuid and by name. The IA does not make names
// unique, so the name index is not unique either.
func vimsTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableVIMs,
		Indexes: map[string]*memdb.IndexSchema{
			IndexID: {Name: IndexID, Unique: true,
				Indexer: strIndex[VIM](func(v *VIM) string { return v.UUID })},
			IndexName: {Name: IndexName, AllowMissing: true,
				Indexer: strIndex[VIM](func(v *VIM) string { return v.Name })},
		},
	}
}

// pluginsTableSchema: plugins by uuid and by name (a restarted plugin
// registers again under a new uuid, so names repeat).
func pluginsTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TablePlugins,
		Indexes: map[string]*memdb.IndexSchema{
			IndexID: {Name: IndexID, Unique: true,
				Indexer: strIndex[Plugin](func(p *Plugin) string { return p.UUID })},
			IndexName: {Name: IndexName,
				Indexer: strIndex[Plugin](func(p *Plugin) string { return p.Name })},
		},
	}
}

// operationsTableSchema: operations by id, by service (describe's "last
// operations"; those without a service under noService) and, for operations that have not ended, by status (the
// daemon finds those a killed daemon left running). Ended operations, the
// bulk of the table, are left out of the status index: AllowMissing with
// an empty key.
func operationsTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableOperations,
		Indexes: map[string]*memdb.IndexSchema{
			IndexID: {Name: IndexID, Unique: true,
				Indexer: strIndex[Operation](func(o *Operation) string { return o.ID })},
			IndexService: {Name: IndexService,
				Indexer: strIndex[Operation](func(o *Operation) string { return operationServiceKey(o.ServiceID) })},
			IndexStatus: {Name: IndexStatus, AllowMissing: true,
				Indexer: strIndex[Operation](func(o *Operation) string {
					if o.Status.Done() {
						return ""
					}
					return string(o.Status)
				})},
		},
	}
}

// noService is the service-index key of operations without a service (a
// create refused before the SLM gave it an id): indexed too, so that their
// history is trimmed like any service's. It is no UUID, so it names no
// service.
const noService = "-"

func operationServiceKey(serviceID string) string {
	if serviceID == "" {
		return noService
	}
	return serviceID
}

// strIndex indexes a string field of *T. It replaces memdb.StringFieldIndex,
// which finds the field by reflection on every insert: loading 100,000
// services means over a million index insertions, and the typed accessor
// also turns a misspelt field name into a compile error. Keys are the
// string plus a NUL terminator, as StringFieldIndex makes them, so that
// prefix queries and memdb's id suffix on non-unique indexes work the same
// way.
type strIndex[T any] func(*T) string

var _ memdb.SingleIndexer = strIndex[Service](nil)
var _ memdb.PrefixIndexer = strIndex[Service](nil)

// FromObject implements memdb.SingleIndexer. An empty value is "missing",
// which memdb accepts only on AllowMissing indexes.
func (x strIndex[T]) FromObject(obj any) (bool, []byte, error) {
	o, ok := obj.(*T)
	if !ok {
		return false, nil, fmt.Errorf("records: index on %T given %T", (*T)(nil), obj)
	}
	v := x(o)
	if v == "" {
		return false, nil, nil
	}
	b := make([]byte, len(v)+1)
	copy(b, v)
	return true, b, nil
}

// FromArgs implements memdb.Indexer: one string argument.
func (x strIndex[T]) FromArgs(args ...any) ([]byte, error) {
	s, err := oneString(args)
	if err != nil {
		return nil, err
	}
	b := make([]byte, len(s)+1)
	copy(b, s)
	return b, nil
}

// PrefixFromArgs implements memdb.PrefixIndexer (the "id_prefix" form).
func (x strIndex[T]) PrefixFromArgs(args ...any) ([]byte, error) {
	s, err := oneString(args)
	if err != nil {
		return nil, err
	}
	return []byte(s), nil
}

func oneString(args []any) (string, error) {
	if len(args) != 1 {
		return "", fmt.Errorf("records: index takes one argument, got %d", len(args))
	}
	s, ok := args[0].(string)
	if !ok {
		return "", fmt.Errorf("records: index argument is %T, want string", args[0])
	}
	return s, nil
}
