package plan_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/manoctl/manoctl/reconcile/desired"
	"github.com/manoctl/manoctl/reconcile/placement"
	"github.com/manoctl/manoctl/reconcile/plan"
	"github.com/manoctl/manoctl/reconcile/records"
	"github.com/manoctl/manoctl/schema/descriptor"
)

// fixture builds n desired services and, when running, n matching ready
// services in a records store: the plan's worst realistic case is every
// service compared and found unchanged.
func fixture(tb testing.TB, n int, running bool) (*desired.State, *records.Store) {
	tb.Helper()
	demo := records.DemoDescriptors()
	store := records.NewMemStore()
	if _, err := store.Write(func(txn *records.WriteTxn) error { return demo.StoreTxn(store, txn) }); err != nil {
		tb.Fatal(err)
	}
	st := &desired.State{DescriptorDigests: map[string]string{}}
	vims := []string{desired.VIMUUID("athens"), desired.VIMUUID("aveiro"), desired.VIMUUID("ghent")}
	for i, name := range []string{"athens", "aveiro", "ghent"} {
		st.VIMs = append(st.VIMs, desired.VIM{Name: name, UUID: vims[i], Cores: 1 << 20, MemoryMB: 1 << 30})
	}
	var fns []desired.Function
	for i, v := range demo.VNFDs {
		vd, _ := descriptor.ParseVNFDResources(v)
		fns = append(fns, desired.Function{VNFID: []string{"vnf_firewall", "vnf_iperf", "vnf_tcpdump"}[i], VNFD: v,
			VNFDRef: vd.Identity, VNFDDigest: demo.VNFDDigests[i], Demand: vd.Demand()})
	}
	const batch = 1000
	for lo := 0; lo < n; lo += batch {
		_, err := store.Write(func(txn *records.WriteTxn) error {
			for i := lo; i < min(lo+batch, n); i++ {
				name := fmt.Sprintf("svc-%06d", i)
				st.Services = append(st.Services, &desired.Service{
					Name: name, NSD: demo.NSD, NSDRef: descriptor.IdentityOf(demo.NSD), NSDDigest: demo.NSDDigest,
					Functions: fns, Instances: map[string]int{"vnf_firewall": 1, "vnf_iperf": 1, "vnf_tcpdump": 1},
					SpecDigest: "sha256:spec", Ingresses: nil,
				})
				if !running {
					continue
				}
				svc, fs := demo.Service(name, vims[i%3], i)
				svc.Ingresses = nil
				if err := store.UpsertServiceWithFunctionsTxn(txn, svc, fs); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	return st, store
}

func benchPlan(b *testing.B, n int, running bool) {
	st, store := fixture(b, n, running)
	snap := store.Snapshot()
	// Building the fixture leaves a large heap of garbage; collect it
	// now rather than charge it to the first planned op (with b.N = 1,
	// the only one).
	runtime.GC()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p, err := plan.Compute(plan.Input{Desired: st, Records: plan.FromSnapshot(snap, false), DefaultPolicy: placement.LoadBalanced, Now: time.Now()})
		if err != nil {
			b.Fatal(err)
		}
		if running && p.HasChanges() {
			b.Fatalf("unchanged fixture planned %d changes, e.g. %+v", len(p.Changes), p.Changes[0])
		}
		if !running && p.Summary.Create != n {
			b.Fatalf("planned %+v", p.Summary)
		}
	}
}

// BenchmarkPlan10kUnchanged: 10,000 desired services against 10,000
// matching records (target < 0.5 s).
func BenchmarkPlan10kUnchanged(b *testing.B) { benchPlan(b, 10000, true) }

// BenchmarkPlan100kUnchanged: the same at 100,000 (target < 5 s).
func BenchmarkPlan100kUnchanged(b *testing.B) { benchPlan(b, 100000, true) }

// BenchmarkPlan10kCreate: 10,000 services to create, each placed (3
// functions over 3 VIMs) in the preview.
func BenchmarkPlan10kCreate(b *testing.B) { benchPlan(b, 10000, false) }
