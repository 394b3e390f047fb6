package daemon_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/manoctl/manoctl/adapters/amqp"
	"github.com/manoctl/manoctl/adapters/amqp/amqptest"
	"github.com/manoctl/manoctl/adapters/embedded"
	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/gk"
)

// benchVIMs have room for tens of thousands of live sonata-demo services
// (3 cores and 6 GB each); capacity comes back on termination anyway.
const benchVIMs = `vims:
  - {name: athens, city: Athens, endpoint: 10.100.32.200, cores: 1048576, memory_mb: 1073741824}
  - {name: aveiro, city: Aveiro, endpoint: 10.1.10.0, cores: 1048576, memory_mb: 1073741824}
`

// BenchmarkDaemonInstantiate measures sonata-demo instantiations through
// manoctl as it runs in production: `manoctl daemon` and `manoctl
// emulator` are separate processes on a private vhost of the local
// RabbitMQ, and the benchmark is the gatekeeper, a gk.Client over its
// own AMQP connection that sends service.instances.create and follows
// the status stream to READY.
//
// The timed phase is b.N instantiations, run by concurrent requesters; it
// reports instantiations/s and the p50/p99 latency from request to READY.
// The services are then terminated in an untimed phase, reported on its
// own as terminations/s. Wall-clock rates swing with whatever else runs on
// the machine, so the CPU time each process (daemon, emulator, this
// gatekeeper, the RabbitMQ node) spent per instantiation in the timed
// phase is reported too: cores*1000/total-cpu-ms/inst is the rate the
// machine reaches when nothing else runs on it.
//
// Environment knobs: MANOCTL_BENCH_CONCURRENCY (requesters, default 64);
// MANOCTL_BENCH_CPUPROFILE=DIR (CPU profiles of the daemon and the
// emulator, written to DIR/daemon.cpu and DIR/emulator.cpu when they
// stop); MANOCTL_BENCH_GOGC (GOGC of both processes);
// MANOCTL_BENCH_TRAFFIC=1 (a census of the bus traffic of the timed
// phase: messages and bytes per instantiation by topic, taken by one more
// consumer of every message, which costs the broker a little).
func BenchmarkDaemonInstantiate(b *testing.B) {
	amqptest.Require(b)
	par := 64
	if s := os.Getenv("MANOCTL_BENCH_CONCURRENCY"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("MANOCTL_BENCH_CONCURRENCY=%q: want a positive integer", s)
		}
		par = n
	}
	req, err := embedded.SonataDemo(filepath.Join("..", "embedded", "testdata", "sonata-demo"))
	if err != nil {
		b.Fatal(err)
	}
	vhost := amqptest.Vhost(b)
	url := amqptest.VhostURL(b, vhost)
	dir := b.TempDir()
	vims := filepath.Join(dir, "vims.yaml")
	if err := os.WriteFile(vims, []byte(benchVIMs), 0o600); err != nil {
		b.Fatal(err)
	}
	var emuProf, daemonProf []string
	if pd := os.Getenv("MANOCTL_BENCH_CPUPROFILE"); pd != "" {
		emuProf = []string{"--cpuprofile", filepath.Join(pd, "emulator.cpu")}
		daemonProf = []string{"--cpuprofile", filepath.Join(pd, "daemon.cpu")}
	}
	emu := startProc(b, "emulator", benchEnv(), append([]string{"emulator", "--broker", url, "--vims", vims, "--log-level", "warn"}, emuProf...)...)
	d := startProc(b, "daemon", benchEnv(), append([]string{"daemon", "--broker", url, "--state-dir", filepath.Join(dir, "state"), "--log-level", "warn"}, daemonProf...)...)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	bb, err := amqp.Dial(ctx, amqp.Config{URL: url, Name: "manoctl bench gatekeeper"})
	if err != nil {
		b.Fatal(err)
	}
	defer bb.Close()
	client := gk.New(bb, "son-gkeeper")
	defer client.Close()
	census := trafficCensus(ctx, b, url)

	// One service end to end first: the daemon has fetched the VIMs and
	// every subscription exists before the clock starts.
	warm, err := client.Create(ctx, req, nil)
	if err != nil || !warm.OK() {
		b.Fatalf("warm-up create: %v %+v", err, warm)
	}
	if res, err := client.Terminate(ctx, warm.Final.NSR["id"].(string), nil); err != nil || !res.OK() {
		b.Fatalf("warm-up terminate: %v %+v", err, res)
	}

	ids := make([]string, b.N)
	lat := make([]time.Duration, b.N)
	run := func(op func(i int) error) {
		var next atomic.Int64
		var wg sync.WaitGroup
		var once sync.Once
		for range min(par, b.N) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1)) - 1
					if i >= b.N || ctx.Err() != nil {
						return
					}
					if err := op(i); err != nil {
						once.Do(func() { b.Error(err) })
						cancel()
						return
					}
				}
			}()
		}
		wg.Wait()
	}

	broker := brokerPID()
	cpu := func() [4]time.Duration {
		return [4]time.Duration{procCPU(d.cmd.Process.Pid), procCPU(emu.cmd.Process.Pid), procCPU(os.Getpid()), procCPU(broker)}
	}
	b.ResetTimer()
	cpu0 := cpu()
	start := time.Now()
	run(func(i int) error {
		t0 := time.Now()
		res, err := client.Create(ctx, req, nil)
		lat[i] = time.Since(t0)
		if err != nil {
			return fmt.Errorf("create %d: %w", i, err)
		}
		if !res.OK() {
			return fmt.Errorf("create %d: %s: %v", i, res.Final.Status, res.Err())
		}
		ids[i] = res.Final.NSR["id"].(string)
		return nil
	})
	elapsed := time.Since(start)
	cpu1 := cpu()
	b.StopTimer()
	if b.Failed() {
		return
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "instantiations/s")
	// CPU time per instantiation of each process (see above).
	var total time.Duration
	for i, unit := range []string{"daemon-cpu-ms/inst", "emulator-cpu-ms/inst", "gk-cpu-ms/inst", "broker-cpu-ms/inst"} {
		if cpu1[i] > 0 {
			total += cpu1[i] - cpu0[i]
			b.ReportMetric(float64((cpu1[i]-cpu0[i]).Microseconds())/1000/float64(b.N), unit)
		}
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "total-cpu-ms/inst")
	slices.Sort(lat)
	q := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	census.report(b)

	start = time.Now()
	run(func(i int) error {
		res, err := client.Terminate(ctx, ids[i], nil)
		if err != nil {
			return fmt.Errorf("terminate %s: %w", ids[i], err)
		}
		if !res.OK() {
			return fmt.Errorf("terminate %s: %s: %v", ids[i], res.Final.Status, res.Err())
		}
		return nil
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "terminations/s")

	// A graceful stop, so that the processes write their profiles.
	for _, p := range []*proc{d, emu} {
		if err := p.stop(syscall.SIGINT, time.Minute); err != nil {
			b.Logf("%s exit: %v", p.name, err)
		}
	}
}

// procCPU returns the user plus system CPU time of process pid so far,
// from /proc (0 where there is none).
func procCPU(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may
	// hold spaces: state is field 3, utime 14 and stime 15.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ is 100 on Linux
}

// brokerPID finds the local RabbitMQ node: the oldest beam.smp process
// (rabbitmqctl runs short-lived ones), or 0.
func brokerPID() int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	best, bestStart := 0, int64(-1)
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err != nil || strings.TrimSpace(string(comm)) != "beam.smp" {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		s := string(stat)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 20 {
			continue
		}
		start, _ := strconv.ParseInt(f[19], 10, 64) // field 22: start time
		if bestStart < 0 || start < bestStart {
			best, bestStart = pid, start
		}
	}
	return best
}

func benchEnv() []string {
	if g := os.Getenv("MANOCTL_BENCH_GOGC"); g != "" {
		return []string{"GOGC=" + g}
	}
	return nil
}

// census counts the bus traffic by topic (MANOCTL_BENCH_TRAFFIC=1).
type census struct {
	mu     sync.Mutex
	on     atomic.Bool
	msgs   map[string]int
	bytes  map[string]int
	active bool
}

func trafficCensus(ctx context.Context, b *testing.B, url string) *census {
	c := &census{msgs: map[string]int{}, bytes: map[string]int{}}
	if os.Getenv("MANOCTL_BENCH_TRAFFIC") == "" {
		return c
	}
	c.active = true
	tap, err := amqp.Dial(ctx, amqp.Config{URL: url, Name: "manoctl bench census"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { tap.Close() })
	if _, err := tap.Subscribe(ctx, "#", func(_ context.Context, m *bus.Message) {
		if !c.on.Load() {
			return
		}
		c.mu.Lock()
		c.msgs[m.Topic]++
		c.bytes[m.Topic] += len(m.Body)
		c.mu.Unlock()
	}); err != nil {
		b.Fatal(err)
	}
	c.on.Store(true)
	return c
}

func (c *census) report(b *testing.B) {
	if !c.active {
		return
	}
	c.on.Store(false)
	c.mu.Lock()
	defer c.mu.Unlock()
	topics := make([]string, 0, len(c.msgs))
	msgs, bytes := 0, 0
	for t, n := range c.msgs {
		topics = append(topics, t)
		msgs += n
		bytes += c.bytes[t]
	}
	slices.SortFunc(topics, func(x, y string) int { return c.bytes[y] - c.bytes[x] })
	n := float64(b.N)
	for _, t := range topics {
		b.Logf("%-40s %7.2f msgs/inst %9.0f B/inst", t, float64(c.msgs[t])/n, float64(c.bytes[t])/n)
	}
	b.ReportMetric(float64(msgs)/n, "msgs/inst")
	b.ReportMetric(float64(bytes)/n/1024, "KiB/inst")
}
