package daemon_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/manoctl/manoctl/adapters/amqp"
	"github.com/manoctl/manoctl/adapters/amqp/amqptest"
	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/control"
	"github.com/manoctl/manoctl/reconcile/gk"
	"github.com/manoctl/manoctl/reconcile/records"
)

// TestLoad10k is the load run of issue 9: 10,000 sonata-demo services
// instantiated through the daemon, all of them live at once, then all
// terminated, with no error. `manoctl daemon` and `manoctl emulator` run
// as the separate processes they are in production, on a private vhost of
// the local RabbitMQ; the test is the gatekeeper (gk.Client on its own
// AMQP connection) and keeps MANOCTL_LOAD_CONCURRENCY requests (default
// 64) in flight. It samples the resident memory of both processes and
// reports their peaks (VmHWM) and the throughput of each phase.
//
// After the run: every request ended READY, the records hold every
// service terminated and no operation running, the emulator runs no
// function and every VIM is back to zero use.
//
// It takes minutes, so it runs only with MANOCTL_LOAD=1:
//
//	MANOCTL_LOAD=1 go test -run '^TestLoad10k$' -v -timeout 2h ./adapters/daemon
//
// MANOCTL_LOAD_SERVICES changes the number of services (default 10000).
// MANOCTL_LOAD_MODE=churn terminates each service as soon as it is READY
// instead (at most MANOCTL_LOAD_CONCURRENCY live at once): the daemon's
// memory then follows the records' history rather than the live services.
// MANOCTL_LOAD_GOGC sets GOGC for both processes (by default they run at
// 400, see cmd/manoctl/longrun.go: the heap peaks at up to five times the
// live data).
func TestLoad10k(t *testing.T) {
	if os.Getenv("MANOCTL_LOAD") != "1" {
		t.Skip("the load run takes minutes: set MANOCTL_LOAD=1")
	}
	amqptest.Require(t)
	n := envInt(t, "MANOCTL_LOAD_SERVICES", 10000)
	par := envInt(t, "MANOCTL_LOAD_CONCURRENCY", 64)
	churn := false
	switch m := os.Getenv("MANOCTL_LOAD_MODE"); m {
	case "", "all":
	case "churn":
		churn = true
	default:
		t.Fatalf("MANOCTL_LOAD_MODE=%q: want all or churn", m)
	}
	req := sonataDemo(t)

	vhost := amqptest.Vhost(t)
	url := amqptest.VhostURL(t, vhost)
	dir := t.TempDir()
	vims := filepath.Join(dir, "vims.yaml")
	if err := os.WriteFile(vims, []byte(benchVIMs), 0o600); err != nil {
		t.Fatal(err)
	}
	stateDir := filepath.Join(dir, "state")
	var env []string
	if g := os.Getenv("MANOCTL_LOAD_GOGC"); g != "" {
		env = []string{"GOGC=" + g}
	}
	emu := startProc(t, "emulator", env, "emulator", "--broker", url, "--vims", vims, "--log-level", "warn")
	d := startProc(t, "daemon", env, "daemon", "--broker", url, "--state-dir", stateDir, "--log-level", "warn")

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Minute)
	defer cancel()
	b, err := amqp.Dial(ctx, amqp.Config{URL: url, Exchange: "son-kernel", Name: "manoctl load gatekeeper"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	client := gk.New(b, bus.AppGatekeeper)
	defer client.Close()
	client.Timeout = 10 * time.Minute

	// Resident memory, sampled every 100 ms: VmHWM is the kernel's peak,
	// the samples give the peak of each phase.
	type sample struct{ daemon, emulator int64 }
	var (
		mu      sync.Mutex
		peak    sample // of the current phase, VmRSS
		samples int
	)
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-tick.C:
			}
			dr, _, _ := procStatus(d.cmd.Process.Pid)
			er, _, _ := procStatus(emu.cmd.Process.Pid)
			mu.Lock()
			peak.daemon, peak.emulator = max(peak.daemon, dr), max(peak.emulator, er)
			samples++
			mu.Unlock()
		}
	}()
	phasePeak := func() sample {
		mu.Lock()
		defer mu.Unlock()
		p := peak
		peak = sample{}
		return p
	}
	rss := func(pid int) (int64, int64) {
		r, h, err := procStatus(pid)
		if err != nil {
			t.Fatalf("/proc/%d/status: %v", pid, err)
		}
		return r, h
	}
	mib := func(kb int64) string { return fmt.Sprintf("%.0f MiB", float64(kb)/1024) }

	d0, _ := rss(d.cmd.Process.Pid)
	e0, _ := rss(emu.cmd.Process.Pid)
	t.Logf("start: daemon %s, emulator %s resident", mib(d0), mib(e0))

	var errs atomic.Int64
	run := func(what string, op func(i int) error) time.Duration {
		var next atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for range min(par, n) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1)) - 1
					if i >= n || ctx.Err() != nil {
						return
					}
					if err := op(i); err != nil {
						if errs.Add(1) <= 10 {
							t.Errorf("%s %d: %v", what, i, err)
						}
					}
					if done := i + 1; done%1000 == 0 {
						dr, _ := rss(d.cmd.Process.Pid)
						t.Logf("%s: %d started, %s, daemon %s resident", what, done, time.Since(start).Round(time.Second), mib(dr))
					}
				}
			}()
		}
		wg.Wait()
		return time.Since(start)
	}

	ids := make([]string, n)
	create := func(i int) error {
		res, err := client.Create(ctx, req, nil)
		if err != nil {
			return err
		}
		if !res.OK() {
			return fmt.Errorf("%s: %v", res.Final.Status, res.Err())
		}
		ids[i], _ = res.Final.NSR["id"].(string)
		if ids[i] == "" {
			return fmt.Errorf("READY without a service id")
		}
		return nil
	}
	terminate := func(i int) error {
		if ids[i] == "" {
			return nil // its create failed, reported
		}
		res, err := client.Terminate(ctx, ids[i], nil)
		if err != nil {
			return err
		}
		if !res.OK() {
			return fmt.Errorf("%s: %v", res.Final.Status, res.Err())
		}
		return nil
	}
	var createTook, termTook time.Duration
	if churn {
		// Each requester terminates its service as soon as it is READY:
		// at most par services live at once, the records' history grows.
		createTook = run("instantiate+terminate", func(i int) error {
			if err := create(i); err != nil {
				return err
			}
			return terminate(i)
		})
		termTook = createTook
		p := phasePeak()
		t.Logf("instantiated and terminated %d services in %s (%.1f/s each way); peak resident: daemon %s, emulator %s",
			n, createTook.Round(time.Second), float64(n)/createTook.Seconds(), mib(p.daemon), mib(p.emulator))
	} else {
		createTook = run("instantiate", create)
		p1 := phasePeak()
		live, cores := infraState(t, b)
		t.Logf("instantiated %d services in %s (%.1f/s): the emulator runs %d functions, %d cores used; peak resident: daemon %s, emulator %s",
			n, createTook.Round(time.Second), float64(n)/createTook.Seconds(), len(live), cores, mib(p1.daemon), mib(p1.emulator))
		if errs.Load() == 0 && len(live) != 3*n {
			t.Errorf("the emulator runs %d functions for %d services of 3 VNFs", len(live), n)
		}
		termTook = run("terminate", terminate)
		p2 := phasePeak()
		t.Logf("terminated %d services in %s (%.1f/s); peak resident: daemon %s, emulator %s",
			n, termTook.Round(time.Second), float64(n)/termTook.Seconds(), mib(p2.daemon), mib(p2.emulator))
	}
	close(stopSampling)
	<-sampled

	// Nothing lost: the records end where the infrastructure does. (Not
	// `get operations` over the bus: with 20,000 operations its reply is
	// over the 16 MiB body limit, see docs/reliability.md.)
	c := control.NewClient(b)
	defer c.Close()
	qctx, qcancel := context.WithTimeout(ctx, 2*time.Minute)
	defer qcancel()
	svcs, err := c.Get(qctx, "services", false)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range svcs.Items {
		t.Errorf("service %v is %v after the run", s["id"], s["status"])
	}
	infra, cores := infraState(t, b)
	if len(infra) != 0 || cores != 0 {
		t.Errorf("after the run the emulator runs %d functions and %d cores are used", len(infra), cores)
	}
	checkInfraMatchesRecords(t, b, c)

	dr, dh := rss(d.cmd.Process.Pid)
	er, eh := rss(emu.cmd.Process.Pid)
	for _, p := range []*proc{d, emu} {
		if err := p.stop(syscall.SIGTERM, time.Minute); err != nil {
			t.Errorf("%s did not stop cleanly: %v", p.name, err)
		}
	}

	// The state directory, as the next daemon would find it.
	size := dirSize(stateDir)
	t0 := time.Now()
	st, err := records.Open(stateDir, records.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("reopen the state directory: %v", err)
	}
	defer st.Close()
	reopen := time.Since(t0)
	r := st.Snapshot().Reader()
	byStatus := map[string]int{}
	it, err := r.Operations(nil)
	if err != nil {
		t.Fatal(err)
	}
	nops := 0
	for o := range it {
		nops++
		byStatus[string(o.Status)]++
		if o.Status != records.OpSucceeded {
			t.Errorf("operation %s (%s of %s) is %s: %s", o.ID, o.Kind, o.ServiceID, o.Status, o.Error)
		}
	}
	sit, err := r.Services(nil)
	if err != nil {
		t.Fatal(err)
	}
	terminated := 0
	for s := range sit {
		if s.Status == records.ServiceTerminated {
			terminated++
		} else {
			t.Errorf("service %s is %s in the records", s.ID, s.Status)
		}
	}
	if want := n - int(errs.Load()); terminated != want || nops != 2*want {
		t.Errorf("the records hold %d terminated services and %d operations, want %d and %d", terminated, nops, want, 2*want)
	}

	mode := "all live at once"
	if churn {
		mode = "churn"
	}
	t.Logf("load (%s): %d services instantiated (%s, %.1f/s) and terminated (%s, %.1f/s), %d concurrent requests, %d errors; "+
		"records: %d services terminated, %d operations %v, state directory %.1f MiB, reopened in %s; "+
		"daemon peak resident %s (VmHWM; %s at the end), emulator peak %s (%s at the end); %d memory samples",
		mode, n, createTook.Round(time.Second), float64(n)/createTook.Seconds(), termTook.Round(time.Second), float64(n)/termTook.Seconds(),
		par, errs.Load(), terminated, nops, byStatus, float64(size)/(1<<20), reopen.Round(time.Millisecond),
		mib(dh), mib(dr), mib(eh), mib(er), samples)
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 {
		t.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return v
}

// dirSize is the bytes of the files under dir.
func dirSize(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n
}
