package records

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/go-memdb"

	"github.com/manoctl/manoctl/schema/descriptor"
)

// memdb checks indexer field names only at insert time (STYLE pitfalls):
// insert one object into every table, through the raw memdb API, and read
// it back through every index.
func TestSchema_OneObjectPerTable(t *testing.T) {
	db, err := memdb.NewMemDB(stateStoreSchema())
	if err != nil {
		t.Fatal(err)
	}
	svcID, fnID := uuid.NewString(), uuid.NewString()
	objs := map[string]any{
		TableIndex:       &tableIndex{Key: TableServices, Value: 1},
		TableServices:    &Service{ID: svcID, Name: "demo-1", Status: ServiceReady},
		TableFunctions:   &Function{ID: fnID, ServiceID: svcID, VIM: "vim-1"},
		TableDescriptors: &Descriptor{Digest: "sha256:x", Kind: KindNSD, Identity: descriptor.Identity{Vendor: "v", Name: "n", Version: "1"}},
		TableVIMs:        &VIM{UUID: "vim-1", Name: "athens"},
		TablePlugins:     &Plugin{UUID: "p-1", Name: "son-plugin.SLM"},
		TableOperations:  &Operation{ID: "op-1", ServiceID: svcID, Status: OpRunning},
	}
	schema := stateStoreSchema()
	if len(objs) != len(schema.Tables) {
		t.Fatalf("test covers %d tables, schema has %d", len(objs), len(schema.Tables))
	}
	txn := db.Txn(true)
	for table, obj := range objs {
		if err := txn.Insert(table, obj); err != nil {
			t.Fatalf("insert into %s: %v", table, err)
		}
	}
	txn.Commit()
	args := map[string]map[string][]any{
		TableIndex:       {IndexID: {TableServices}},
		TableServices:    {IndexID: {svcID}, IndexName: {"demo-1"}},
		TableFunctions:   {IndexID: {fnID}, IndexService: {svcID}},
		TableDescriptors: {IndexID: {"sha256:x"}, IndexIdentity: {identityKey(KindNSD, "v", "n", "1")}},
		TableVIMs:        {IndexID: {"vim-1"}, IndexName: {"athens"}},
		TablePlugins:     {IndexID: {"p-1"}, IndexName: {"son-plugin.SLM"}},
		TableOperations:  {IndexID: {"op-1"}, IndexService: {svcID}, IndexStatus: {string(OpRunning)}},
	}
	read := db.Txn(false)
	for table, ts := range schema.Tables {
		for index := range ts.Indexes {
			a, ok := args[table][index]
			if !ok {
				t.Errorf("no lookup for %s.%s in the test", table, index)
				continue
			}
			obj, err := read.First(table, index, a...)
			if err != nil || obj != objs[table] {
				t.Errorf("%s by %s %v: got %v, %v", table, index, a, obj, err)
			}
		}
	}
	// Missing values are accepted exactly where the schema allows them.
	txn = db.Txn(true)
	defer txn.Abort()
	if err := txn.Insert(TableServices, &Service{ID: uuid.NewString(), Status: ServiceReady}); err != nil {
		t.Errorf("service without name: %v", err)
	}
	if err := txn.Insert(TableFunctions, &Function{ID: uuid.NewString(), ServiceID: svcID}); err != nil {
		t.Errorf("function without VIM: %v", err)
	}
	if err := txn.Insert(TableOperations, &Operation{ID: uuid.NewString(), Status: OpSucceeded}); err != nil {
		t.Errorf("ended operation (not in the status index): %v", err)
	}
	if err := txn.Insert(TableServices, &Service{Name: "no-id", Status: ServiceReady}); err == nil {
		t.Error("service without id was accepted")
	}
	// Validate, not the schema, requires a status.
	if _, err := TestStore(t, Options{}).UpsertService(&Service{ID: uuid.NewString()}); err == nil || !strings.Contains(err.Error(), "status") {
		t.Errorf("service without status: %v", err)
	}
}

// seed stores the demo descriptors and n demo services.
func seed(t testing.TB, s *Store, n int) (*Demo, []*Service) {
	t.Helper()
	demo := DemoDescriptors()
	var svcs []*Service
	_, err := s.Write(func(txn *WriteTxn) error {
		if err := demo.StoreTxn(s, txn); err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			svc, fns := demo.Service("demo-"+itoa(i), "vim-"+itoa(i%3), i)
			if err := s.UpsertServiceWithFunctionsTxn(txn, svc, fns); err != nil {
				return err
			}
			svcs = append(svcs, svc)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	return demo, svcs
}

func itoa(i int) string { return string(appendInt(nil, i)) }

func appendInt(b []byte, i int) []byte {
	if i >= 10 {
		b = appendInt(b, i/10)
	}
	return append(b, byte('0'+i%10))
}

func collect[T any](t testing.TB, seq func(yield func(*T) bool), err error) []*T {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	var out []*T
	for x := range seq {
		out = append(out, x)
	}
	return out
}

func TestStore_Readers(t *testing.T) {
	for _, mode := range []string{"memory", "durable"} {
		t.Run(mode, func(t *testing.T) {
			var s *Store
			if mode == "memory" {
				s = NewMemStore()
				t.Cleanup(func() { s.Close() })
			} else {
				s = TestStore(t, Options{})
			}
			demo, svcs := seed(t, s, 3)

			tests := []struct {
				name string
				run  func(t *testing.T)
			}{
				{"ServiceByID", func(t *testing.T) {
					got, err := s.ServiceByID(nil, svcs[1].ID)
					if err != nil || got == nil || got.Name != "demo-1" {
						t.Fatalf("got %+v, %v", got, err)
					}
					if got.CreateIndex != 1 || got.ModifyIndex != 1 || got.CreatedAt.IsZero() {
						t.Errorf("indexes/times not set: %+v", got)
					}
				}},
				{"ServiceByID missing", func(t *testing.T) {
					got, err := s.ServiceByID(nil, uuid.NewString())
					if err != nil || got != nil {
						t.Fatalf("got %+v, %v", got, err)
					}
				}},
				{"ServiceByName", func(t *testing.T) {
					got, err := s.ServiceByName(nil, "demo-2")
					if err != nil || got == nil || got.ID != svcs[2].ID {
						t.Fatalf("got %+v, %v", got, err)
					}
				}},
				{"Services", func(t *testing.T) {
					seq, err := s.Services(nil)
					all := collect(t, seq, err)
					if len(all) != 3 {
						t.Fatalf("got %d services", len(all))
					}
					// Ranging again gives the same rows.
					if again := collect(t, seq, nil); len(again) != 3 {
						t.Fatalf("second range: %d", len(again))
					}
				}},
				{"FunctionsByService", func(t *testing.T) {
					seq, err := s.FunctionsByService(nil, svcs[0].ID)
					got := collect(t, seq, err)
					if len(got) != 3 {
						t.Fatalf("got %d", len(got))
					}
					for _, f := range got {
						if !slices.Contains(svcs[0].Functions, f.ID) {
							t.Errorf("function %s not of service 0", f.ID)
						}
					}
				}},
				{"FunctionByID", func(t *testing.T) {
					f, err := s.FunctionByID(nil, svcs[2].Functions[1])
					if err != nil || f == nil || f.VNFID != "vnf_iperf" || f.ServiceID != svcs[2].ID {
						t.Fatalf("got %+v, %v", f, err)
					}
				}},
				{"Descriptors", func(t *testing.T) {
					seq, err := s.Descriptors(nil)
					if got := collect(t, seq, err); len(got) != 4 {
						t.Fatalf("got %d", len(got))
					}
					d, err := s.DescriptorByDigest(nil, demo.NSDDigest)
					if err != nil || d == nil || d.Kind != KindNSD || d.Identity.Name != "sonata-demo" {
						t.Fatalf("nsd: %+v, %v", d, err)
					}
					seq, err = s.DescriptorsByIdentity(nil, KindVNFD, descriptor.IdentityOf(demo.VNFDs[1]))
					if got := collect(t, seq, err); len(got) != 1 || got[0].Digest != demo.VNFDDigests[1] {
						t.Fatalf("by identity: %v", got)
					}
				}},
				{"Index", func(t *testing.T) {
					for _, table := range []string{TableServices, TableFunctions, TableDescriptors} {
						if i, err := s.Index(table); err != nil || i != 1 {
							t.Errorf("%s: %d, %v", table, i, err)
						}
					}
					if i, err := s.Index(TableVIMs); err != nil || i != 0 {
						t.Errorf("vims: %d, %v", i, err)
					}
					if s.LatestIndex() != 1 || s.Snapshot().Index() != 1 {
						t.Errorf("latest %d, snapshot %d", s.LatestIndex(), s.Snapshot().Index())
					}
				}},
				{"records render", func(t *testing.T) {
					nsr, err := s.ServiceRecord(nil, svcs[0].ID)
					if err != nil || nsr["id"] != svcs[0].ID || len(nsr["network_functions"].([]any)) != 3 {
						t.Fatalf("nsr %v, %v", nsr, err)
					}
					vnfr, err := s.FunctionRecord(nil, svcs[0].Functions[0])
					if err != nil || vnfr["id"] != svcs[0].Functions[0] {
						t.Fatalf("vnfr %v, %v", vnfr, err)
					}
				}},
			}
			for _, tc := range tests {
				t.Run(tc.name, tc.run)
			}
		})
	}
}

func TestStore_Writers(t *testing.T) {
	s := NewMemStore()
	defer s.Close()
	demo, svcs := seed(t, s, 2)

	t.Run("copy on upsert", func(t *testing.T) {
		svc := svcs[0].Copy()
		svc.Error = "boom"
		idx, err := s.UpsertService(svc)
		if err != nil {
			t.Fatal(err)
		}
		svc.Error = "changed after upsert"
		got, _ := s.ServiceByID(nil, svc.ID)
		if got.Error != "boom" || got.ModifyIndex != idx || got.CreateIndex != 1 {
			t.Fatalf("stored %+v", got)
		}
		if got == svc {
			t.Fatal("store kept the caller's object")
		}
	})
	t.Run("name conflict", func(t *testing.T) {
		svc := svcs[1].Copy()
		svc.Name = svcs[0].Name
		_, err := s.UpsertService(svc)
		var nc *NameConflictError
		if !errors.As(err, &nc) || nc.Existing != svcs[0].ID {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("validation", func(t *testing.T) {
		cases := map[string]*Service{
			"bad id":      {ID: "not-a-uuid", Status: ServiceReady, RecordStatus: RecordNormal, NSD: DescriptorRef{Digest: demo.NSDDigest}},
			"bad status":  {ID: uuid.NewString(), Status: "READY", RecordStatus: RecordNormal, NSD: DescriptorRef{Digest: demo.NSDDigest}},
			"bad record":  {ID: uuid.NewString(), Status: ServiceReady, RecordStatus: "DEPLOYED", NSD: DescriptorRef{Digest: demo.NSDDigest}},
			"no nsd":      {ID: uuid.NewString(), Status: ServiceReady, RecordStatus: RecordNormal},
			"unknown nsd": {ID: uuid.NewString(), Status: ServiceReady, RecordStatus: RecordNormal, NSD: DescriptorRef{Digest: "sha256:nope"}},
			"vnfd as nsd": {ID: uuid.NewString(), Status: ServiceReady, RecordStatus: RecordNormal, NSD: DescriptorRef{Digest: demo.VNFDDigests[0]}},
		}
		for name, svc := range cases {
			before := s.LatestIndex()
			if _, err := s.UpsertService(svc); err == nil {
				t.Errorf("%s: accepted", name)
			}
			if s.LatestIndex() != before {
				t.Errorf("%s: index moved", name)
			}
		}
		fn := &Function{ID: uuid.NewString(), ServiceID: uuid.NewString(), Status: RecordNormal, VNFD: DescriptorRef{Digest: demo.VNFDDigests[0]}}
		var re *ReferenceError
		if _, err := s.UpsertFunction(fn); !errors.As(err, &re) {
			t.Errorf("function of unknown service: %v", err)
		}
		fn.ServiceID = svcs[0].ID
		fn.Status = RecordUpdating
		if _, err := s.UpsertFunction(fn); err == nil {
			t.Error("VNFR status updating accepted")
		}
	})
	t.Run("atomic multi-table commit", func(t *testing.T) {
		txn, err := s.Begin()
		if err != nil {
			t.Fatal(err)
		}
		defer txn.Abort()
		svc, fns := demo.Service("atomic", "vim-9", 9)
		if err := s.UpsertServiceWithFunctionsTxn(txn, svc, fns); err != nil {
			t.Fatal(err)
		}
		op := &Operation{ID: uuid.NewString(), ServiceID: svc.ID, ServiceName: svc.Name, Kind: OpInstantiate, Status: OpRunning,
			Steps: []Step{{Name: "deploy_vnfs", Status: StepSucceeded, Attempt: 1}}}
		if err := s.UpsertOperationTxn(txn, op); err != nil {
			t.Fatal(err)
		}
		// The transaction sees its own writes; others do not.
		if got, _ := txn.Reader().ServiceByName(nil, "atomic"); got == nil {
			t.Fatal("txn does not see its own write")
		}
		if got, _ := s.ServiceByName(nil, "atomic"); got != nil {
			t.Fatal("uncommitted write visible")
		}
		want := txn.Index()
		idx, err := txn.Commit()
		if err != nil || idx != want {
			t.Fatalf("commit %d, %v (want %d)", idx, err, want)
		}
		for _, table := range []string{TableServices, TableFunctions, TableOperations} {
			if i, _ := s.Index(table); i != idx {
				t.Errorf("%s index %d, want %d", table, i, idx)
			}
		}
		if _, err := txn.Commit(); !errors.Is(err, ErrTxnDone) {
			t.Errorf("second commit: %v", err)
		}
	})
	t.Run("transaction misuse", func(t *testing.T) {
		other := NewMemStore()
		defer other.Close()
		txn, _ := other.Begin()
		if err := s.UpsertVIMTxn(txn, &VIM{UUID: "x"}); err == nil || !strings.Contains(err.Error(), "another store") {
			t.Errorf("foreign txn: %v", err)
		}
		txn.Abort()
		if err := other.UpsertVIMTxn(txn, &VIM{UUID: "x"}); !errors.Is(err, ErrTxnDone) {
			t.Errorf("done txn: %v", err)
		}
		if err := s.UpsertVIMTxn(nil, &VIM{UUID: "x"}); err == nil {
			t.Error("nil txn accepted")
		}
		if s.Dir() != "" || s.ReadOnly() {
			t.Errorf("memory store dir %q read-only %v", s.Dir(), s.ReadOnly())
		}
	})
	t.Run("abort leaves nothing", func(t *testing.T) {
		before := s.LatestIndex()
		txn, _ := s.Begin()
		svc, fns := demo.Service("aborted", "vim-1", 10)
		if err := s.UpsertServiceWithFunctionsTxn(txn, svc, fns); err != nil {
			t.Fatal(err)
		}
		txn.Abort()
		if got, _ := s.ServiceByName(nil, "aborted"); got != nil || s.LatestIndex() != before {
			t.Fatal("aborted write visible")
		}
		// The writer lock was released.
		if _, err := s.UpsertVIM(&VIM{UUID: "vim-after-abort"}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("empty commit", func(t *testing.T) {
		before := s.LatestIndex()
		idx, err := s.Write(func(*WriteTxn) error { return nil })
		if err != nil || idx != before {
			t.Fatalf("%d, %v", idx, err)
		}
		// Storing an existing descriptor changes nothing.
		_, idx, err = s.UpsertDescriptor(KindNSD, demo.NSD)
		if err != nil || idx != before {
			t.Fatalf("%d, %v", idx, err)
		}
	})
	t.Run("delete service cascades", func(t *testing.T) {
		if _, err := s.DeleteService(svcs[1].ID); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.ServiceByID(nil, svcs[1].ID); got != nil {
			t.Fatal("service still there")
		}
		for _, id := range svcs[1].Functions {
			if f, _ := s.FunctionByID(nil, id); f != nil {
				t.Fatalf("function %s still there", id)
			}
		}
		if _, err := s.DeleteService(svcs[1].ID); err != nil {
			t.Fatalf("deleting again: %v", err)
		}
	})
	t.Run("prune descriptors", func(t *testing.T) {
		other := descriptor.Copy(demo.NSD)
		other["version"] = "9.9"
		dg, _, err := s.UpsertDescriptor(KindNSD, other)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if _, err := s.Write(func(txn *WriteTxn) (err error) { n, err = s.PruneDescriptorsTxn(txn); return err }); err != nil {
			t.Fatal(err)
		}
		if d, _ := s.DescriptorByDigest(nil, dg); n != 1 || d != nil {
			t.Fatalf("pruned %d, still there: %v", n, d != nil)
		}
	})
	t.Run("vims plugins operations", func(t *testing.T) {
		if _, err := s.UpsertVIM(&VIM{UUID: "v1", Name: "athens", City: "Athens", CoresTotal: 32, MemoryTotalMB: 65536}); err != nil {
			t.Fatal(err)
		}
		seq, err := s.VIMsByName(nil, "athens")
		if got := collect(t, seq, err); len(got) != 1 || got[0].CoresTotal != 32 {
			t.Fatalf("%v", got)
		}
		reg := time.Date(2017, 9, 8, 10, 0, 0, 0, time.FixedZone("CEST", 7200))
		if _, err := s.UpsertPlugin(&Plugin{UUID: "p1", Name: "son-plugin.ServiceLifecycleManager", Version: "0.1-dev", State: "REGISTERED", RegisteredAt: reg}); err != nil {
			t.Fatal(err)
		}
		p, _ := s.PluginByUUID(nil, "p1")
		if !p.RegisteredAt.Equal(reg) || p.RegisteredAt.Location() != time.UTC {
			t.Errorf("registered at %v", p.RegisteredAt)
		}
		if _, err := s.UpsertPlugin(&Plugin{UUID: "p2", Name: "x", State: "A-STATE-LONGER-THAN-16"}); err == nil {
			t.Error("long state accepted")
		}
		seq2, err := s.OperationsByStatus(nil, OpRunning)
		if got := collect(t, seq2, err); len(got) != 1 {
			t.Fatalf("running ops: %d", len(got))
		}
		var op *Operation
		for o := range must(s.Operations(nil)) {
			op = o
		}
		for name, seq := range map[string]func() (int, error){
			"VIMs":    func() (int, error) { q, err := s.VIMsByName(nil, "athens"); return len(collect(t, q, err)), nil },
			"Plugins": func() (int, error) { q, err := s.Plugins(nil); return len(collect(t, q, err)), nil },
			"PluginsByName": func() (int, error) {
				q, err := s.PluginsByName(nil, "son-plugin.ServiceLifecycleManager")
				return len(collect(t, q, err)), nil
			},
			"Operations": func() (int, error) { q, err := s.Operations(nil); return len(collect(t, q, err)), nil },
			"OperationsByService": func() (int, error) {
				q, err := s.OperationsByService(nil, op.ServiceID)
				return len(collect(t, q, err)), nil
			},
		} {
			if n, _ := seq(); n != 1 {
				t.Errorf("%s: %d rows", name, n)
			}
		}
		// Prefix lookups (memdb's "id_prefix") work on the typed indexers.
		it, err := s.db.Txn(false).Get(TableServices, IndexID+"_prefix", svcs[0].ID[:8])
		if err != nil || it.Next() == nil {
			t.Errorf("prefix lookup: %v", err)
		}
		if latest, err := s.Reader().LatestIndex(); err != nil || latest != s.LatestIndex() {
			t.Errorf("reader latest %d, store %d, %v", latest, s.LatestIndex(), err)
		}
		if n := len(collect(t, must(s.VIMs(nil)), nil)); n != 2 {
			t.Errorf("VIMs: %d", n)
		}
		for _, del := range []func() (uint64, error){
			func() (uint64, error) { return s.DeleteVIM("v1") },
			func() (uint64, error) { return s.DeletePlugin("p1") },
			func() (uint64, error) { return s.DeleteOperation(op.ID) },
		} {
			if _, err := del(); err != nil {
				t.Fatal(err)
			}
		}
		if v, _ := s.VIMByUUID(nil, "v1"); v != nil {
			t.Error("vim not deleted")
		}
	})
	t.Run("operations by status", func(t *testing.T) {
		// Only operations that have not ended are in the status index;
		// an ended status is answered by a scan.
		op := demo.Instantiation(svcs[1], time.Now())
		op.Status, op.EndedAt = OpRunning, time.Time{}
		if _, err := s.UpsertOperation(op); err != nil {
			t.Fatal(err)
		}
		count := func(st OperationStatus) int {
			t.Helper()
			n := 0
			for o := range must(s.OperationsByStatus(nil, st)) {
				if o.ID == op.ID {
					n++
				}
			}
			return n
		}
		indexed := func() int {
			t.Helper()
			it, err := s.db.Txn(false).Get(TableOperations, IndexStatus+"_prefix", "")
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for o := it.Next(); o != nil; o = it.Next() {
				n++
			}
			return n
		}
		if count(OpRunning) != 1 || count(OpSucceeded) != 0 || indexed() != 1 {
			t.Fatalf("running: %d by running, %d by succeeded, %d indexed", count(OpRunning), count(OpSucceeded), indexed())
		}
		done := op.Copy()
		done.Status, done.EndedAt = OpSucceeded, time.Now()
		if _, err := s.UpsertOperation(done); err != nil {
			t.Fatal(err)
		}
		if count(OpRunning) != 0 || count(OpSucceeded) != 1 || indexed() != 0 {
			t.Fatalf("ended: %d by running, %d by succeeded, %d indexed", count(OpRunning), count(OpSucceeded), indexed())
		}
		if _, err := s.DeleteOperation(op.ID); err != nil {
			t.Fatal(err)
		}
	})
}

func TestStore_WatchAndEvents(t *testing.T) {
	s := TestStore(t, Options{})
	demo, svcs := seed(t, s, 1)
	sub := s.Subscribe(16)
	defer sub.Close()

	ws := s.NewWatchSet()
	if _, err := s.ServiceByID(ws, svcs[0].ID); err != nil {
		t.Fatal(err)
	}
	svc := svcs[0].Copy()
	svc.Status = ServiceError
	svc.Error = "vnf deploy failed"
	idx, err := s.UpsertService(svc)
	if err != nil {
		t.Fatal(err)
	}
	if timedOut := ws.Watch(time.After(10 * time.Second)); timedOut {
		t.Fatal("watch did not fire")
	}
	b := <-sub.C
	if b.Index != idx || len(b.Events) != 1 {
		t.Fatalf("batch %+v", b)
	}
	ev := b.Events[0]
	if ev.Table != TableServices || ev.Key != svc.ID || ev.Op != EventUpdate || ev.Index != idx || ev.Object.(*Service).Error != "vnf deploy failed" {
		t.Fatalf("event %+v", ev)
	}

	svc2, fns := demo.Service("second", "vim-0", 2)
	if _, err := s.Write(func(txn *WriteTxn) error { return s.UpsertServiceWithFunctionsTxn(txn, svc2, fns) }); err != nil {
		t.Fatal(err)
	}
	if b := <-sub.C; len(b.Events) != 4 || b.Events[0].Op != EventCreate {
		t.Fatalf("batch %+v", b)
	}
	if _, err := s.DeleteService(svc2.ID); err != nil {
		t.Fatal(err)
	}
	b = <-sub.C
	ops := map[EventOp]int{}
	for _, e := range b.Events {
		ops[e.Op]++
	}
	if ops[EventDelete] != 4 {
		t.Fatalf("delete batch %+v", b)
	}

	// A subscriber that does not read is cut off, not waited for.
	slow := s.Subscribe(1)
	for i := 0; i < 3; i++ {
		v := &VIM{UUID: "v" + itoa(i)}
		if _, err := s.UpsertVIM(v); err != nil {
			t.Fatal(err)
		}
	}
	for range slow.C {
	}
	if !errors.Is(slow.Err(), ErrSubscriptionOverflow) {
		t.Fatalf("slow subscriber: %v", slow.Err())
	}

	// Closing the store wakes watchers and ends subscriptions.
	ws = s.NewWatchSet()
	if _, err := s.ServiceByID(ws, svcs[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if timedOut := ws.Watch(time.After(10 * time.Second)); timedOut {
		t.Fatal("abandon did not fire")
	}
	for range sub.C {
	}
	if !errors.Is(sub.Err(), ErrSubscriptionClosed) {
		t.Fatalf("sub after close: %v", sub.Err())
	}
	if _, err := s.Begin(); !errors.Is(err, ErrClosed) {
		t.Fatalf("begin after close: %v", err)
	}
}

func TestStore_SnapshotIsFrozenAndDurable(t *testing.T) {
	s := TestStore(t, Options{})
	_, svcs := seed(t, s, 2)
	snap := s.Snapshot()
	if snap.Index() != 1 || snap.Lineage() != s.Lineage() || s.Lineage() == "" {
		t.Fatalf("snapshot index %d lineage %q/%q", snap.Index(), snap.Lineage(), s.Lineage())
	}
	if _, err := s.DeleteService(svcs[0].ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := snap.ServiceByID(nil, svcs[0].ID); got == nil {
		t.Fatal("snapshot changed")
	}
	if got, _ := s.Snapshot().ServiceByID(nil, svcs[0].ID); got != nil {
		t.Fatal("new snapshot misses the delete")
	}
	if s.Snapshot().Index() != 2 {
		t.Fatalf("index %d", s.Snapshot().Index())
	}
}

// TestOperationHistory: when an operation ends, its service's ended
// operations beyond Options.OperationHistory go, oldest first; running ones
// stay; a deleted service keeps its newest ended operation; the trimming
// is journaled like any write.
func TestOperationHistory(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{OperationHistory: 3})
	if err != nil {
		t.Fatal(err)
	}
	_, svcs := seed(t, s, 2)
	svc, other := svcs[0], svcs[1]
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	op := func(svcID string, i int, st OperationStatus) *Operation {
		o := &Operation{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), ServiceID: svcID, Kind: OpScale, Status: st,
			RequestedAt: t0.Add(time.Duration(i) * time.Minute), StartedAt: t0.Add(time.Duration(i) * time.Minute)}
		if st.Done() {
			o.EndedAt = o.StartedAt.Add(time.Second)
		}
		return o
	}
	ids := func(svcID string) []string {
		t.Helper()
		var out []string
		for o := range must(s.OperationsByService(nil, svcID)) {
			out = append(out, o.ID[len(o.ID)-2:]+":"+string(o.Status))
		}
		return out
	}
	running := op(svc.ID, 99, OpRunning)
	if _, err := s.UpsertOperation(running); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		if _, err := s.UpsertOperation(op(svc.ID, i, OpSucceeded)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.UpsertOperation(op(other.ID, 50, OpFailed)); err != nil {
		t.Fatal(err)
	}
	want := []string{"03:succeeded", "04:succeeded", "05:succeeded", "99:running"}
	if got := ids(svc.ID); !slices.Equal(got, want) {
		t.Fatalf("after 5 ended: %v, want %v", got, want)
	}
	if got := ids(other.ID); len(got) != 1 {
		t.Fatalf("the other service's operations: %v", got)
	}

	// Deleted: the newest ended one and the running one stay; when that
	// ends, it is all that is left.
	if _, err := s.DeleteService(svc.ID); err != nil {
		t.Fatal(err)
	}
	if got, want := ids(svc.ID), []string{"05:succeeded", "99:running"}; !slices.Equal(got, want) {
		t.Fatalf("after delete: %v, want %v", got, want)
	}
	running.Status, running.EndedAt = OpSucceeded, t0.Add(time.Hour)
	if _, err := s.UpsertOperation(running); err != nil {
		t.Fatal(err)
	}
	if got, want := ids(svc.ID), []string{"99:succeeded"}; !slices.Equal(got, want) {
		t.Fatalf("after the last one ended: %v, want %v", got, want)
	}
	// Operations without a service (refused creates) count as one
	// service's.
	for i := 60; i < 65; i++ {
		if _, err := s.UpsertOperation(op("", i, OpFailed)); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := ids(""), []string{"62:failed", "63:failed", "64:failed"}; !slices.Equal(got, want) {
		t.Fatalf("operations without a service: %v, want %v", got, want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The journal replays the trimming.
	s, err = Open(dir, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, want := ids(svc.ID), []string{"99:succeeded"}; !slices.Equal(got, want) {
		t.Fatalf("reloaded: %v, want %v", got, want)
	}

	// A negative history keeps everything.
	all := TestStore(t, Options{OperationHistory: -1})
	_, svcs = seed(t, all, 1)
	for i := 1; i <= 12; i++ {
		if _, err := all.UpsertOperation(op(svcs[0].ID, i, OpSucceeded)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(collect(t, must(all.OperationsByService(nil, svcs[0].ID)), nil)); n != 12 {
		t.Errorf("OperationHistory -1 kept %d of 12", n)
	}
}
