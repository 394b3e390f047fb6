//go:build unix

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/manoctl/manoctl/adapters/embedded"
	"github.com/manoctl/manoctl/reconcile/desired"
	"github.com/manoctl/manoctl/reconcile/placement"
	"github.com/manoctl/manoctl/reconcile/plan"
	"github.com/manoctl/manoctl/reconcile/records"
)

// TestApplyKilled kills `manoctl apply` (SIGKILL) in the middle of a large
// apply, at several points, and checks what a crash must leave: a state
// directory that opens, with everything committed before the kill; an
// infrastructure that loads and runs nothing the records do not own; and
// a state from which plan and apply converge on the manifest.
//
// The apply goes from a first manifest (32 services) to a second that
// destroys, scales, updates and replaces some of them and creates others:
// 36 changes, each a workflow of many committed steps. Each kill point
// starts from a copy of the state the first manifest left, and they run
// in parallel.
func TestApplyKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the crash test runs several large applies")
	}
	bin, err := exec.LookPath("manoctl") // the test binary, as testscript.Main installed it
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	descs := filepath.Join(work, "descriptors")
	for _, src := range []string{filepath.Join(root, "testdata", "demo", "descriptors"), filepath.Join(root, "adapters", "embedded", "testdata", "reconcile")} {
		if err := copyDir(src, descs); err != nil {
			t.Fatal(err)
		}
	}
	const (
		head    = "descriptors: [./descriptors]\nvims:\n  - {name: athens, city: Athens, cores: 1024, memory_mb: 4194304}\n  - {name: aveiro, city: Aveiro, cores: 1024, memory_mb: 4194304}\nservices:\n"
		demo021 = `{vendor: eu.sonata-nfv.service-descriptor, name: sonata-demo, version: "0.2.1"}`
		demo022 = `{vendor: eu.sonata-nfv.service-descriptor, name: sonata-demo, version: "0.2.2"}`
		pair    = `{vendor: eu.example, name: iperf-pair, version: "1.0"}`
	)
	var a, b strings.Builder
	a.WriteString(head)
	b.WriteString(head)
	for i := 0; i < 32; i++ {
		if i >= 8 && i < 12 {
			fmt.Fprintf(&a, "  s-%02d: {nsd: %s, instances: {vnf_tcpdump: 3}}\n", i, demo021)
		} else {
			fmt.Fprintf(&a, "  s-%02d: {nsd: %s}\n", i, demo021)
		}
		switch {
		case i < 8: // destroyed
		case i < 12: // scaled in (tcpdump) and out (iperf)
			fmt.Fprintf(&b, "  s-%02d: {nsd: %s, instances: {vnf_iperf: 3}}\n", i, demo021)
		case i < 16: // scaled out
			fmt.Fprintf(&b, "  s-%02d: {nsd: %s, instances: {vnf_tcpdump: 2}}\n", i, demo021)
		case i < 20: // updated in place
			fmt.Fprintf(&b, "  s-%02d: {nsd: %s}\n", i, demo022)
		case i < 24: // replaced
			fmt.Fprintf(&b, "  s-%02d: {nsd: %s}\n", i, pair)
		default: // unchanged
			fmt.Fprintf(&b, "  s-%02d: {nsd: %s}\n", i, demo021)
		}
	}
	for i := 0; i < 12; i++ {
		fmt.Fprintf(&b, "  n-%02d: {nsd: %s}\n", i, demo021)
	}
	manifestA, manifestB := filepath.Join(work, "a.yaml"), filepath.Join(work, "b.yaml")
	for p, body := range map[string]string{manifestA: a.String(), manifestB: b.String()} {
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m, err := desired.Load(manifestB)
	if err != nil {
		t.Fatal(err)
	}
	stB, err := desired.Resolve(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}

	run := func(t *testing.T, dir string, want int, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append(args, "--state-dir", dir)...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "NO_COLOR=1")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != want {
			t.Fatalf("manoctl %s exited %d, want %d:\n%s", strings.Join(args, " "), code, want, out.String())
		}
		return out.String()
	}

	// The state the first manifest leaves, copied for every kill point.
	base := filepath.Join(work, "base")
	run(t, base, 0, "apply", "--auto-approve", "-f", manifestA)
	baseBytes := journalBytes(t, base)
	baseIndex := latestIndex(t, base)

	// Kill when the journal has grown by these fractions of what the
	// first apply (32 creates) wrote; the second writes a little more.
	// The kill points run at once, each on its own copy.
	var killed atomic.Int32
	t.Run("kill", func(t *testing.T) {
		for _, frac := range []float64{0.1, 0.3, 0.55} {
			t.Run(fmt.Sprintf("at%.0f%%", frac*100), func(t *testing.T) {
				t.Parallel()
				dir := filepath.Join(work, fmt.Sprintf("state-%.0f", frac*100))
				if err := copyDir(base, dir); err != nil {
					t.Fatal(err)
				}
				if killApply(t, bin, work, manifestB, dir, baseBytes+int64(frac*float64(baseBytes)), baseIndex, stB) {
					killed.Add(1)
				}

				// Plan and apply converge.
				run(t, dir, 0, "plan", "-f", manifestB)
				run(t, dir, 0, "apply", "--auto-approve", "-f", manifestB)
				if final := run(t, dir, 0, "plan", "--detailed-exitcode", "-f", manifestB); !strings.Contains(final, "No changes.") {
					t.Errorf("final plan:\n%s", final)
				}
				store, err := records.Open(dir, records.Options{ReadOnly: true})
				if err != nil {
					t.Fatal(err)
				}
				defer store.Close()
				checkDesired(t, store, stB)
				if orphans := orphanFunctions(t, store, dir, stB); len(orphans) > 0 {
					t.Errorf("after convergence, the infrastructure runs functions no record owns:\n  %s", strings.Join(orphans, "\n  "))
				}
			})
		}
	})
	if killed.Load() == 0 {
		t.Error("every apply ended before its kill point: nothing was killed mid-apply")
	}
}

// killApply runs manoctl apply of manifest on dir and kills it (SIGKILL)
// once the records journal has reached target bytes, then checks what
// the kill left: the state directory opens with everything committed
// before the kill, and the infrastructure loads and runs nothing the
// records do not own. It reports whether the apply was killed; one that
// ended first is logged. A killed apply must have been in the middle of
// its work: it had committed some of it (records modified after
// baseIndex, the index the state started from), and some was left (a
// plan on the records alone still has changes).
func killApply(t *testing.T, bin, work, manifest, dir string, target int64, baseIndex uint64, st *desired.State) bool {
	cmd := exec.Command(bin, "apply", "--auto-approve", "-f", manifest, "--state-dir", dir)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	// Watch the journal grow. At the kill point, freeze the apply
	// (SIGSTOP), read the records as another process would (a read-only
	// open reads what the journal holds: a SIGKILL loses none of it),
	// then kill it (SIGKILL: no handler runs, nothing is flushed or
	// saved). Freezing it first keeps the kill where the journal said,
	// however long the read takes.
	deadline := time.Now().Add(2 * time.Minute)
	ended := false
watch:
	for journalBytes(t, dir) < target {
		select {
		case <-exited:
			ended = true
			break watch
		default:
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exited
			t.Fatalf("the journal did not reach %d bytes in time", target)
		}
		time.Sleep(time.Millisecond)
	}
	if !ended {
		if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil && !errors.Is(err, os.ErrProcessDone) {
			t.Fatal(err)
		}
	}
	seen, err := records.Open(dir, records.Options{ReadOnly: true})
	if err != nil {
		cmd.Process.Kill()
		<-exited
		t.Fatalf("read-only open at the kill point: %v", err)
	}
	snap := seen.Snapshot()
	seen.Close()
	if !ended {
		if err := cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			t.Fatal(err)
		}
		var ee *exec.ExitError
		switch err := <-exited; {
		case errors.As(err, &ee) && ee.ExitCode() == -1: // ended by the signal
			t.Logf("killed with the journal at %d bytes (target %d), read at index %d", journalBytes(t, dir), target, snap.Index())
		case err == nil:
			ended = true // it ended just before it was stopped
		default:
			t.Fatalf("apply: %v\n%s", err, out.String())
		}
	}
	if ended {
		t.Logf("apply ended before the kill point:\n%s", out.String())
	}

	// The state directory opens, and has everything the apply had
	// committed before it was killed.
	store, err := records.Open(dir, records.Options{Command: t.Name()})
	if err != nil {
		t.Fatalf("state directory does not open after the kill: %v", err)
	}
	defer func() {
		if err := store.Close(); err != nil {
			t.Fatal(err)
		}
	}()
	if rec := store.Recovery(); rec.TruncatedBytes > 0 {
		t.Logf("recovery dropped a torn tail of %d bytes", rec.TruncatedBytes)
	}
	checkKept(t, snap, store)
	// The infrastructure loads and runs nothing the records do not own.
	if orphans := orphanFunctions(t, store, dir, st); len(orphans) > 0 {
		t.Errorf("after the kill, the infrastructure runs functions no record owns:\n  %s", strings.Join(orphans, "\n  "))
	}
	if ended {
		return false
	}
	done := 0
	svcs, err := snap.Reader().Services(nil)
	if err != nil {
		t.Fatal(err)
	}
	for s := range svcs {
		if s.ModifyIndex > baseIndex {
			done++
		}
	}
	left, err := plan.Compute(plan.Input{Desired: st, Records: plan.FromSnapshot(store.Snapshot(), false), DefaultPolicy: placement.LoadBalanced, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("killed with %d services changed by the apply, %d changes left", done, len(left.Changes))
	if done == 0 || !left.HasChanges() {
		t.Errorf("not killed in the middle of the apply: %d services changed, %d changes left", done, len(left.Changes))
	}
	return true
}

// latestIndex is the index of the records of dir.
func latestIndex(t *testing.T, dir string) uint64 {
	t.Helper()
	s, err := records.Open(dir, records.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return s.LatestIndex()
}

// journalBytes is the size of the records journal in dir.
func journalBytes(t *testing.T, dir string) int64 {
	t.Helper()
	segs, err := filepath.Glob(filepath.Join(dir, "journal-*.wal"))
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, s := range segs {
		if fi, err := os.Stat(s); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// checkKept checks that every service and function of seen (read while
// the apply ran) is in after, as it was or changed since, and that the
// index did not go back.
func checkKept(t *testing.T, seen *records.StateSnapshot, after *records.Store) {
	t.Helper()
	if after.LatestIndex() < seen.Index() {
		t.Errorf("index went back from %d to %d", seen.Index(), after.LatestIndex())
	}
	r, ra := seen.Reader(), after.Reader()
	svcs, err := r.Services(nil)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for s := range svcs {
		n++
		got, _ := ra.ServiceByID(nil, s.ID)
		switch {
		case got == nil:
			t.Errorf("service %s (%s, %s) lost", s.ID, s.Name, s.Status)
		case got.ModifyIndex < s.ModifyIndex:
			t.Errorf("service %s went back from index %d to %d", s.ID, s.ModifyIndex, got.ModifyIndex)
		case got.ModifyIndex == s.ModifyIndex && (got.Status != s.Status || strings.Join(got.Functions, ",") != strings.Join(s.Functions, ",")):
			t.Errorf("service %s changed at the same index: %+v vs %+v", s.ID, s, got)
		}
	}
	fns, err := r.Functions(nil)
	if err != nil {
		t.Fatal(err)
	}
	for f := range fns {
		got, _ := ra.FunctionByID(nil, f.ID)
		if got != nil && got.ModifyIndex < f.ModifyIndex {
			t.Errorf("function %s went back from index %d to %d", f.ID, f.ModifyIndex, got.ModifyIndex)
		}
		if got == nil {
			// A function may go only with a later change of its service.
			s, _ := ra.ServiceByID(nil, f.ServiceID)
			before, _ := r.ServiceByID(nil, f.ServiceID)
			if s == nil || before == nil || s.ModifyIndex <= before.ModifyIndex {
				t.Errorf("function %s of %s lost", f.ID, f.ServiceID)
			}
		}
	}
	if n == 0 {
		t.Error("nothing was read before the kill")
	}
}

// orphanFunctions lists the functions the infrastructure of dir runs
// that no live record owns; the infrastructure must load.
func orphanFunctions(t *testing.T, store *records.Store, dir string, st *desired.State) []string {
	t.Helper()
	emu, err := embedded.LoadInfra(dir, st)
	if err != nil {
		t.Fatalf("infrastructure does not load: %v", err)
	}
	owned := map[string]bool{}
	it, err := store.Snapshot().Reader().Services(nil)
	if err != nil {
		t.Fatal(err)
	}
	for s := range it {
		if s.Status != records.ServiceTerminated {
			for _, f := range s.Functions {
				owned[f] = true
			}
		}
	}
	var out []string
	for _, f := range emu.Snapshot().Functions {
		if !owned[f.InstanceUUID] {
			out = append(out, f.InstanceUUID+" of service "+f.ServiceInstanceID)
		}
	}
	return out
}

// checkDesired checks that every service of st runs, ready, with its NSD
// and instance counts, and that no other service is live.
func checkDesired(t *testing.T, store *records.Store, st *desired.State) {
	t.Helper()
	r := store.Snapshot().Reader()
	it, err := r.Services(nil)
	if err != nil {
		t.Fatal(err)
	}
	live := map[string]*records.Service{}
	for s := range it {
		if s.Status != records.ServiceTerminated {
			if _, dup := live[s.Name]; dup {
				t.Errorf("two live services named %s", s.Name)
			}
			live[s.Name] = s
		}
	}
	for _, d := range st.Services {
		s := live[d.Name]
		delete(live, d.Name)
		if s == nil || s.Status != records.ServiceReady || s.NSD.Identity != d.NSDRef {
			t.Errorf("%s: %+v, want ready with %s", d.Name, s, d.NSDRef)
			continue
		}
		counts := map[string]int{}
		for _, id := range s.Functions {
			if f, _ := r.FunctionByID(nil, id); f != nil {
				counts[f.VNFID]++
			}
		}
		for _, f := range d.Functions {
			if want := max(1, d.Instances[f.VNFID]); counts[f.VNFID] != want {
				t.Errorf("%s: %d instances of %s, want %d", d.Name, counts[f.VNFID], f.VNFID, want)
			}
		}
	}
	for name := range live {
		t.Errorf("service %s is live but not in the manifest", name)
	}
}
