package records

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
)

// Benchmarks for the figures of issue 6 (no timing assertions anywhere;
// `make bench` or the commands in README.md print them):
//
//	BenchmarkCommit           write throughput, 1 and 16 concurrent writers
//	BenchmarkOpen             loading 10,000 / 100,000 services, and bytes per service
//	BenchmarkSnapshotRead     reading every service and its functions from a snapshot
//	BenchmarkSnapshotWrite    writing a snapshot file

// benchDirs caches built state directories by size: building 100,000
// services takes longer than loading them, so it is done once per run, or
// once for all runs when MANOCTL_BENCH_STATE names a directory to keep
// them in.
var (
	benchMu   sync.Mutex
	benchDirs = map[string]string{}
	benchRoot string
)

// benchStateDir returns a state directory of n demo services whose ids are
// UUIDv7 (records.NewID, what manoctl generates) or, with v4, random
// UUIDv4 (what a 2017 SLM or an external gatekeeper would produce). Each
// service has its instantiate operation and, with history > 1, that many
// operations in all (the others scale operations).
func benchStateDir(b *testing.B, n int, v4 bool, history int) string {
	b.Helper()
	benchMu.Lock()
	defer benchMu.Unlock()
	// The "-ops" suffix keeps directories an older layout (services
	// without their operations) left in MANOCTL_BENCH_STATE from being
	// reused.
	key := fmt.Sprintf("%d-v7-ops", n)
	if v4 {
		key = fmt.Sprintf("%d-v4-ops", n)
	}
	if history > 1 {
		key += strconv.Itoa(history)
	}
	if dir, ok := benchDirs[key]; ok {
		return dir
	}
	root := os.Getenv("MANOCTL_BENCH_STATE")
	if root == "" {
		if benchRoot == "" {
			var err error
			if benchRoot, err = os.MkdirTemp("", "records-bench-"); err != nil {
				b.Fatal(err)
			}
		}
		root = benchRoot
	}
	dir := filepath.Join(root, key)
	if snaps, _ := filepath.Glob(filepath.Join(dir, "snapshot-*.snap")); len(snaps) > 0 {
		// Kept from an earlier run (MANOCTL_BENCH_STATE).
		benchDirs[key] = dir
		return dir
	}
	start := time.Now()
	s, err := Open(dir, Options{SnapshotEvery: -1, SnapshotBytes: -1})
	if err != nil {
		b.Fatal(err)
	}
	demo := DemoDescriptors()
	if v4 {
		demo.NewID = uuid.NewString
	}
	if _, err := s.Write(func(txn *WriteTxn) error { return demo.StoreTxn(s, txn) }); err != nil {
		b.Fatal(err)
	}
	vims := []string{uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()}
	const perTxn = 1000
	for i := 0; i < n; i += perTxn {
		_, err := s.Write(func(txn *WriteTxn) error {
			for k := i; k < min(i+perTxn, n); k++ {
				svc, fns := demo.Service(fmt.Sprintf("demo-%d", k), vims[k%len(vims)], k)
				if err := s.UpsertServiceWithFunctionsTxn(txn, svc, fns); err != nil {
					return err
				}
				if err := s.UpsertOperationTxn(txn, demo.Instantiation(svc, txn.Now())); err != nil {
					return err
				}
				for h := 1; h < history; h++ {
					op := demo.Instantiation(svc, txn.Now().Add(time.Duration(h)*time.Minute))
					op.Kind, op.Steps = OpScale, op.Steps[:8]
					if err := s.UpsertOperationTxn(txn, op); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Compact(); err != nil {
		b.Fatal(err)
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	var size int64
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && filepath.Ext(e.Name()) == ".snap" {
			size += fi.Size()
		}
	}
	b.Logf("built %s services in %v (snapshot %.1f MB)", key, time.Since(start).Round(time.Millisecond), float64(size)/1e6)
	benchDirs[key] = dir
	return dir
}

func cleanupBench() {
	if benchRoot != "" {
		os.RemoveAll(benchRoot)
	}
}

// BenchmarkOpen loads a state directory of n services (3 functions each,
// sonata-demo-like descriptors shared, and the 12-step instantiate
// operation that created each): the snapshot is read and decoded
// in parallel and inserted into memdb. B/service is the live heap the
// loaded store takes, per service (its 3 functions, its operation and
// index entries included), measured with runtime.MemStats after a GC.
//
// ids=v7 is what manoctl writes (NewID); ids=v4 shows the cost of random
// ids (external gatekeeper, 2017 SLM): memdb inserts them out of order.
// gc=on loads with Options.LoadWithGC. process=fresh loads in a new
// process each time, as every CLI command does: its heap starts empty, so
// the load also pays the kernel for each new page, which a process that
// loaded before reuses (ms/load is the load alone, ns/op includes
// starting the process). operations=N gives each service the most
// history Options.OperationHistory keeps by default: its instantiation
// and N-1 scale operations, what a long-lived daemon's records reach.
func BenchmarkOpen(b *testing.B) {
	cases := []struct {
		n             int
		v4, gc, fresh bool
		history       int
	}{{10_000, false, false, false, 1}, {100_000, false, false, false, 1}, {100_000, false, false, true, 1},
		{100_000, true, false, false, 1}, {100_000, false, true, false, 1},
		{100_000, false, false, true, DefaultOperationHistory}}
	for _, c := range cases {
		name := fmt.Sprintf("services=%d/ids=v7", c.n)
		if c.v4 {
			name = fmt.Sprintf("services=%d/ids=v4", c.n)
		}
		if c.gc {
			name += "/gc=on"
		}
		if c.fresh {
			name += "/process=fresh"
		}
		if c.history > 1 {
			name += fmt.Sprintf("/operations=%d", c.history)
		}
		b.Run(name, func(b *testing.B) {
			n := c.n
			dir := benchStateDir(b, n, c.v4, c.history)
			if c.fresh {
				benchOpenFresh(b, dir, n)
				return
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			b.ResetTimer()
			cpu0 := cpuTime()
			var s *Store
			for i := 0; i < b.N; i++ {
				if s != nil {
					s.Close()
					s = nil
				}
				var err error
				if s, err = Open(dir, Options{LoadWithGC: c.gc}); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			cpu := cpuTime() - cpu0
			if s.Recovery().SnapshotIndex == 0 {
				b.Fatalf("loaded without snapshot: %+v", s.Recovery())
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(n), "B/service")
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/load")
			b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/load")
			runtime.KeepAlive(s)
			s.Close()
		})
	}
}

// benchOpenFresh runs TestOpenInFreshProcess in a new test process per
// iteration and reports what it measured.
func benchOpenFresh(b *testing.B, dir string, n int) {
	var wall, cpu time.Duration
	var heap uint64
	for i := 0; i < b.N; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestOpenInFreshProcess$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "MANOCTL_OPEN_FRESH="+dir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("fresh process: %v\n%s", err, out)
		}
		var w, c int64
		var h uint64
		line := regexp.MustCompile(`open-fresh wall=(\d+) cpu=(\d+) heap=(\d+)`).FindSubmatch(out)
		if line == nil {
			b.Fatalf("fresh process printed no figures:\n%s", out)
		}
		fmt.Sscan(string(line[1]), &w)
		fmt.Sscan(string(line[2]), &c)
		fmt.Sscan(string(line[3]), &h)
		wall += time.Duration(w)
		cpu += time.Duration(c)
		heap = h
	}
	b.ReportMetric(float64(heap)/float64(n), "B/service")
	b.ReportMetric(float64(wall.Milliseconds())/float64(b.N), "ms/load")
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/load")
}

// TestOpenInFreshProcess is the child of BenchmarkOpen's process=fresh
// case; without MANOCTL_OPEN_FRESH it is skipped.
func TestOpenInFreshProcess(t *testing.T) {
	dir := os.Getenv("MANOCTL_OPEN_FRESH")
	if dir == "" {
		t.Skip("run by BenchmarkOpen/.../process=fresh")
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu0 := cpuTime()
	start := time.Now()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	wall, cpu := time.Since(start), cpuTime()-cpu0
	if s.Recovery().SnapshotIndex == 0 {
		t.Fatalf("loaded without snapshot: %+v", s.Recovery())
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	fmt.Printf("open-fresh wall=%d cpu=%d heap=%d\n", wall, cpu, after.HeapAlloc-before.HeapAlloc)
	runtime.KeepAlive(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkCommit measures write throughput: each operation is one
// transaction creating a service with its 3 functions and its operation
// record, committed durably (fsync'd). With many writers, commits share
// fsyncs (group commit); fsyncs/op shows how many.
func BenchmarkCommit(b *testing.B) {
	for _, writers := range []int{1, 16} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			s, err := Open(b.TempDir(), Options{SnapshotEvery: -1, SnapshotBytes: -1})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			demo := DemoDescriptors()
			if _, err := s.Write(func(txn *WriteTxn) error { return demo.StoreTxn(s, txn) }); err != nil {
				b.Fatal(err)
			}
			var n atomic.Int64
			commit := func() {
				k := int(n.Add(1))
				svc, fns := demo.Service("", "vim-1", k)
				op := &Operation{ID: uuid.NewString(), ServiceID: svc.ID, Kind: OpInstantiate, Status: OpRunning,
					Steps: []Step{{Name: "deploy_vnfs", Status: StepSucceeded, Attempt: 1}}}
				_, err := s.Write(func(txn *WriteTxn) error {
					if err := s.UpsertServiceWithFunctionsTxn(txn, svc, fns); err != nil {
						return err
					}
					return s.UpsertOperationTxn(txn, op)
				})
				if err != nil {
					b.Error(err)
				}
			}
			batches0 := s.journal.stats()
			b.ResetTimer()
			if writers == 1 {
				for i := 0; i < b.N; i++ {
					commit()
				}
			} else {
				b.SetParallelism(writers / runtime.GOMAXPROCS(0))
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						commit()
					}
				})
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
			b.ReportMetric(float64(s.journal.stats()-batches0)/float64(b.N), "fsyncs/op")
		})
	}
}

// BenchmarkSnapshotRead reads what plan reads from a snapshot: every
// service with its functions, either looking each service's functions up
// through the service index (lookup) or scanning both tables once (scan).
func BenchmarkSnapshotRead(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		s, err := Open(benchStateDir(b, n, false, 1), Options{ReadOnly: true})
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC() // the load's deferred collection, not the reads'
		for _, mode := range []string{"lookup", "scan"} {
			b.Run(fmt.Sprintf("services=%d/%s", n, mode), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					r := s.Snapshot().Reader()
					svcs, err := r.Services(nil)
					if err != nil {
						b.Fatal(err)
					}
					var ns, nf int
					if mode == "lookup" {
						for svc := range svcs {
							ns++
							fns, _ := r.FunctionsByService(nil, svc.ID)
							for range fns {
								nf++
							}
						}
					} else {
						byService := make(map[string]int, n)
						fns, _ := r.Functions(nil)
						for f := range fns {
							byService[f.ServiceID]++
						}
						for svc := range svcs {
							ns++
							nf += byService[svc.ID]
						}
					}
					if ns != n || nf != 3*n {
						b.Fatalf("read %d services, %d functions", ns, nf)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/service")
			})
		}
		s.Close()
	}
}

// BenchmarkSnapshotWrite writes a snapshot file of n services.
func BenchmarkSnapshotWrite(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			s, err := Open(benchStateDir(b, n, false, 1), Options{ReadOnly: true})
			if err != nil {
				b.Fatal(err)
			}
			out := b.TempDir()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				path, err := writeSnapshot(out, s.lineageB, s.Snapshot(), time.Now())
				if err != nil {
					b.Fatal(err)
				}
				os.Remove(path)
			}
		})
	}
}
