package main

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/manoctl/manoctl/adapters/amqp"
	"github.com/manoctl/manoctl/adapters/amqp/amqptest"
	"github.com/manoctl/manoctl/reconcile/records"
)

// TestMain lets testscript run the real Main as the manoctl command: each
// "exec manoctl" in a script re-executes this test binary.
func TestMain(m *testing.M) {
	if os.Getenv("MANOCTL_SKIP_AMQP") == "1" {
		fmt.Fprintln(os.Stderr, "WARNING: MANOCTL_SKIP_AMQP=1, RabbitMQ scripts NOT run")
	}
	testscript.Main(m, map[string]func(){
		"manoctl": func() { os.Exit(Main()) },
	})
}

// TestScripts runs every testdata/scripts/*.txtar. Goldens are rewritten
// with MANOCTL_UPDATE=1.
func TestScripts(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join(root, "testdata", "scripts"),
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		UpdateScripts:       os.Getenv("MANOCTL_UPDATE") == "1",
		Setup: func(env *testscript.Env) error {
			// Scripts start with an almost empty environment: give manoctl
			// a home and caches inside the script's work directory, and the
			// repository's fixtures.
			home := filepath.Join(env.WorkDir, ".home")
			if err := os.MkdirAll(home, 0o755); err != nil {
				return err
			}
			env.Setenv("HOME", home)
			env.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
			env.Setenv("XDG_CACHE_HOME", filepath.Join(home, ".cache"))
			env.Setenv("NO_COLOR", "1")
			env.Setenv("MANOCTL_SKIP_AMQP", os.Getenv("MANOCTL_SKIP_AMQP"))
			env.Setenv("DEMO", filepath.Join(root, "testdata", "demo", "descriptors"))
			// Every script gets the demo descriptors in $WORK/descriptors,
			// so that manifests can name them by a relative path.
			return copyDir(filepath.Join(root, "testdata", "demo", "descriptors"), filepath.Join(env.WorkDir, "descriptors"))
		},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "amqp":
				// RabbitMQ scripts run unless explicitly skipped (STYLE.md:
				// the opt-out is explicit and loud).
				return os.Getenv("MANOCTL_SKIP_AMQP") != "1", nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"mkzip":     cmdMkzip,
			"mkbig":     cmdMkbig,
			"holdlock":  cmdHoldLock,
			"exitcode":  cmdExitCode,
			"vhost":     cmdVhost,
			"waitfile":  cmdWaitFile,
			"putplugin": cmdPutPlugin,
			"stdoutenv": cmdStdoutEnv,
		},
	})
}

// cmdMkzip builds a zip: mkzip OUT NAME=FILE... stores FILE (relative to
// $WORK) under NAME, which may be hostile ("../x"); NAME/ alone adds a
// directory entry.
func cmdMkzip(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! mkzip")
	}
	if len(args) < 1 {
		ts.Fatalf("usage: mkzip OUT [NAME=FILE | DIR/]...")
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, a := range args[1:] {
		if strings.HasSuffix(a, "/") && !strings.Contains(a, "=") {
			_, err := zw.Create(a)
			ts.Check(err)
			continue
		}
		name, file, ok := strings.Cut(a, "=")
		if !ok {
			ts.Fatalf("mkzip: want NAME=FILE, got %q", a)
		}
		data, err := os.ReadFile(ts.MkAbs(file))
		ts.Check(err)
		w, err := zw.Create(name)
		ts.Check(err)
		_, err = w.Write(data)
		ts.Check(err)
	}
	ts.Check(zw.Close())
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), buf.Bytes(), 0o644))
}

// cmdMkbig writes a text file of N MiB: mkbig FILE N.
func cmdMkbig(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: mkbig FILE MiB")
	}
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	line := []byte("# padding padding padding padding padding padding padding padding\n")
	f, err := os.Create(ts.MkAbs(args[0]))
	ts.Check(err)
	defer f.Close()
	for written := 0; written < n<<20; written += len(line) {
		_, err := f.Write(line)
		ts.Check(err)
	}
}

func copyDir(src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// cmdHoldLock opens a state directory for writing and keeps it open (and
// locked) until the script ends: holdlock DIR. It stands for another
// manoctl process that holds the state.
func cmdHoldLock(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: holdlock DIR")
	}
	dir := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(dir, 0o700))
	s, err := records.Open(dir, records.Options{Command: "testscript holdlock"})
	ts.Check(err)
	ts.Defer(func() { s.Close() })
}

// cmdExitCode runs a command and checks its exit status: exitcode N
// manoctl ARGS... Its output can be checked with stdout and stderr after,
// as for exec.
func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N COMMAND [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("%s: %v", args[1], err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", strings.Join(args[1:], " "), got, want)
	}
}

// cmdVhost creates a private virtual host on the test broker
// (amqptest.URL, with full permissions for its user), sets $BROKER to its
// URL, and deletes it, with its queues and connections, when the script
// ends: vhost. Use it under [amqp].
func cmdVhost(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: vhost")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := amqp.NewVhostManager(ctx, amqp.ManagerConfig{})
	if err != nil {
		ts.Fatalf("vhost: no way to manage vhosts on the test broker (is RabbitMQ running? `rabbitmq-server -detached`): %v", err)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := "manoctl-test-script-" + hex.EncodeToString(b[:])
	user := "guest"
	if u, err := url.Parse(amqptest.URL()); err == nil && u.User != nil {
		user = u.User.Username()
	}
	if err := amqp.EnsureVhost(ctx, m, name, user); err != nil {
		ts.Fatalf("vhost: create %s: %v", name, err)
	}
	ts.Defer(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := m.DeleteVhost(ctx, name); err != nil {
			ts.Logf("vhost: delete %s: %v", name, err)
		}
	})
	u, err := amqp.URLWithVhost(amqptest.URL(), name)
	ts.Check(err)
	ts.Setenv("BROKER", u)
}

// cmdWaitFile waits until a file exists: waitfile FILE [TIMEOUT] (a Go
// duration, 30s by default), for a background process's ready file.
func cmdWaitFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: waitfile FILE [TIMEOUT]")
	}
	timeout := 30 * time.Second
	if len(args) == 2 {
		d, err := time.ParseDuration(args[1])
		ts.Check(err)
		timeout = d
	}
	deadline := time.Now().Add(timeout)
	for {
		if _, err := os.Stat(ts.MkAbs(args[0])); err == nil {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("waitfile: %s did not appear within %s", args[0], timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cmdPutPlugin writes a row into a state directory's plugin table, as a
// plugin manager would have: putplugin DIR UUID NAME STATE. It stands for
// registrations of earlier runs.
func cmdPutPlugin(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 4 {
		ts.Fatalf("usage: putplugin DIR UUID NAME STATE")
	}
	dir := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(dir, 0o700))
	s, err := records.Open(dir, records.Options{Command: "testscript putplugin"})
	ts.Check(err)
	defer s.Close()
	now := time.Now().UTC()
	_, err = s.UpsertPlugin(&records.Plugin{UUID: args[1], Name: args[2], Version: "0.1-dev", State: args[3],
		RegisteredAt: now.Add(-time.Hour), LastHeartbeatAt: now.Add(-time.Minute)})
	ts.Check(err)
}

// cmdStdoutEnv sets VAR to the first submatch of REGEXP in the standard
// output of the last command: stdoutenv VAR REGEXP.
func cmdStdoutEnv(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: stdoutenv VAR REGEXP")
	}
	re, err := regexp.Compile(`(?m)` + args[1])
	ts.Check(err)
	m := re.FindStringSubmatch(ts.ReadFile("stdout"))
	if len(m) < 2 {
		ts.Fatalf("stdoutenv: no match for %q (with a submatch) in stdout", args[1])
	}
	ts.Setenv(args[0], m[1])
}
