package daemon_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/manoctl/manoctl/adapters/amqp/amqptest"
)

func TestMain(m *testing.M) {
	code := amqptest.Run(m)
	if binary.dir != "" {
		os.RemoveAll(binary.dir)
	}
	os.Exit(code)
}

var binary struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// manoctlBinary builds cmd/manoctl once per test binary: the daemon and
// emulator tests run them as the separate processes they are in
// production.
func manoctlBinary(t testing.TB) string {
	t.Helper()
	binary.once.Do(func() {
		binary.dir, binary.err = os.MkdirTemp("", "manoctl-daemon-test-")
		if binary.err != nil {
			return
		}
		binary.path = filepath.Join(binary.dir, "manoctl")
		cmd := exec.Command("go", "build", "-o", binary.path, "github.com/manoctl/manoctl/cmd/manoctl")
		out, err := cmd.CombinedOutput()
		if err != nil {
			binary.err = fmt.Errorf("go build cmd/manoctl: %v\n%s", err, out)
		}
	})
	if binary.err != nil {
		t.Fatal(binary.err)
	}
	return binary.path
}

// syncBuffer is a bytes.Buffer safe for a process's output and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proc is a manoctl process under test.
type proc struct {
	t     testing.TB
	name  string
	cmd   *exec.Cmd
	out   *syncBuffer
	ready string
	done  chan struct{}
	err   error
}

// startProc runs manoctl with args plus --ready-file, and waits until the
// process wrote the ready file. The process is killed when t ends, and
// its output logged when t failed.
func startProc(t testing.TB, name string, env []string, args ...string) *proc {
	t.Helper()
	return startExe(t, name, env, manoctlBinary(t), args...)
}

// startExe is startProc for any program (manoctl itself, or a program
// that starts manoctl such as nsenter): exe and args, plus --ready-file,
// with env added to the test's environment.
func startExe(t testing.TB, name string, env []string, exe string, args ...string) *proc {
	t.Helper()
	ready := filepath.Join(t.TempDir(), name+".ready")
	p := &proc{t: t, name: name, out: &syncBuffer{}, ready: ready, done: make(chan struct{})}
	p.cmd = exec.Command(exe, append(args, "--ready-file", ready)...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("%s output:\n%s", name, p.out.String())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(ready); err == nil {
			return p
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited before it was ready (%v):\n%s", name, p.err, p.out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after 60s:\n%s", name, p.out.String())
		}
	}
}

// readyInfo decodes the process's ready file.
func (p *proc) readyInfo() map[string]any {
	p.t.Helper()
	b, err := os.ReadFile(p.ready)
	if err != nil {
		p.t.Fatalf("%s ready file: %v", p.name, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		p.t.Fatalf("%s ready file: %v", p.name, err)
	}
	return m
}

// stop sends sig and waits for the exit; it fails t when the process
// outlives timeout.
func (p *proc) stop(sig syscall.Signal, timeout time.Duration) error {
	p.t.Helper()
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		p.cmd.Process.Kill()
		p.t.Fatalf("%s still running %s after %v:\n%s", p.name, timeout, sig, p.out.String())
		return nil
	}
}

// runCLI runs a manoctl command to its end and returns its standard
// output; it fails t on a non-zero exit.
func runCLI(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command(manoctlBinary(t), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("manoctl %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}
