package emulator_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/manoctl/manoctl/adapters/emulator"
	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/schema/descriptor"
)

// The engine's target is 2,000 sonata-demo instantiate+terminate cycles per
// second on 2 cores with the embedded emulator. These benchmarks measure
// the emulator's share over membus, through bus.Endpoint as the FLM and SLM
// use it:
//
//	go test -run '^$' -bench . -benchmem -cpu 1,2 ./adapters/emulator/
//
// Besides wall time they report cpu-ns/op, the process CPU time (client,
// bus, emulator and GC) per op: the share of the 2-core budget the IA side
// costs, and a figure that survives a machine shared with other work.

// cpuMeter reports process CPU time per op when the benchmark ends.
func cpuMeter(b *testing.B) func() {
	start, ok := processCPU()
	return func() {
		end, _ := processCPU()
		if ok && b.N > 0 {
			b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

// benchInventory has room for any number of functions.
var benchInventory = emulator.Inventory{VIMs: []emulator.VIMConfig{
	{Name: "bench-1", City: "Athens", Cores: 1 << 30, MemoryMB: 1 << 40},
	{Name: "bench-2", City: "Paderborn", Cores: 1 << 30, MemoryMB: 1 << 40},
}}

type benchFixture struct {
	h      *harness
	vim    string
	nsd    map[string]any
	vnfds  []map[string]any // sonata-demo VNFDs without instance_uuid
	serial atomic.Uint64
}

func newBenchFixture(b *testing.B, opts ...emulator.Option) *benchFixture {
	f := &benchFixture{h: newHarness(b, benchInventory, opts...), vim: emulator.DeriveVIMUUID("bench-1")}
	f.nsd = loadDoc(b, "sonata-demo.yml")
	for _, file := range []string{"firewall-vnfd.yml", "iperf-vnfd.yml", "tcpdump-vnfd.yml"} {
		f.vnfds = append(f.vnfds, loadDoc(b, file))
	}
	return f
}

func (f *benchFixture) id(kind byte) string {
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", kind, f.serial.Add(1))
}

// completed checks a COMPLETED status reply.
func completed(m *bus.Message, err error) error {
	if err != nil {
		return err
	}
	var r map[string]any
	if err := m.Decode(&r); err != nil {
		return fmt.Errorf("%s: %w", m.Topic, err)
	}
	if r["request_status"] != "COMPLETED" {
		return fmt.Errorf("%s: %v", m.Topic, r)
	}
	return nil
}

// liveWindow bounds the functions a deploy benchmark keeps deployed: the
// engine removes what it deploys, and an ever-growing heap would measure
// the garbage collector instead of the emulator.
const liveWindow = 1000

// BenchmarkFunctionDeploy is one infrastructure.function.deploy
// request/reply at a time, each deploying a new sonata-demo firewall; the
// function deployed liveWindow iterations earlier is dropped through the
// Go API (LoseFunction, a map delete) to keep the state steady.
func BenchmarkFunctionDeploy(b *testing.B) {
	f := newBenchFixture(b)
	ctx := context.Background()
	svc := f.id(1)
	f.h.prepare(svc, f.vim)
	ids := make([]string, liveWindow)
	b.ReportAllocs()
	b.ResetTimer()
	defer cpuMeter(b)()
	for i := 0; i < b.N; i++ {
		id := f.id(2)
		vnfd := descriptor.Copy(f.vnfds[0])
		vnfd["instance_uuid"] = id
		if err := completed(f.h.cl.Request(ctx, bus.TopicIAFunctionDeploy, map[string]any{"service_instance_id": svc, "vim_uuid": f.vim, "vnfd": vnfd})); err != nil {
			b.Fatal(err)
		}
		if old := ids[i%liveWindow]; old != "" {
			f.h.emu.LoseFunction(old)
		}
		ids[i%liveWindow] = id
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deploys/s")
}

// BenchmarkFunctionDeployParallel keeps 4 deploys per CPU in flight, as
// the FLM does for concurrent services; each worker keeps its own window.
func BenchmarkFunctionDeployParallel(b *testing.B) {
	f := newBenchFixture(b)
	ctx := context.Background()
	svc := f.id(1)
	f.h.prepare(svc, f.vim)
	b.ReportAllocs()
	b.SetParallelism(4)
	b.ResetTimer()
	defer cpuMeter(b)()
	b.RunParallel(func(pb *testing.PB) {
		ids := make([]string, liveWindow/8)
		for i := 0; pb.Next(); i++ {
			id := f.id(2)
			vnfd := descriptor.Copy(f.vnfds[0])
			vnfd["instance_uuid"] = id
			if err := completed(f.h.cl.Request(ctx, bus.TopicIAFunctionDeploy, map[string]any{"service_instance_id": svc, "vim_uuid": f.vim, "vnfd": vnfd})); err != nil {
				b.Error(err) // FailNow is not allowed off the benchmark goroutine
				return
			}
			if old := ids[i%len(ids)]; old != "" {
				f.h.emu.LoseFunction(old)
			}
			ids[i%len(ids)] = id
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deploys/s")
}

// lifecycle runs the IA calls of one sonata-demo instantiation and
// termination, in the SLM's order, with the three deploys in parallel.
func (f *benchFixture) lifecycle(ctx context.Context) error {
	cl := f.h.cl
	svc := f.id(1)
	if _, err := cl.Request(ctx, bus.TopicIAComputeList, map[string]any{}); err != nil {
		return err
	}
	if err := completed(cl.Request(ctx, bus.TopicIAServicePrepare, map[string]any{"instance_id": svc, "vim_list": []any{
		map[string]any{"uuid": f.vim, "vm_images": []any{}},
	}})); err != nil {
		return err
	}
	var calls [3]*bus.Call
	vnfds := make([]any, 3)
	for i, base := range f.vnfds {
		vnfd := descriptor.Copy(base)
		vnfd["instance_uuid"] = f.id(2)
		vnfds[i] = vnfd
		c, err := cl.Start(ctx, bus.TopicIAFunctionDeploy, map[string]any{"service_instance_id": svc, "vim_uuid": f.vim, "vnfd": vnfd})
		if err != nil {
			return err
		}
		defer c.Close()
		calls[i] = c
	}
	for _, c := range calls {
		select {
		case r := <-c.Replies():
			if err := completed(r, nil); err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for _, step := range []struct {
		topic   string
		payload any
	}{
		{bus.TopicIAChainConfigure, map[string]any{"service_instance_id": svc, "nsd": f.nsd, "vnfds": vnfds, "vnfrs": []any{}}},
		{bus.TopicIAWanConfigure, map[string]any{"service_instance_id": svc, "vim_list": []any{map[string]any{"uuid": f.vim, "order": 0}}}},
		{bus.TopicIAWanDeconfigure, map[string]any{"service_instance_id": svc}},
		{bus.TopicIAChainDeconfigure, map[string]any{"service_instance_id": svc}},
		{bus.TopicIAServiceRemove, map[string]any{"instance_uuid": svc}},
	} {
		if err := completed(cl.Request(ctx, step.topic, step.payload)); err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkServiceLifecycle is one service at a time: 10 IA requests per
// op (compute.list, prepare, 3 deploys, chain, wan, unwan, unchain,
// remove).
func BenchmarkServiceLifecycle(b *testing.B) {
	f := newBenchFixture(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	defer cpuMeter(b)()
	for i := 0; i < b.N; i++ {
		if err := f.lifecycle(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "services/s")
}

// BenchmarkServiceLifecycleParallel runs services concurrently (4 per
// CPU), as the engine does under load.
func BenchmarkServiceLifecycleParallel(b *testing.B) {
	f := newBenchFixture(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(4)
	b.ResetTimer()
	defer cpuMeter(b)()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := f.lifecycle(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "services/s")
	if s := f.h.emu.Snapshot(); len(s.Functions) != 0 || len(s.Services) != 0 {
		b.Fatalf("%d functions and %d services left", len(s.Functions), len(s.Services))
	}
}
