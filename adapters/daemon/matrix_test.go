package daemon_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/manoctl/manoctl/adapters/amqp"
	"github.com/manoctl/manoctl/adapters/amqp/amqptest"
	"github.com/manoctl/manoctl/adapters/emulator"
	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/control"
	"github.com/manoctl/manoctl/reconcile/gk"
	"github.com/manoctl/manoctl/reconcile/slm"
	"github.com/manoctl/manoctl/reconcile/wire"
)

// The fault-injection matrix (issue 9): for each lifecycle step of
// instantiate and terminate that talks to the IA, an IA error, an IA
// timeout (the reply is lost), a duplicate reply and a late reply (after
// the SLM's timeout), reordered replies where requests run in parallel,
// plus a specific manager crashing, the broker restarting, the daemon
// being SIGKILLed and the state directory's disk filling up, each in the
// middle of a workflow.
//
// Each cell runs on its own vhost: the daemon as its own process (as in
// production), the IA emulator in the test process so that the test
// injects the faults, and the test as the gatekeeper. After the fault,
// the invariants:
//
//   - every request ended with READY or ERROR (the one the cell expects),
//     none hangs; only a broker restart may lose a status, which the
//     client's timeout then ends;
//   - no operation is left running;
//   - records match the emulator: no function runs that no record owns,
//     every function of a ready service runs;
//   - the next reconcile converges: with the faults cleared, `manoctl
//     apply --broker` of a one-service manifest succeeds and `manoctl plan
//     --detailed-exitcode` then finds nothing to do;
//   - capacity is restored: after terminating everything the emulator
//     knows no service, runs no function and every VIM is back to zero
//     use; no specific-manager process is left.
//
// The 17 cells marked core (one of each kind of fault, on the steps where
// it bites hardest) run in every `go test`, in about two minutes under
// -race on two cores; MANOCTL_FULL_MATRIX=1 runs all 44:
//
//	MANOCTL_FULL_MATRIX=1 go test -race -run TestFaultMatrix -v -timeout 30m ./adapters/daemon
//
// MANOCTL_MATRIX_PARALLEL sets how many cells run at once (default 8:
// cells mostly wait for timeouts). The end of the log is a table of the
// cells: fault, verdict, time and how the requests ended.
func TestFaultMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("the fault matrix takes minutes")
	}
	amqptest.Require(t)
	manoctlBinary(t)
	full := os.Getenv("MANOCTL_FULL_MATRIX") == "1"
	par := 8
	if s := os.Getenv("MANOCTL_MATRIX_PARALLEL"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("MANOCTL_MATRIX_PARALLEL=%q: want a positive integer", s)
		}
		par = n
	}
	cells := matrixCells()
	if !full {
		cells = slices.DeleteFunc(cells, func(c *matrixCell) bool { return !c.core })
	}
	t0 := time.Now()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		results []string
		failed  int
	)
	sem := make(chan struct{}, par)
	// t.Run from several goroutines at once: the cells mostly wait, so
	// more of them run together than go test's -parallel (the number of
	// CPUs) would allow.
	for _, c := range cells {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r := &cellRun{cell: c}
			ran := false
			start := time.Now()
			ok := t.Run(c.name, func(t *testing.T) {
				ran = true
				r.t = t
				runCell(r)
			})
			if !ran {
				return // filtered out by -run
			}
			mu.Lock()
			defer mu.Unlock()
			verdict := "ok"
			if !ok {
				verdict = "FAIL"
				failed++
			}
			results = append(results, fmt.Sprintf("%-40s %-28s %-5s %5.1fs  %s", c.name, c.fault, verdict,
				time.Since(start).Seconds(), strings.Join(r.summary, "; ")))
		}()
	}
	wg.Wait()
	slices.Sort(results)
	t.Logf("fault matrix: %d cells, %d failed, %s wall\n%s", len(results), failed, time.Since(t0).Round(time.Second),
		strings.Join(results, "\n"))
}

const (
	phaseInstantiate = "instantiate"
	phaseTerminate   = "terminate"
)

// matrixCell is one fault in one place.
type matrixCell struct {
	name  string
	fault string // as the report names it
	phase string // the workflow the fault hits
	// services is how many services the faulted phase creates or
	// terminates at once (default 1).
	services int
	// sm runs the services with specific managers (the demo with SSMs and
	// FSMs), with these extra arguments per manager image.
	sm map[string][]string
	// diskFull runs the daemon's state directory on a small tmpfs.
	diskFull bool
	// inject installs the fault before the faulted phase.
	inject func(r *cellRun)
	// during runs alongside the faulted phase (kill, restart, fill).
	during func(r *cellRun)
	// after runs once the faulted phase ended, before the invariants.
	after func(r *cellRun)
	// want is the final status every request of the phase must end with
	// ("" accepts either), wantStep the step an ERROR must name and
	// wantText what else it must say.
	want, wantStep, wantText string
	// lossy: a broker restart may lose the final status; the client's
	// timeout then ends the request.
	lossy bool
	// core cells run in every go test; the rest with MANOCTL_FULL_MATRIX=1.
	core bool
}

// cellRun is a cell's platform and what happened.
type cellRun struct {
	t       *testing.T
	cell    *matrixCell
	p       *platform
	emu     *emulator.Emulator
	b       *amqp.Bus
	client  *gk.Client
	c       *control.Client
	args    []string // the daemon's arguments after --broker/--state-dir
	fs      *stateFS
	req     wire.CreateRequest
	ids     []string // services terminated by a terminate-phase cell
	release chan struct{}
	summary []string
}

// The daemon's bus timeouts in the matrix: a twentieth of the defaults
// (an IA call times out after 6 s, a function deploy after 15 s). Cells
// with specific managers use more: starting a manager is a process start
// and a vhost on the broker, seconds when the machine is busy.
const (
	matrixTimeoutScale   = "0.05"
	matrixSMTimeoutScale = "0.15"
)

// iaSteps are the lifecycle steps that talk to the IA (spec §4.4, §4.5):
// the topic, and the SLM step that sends it.
var iaSteps = []struct{ phase, short, topic, step string }{
	{phaseInstantiate, "compute.list", bus.TopicIAComputeList, slm.TaskTopology},
	{phaseInstantiate, "prepare", bus.TopicIAServicePrepare, slm.TaskPrepare},
	{phaseInstantiate, "deploy", bus.TopicIAFunctionDeploy, slm.TaskDeploy},
	{phaseInstantiate, "chain.configure", bus.TopicIAChainConfigure, slm.TaskChain},
	{phaseInstantiate, "wan.configure", bus.TopicIAWanConfigure, slm.TaskWanConfigure},
	{phaseTerminate, "wan.deconfigure", bus.TopicIAWanDeconfigure, slm.TaskWanDeconfigure},
	{phaseTerminate, "chain.deconfigure", bus.TopicIAChainDeconfigure, slm.TaskUnchain},
	{phaseTerminate, "remove", bus.TopicIAServiceRemove, slm.TaskTerminateSvc},
}

// coreCells run in every go test: one of each kind of fault, on the steps
// where it bites hardest.
var coreCells = map[string]bool{
	"instantiate:deploy:ia-error":         true,
	"instantiate:deploy:ia-timeout":       true,
	"instantiate:chain.configure:late":    true,
	"instantiate:prepare:duplicate":       true,
	"instantiate:deploy:reordered":        true,
	"terminate:remove:ia-timeout":         true,
	"terminate:wan.deconfigure:ia-error":  true,
	"instantiate:ssm-crash":               true,
	"instantiate:fsm-crash":               true,
	"terminate:fsm-crash":                 true,
	"instantiate:broker-restart":          true,
	"instantiate:daemon-sigkill":          true,
	"terminate:daemon-sigkill":            true,
	"instantiate:disk-full":               true,
	"terminate:chain.deconfigure:late":    true,
	"terminate:remove:reordered":          true,
	"instantiate:wan.configure:ia-error":  true,
	"instantiate:compute.list:ia-timeout": true,
}

func matrixCells() []*matrixCell {
	var cells []*matrixCell
	for _, s := range iaSteps {
		topic := s.topic
		cells = append(cells,
			&matrixCell{name: s.phase + ":" + s.short + ":ia-error", fault: "IA error", phase: s.phase,
				inject: func(r *cellRun) { r.emu.Inject(topic, emulator.Every, emulator.Fail("injected IA error")) },
				want:   bus.StatusError, wantStep: s.step},
			&matrixCell{name: s.phase + ":" + s.short + ":ia-timeout", fault: "IA timeout (reply lost)", phase: s.phase,
				inject: func(r *cellRun) { r.emu.Inject(topic, emulator.Every, emulator.DropReply()) },
				want:   bus.StatusError, wantStep: s.step},
			&matrixCell{name: s.phase + ":" + s.short + ":duplicate", fault: "duplicate reply", phase: s.phase,
				inject: func(r *cellRun) { r.emu.Inject(topic, emulator.Every, emulator.Duplicate(2)) },
				want:   bus.StatusReady},
			// The reply is held until the request ended: it arrives after
			// the SLM (or the FLM) gave up on it and rolled back.
			&matrixCell{name: s.phase + ":" + s.short + ":late", fault: "late reply (after the timeout)", phase: s.phase,
				inject: func(r *cellRun) {
					r.release = make(chan struct{})
					r.emu.Inject(topic, emulator.Every, emulator.HoldReply(r.release))
				},
				want: bus.StatusError, wantStep: s.step},
		)
	}
	// Reordered replies: the three deploys of a service answered last to
	// first; two services whose prepares (and removes) are answered in
	// the reverse order of the requests.
	reverse := func(topic string, step time.Duration, n int) func(r *cellRun) {
		return func(r *cellRun) {
			r.emu.SetLatencyFunc(topic, func(_ string, call int) time.Duration {
				return time.Duration(max(n-call, 0)) * step
			})
		}
	}
	cells = append(cells,
		&matrixCell{name: "instantiate:deploy:reordered", fault: "reordered replies", phase: phaseInstantiate,
			inject: reverse(bus.TopicIAFunctionDeploy, 400*time.Millisecond, 3), want: bus.StatusReady},
		&matrixCell{name: "instantiate:prepare:reordered", fault: "reordered replies", phase: phaseInstantiate, services: 2,
			inject: reverse(bus.TopicIAServicePrepare, 800*time.Millisecond, 2), want: bus.StatusReady},
		&matrixCell{name: "terminate:remove:reordered", fault: "reordered replies", phase: phaseTerminate, services: 2,
			inject: reverse(bus.TopicIAServiceRemove, 800*time.Millisecond, 2), want: bus.StatusReady},
	)
	// Specific managers crash when called (the example managers'
	// -crash-on: the process exits with status 3 in the middle of the
	// workflow).
	cells = append(cells,
		&matrixCell{name: "instantiate:ssm-crash", fault: "SSM crash", phase: phaseInstantiate,
			sm:   map[string][]string{"manoctl/sonssmdemotask1": {"-crash-on", "task"}},
			want: bus.StatusError, wantStep: slm.TaskTriggerTaskSSM, wantText: "ssm sonssmdemotask1 exited: exit status 3"},
		&matrixCell{name: "instantiate:fsm-crash", fault: "FSM crash", phase: phaseInstantiate,
			sm:   map[string][]string{"manoctl/sonfsmdemoiperfstart1": {"-crash-on", "start"}},
			want: bus.StatusError, wantStep: slm.TaskStart, wantText: "fsm sonfsmdemoiperfstart1 exited: exit status 3"},
		// The stop FSM crashes: the termination goes on without it (the
		// step keeps the error) and the service is removed. It used to
		// fail at vnfs_stop, every retry too: the service could never be
		// terminated.
		&matrixCell{name: "terminate:fsm-crash", fault: "FSM crash", phase: phaseTerminate,
			sm:   map[string][]string{"manoctl/sonfsmdemoiperfstop1": {"-crash-on", "stop"}},
			want: bus.StatusReady},
	)
	// The broker restarts, the daemon is killed, the disk fills up, with
	// functions being deployed (or services removed): each IA call takes a
	// second, so the fault finds workflows in the middle.
	slow := func(topic string) func(r *cellRun) {
		return func(r *cellRun) { r.emu.SetLatency(topic, time.Second) }
	}
	cells = append(cells,
		&matrixCell{name: "instantiate:broker-restart", fault: "broker restart", phase: phaseInstantiate, services: 3,
			inject: slow(bus.TopicIAFunctionDeploy), lossy: true,
			during: func(r *cellRun) {
				r.waitStep(slm.TaskDeploy, 1)
				r.p.restartBroker(r.t, 2*time.Second)
			}},
		&matrixCell{name: "terminate:broker-restart", fault: "broker restart", phase: phaseTerminate, services: 3,
			inject: slow(bus.TopicIAServiceRemove), lossy: true,
			during: func(r *cellRun) {
				r.waitStep(slm.TaskTerminateSvc, 1)
				r.p.restartBroker(r.t, 2*time.Second)
			}},
		&matrixCell{name: "instantiate:daemon-sigkill", fault: "daemon SIGKILL", phase: phaseInstantiate, services: 2,
			inject: slow(bus.TopicIAFunctionDeploy), want: bus.StatusError,
			during: func(r *cellRun) {
				r.waitStep(slm.TaskDeploy, 2)
				r.killDaemon()
			}},
		&matrixCell{name: "terminate:daemon-sigkill", fault: "daemon SIGKILL", phase: phaseTerminate, services: 2,
			inject: slow(bus.TopicIAServiceRemove), want: bus.StatusError,
			during: func(r *cellRun) {
				r.waitStep(slm.TaskTerminateSvc, 2)
				r.killDaemon()
			}},
		&matrixCell{name: "instantiate:disk-full", fault: "disk full (state directory)", phase: phaseInstantiate, services: 2,
			diskFull: true, inject: slow(bus.TopicIAFunctionDeploy), want: bus.StatusError,
			during: func(r *cellRun) {
				r.waitStep(slm.TaskDeploy, 2)
				r.fs.fill(r.t)
				r.recoverDisk()
			}},
		// A termination whose records were written before the disk
		// filled ends READY.
		&matrixCell{name: "terminate:disk-full", fault: "disk full (state directory)", phase: phaseTerminate, services: 2,
			diskFull: true, inject: slow(bus.TopicIAServiceRemove),
			during: func(r *cellRun) {
				r.waitStep(slm.TaskTerminateSvc, 2)
				r.fs.fill(r.t)
				r.recoverDisk()
			}},
	)
	for _, c := range cells {
		c.core = coreCells[c.name]
		if c.services == 0 {
			c.services = 1
		}
	}
	return cells
}

// outcome is how one request ended.
type outcome struct {
	res  *gk.Result
	err  error
	took time.Duration
}

func runCell(r *cellRun) {
	t, cell := r.t, r.cell
	t0 := time.Now()
	r.start()
	t.Logf("platform up in %s", time.Since(t0).Round(time.Millisecond))
	if cell.sm != nil {
		r.req = sonataDemoSM(t)
	} else {
		r.req = sonataDemo(t)
	}
	if cell.phase == phaseTerminate {
		for i, o := range r.createN(cell.services) {
			if o.err != nil || !o.res.OK() {
				t.Fatalf("service %d before the fault: %v %+v", i, o.err, o.res)
			}
			r.ids = append(r.ids, o.res.Final.NSR["id"].(string))
		}
	}
	if cell.inject != nil {
		cell.inject(r)
	}
	var during sync.WaitGroup
	if cell.during != nil {
		during.Add(1)
		go func() {
			defer during.Done()
			cell.during(r)
		}()
	}
	var outs []outcome
	if cell.phase == phaseTerminate {
		outs = r.terminateN(r.ids)
	} else {
		outs = r.createN(cell.services)
	}
	during.Wait()
	r.checkOutcomes(outs)
	if r.release != nil {
		close(r.release)
		time.Sleep(500 * time.Millisecond) // the late replies reach the daemon
	}
	r.emu.ClearFaults()
	if cell.after != nil {
		cell.after(r)
	}
	t1 := time.Now()
	r.checkInvariants()
	t.Logf("invariants checked in %s", time.Since(t1).Round(time.Millisecond))
}

// start brings up the cell's platform: a vhost, the emulator in the test
// process, the daemon as a process.
func (r *cellRun) start() {
	t := r.t
	amqptest.Require(t)
	r.p = &platform{vhost: amqptest.Vhost(t)}
	r.p.url = amqptest.VhostURL(t, r.p.vhost)
	r.p.stateDir = t.TempDir() + "/state"
	r.emu = startEmulatorInProcess(t, r.p)
	r.args = []string{"--timeout-scale", matrixTimeoutScale, "--metrics-addr", "127.0.0.1:0"}
	if r.cell.sm != nil {
		r.args[1] = matrixSMTimeoutScale
		r.args = append(r.args, "--sm-runtime-config", smRuntimeConfig(t, r.cell.sm))
	} else {
		// No specific managers: no SMR, no PLEX, no vhost management.
		r.args = append(r.args, "--plugins", "pm,slm,flm,placement")
	}
	if r.cell.diskFull {
		r.fs = newStateFS(t, 16<<20)
		r.p.stateDir = r.fs.dir
	}
	r.startDaemon()
	r.b = r.p.dialBus(t, "manoctl matrix gatekeeper")
	r.client = gk.New(r.b, bus.AppGatekeeper)
	r.client.Timeout = 60 * time.Second
	if r.cell.lossy {
		r.client.Timeout = 45 * time.Second
	}
	if r.cell.sm != nil {
		// Starting managers takes a vhost on the broker and a process
		// each: tens of seconds on a busy machine.
		r.client.Timeout = 150 * time.Second
	}
	r.c = control.NewClient(r.b)
	t.Cleanup(func() {
		r.client.Close()
		r.c.Close()
	})
}

func (r *cellRun) startDaemon() {
	if r.fs != nil {
		exe, args := r.fs.daemonCommand(r.t, append([]string{"daemon", "--broker", r.p.url, "--state-dir", r.p.stateDir}, r.args...)...)
		r.p.daemon = startExe(r.t, "daemon", nil, exe, args...)
		return
	}
	r.p.daemon = r.p.startDaemon(r.t, r.args...)
	if r.cell.sm != nil {
		// Managers outlive a daemon killed at the end of a failed cell:
		// kill them first (cleanups run last in, first out).
		pid := r.p.daemon.cmd.Process.Pid
		r.t.Cleanup(func() {
			for _, c := range childProcesses(pid) {
				if cpid, err := strconv.Atoi(strings.Fields(c)[0]); err == nil {
					syscall.Kill(cpid, syscall.SIGKILL)
				}
			}
		})
	}
}

// killDaemon SIGKILLs the daemon and starts it again on the same state
// directory.
func (r *cellRun) killDaemon() {
	r.p.daemon.stop(syscall.SIGKILL, 10*time.Second)
	r.startDaemon()
	r.note("daemon killed and restarted")
}

// recoverDisk waits for the daemon to stop on the full disk: a daemon
// that can no longer write its records must not go on (it would run
// workflows it cannot record), it exits non-zero for its supervisor to
// restart it. The disk is freed and the daemon started again, as a
// supervisor would once the operator made room.
func (r *cellRun) recoverDisk() {
	t := r.t
	select {
	case <-r.p.daemon.done:
	case <-time.After(60 * time.Second):
		t.Errorf("the daemon still runs 60s after its state directory filled up")
		r.p.daemon.stop(syscall.SIGKILL, 10*time.Second)
	}
	out := r.p.daemon.out.String()
	if r.p.daemon.err == nil || !strings.Contains(out, "can no longer be written") || !strings.Contains(out, "no space left on device") {
		t.Errorf("the daemon did not stop with the state directory's error (exit %v):\n%s", r.p.daemon.err, out)
	}
	exit := r.p.daemon.err
	r.fs.free(t)
	r.startDaemon()
	r.note(fmt.Sprintf("daemon stopped on the full disk (%v), restarted on the freed disk", exit))
}

func (r *cellRun) note(s string) {
	r.summary = append(r.summary, s)
}

// createN sends n create requests at once and waits for their ends.
func (r *cellRun) createN(n int) []outcome {
	return r.allAtOnce(n, func(ctx context.Context, _ int) (*gk.Result, error) {
		return r.client.Create(ctx, r.req, nil)
	})
}

// terminateN terminates the services ids at once and waits for the ends.
func (r *cellRun) terminateN(ids []string) []outcome {
	return r.allAtOnce(len(ids), func(ctx context.Context, i int) (*gk.Result, error) {
		return r.client.Terminate(ctx, ids[i], nil)
	})
}

// allAtOnce runs n gatekeeper requests concurrently, each bounded by the
// client's timeout and a margin, and returns how each ended.
func (r *cellRun) allAtOnce(n int, call func(ctx context.Context, i int) (*gk.Result, error)) []outcome {
	outs := make([]outcome, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), r.client.Timeout+30*time.Second)
			defer cancel()
			res, err := call(ctx, i)
			outs[i] = outcome{res, err, time.Since(t0)}
		}()
	}
	wg.Wait()
	return outs
}

// waitStep waits until n operations run step.
func (r *cellRun) waitStep(step string, n int) {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ops, err := r.c.Get(ctx, "operations", true)
		cancel()
		if err == nil {
			at := 0
			for _, o := range ops.Items {
				steps, _ := o["steps"].([]any)
				for _, s := range steps {
					if st, _ := s.(map[string]any); st["name"] == step && st["status"] == "running" {
						at++
						break
					}
				}
			}
			if at >= n {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.t.Errorf("%d operations did not reach %s within 60s", n, step)
}

// checkOutcomes: every request ended, with the status the cell expects.
func (r *cellRun) checkOutcomes(outs []outcome) {
	t := r.t
	count := map[string]int{}
	for i, o := range outs {
		switch {
		case o.err != nil && r.cell.lossy && errors.Is(o.err, gk.ErrTimeout):
			// The status went with the broker; the request ended at the
			// client's timeout, never later.
			count["lost"]++
			if o.took > r.client.Timeout+10*time.Second {
				t.Errorf("request %d ended after %s, past the client's timeout", i, o.took)
			}
		case o.err != nil:
			count["hung"]++
			t.Errorf("request %d did not end with READY or ERROR: %v (after %s)", i, o.err, o.took.Round(time.Millisecond))
		default:
			st := o.res.Final.Status
			count[st]++
			msg := wire.ErrorText(o.res.Final.Error)
			if r.cell.want != "" && st != r.cell.want {
				t.Errorf("request %d ended %s (%s), want %s", i, st, msg, r.cell.want)
			}
			if st == bus.StatusError && r.cell.wantStep != "" && !strings.HasPrefix(msg, r.cell.wantStep+": ") {
				t.Errorf("request %d: ERROR %q does not name step %s", i, msg, r.cell.wantStep)
			}
			if st == bus.StatusError && !strings.Contains(msg, r.cell.wantText) {
				t.Errorf("request %d: ERROR %q does not say %q", i, msg, r.cell.wantText)
			}
			if st == bus.StatusError {
				t.Logf("request %d: ERROR %s (after %s)", i, msg, o.took.Round(time.Millisecond))
			}
		}
	}
	var parts []string
	for _, k := range []string{bus.StatusReady, bus.StatusError, "lost", "hung"} {
		if count[k] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", count[k], k))
		}
	}
	r.summary = append([]string{r.cell.phase + ": " + strings.Join(parts, ", ")}, r.summary...)
}

// checkInvariants checks what must hold after any fault.
func (r *cellRun) checkInvariants() {
	t := r.t
	t0 := time.Now()
	// No operation left running and every service at rest (a restarted
	// daemon rolls back what the last one left in the middle: that is
	// under way as soon as it is ready).
	deadline := time.Now().Add(90 * time.Second)
	for {
		settledOperations(t, r.c, time.Until(deadline))
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		svcs, err := r.c.Get(ctx, "services", true)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		var busy []string
		for _, s := range svcs.Items {
			if st := s["status"]; st != "ready" && st != "error" && st != "terminated" {
				busy = append(busy, fmt.Sprintf("service %v left %v", s["id"], st))
			}
		}
		if len(busy) == 0 {
			break
		}
		if time.Now().After(deadline) {
			for _, b := range busy {
				t.Error(b)
			}
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	waitInfraMatchesRecords(t, r.b, r.c, 15*time.Second)
	if t.Failed() {
		return
	}

	t.Logf("invariants: settled and matched after %s", time.Since(t0).Round(time.Millisecond))

	// The next reconcile converges.
	manifest := writeManifest(t, 1)
	br := []string{"--broker", r.p.url}
	if out, code := runCLIExit(t, append([]string{"apply", "-f", manifest, "--auto-approve"}, br...)...); code != 0 {
		t.Errorf("apply after the fault: exit %d\n%s", code, out)
	}
	if out, code := runCLIExit(t, append([]string{"plan", "-f", manifest, "--detailed-exitcode"}, br...)...); code != 0 {
		t.Errorf("plan after apply: exit %d, want 0 (converged)\n%s", code, out)
	}
	checkInfraMatchesRecords(t, r.b, r.c)
	t.Logf("invariants: converged after %s", time.Since(t0).Round(time.Millisecond))

	// Capacity is restored.
	terminateAll(t, r.b, r.c, r.client)
	snap := r.emu.Snapshot()
	if len(snap.Services) != 0 || len(snap.Functions) != 0 {
		t.Errorf("after terminating everything the emulator knows %d services and runs %d functions: %+v", len(snap.Services), len(snap.Functions), snap.Services)
	}
	for _, v := range snap.VIMs {
		if v.CoreUsed != 0 || v.MemoryUsedMB != 0 {
			t.Errorf("VIM %s still uses %d cores and %.0f MB", v.Name, v.CoreUsed, v.MemoryUsedMB)
		}
	}
	if r.cell.sm != nil {
		deadline := time.Now().Add(15 * time.Second)
		for len(childProcesses(r.p.daemon.cmd.Process.Pid)) > 0 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if left := childProcesses(r.p.daemon.cmd.Process.Pid); len(left) > 0 {
			t.Errorf("specific-manager processes left: %v", left)
		}
	}
}
