// Package records is manoctl's store of live records: service instances
// (NSRs), functions (VNFRs), the descriptors they were built from, VIMs,
// plugins and lifecycle operations. The planner diffs desired state against
// a snapshot of it, the lifecycle engine writes it step by step, and the
// TUI and the daemon watch it.
//
// # Model
//
// Records are compact Go structs (Service, Function, VIM, Plugin,
// Operation). Descriptors are stored once per distinct content, keyed by a
// digest of their canonical form (DigestDoc), and records point at them.
// The SONATA-shaped NSR and VNFR documents are rendered on demand by
// RenderNSR and RenderVNFR; FunctionFromIAVNFR reads the IA's deploy reply.
// Keeping documents out of the records is what makes 100,000 services load
// in seconds and cost a few kilobytes each.
//
// # Store
//
// The tables are go-memdb tables, one schema factory each (schema.go), with
// table and index names as constants. Readers take a memdb.WatchSet and
// return shared, immutable objects: Copy before changing one. Writers come
// in pairs, UpsertX and UpsertXTxn, the second taking a WriteTxn so that
// several changes (a service, its functions, an operation step) commit
// atomically at one index. Indexes start at 1 and grow by one per commit.
// Change events are made from memdb's change set when a transaction
// commits, never by business code, and delivered once durable.
//
// # Durability
//
// Open(dir) keeps the state in a directory: an append-only journal of
// committed transactions (each record length-prefixed and CRC-32C
// checked) and periodic snapshots. A commit returns only after its journal
// record is fsync'd; concurrent commits share one fsync (group commit).
// Recovery loads the newest valid snapshot and replays the journal after
// it; a torn record at the tail is dropped, while damage anywhere else is a
// *CorruptionError naming the file and offset, never silently repaired. A
// flock on the directory's LOCK file keeps a second writer out
// (*LockedError names the holder); read-only opens take no lock. Every
// state directory has a lineage id, created with it, that plans carry along
// with the index they were made at.
//
// README.md in this directory documents the tables, the on-disk format, the
// recovery rules and the lock.
package records
