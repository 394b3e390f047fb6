package daemon_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/manoctl/manoctl/adapters/amqp"
	"github.com/manoctl/manoctl/adapters/amqp/amqptest"
	"github.com/manoctl/manoctl/adapters/embedded"
	"github.com/manoctl/manoctl/adapters/emulator"
	"github.com/manoctl/manoctl/adapters/smruntime"
	"github.com/manoctl/manoctl/reconcile/wire"
)

// startEmulatorInProcess runs the IA emulator in the test process, on its
// own AMQP connection to the platform's vhost and exchange, so that the
// test can inject faults (emulator.Inject, SetLatencyFunc, ClearFaults)
// while the daemon runs as its own process. `manoctl emulator` only
// exposes --latency: the fault API stays a Go API for tests rather than
// a control surface of the product.
func startEmulatorInProcess(t *testing.T, p *platform) *emulator.Emulator {
	t.Helper()
	inv, err := emulator.ParseInventory([]byte(testVIMs))
	if err != nil {
		t.Fatal(err)
	}
	emu, err := emulator.New(inv, emulator.WithConcurrency(16))
	if err != nil {
		t.Fatal(err)
	}
	cfg := amqptest.Config(t, p.vhost)
	cfg.Exchange = "son-kernel"
	cfg.Name = "manoctl emulator (test process)"
	cfg.Logger = slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := amqp.Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := emu.Start(ctx, b); err != nil {
		b.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		emu.Close()
		b.Close()
	})
	return emu
}

// smBinaries builds the example specific managers once per test binary.
var smBinaries struct {
	once sync.Once
	dir  string
	err  error
}

func exampleManagers(t testing.TB) string {
	t.Helper()
	smBinaries.once.Do(func() {
		bin := manoctlBinary(t) // shares its temporary directory
		smBinaries.dir = filepath.Join(filepath.Dir(bin), "managers")
		cmd := exec.Command("go", "build", "-o", smBinaries.dir+string(filepath.Separator),
			"github.com/manoctl/manoctl/adapters/smruntime/examples/task-ssm",
			"github.com/manoctl/manoctl/adapters/smruntime/examples/configure-ssm",
			"github.com/manoctl/manoctl/adapters/smruntime/examples/placement-ssm",
			"github.com/manoctl/manoctl/adapters/smruntime/examples/configure-fsm")
		if out, err := cmd.CombinedOutput(); err != nil {
			smBinaries.err = fmt.Errorf("go build the example managers: %v\n%s", err, out)
		}
	})
	if smBinaries.err != nil {
		t.Fatal(smBinaries.err)
	}
	return smBinaries.dir
}

// smRuntimeConfig writes the daemon's --sm-runtime-config for the SSMs and
// FSMs of adapters/smruntime/testdata/sonata-demo-sm: every image maps to
// an example manager; extra args (-crash-on, -fail-on) are added per
// image.
func smRuntimeConfig(t *testing.T, extra map[string][]string) string {
	t.Helper()
	dir := exampleManagers(t)
	bin := func(name string) string { return filepath.Join(dir, name) }
	m := map[string]smruntime.LocalManager{
		"manoctl/sonssmdemotask1":      {Command: bin("task-ssm"), Args: []string{"-service", "demo", "-name", "task"}},
		"manoctl/sonssmdemoconfigure1": {Command: bin("configure-ssm"), Args: []string{"-service", "demo", "-name", "configure"}},
		"manoctl/sonssmdemoplacement1": {Command: bin("placement-ssm"), Args: []string{"-service", "demo", "-name", "placement"}},
		"manoctl/sonfsmdemoiperfstart1": {Command: bin("configure-fsm"),
			Args: []string{"-service", "demo", "-function", "iperf", "-name", "start", "-type", "start"}},
		"manoctl/sonfsmdemoiperfstop1": {Command: bin("configure-fsm"),
			Args: []string{"-service", "demo", "-function", "iperf", "-name", "stop", "-type", "stop"}},
		"manoctl/sonfsmdemoiperfconfigure1": {Command: bin("configure-fsm"),
			Args: []string{"-service", "demo", "-function", "iperf", "-name", "configure", "-type", "configure"}},
	}
	for image, args := range extra {
		lm, ok := m[image]
		if !ok {
			t.Fatalf("no manager image %s", image)
		}
		lm.Args = append(append([]string(nil), lm.Args...), args...)
		m[image] = lm
	}
	cfg := smruntime.LocalConfig{Managers: m, StopTimeout: smruntime.Duration(3 * time.Second), LogDir: filepath.Join(t.TempDir(), "managers")}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "sm-runtime.yaml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// sonataDemoSM is the create request of the demo service with a task, a
// configure and a placement SSM and iperf's start, stop and configure
// FSMs.
func sonataDemoSM(t testing.TB) wire.CreateRequest {
	t.Helper()
	dir := filepath.Join("..", "smruntime", "testdata", "sonata-demo-sm")
	req, err := embedded.LoadCreateRequest(filepath.Join(dir, "sonata-demo.yml"),
		filepath.Join(dir, "firewall-vnfd.yml"), filepath.Join(dir, "iperf-vnfd.yml"), filepath.Join(dir, "tcpdump-vnfd.yml"))
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// childProcesses lists the live (not zombie) processes whose parent is
// pid: the specific managers a daemon started.
func childProcesses(pid int) []string {
	ents, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 || f[0] == "Z" {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid == pid {
			out = append(out, e.Name()+" "+s[strings.IndexByte(s, '(')+1:i])
		}
	}
	return out
}

// procStatus reads VmRSS and VmHWM (kB) of a process.
func procStatus(pid int) (rssKB, hwmKB int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			rssKB = n
		case "VmHWM":
			hwmKB = n
		}
	}
	return rssKB, hwmKB, sc.Err()
}
