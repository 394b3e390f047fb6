package smruntime_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/manoctl/manoctl/adapters/amqp"
	"github.com/manoctl/manoctl/adapters/amqp/amqptest"
	"github.com/manoctl/manoctl/adapters/embedded"
	"github.com/manoctl/manoctl/adapters/emulator"
	"github.com/manoctl/manoctl/adapters/smruntime"
	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/gk"
	"github.com/manoctl/manoctl/reconcile/mano"
	"github.com/manoctl/manoctl/reconcile/slm"
	"github.com/manoctl/manoctl/reconcile/smr"
	"github.com/manoctl/manoctl/reconcile/wire"
)

// binDir holds the example managers, built once by TestMain.
var binDir string

func TestMain(m *testing.M) {
	if os.Getenv(parentEnv) != "" {
		os.Exit(runManagerParent())
	}
	code := func() int {
		if amqptest.Skipped() {
			fmt.Fprintln(os.Stderr, amqptest.Warning)
			return m.Run()
		}
		dir, err := os.MkdirTemp("", "manoctl-sm-examples-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		// go build writes one binary per main package into dir/.
		cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator),
			"./examples/placement-ssm", "./examples/task-ssm", "./examples/configure-ssm", "./examples/configure-fsm")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building the example managers:", err)
			return 1
		}
		binDir = dir
		return m.Run()
	}()
	os.Exit(code)
}

// runtimeConfig is the runtime configuration file of the tests: every
// image of the test descriptors maps to an example manager binary.
func runtimeConfig(t *testing.T, extra map[string]smruntime.LocalManager) string {
	t.Helper()
	bin := func(name string) string { return filepath.Join(binDir, name) }
	cfg := smruntime.LocalConfig{
		Managers: map[string]smruntime.LocalManager{
			"manoctl/sonssmdemotask1":      {Command: bin("task-ssm"), Args: []string{"-service", "demo", "-name", "task"}},
			"manoctl/sonssmdemoconfigure1": {Command: bin("configure-ssm"), Args: []string{"-service", "demo", "-name", "configure"}},
			"manoctl/sonssmdemoplacement1": {Command: bin("placement-ssm"), Args: []string{"-service", "demo", "-name", "placement"}},
			"manoctl/sonfsmdemoiperfstart1": {Command: bin("configure-fsm"),
				Args: []string{"-service", "demo", "-function", "iperf", "-name", "start", "-type", "start"}},
			"manoctl/sonfsmdemoiperfstop1": {Command: bin("configure-fsm"),
				Args: []string{"-service", "demo", "-function", "iperf", "-name", "stop", "-type", "stop"}},
			"manoctl/sonfsmdemoiperfconfigure1": {Command: bin("configure-fsm"),
				Args: []string{"-service", "demo", "-function", "iperf", "-name", "configure", "-type", "configure"}},
		},
		StopTimeout: smruntime.Duration(3 * time.Second),
		LogDir:      "logs",
	}
	for k, v := range extra {
		cfg.Managers[k] = v
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "managers.yaml")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// pidRuntime records the process ids of the managers it starts.
type pidRuntime struct {
	*smruntime.Local
	mu   sync.Mutex
	pids map[int]string
}

func (r *pidRuntime) Start(ctx context.Context, spec smr.ManagerSpec) (smr.Instance, error) {
	inst, err := r.Local.Start(ctx, spec)
	if err == nil {
		if p, ok := inst.(interface{ PID() int }); ok {
			r.mu.Lock()
			r.pids[p.PID()] = spec.Name
			r.mu.Unlock()
		}
	}
	return inst, err
}

// alive returns the recorded processes that still exist.
func (r *pidRuntime) alive() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for pid, name := range r.pids {
		if err := syscall.Kill(pid, 0); err == nil || !errors.Is(err, syscall.ESRCH) {
			out = append(out, fmt.Sprintf("%s (pid %d)", name, pid))
		}
	}
	slices.Sort(out)
	return out
}

type processPlatform struct {
	runtime *pidRuntime
	stack   *smruntime.Stack
	mano    *mano.Platform
	gk      *gk.Client
	ia      *emulator.Emulator
	records *slm.MemRecords
	conn    *amqp.Connector
	logDir  string
}

type processOptions struct {
	extra        map[string]smruntime.LocalManager
	registration time.Duration
}

// startProcessPlatform runs the MANO over RabbitMQ, on a private vhost and
// exchange, with the SMR starting the example managers as processes.
func startProcessPlatform(t *testing.T, o processOptions) *processPlatform {
	t.Helper()
	ctx := context.Background()
	vhost := amqptest.Vhost(t)
	cfg := amqptest.Config(t, vhost)
	def, err := amqp.Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { def.Close() })
	// The managers' vhosts: real RabbitMQ vhosts, with permissions for the
	// test user (the MANO's and the managers' broker user here).
	user := "guest"
	vhosts := &smruntime.AMQPVhosts{Manager: amqptest.Manager(t), Users: []string{user}}
	cfgPath := runtimeConfig(t, o.extra)
	lc, err := smruntime.LoadLocalConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	rt := &pidRuntime{Local: smruntime.NewLocal(lc, amqptest.Logger(t)), pids: map[int]string{}}
	if o.registration == 0 {
		o.registration = 15 * time.Second
	}
	timeouts := func(topic string) time.Duration {
		switch {
		case strings.HasPrefix(topic, "generic."), strings.HasPrefix(topic, "placement."):
			return 3 * time.Second
		case strings.HasPrefix(topic, "specific.manager.registry."), strings.HasPrefix(topic, "mano.function."):
			return 60 * time.Second
		}
		return embedded.DefaultTimeouts(topic)
	}
	p := &processPlatform{runtime: rt, records: slm.NewMemRecords(), conn: amqp.NewConnector(cfg), logDir: lc.LogDir}
	p.stack = smruntime.NewStack(smruntime.StackConfig{
		Default: def, Connector: p.conn, Vhosts: vhosts, Runtime: rt,
		BrokerURL: func(v string) string {
			u, err := amqp.URLWithVhost(amqptest.URL(), v)
			if err != nil {
				t.Error(err)
			}
			return u
		},
		Exchange: def.Exchange(), RegistrationTimeout: o.registration, Timeouts: timeouts, Logger: amqptest.Logger(t),
	})
	p.ia, err = emulator.New(emulator.Inventory{VIMs: []emulator.VIMConfig{
		{Name: "athens", City: "Athens", Endpoint: "10.100.32.200", Cores: 32, MemoryMB: 65536},
		{Name: "aveiro", City: "Aveiro", Endpoint: "10.1.10.0", Cores: 32, MemoryMB: 65536},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.ia.Start(ctx, def); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.ia.Close() })
	mc := mano.Config{Placer: embedded.DefaultPlacer(), Records: p.records, Timeouts: timeouts, Logger: amqptest.Logger(t)}
	p.stack.Configure(&mc)
	p.mano, err = mano.Start(ctx, def, mc)
	if err != nil {
		t.Fatal(err)
	}
	p.gk = gk.New(def, bus.AppGatekeeper)
	t.Cleanup(func() {
		p.gk.Close()
		p.mano.Close() // stops the SMR, which stops every manager and deletes their vhosts
		p.stack.Close()
		if a := rt.alive(); len(a) > 0 {
			t.Errorf("manager processes left after the platform closed: %v", a)
			rt.StopAll(context.Background())
		}
	})
	return p
}

func (p *processPlatform) create(t *testing.T) (*gk.Result, string) {
	t.Helper()
	dir := "testdata/sonata-demo-sm"
	req, err := embedded.LoadCreateRequest(filepath.Join(dir, "sonata-demo.yml"),
		filepath.Join(dir, "firewall-vnfd.yml"), filepath.Join(dir, "iperf-vnfd.yml"), filepath.Join(dir, "tcpdump-vnfd.yml"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := p.gk.Create(ctx, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	id := ""
	if res.OK() {
		id = res.Final.NSR["id"].(string)
	}
	return res, id
}

// assertClean checks that no manager process is left, that the registry
// holds no vhost, and that the vhosts are gone from RabbitMQ.
func (p *processPlatform) assertClean(t *testing.T, vhosts ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && (len(p.runtime.alive()) > 0 || len(p.runtime.Running()) > 0) {
		time.Sleep(20 * time.Millisecond)
	}
	if a := p.runtime.alive(); len(a) > 0 {
		t.Errorf("manager processes still running: %v", a)
	}
	if r := p.stack.SMR.Running(); len(r) > 0 {
		t.Errorf("SMR still runs %v", r)
	}
	if v := p.stack.SMR.Vhosts(); len(v) > 0 {
		t.Errorf("SMR still holds vhosts %v", v)
	}
	for _, v := range vhosts {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		b, err := p.conn.Dial(ctx, v)
		cancel()
		if err == nil {
			b.Close()
			t.Errorf("vhost %s still exists on the broker", v)
		} else if !errors.Is(err, bus.ErrNoVhost) {
			t.Errorf("vhost %s: %v", v, err)
		}
	}
}

// TestProcessManagersLifecycle runs the example managers as local processes
// against RabbitMQ: instantiation of the demo service with its task,
// configure and placement SSMs and iperf's start, stop and configure FSMs,
// then termination, after which no process and no vhost is left.
func TestProcessManagersLifecycle(t *testing.T) {
	amqptest.Require(t)
	p := startProcessPlatform(t, processOptions{})
	res, servID := p.create(t)
	if !res.OK() {
		t.Fatalf("create: %+v", res.Final)
	}
	running := p.runtime.Running()
	if len(running) != 6 || len(p.runtime.alive()) != 6 {
		t.Fatalf("manager processes %+v (alive %v), want 6", running, p.runtime.alive())
	}
	var fsmVhost string
	st, _ := p.records.LoadService(context.Background(), servID)
	for _, f := range st.Functions {
		if strings.Contains(f.VNFID, "iperf") {
			fsmVhost = bus.FSMVhost(f.ID)
		}
	}
	if got, want := p.stack.SMR.Vhosts(), []string{fsmVhost, bus.SSMVhost(servID)}; !sameSet(got, want) {
		t.Errorf("SMR vhosts %v, want %v", got, want)
	}
	// Every manager registered and posted its status (§7.3, M4).
	for _, rec := range p.stack.SMR.Records() {
		if rec.Status != smr.RecordRunning || rec.LastStatus != "running" {
			t.Errorf("record %+v", rec)
		}
	}
	// The placement SSM colocated the service; the task SSM's schedule ran.
	vims := map[string]bool{}
	for _, f := range p.ia.Functions(servID) {
		vims[f.VIMUUID] = true
	}
	if len(vims) != 1 {
		t.Errorf("service spread over %d VIMs, want 1", len(vims))
	}
	if steps := instantiateSteps(p.records); !slices.Contains(steps, slm.TaskConfigureSSM) ||
		slices.Index(steps, slm.TaskChain) > slices.Index(steps, slm.TaskStart) {
		t.Errorf("steps %v", steps)
	}
	// The processes log to the log directory (sdk.Main logs to stderr).
	for _, r := range running {
		b, err := os.ReadFile(filepath.Join(p.logDir, r.Name+".log"))
		if err != nil || !strings.Contains(string(b), "registered") {
			t.Errorf("log of %s: %q %v", r.Name, b, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, err := p.gk.Terminate(ctx, servID, nil)
	if err != nil || !r.OK() {
		t.Fatalf("terminate: %v %+v", err, r)
	}
	p.assertClean(t, bus.SSMVhost(servID), fsmVhost)
}

func instantiateSteps(r *slm.MemRecords) []string {
	var out []string
	for _, op := range r.Operations() {
		if op.Kind == slm.KindInstantiate {
			for _, s := range op.Steps {
				out = append(out, s.Name)
			}
		}
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// TestProcessManagerFailures: a manager process that never registers, one
// that crashes before registering, one that crashes when called and ones
// that answer with an error each make the instantiation fail with one
// ERROR naming the step; it is rolled back and no manager process is left.
func TestProcessManagerFailures(t *testing.T) {
	amqptest.Require(t)
	bin := func(name string) string { return filepath.Join(binDir, name) }
	withArgs := func(name string, args ...string) smruntime.LocalManager {
		return smruntime.LocalManager{Command: bin(name), Args: args}
	}
	cases := []struct {
		name  string
		extra map[string]smruntime.LocalManager
		step  string
		text  string
	}{
		{"never-registers", map[string]smruntime.LocalManager{
			// A program that does not speak the protocol at all.
			"manoctl/sonssmdemoplacement1": {Command: "sleep", Args: []string{"300"}},
		}, slm.TaskInstantSSMs, "Registration failed"},
		{"crashes-before-registering", map[string]smruntime.LocalManager{
			"manoctl/sonssmdemotask1": {Command: "sh", Args: []string{"-c", "echo boom >&2; exit 3"}},
		}, slm.TaskInstantSSMs, "manager exited before registering: exit status 3"},
		{"task-ssm-crashes-when-called", map[string]smruntime.LocalManager{
			"manoctl/sonssmdemotask1": withArgs("task-ssm", "-service", "demo", "-name", "task", "-crash-on", "task"),
		}, slm.TaskTriggerTaskSSM, "ssm sonssmdemotask1 exited: exit status 3"},
		{"placement-ssm-answers-error", map[string]smruntime.LocalManager{
			"manoctl/sonssmdemoplacement1": withArgs("placement-ssm", "-service", "demo", "-name", "placement", "-fail-on", "placement"),
		}, slm.TaskPlacementSSM, "refuses placement calls"},
		{"start-fsm-answers-error", map[string]smruntime.LocalManager{
			"manoctl/sonfsmdemoiperfstart1": withArgs("configure-fsm", "-service", "demo", "-function", "iperf", "-name", "start", "-type", "start", "-fail-on", "start"),
		}, slm.TaskStart, "refuses start calls"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := startProcessPlatform(t, processOptions{extra: c.extra, registration: 5 * time.Second})
			res, _ := p.create(t)
			if res.OK() {
				t.Fatal("instantiation succeeded")
			}
			msg := wire.ErrorText(res.Final.Error)
			if !strings.HasPrefix(msg, c.step+": ") || !strings.Contains(msg, c.text) {
				t.Errorf("ERROR %q, want step %s and %q", msg, c.step, c.text)
			}
			deadline := time.Now().Add(30 * time.Second)
			for len(p.mano.SLM.Active()) > 0 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			var vhosts []string
			for _, s := range p.records.Services() {
				vhosts = append(vhosts, bus.SSMVhost(s.ID))
				for _, f := range s.Functions {
					vhosts = append(vhosts, bus.FSMVhost(f.ID))
				}
			}
			p.assertClean(t, vhosts...)
			if fs := p.ia.Snapshot().Functions; len(fs) != 0 {
				t.Errorf("%d functions left deployed", len(fs))
			}
			if ops := p.records.Operations(); len(ops) != 1 || ops[0].Status != slm.OpRolledBack || ops[0].FailedStep != c.step {
				t.Errorf("operation %+v", ops)
			}
		})
	}
}
