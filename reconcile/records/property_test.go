package records

import (
	"os"
	"testing"

	"github.com/google/uuid"
	"pgregory.net/rapid"

	"github.com/manoctl/manoctl/schema/descriptor"
)

// TestProperty_ReplayEqualsMemory drives a durable store with random
// transactions (upserts and deletes in every table, multi-record
// transactions, aborts, rejected writes, snapshots in between) and checks
// that reopening the state directory — snapshot plus journal replay —
// gives exactly the in-memory state, at the same index.
func TestProperty_ReplayEqualsMemory(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		dir, err := os.MkdirTemp("", "records-prop-")
		if err != nil {
			rt.Fatal(err)
		}
		defer os.RemoveAll(dir)
		s, err := Open(dir, Options{SnapshotEvery: -1, SnapshotBytes: -1})
		if err != nil {
			rt.Fatal(err)
		}
		defer func() { s.Close() }()

		demo := DemoDescriptors()
		if _, err := s.Write(func(txn *WriteTxn) error { return demo.StoreTxn(s, txn) }); err != nil {
			rt.Fatal(err)
		}
		var services, functions []string
		names := []string{"", "a", "b", "c"}
		vims := []string{"", "vim-1", "vim-2"}

		pickService := func(rt *rapid.T) string {
			if len(services) == 0 {
				return uuid.NewString()
			}
			return rapid.SampledFrom(services).Draw(rt, "service")
		}
		newService := func(rt *rapid.T) (*Service, []*Function) {
			svc, fns := demo.Service(rapid.SampledFrom(names).Draw(rt, "name"), rapid.SampledFrom(vims).Draw(rt, "vim"), rapid.IntRange(0, 1000).Draw(rt, "n"))
			k := rapid.IntRange(0, 3).Draw(rt, "functions")
			svc.Functions = svc.Functions[:k]
			return svc, fns[:k]
		}
		track := func(svc *Service, fns []*Function) {
			services = append(services, svc.ID)
			for _, f := range fns {
				functions = append(functions, f.ID)
			}
		}

		rt.Repeat(map[string]func(*rapid.T){
			"create service": func(rt *rapid.T) {
				svc, fns := newService(rt)
				if _, err := s.Write(func(txn *WriteTxn) error { return s.UpsertServiceWithFunctionsTxn(txn, svc, fns) }); err == nil {
					track(svc, fns)
				}
			},
			"update service": func(rt *rapid.T) {
				cur, _ := s.ServiceByID(nil, pickService(rt))
				if cur == nil {
					return
				}
				c := cur.Copy()
				c.Status = rapid.SampledFrom(ServiceStatuses).Draw(rt, "status")
				c.Error = rapid.StringN(0, 20, -1).Draw(rt, "error")
				c.Version++
				c.Egresses = append(c.Egresses, Endpoint{Location: "Ghent", NAP: "10.1.1.1"})
				s.UpsertService(c)
			},
			"delete service": func(rt *rapid.T) {
				s.DeleteService(pickService(rt))
			},
			"update function": func(rt *rapid.T) {
				if len(functions) == 0 {
					return
				}
				cur, _ := s.FunctionByID(nil, rapid.SampledFrom(functions).Draw(rt, "function"))
				if cur == nil {
					return
				}
				c := cur.Copy()
				c.VIM = rapid.SampledFrom(vims).Draw(rt, "vim")
				c.Status = rapid.SampledFrom([]RecordStatus{RecordNormal, RecordFailed, RecordTerminated}).Draw(rt, "status")
				if len(c.VDUs) > 0 && len(c.VDUs[0].VNFCs) > 0 {
					cps := c.VDUs[0].VNFCs[0].ConnectionPoints
					c.VDUs[0].VNFCs[0].ConnectionPoints = cps[:rapid.IntRange(0, len(cps)).Draw(rt, "cps")]
				}
				s.UpsertFunction(c)
			},
			"delete function": func(rt *rapid.T) {
				if len(functions) > 0 {
					s.DeleteFunction(rapid.SampledFrom(functions).Draw(rt, "function"))
				}
			},
			"vim": func(rt *rapid.T) {
				id := rapid.SampledFrom([]string{"v1", "v2", "v3"}).Draw(rt, "uuid")
				if rapid.Bool().Draw(rt, "delete") {
					s.DeleteVIM(id)
					return
				}
				s.UpsertVIM(&VIM{UUID: id, Name: rapid.SampledFrom(names).Draw(rt, "name"),
					CoresTotal: rapid.Int64Range(-1, 64).Draw(rt, "cores"), MemoryUsedMB: rapid.Int64().Draw(rt, "mem")})
			},
			"plugin": func(rt *rapid.T) {
				id := rapid.SampledFrom([]string{"p1", "p2"}).Draw(rt, "uuid")
				if rapid.Bool().Draw(rt, "delete") {
					s.DeletePlugin(id)
					return
				}
				s.UpsertPlugin(&Plugin{UUID: id, Name: "son-plugin.X", State: rapid.SampledFrom([]string{"REGISTERED", "RUNNING", "None"}).Draw(rt, "state"),
					RegisteredAt: s.now(), Description: rapid.String().Draw(rt, "description")})
			},
			"operation": func(rt *rapid.T) {
				steps := rapid.SliceOfN(rapid.Custom(func(rt *rapid.T) Step {
					return Step{Name: rapid.SampledFrom([]string{"validate", "ia_prepare", "deploy"}).Draw(rt, "step"),
						Status: rapid.SampledFrom(StepStatuses).Draw(rt, "status"), Attempt: rapid.IntRange(0, 3).Draw(rt, "attempt"),
						StartedAt: s.now(), Error: rapid.StringN(0, 8, -1).Draw(rt, "err")}
				}), 0, 4).Draw(rt, "steps")
				op := &Operation{ID: rapid.SampledFrom([]string{"o1", "o2"}).Draw(rt, "id"), Kind: OpInstantiate,
					Status: rapid.SampledFrom(OperationStatuses).Draw(rt, "status"), Steps: steps, RequestedAt: s.now()}
				if len(services) > 0 {
					op.ServiceID = pickService(rt)
				}
				s.UpsertOperation(op)
			},
			"descriptor": func(rt *rapid.T) {
				doc := descriptor.Doc{"vendor": "v", "name": "n", "version": "1", "body": docValue().Draw(rt, "body")}
				s.UpsertDescriptor(rapid.SampledFrom([]DescriptorKind{KindNSD, KindVNFD}).Draw(rt, "kind"), doc)
			},
			"prune": func(rt *rapid.T) {
				s.Write(func(txn *WriteTxn) error { _, err := s.PruneDescriptorsTxn(txn); return err })
			},
			"multi and abort": func(rt *rapid.T) {
				txn, err := s.Begin()
				if err != nil {
					rt.Fatal(err)
				}
				defer txn.Abort()
				svc, fns := newService(rt)
				if err := s.UpsertServiceWithFunctionsTxn(txn, svc, fns); err != nil {
					return
				}
				s.DeleteServiceTxn(txn, pickService(rt))
				s.UpsertVIMTxn(txn, &VIM{UUID: "v1", City: "Athens"})
				if rapid.Bool().Draw(rt, "abort") {
					return
				}
				if _, err := txn.Commit(); err == nil {
					track(svc, fns)
				}
			},
			"compact": func(rt *rapid.T) {
				if err := s.Compact(); err != nil {
					rt.Fatal(err)
				}
			},
			"reopen": func(rt *rapid.T) {
				want, index := dump(rt, s.StateStore), s.LatestIndex()
				if err := s.Close(); err != nil {
					rt.Fatal(err)
				}
				s, err = Open(dir, Options{SnapshotEvery: -1, SnapshotBytes: -1})
				if err != nil {
					rt.Fatal(err)
				}
				if s.LatestIndex() != index {
					rt.Fatalf("index %d after reopen, want %d", s.LatestIndex(), index)
				}
				assertSameState(rt, want, dump(rt, s.StateStore))
			},
			"": func(rt *rapid.T) {
				// Invariants after every step: the durable snapshot is the
				// visible state (no commit is in flight between steps), and
				// the tables are consistent.
				if s.Snapshot().Index() != s.LatestIndex() {
					rt.Fatalf("snapshot %d, latest %d", s.Snapshot().Index(), s.LatestIndex())
				}
				checkConsistent(rt, s.StateStore)
			},
		})

		// Final check, through a read-only open (no truncation, no lock).
		want, index := dump(rt, s.StateStore), s.LatestIndex()
		ro, err := Open(dir, Options{ReadOnly: true})
		if err != nil {
			rt.Fatal(err)
		}
		if ro.LatestIndex() != index {
			rt.Fatalf("read-only index %d, want %d", ro.LatestIndex(), index)
		}
		assertSameState(rt, want, dump(rt, ro.StateStore))
	})
}

// docValue generates descriptor-like trees of every supported type.
func docValue() *rapid.Generator[any] {
	return rapid.Deferred(func() *rapid.Generator[any] {
		return rapid.OneOf(
			rapid.Map(rapid.String(), func(s string) any { return s }),
			rapid.Map(rapid.Int(), func(i int) any { return i }),
			rapid.Map(rapid.Float64(), func(f float64) any { return f }),
			rapid.Map(rapid.Bool(), func(b bool) any { return b }),
			rapid.Just[any](nil),
			rapid.Map(rapid.SliceOfN(docValue(), 0, 3), func(l []any) any { return l }),
			rapid.Map(rapid.MapOfN(rapid.StringN(0, 6, -1), docValue(), 0, 3), func(m map[string]any) any { return m }),
		)
	})
}
