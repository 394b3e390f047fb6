package daemon_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runCLIExit runs a manoctl command and returns its output and exit code.
func runCLIExit(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(manoctlBinary(t), args...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	}
	t.Fatalf("manoctl %s: %v", strings.Join(args, " "), err)
	return "", -1
}

// The CLI drives a daemon over the broker: plan, apply, get, describe,
// events and destroy --broker, with the exit codes of the local mode.
func TestCLIAgainstDaemon(t *testing.T) {
	p := startPlatform(t, nil)
	manifest := writeManifest(t, 2)
	br := []string{"--broker", p.url}

	out, code := runCLIExit(t, append([]string{"plan", "-f", manifest, "--detailed-exitcode"}, br...)...)
	if code != 2 || !strings.Contains(out, "Plan: 2 to create.") {
		t.Fatalf("plan (exit %d):\n%s", code, out)
	}
	planFile := filepath.Join(t.TempDir(), "demo.plan")
	if out, code = runCLIExit(t, append([]string{"plan", "-f", manifest, "-out", planFile}, br...)...); code != 0 {
		t.Fatalf("plan -out (exit %d):\n%s", code, out)
	}

	// Follow the daemon's events while it applies.
	ctx, cancel := context.WithCancel(context.Background())
	events := exec.CommandContext(ctx, manoctlBinary(t), append([]string{"events", "--follow"}, br...)...)
	stdout, _ := events.StdoutPipe()
	if err := events.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		events.Wait()
	}()
	lines := make(chan string, 1024)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	time.Sleep(500 * time.Millisecond) // let it subscribe

	if out, code = runCLIExit(t, append([]string{"apply", planFile}, br...)...); code != 0 || !strings.Contains(out, "Apply complete! 2 changes applied.") {
		t.Fatalf("apply saved plan (exit %d):\n%s", code, out)
	}
	// The plan is spent: applying it again is refused as stale.
	if out, code = runCLIExit(t, append([]string{"apply", planFile}, br...)...); code != 4 {
		t.Fatalf("apply of a spent plan: exit %d, want 4:\n%s", code, out)
	}
	if out, code = runCLIExit(t, append([]string{"plan", "-f", manifest, "--detailed-exitcode"}, br...)...); code != 0 {
		t.Fatalf("plan after apply: exit %d, want 0:\n%s", code, out)
	}

	var got struct {
		Items []map[string]any `json:"items"`
	}
	out = runCLI(t, append([]string{"get", "services", "-o", "json"}, br...)...)
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got.Items) != 2 {
		t.Fatalf("get services -o json: %v\n%s", err, out)
	}
	for _, s := range got.Items {
		if s["status"] != "ready" {
			t.Errorf("service %v is %v", s["name"], s["status"])
		}
		if vims, _ := s["vims"].([]any); len(vims) == 0 || strings.Count(vims[0].(string), "-") == 4 {
			t.Errorf("service %v lists VIMs %v, want their names", s["name"], s["vims"])
		}
	}
	out = runCLI(t, append([]string{"describe", "service", "demo-1"}, br...)...)
	if !strings.Contains(out, "Status:       ready") || !strings.Contains(out, "vnf_firewall") {
		t.Errorf("describe service demo-1:\n%s", out)
	}
	if _, code = runCLIExit(t, append([]string{"describe", "service", "nope"}, br...)...); code != 1 {
		t.Errorf("describe of an unknown service: exit %d, want 1", code)
	}

	if out, code = runCLIExit(t, append([]string{"destroy", "-f", manifest, "--auto-approve", "demo-2"}, br...)...); code != 0 {
		t.Fatalf("destroy demo-2 (exit %d):\n%s", code, out)
	}
	out = runCLI(t, append([]string{"get", "services"}, br...)...)
	if !strings.Contains(out, "demo-1") || strings.Contains(out, "demo-2") {
		t.Errorf("after destroy demo-2:\n%s", out)
	}

	// Two instantiations and one termination, each step and each end.
	ends := map[string]int{}
	deadline := time.After(10 * time.Second)
	for ends["instantiate"] < 2 || ends["terminate"] < 1 {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("events --follow ended: %v", ends)
			}
			var e struct{ Kind, Step, Status string }
			if err := json.Unmarshal([]byte(l), &e); err != nil {
				t.Fatalf("events line %q: %v", l, err)
			}
			if e.Step == "" && e.Status == "succeeded" {
				ends[e.Kind]++
			}
		case <-deadline:
			t.Fatalf("events --follow reported %v, want 2 instantiations and 1 termination", ends)
		}
	}
	if _, err := os.Stat(planFile); err != nil {
		t.Fatal(err)
	}
}

// writeManifest writes a manifest of n sonata-demo services next to a
// copy of the demo descriptors and returns its path.
func writeManifest(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "descriptors"), os.DirFS("../../testdata/demo/descriptors")); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("descriptors: [./descriptors]\n")
	b.WriteString(testVIMs)
	b.WriteString("services:\n")
	for i := range n {
		fmt.Fprintf(&b, "  demo-%d:\n    nsd: {vendor: eu.sonata-nfv.service-descriptor, name: sonata-demo, version: \"0.2.1\"}\n", i+1)
	}
	path := filepath.Join(dir, "manoctl.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
