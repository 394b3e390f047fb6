package embedded_test

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/manoctl/manoctl/adapters/embedded"
	"github.com/manoctl/manoctl/adapters/emulator"
	"github.com/manoctl/manoctl/reconcile/wire"
)

// bigInventory has room for thousands of concurrent sonata-demo services
// (3 cores and 6 GB each).
func bigInventory() emulator.Inventory {
	return emulator.Inventory{VIMs: []emulator.VIMConfig{
		{Name: "athens", City: "Athens", Cores: 1 << 20, MemoryMB: 1 << 30},
		{Name: "aveiro", City: "Aveiro", Cores: 1 << 20, MemoryMB: 1 << 30},
		{Name: "ghent", City: "Ghent", Cores: 1 << 20, MemoryMB: 1 << 30},
	}}
}

// BenchmarkInstantiateTerminate measures whole sonata-demo lifecycles
// (instantiate to READY, then terminate to READY) through the embedded
// platform: membus, the emulator with no latency, records in memory. It
// reports services/s and the p50/p99 instantiation latency. The commands
// that run the embedded platform set GOGC to 200 (cmd/manoctl/longrun.go):
// GOGC=200 go test -bench ... measures what they get.
func BenchmarkInstantiateTerminate(b *testing.B) {
	p, _ := start(b, func(c *embedded.Config) {
		c.Inventory = bigInventory()
		c.EmulatorOptions = append(c.EmulatorOptions, emulator.WithConcurrency(8))
	})
	req := demo(b)
	ctx := context.Background()
	par := 64
	var mu sync.Mutex
	var lat []time.Duration
	var next atomic.Int64
	b.ResetTimer()
	cpu0 := cpuTime()
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < par; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				t0 := time.Now()
				res, err := p.GK.Create(ctx, req, nil)
				d := time.Since(t0)
				if err != nil || !res.OK() {
					b.Errorf("create: %v %+v", err, res)
					return
				}
				if tr, err := p.GK.Terminate(ctx, res.Final.NSR["id"].(string), nil); err != nil || !tr.OK() {
					b.Errorf("terminate: %v %+v", err, tr)
					return
				}
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	reportLatency(b, lat, el)
	// Wall-clock rates swing with whatever else runs on the machine; CPU
	// time per service does not, and 2 cores / cpu-ms-per-service is the
	// rate an idle 2-core machine reaches.
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/service")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkInstantiateLatency runs one service at a time: the latency of
// an instantiation on an idle platform.
func BenchmarkInstantiateLatency(b *testing.B) {
	p, _ := start(b, func(c *embedded.Config) { c.Inventory = bigInventory() })
	req := demo(b)
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	t0 := time.Now()
	for i := 0; i < b.N; i++ {
		s := time.Now()
		res, err := p.GK.Create(ctx, req, nil)
		lat = append(lat, time.Since(s))
		if err != nil || !res.OK() {
			b.Fatalf("create: %v %+v", err, res)
		}
		p.GK.Terminate(ctx, res.Final.NSR["id"].(string), nil)
	}
	el := time.Since(t0)
	b.StopTimer()
	reportLatency(b, lat, el)
}

func reportLatency(b *testing.B, lat []time.Duration, el time.Duration) {
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(len(lat))/el.Seconds(), "services/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// TestThousandConcurrentInstantiations: 1,000 instantiations at once all
// end READY, and terminating them all leaves the emulator empty.
func TestThousandConcurrentInstantiations(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	p, rec := start(t, func(c *embedded.Config) {
		c.Inventory = bigInventory()
		c.EmulatorOptions = append(c.EmulatorOptions, emulator.WithConcurrency(8))
	})
	req := demo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const n = 1000
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := p.GK.Create(ctx, req, nil)
			if err == nil {
				err = res.Err()
			}
			if err == nil {
				ids[i] = res.Final.NSR["id"].(string)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("instantiation %d: %v", i, err)
		}
	}
	if got := len(p.IA.Snapshot().Functions); got != 3*n {
		t.Fatalf("%d functions deployed, want %d", got, 3*n)
	}
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := p.GK.Terminate(ctx, ids[i], nil)
			if err == nil {
				err = res.Err()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("termination %d: %v", i, err)
		}
	}
	if got := len(p.IA.Snapshot().Functions); got != 0 {
		t.Fatalf("%d functions left", got)
	}
	_ = rec
	_ = wire.StatusMessage{}
}
