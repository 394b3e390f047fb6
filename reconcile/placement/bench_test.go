package placement

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/manoctl/manoctl/schema/descriptor"
)

// Run with:
//
//	go test ./reconcile/placement/ -run '^$' -bench . -benchmem

// hotPath is the instantiation hot path: three VNFs over three VIMs.
func hotPath(b *testing.B) ([]VIM, Request) {
	vims := []VIM{
		{UUID: athens, Name: "Athens", Endpoint: "10.100.32.200", CoresTotal: 64, CoresUsed: 20, MemoryTotalMB: 131072, MemoryUsedMB: 40960},
		{UUID: aveiro, Name: "Aveiro", Endpoint: "10.1.10.0", CoresTotal: 32, CoresUsed: 4, MemoryTotalMB: 65536, MemoryUsedMB: 8192},
		{UUID: ghent, Name: "Ghent", Endpoint: "8.8.8.8", CoresTotal: 48, CoresUsed: 40, MemoryTotalMB: 98304, MemoryUsedMB: 81920},
	}
	req := Request{Functions: []Function{
		{ID: "f1", VNFID: "vnf1", Demand: descriptor.Demand{Cores: 2, MemoryMB: 2048}, VDUs: 2},
		{ID: "f2", VNFID: "vnf2", Demand: descriptor.Demand{Cores: 4, MemoryMB: 4096}, VDUs: 2},
		{ID: "f3", VNFID: "vnf3", Demand: descriptor.Demand{Cores: 1, MemoryMB: 1024}, VDUs: 1},
	}}
	return vims, req
}

// BenchmarkPlace3x3 is one mano.service.place: a fresh pool from the
// compute.list reply, the search and the full explanation.
func BenchmarkPlace3x3(b *testing.B) {
	for _, p := range []Policy{LoadBalanced, FillFirst, Priority, FirstFit} {
		b.Run(string(p), func(b *testing.B) {
			vims, req := hotPath(b)
			req.Policy, req.Priority = p, []string{"Aveiro", "Athens"}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Place(vims, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPlace3x3Preferences adds soft preferences, which calibrate the
// weights with two extra searches.
func BenchmarkPlace3x3Preferences(b *testing.B) {
	vims, req := hotPath(b)
	req.Preferences = []Preference{{Objective: Proximity, Actors: [2]string{ActorSource, "vnf1"}}, {Objective: Affinity, Actors: [2]string{"vnf1", "vnf2"}}}
	req.Ingress = "10.100.10.100"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Place(vims, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPoolPlace3x3 is the same request against a pool built once.
func BenchmarkPoolPlace3x3(b *testing.B) {
	vims, req := hotPath(b)
	pool, err := NewPool(vims)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := pool.Place(req); err != nil {
			b.Fatal(err)
		}
	}
}

// planPool is a plan-scale VIM pool: n heterogeneous VIMs, large enough
// for 10,000 small services.
func planPool(n int) []VIM {
	rng := rand.New(rand.NewPCG(42, 7))
	vims := make([]VIM, n)
	for i := range vims {
		cores := 16384 << rng.IntN(2)
		vims[i] = VIM{UUID: fmt.Sprintf("vim-%02d", i), Name: fmt.Sprintf("pop%02d", i),
			Endpoint:   fmt.Sprintf("10.%d.%d.1", i%4, i),
			CoresTotal: cores, CoresUsed: rng.IntN(cores / 4),
			MemoryTotalMB: float64(cores) * 2048, MemoryUsedMB: float64(rng.IntN(cores/4) * 2048)}
	}
	return vims
}

// planServices are 10,000 services of one to four VNFs.
func planServices(n int) []Request {
	rng := rand.New(rand.NewPCG(1, 2))
	reqs := make([]Request, n)
	for i := range reqs {
		nf := 1 + rng.IntN(4)
		fns := make([]Function, nf)
		for j := range fns {
			fns[j] = Function{ID: fmt.Sprintf("s%d-f%d", i, j), VNFID: fmt.Sprintf("vnf%d", j), VDUs: 1 + rng.IntN(2),
				Demand: descriptor.Demand{Cores: 1 + rng.IntN(4), MemoryMB: float64(1024 * (1 + rng.IntN(4)))}}
		}
		reqs[i] = Request{Functions: fns, Brief: true}
	}
	return reqs
}

// BenchmarkPlan10k is `manoctl plan` at scale: 10,000 services placed one
// after another against one shared pool, each committed so the next sees
// its usage. One op is the whole sequence; ns/service is per service.
func BenchmarkPlan10k(b *testing.B) {
	const services = 10000
	for _, nv := range []int{8, 32} {
		for _, brief := range []bool{true, false} {
			b.Run(fmt.Sprintf("vims=%d/brief=%v", nv, brief), func(b *testing.B) {
				vims, reqs := planPool(nv), planServices(services)
				for i := range reqs {
					reqs[i].Brief = brief
				}
				nodes := 0
				b.ReportAllocs()
				for b.Loop() {
					pool, err := NewPool(vims)
					if err != nil {
						b.Fatal(err)
					}
					nodes = 0
					for _, req := range reqs {
						res, err := pool.Place(req)
						if err != nil {
							b.Fatal(err)
						}
						nodes += res.Nodes
						if err := pool.Commit(res); err != nil {
							b.Fatal(err)
						}
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*services), "ns/service")
				b.ReportMetric(float64(nodes)/services, "nodes/service")
			})
		}
	}
}

// BenchmarkExact8x10 is a large request for exact search: 8 VNFs over 10
// VIMs, 20 random instances per op.
func BenchmarkExact8x10(b *testing.B) {
	for _, p := range []Policy{LoadBalanced, FillFirst, Priority} {
		b.Run(string(p), func(b *testing.B) {
			type instance struct {
				vims []VIM
				req  Request
			}
			var ins []instance
			for seed := range 20 {
				v, r := randomInstance(8, 10, p, uint64(seed))
				ins = append(ins, instance{v, r})
			}
			nodes := 0
			for b.Loop() {
				nodes = 0
				for _, in := range ins {
					res, err := Place(in.vims, in.req)
					if err != nil {
						b.Fatal(err)
					}
					nodes += res.Nodes
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ins)), "ns/request")
			b.ReportMetric(float64(nodes)/float64(len(ins)), "nodes/request")
		})
	}
}

// randomInstance draws nf functions over nv VIMs with a fixed seed.
func randomInstance(nf, nv int, p Policy, seed uint64) ([]VIM, Request) {
	rng := rand.New(rand.NewPCG(seed, 2))
	vims := make([]VIM, nv)
	for i := range vims {
		cores := 16 << rng.IntN(2)
		vims[i] = VIM{UUID: fmt.Sprint(i), Name: fmt.Sprint(i), CoresTotal: cores, CoresUsed: rng.IntN(cores),
			MemoryTotalMB: 32768, MemoryUsedMB: float64(rng.IntN(32768))}
	}
	req := Request{Policy: p, Priority: []string{"2", "0", "4"}}
	for i := range nf {
		req.Functions = append(req.Functions, Function{ID: fmt.Sprint(i), VDUs: 1 + rng.IntN(3),
			Demand: descriptor.Demand{Cores: 1 + rng.IntN(4), MemoryMB: float64(1024 * (1 + rng.IntN(4)))}})
	}
	return vims, req
}
