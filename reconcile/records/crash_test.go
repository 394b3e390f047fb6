package records

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
)

// crashChildEnv makes the test binary act as a writer that runs until it
// is killed (see TestMain).
const crashChildEnv = "MANOCTL_RECORDS_CRASH_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		os.Exit(crashChild(dir))
	}
	code := m.Run()
	cleanupBench()
	os.Exit(code)
}

// crashChild writes from several goroutines as fast as it can, printing an
// "ack" line for every commit that returned (that is, was fsync'd), until
// the parent kills it with SIGKILL. Snapshots are frequent so that kills
// also land during snapshot writing and journal rotation.
func crashChild(dir string) int {
	s, err := Open(dir, Options{SnapshotEvery: 40, Command: "crash child"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		return 2
	}
	demo := DemoDescriptors()
	if _, err := s.Write(func(txn *WriteTxn) error { return demo.StoreTxn(s, txn) }); err != nil {
		fmt.Fprintln(os.Stderr, "child descriptors:", err)
		return 2
	}
	var out sync.Mutex
	ack := func(format string, args ...any) {
		line := fmt.Sprintf(format+"\n", args...)
		out.Lock()
		os.Stdout.WriteString(line) // one write, smaller than PIPE_BUF: atomic
		out.Unlock()
	}
	ack("ready")
	const writers = 8
	var wg sync.WaitGroup
	for g := 0; g < writers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			opID := uuid.NewString()
			var mine []string
			for i := 0; ; i++ {
				switch {
				case i%5 == 4 && len(mine) > 0:
					victim := mine[0]
					mine = mine[1:]
					// Announce before committing: a delete that commits but
					// is killed before its ack is still accounted for.
					ack("will-del %s", victim)
					idx, err := s.DeleteService(victim)
					if err != nil {
						fmt.Fprintln(os.Stderr, "child delete:", err)
						os.Exit(3)
					}
					ack("del %s %d", victim, idx)
				default:
					svc, fns := demo.Service("", "vim-"+strconv.Itoa(g), i)
					op := &Operation{ID: opID, ServiceID: svc.ID, Kind: OpInstantiate, Status: OpRunning,
						Steps: []Step{{Name: "deploy", Status: StepSucceeded, Attempt: i + 1}}}
					idx, err := s.Write(func(txn *WriteTxn) error {
						if err := s.UpsertServiceWithFunctionsTxn(txn, svc, fns); err != nil {
							return err
						}
						return s.UpsertOperationTxn(txn, op)
					})
					if err != nil {
						fmt.Fprintln(os.Stderr, "child write:", err)
						os.Exit(3)
					}
					mine = append(mine, svc.ID)
					ack("svc %s %d %s %d", svc.ID, idx, opID, i+1)
				}
			}
		}()
	}
	wg.Wait()
	return 0
}

// TestCrash_SIGKILLMidStream kills a writing child process at arbitrary
// points, several times over the same state directory, and checks after
// each kill that the state loads, is consistent, and holds every write the
// child had acknowledged.
func TestCrash_SIGKILLMidStream(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test re-executes the test binary")
	}
	dir := t.TempDir()
	created := map[string]uint64{} // service id -> index of its acknowledged creation
	deleted := map[string]bool{}   // acknowledged deletes
	mayDelete := map[string]bool{} // announced deletes (committed or not)
	opAttempt := map[string]int{}  // operation id -> highest acknowledged attempt
	var maxAck uint64
	for round, kills := range []int{50, 300, 7, 500, 120} {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		acks := 0
		handle := func(line string) {
			f := strings.Fields(line)
			switch {
			case len(f) == 1 && f[0] == "ready":
			case len(f) == 2 && f[0] == "will-del":
				mayDelete[f[1]] = true
			case len(f) == 5 && f[0] == "svc":
				idx, _ := strconv.ParseUint(f[2], 10, 64)
				att, _ := strconv.Atoi(f[4])
				created[f[1]] = idx
				opAttempt[f[3]] = max(opAttempt[f[3]], att)
				maxAck = max(maxAck, idx)
				acks++
			case len(f) == 3 && f[0] == "del":
				idx, _ := strconv.ParseUint(f[2], 10, 64)
				deleted[f[1]] = true
				maxAck = max(maxAck, idx)
				acks++
			default:
				t.Fatalf("round %d: bad line %q", round, line)
			}
		}
		if round == 0 {
			// While the child runs it holds the lock: a second writer is
			// refused and told who holds it; a reader is not.
			if !sc.Scan() || sc.Text() != "ready" {
				t.Fatalf("child did not start: %s", stderr.String())
			}
			_, err := Open(dir, Options{})
			var le *LockedError
			if !errors.As(err, &le) || le.Holder.PID != cmd.Process.Pid || le.Holder.Command != "crash child" {
				t.Fatalf("second writer while the child runs: %v (holder %+v)", err, le)
			}
			ro, err := Open(dir, Options{ReadOnly: true})
			if err != nil {
				t.Fatalf("reader while the child runs: %v", err)
			}
			ro.Close()
		}
		for acks < kills && sc.Scan() {
			handle(sc.Text())
		}
		if acks < kills {
			cmd.Wait()
			t.Fatalf("round %d: child stopped after %d acks: %s", round, acks, stderr.String())
		}
		// SIGKILL: no deferred function, no Close, no flush runs.
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		// Everything the child printed before it died is still in the pipe:
		// read it all, so that every acknowledgement and every announced
		// delete is known.
		for sc.Scan() {
			handle(sc.Text())
		}
		cmd.Wait()

		if round%2 == 1 {
			simulatePowerLoss(t, dir, maxAck)
		}
		s, err := Open(dir, Options{})
		if err != nil {
			t.Fatalf("round %d: reopen after SIGKILL: %v", round, err)
		}
		if s.LatestIndex() < maxAck {
			t.Fatalf("round %d: index %d < acknowledged %d", round, s.LatestIndex(), maxAck)
		}
		for id, idx := range created {
			svc, err := s.ServiceByID(nil, id)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case deleted[id] && svc != nil:
				t.Fatalf("round %d: acknowledged delete of %s lost", round, id)
			case !mayDelete[id] && svc == nil:
				t.Fatalf("round %d: acknowledged service %s (index %d) lost", round, id, idx)
			case svc != nil && svc.CreateIndex != idx:
				t.Fatalf("round %d: service %s created at %d, acknowledged at %d", round, id, svc.CreateIndex, idx)
			}
		}
		for id, att := range opAttempt {
			op, _ := s.OperationByID(nil, id)
			if op == nil || op.Steps[0].Attempt < att {
				t.Fatalf("round %d: operation %s lost acknowledged attempt %d: %+v", round, id, att, op)
			}
		}
		checkConsistent(t, s.StateStore)
		t.Logf("round %d: %d acks seen, state at index %d (acked %d), recovery %+v",
			round, acks, s.LatestIndex(), maxAck, s.Recovery())
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// checkConsistent checks referential integrity: the journal's atomic
// transactions must never leave half a service behind.
func checkConsistent(t tb, s *StateStore) {
	t.Helper()
	svcs, _ := s.Services(nil)
	for svc := range svcs {
		fns, _ := s.FunctionsByService(nil, svc.ID)
		n := 0
		for range fns {
			n++
		}
		if n != len(svc.Functions) {
			t.Fatalf("service %s lists %d functions, %d stored", svc.ID, len(svc.Functions), n)
		}
	}
	fns, _ := s.Functions(nil)
	for f := range fns {
		if svc, _ := s.ServiceByID(nil, f.ServiceID); svc == nil {
			t.Fatalf("function %s has no service %s", f.ID, f.ServiceID)
		}
	}
}

// simulatePowerLoss cuts the last journal segment at a random point after
// the last acknowledged record, as a machine crash can leave it when the
// unacknowledged tail never reached the disk, or reached it partially.
func simulatePowerLoss(t *testing.T, dir string, acked uint64) {
	t.Helper()
	segs := segments(t, dir)
	last := segs[len(segs)-1]
	fi, err := os.Stat(last)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(last)
	if err != nil {
		t.Fatal(err)
	}
	from := int64(journalHeaderSize)
	for off := journalHeaderSize; off < len(data); {
		payload, size, reason := readFrame(data, off)
		if reason != "" {
			break // a SIGKILL can interrupt a large write: already torn
		}
		if idx, _ := binary.Uvarint(payload[1:]); payload[0] == recTxn && idx <= acked {
			from = int64(off + size)
		}
		off += size
	}
	if from >= fi.Size() {
		return // nothing unacknowledged in this segment
	}
	cut := from + rand.Int64N(fi.Size()-from)
	if err := os.Truncate(last, cut); err != nil {
		t.Fatal(err)
	}
	t.Logf("power loss: %s cut at %d of %d (acknowledged data ends at %d)", filepath.Base(last), cut, fi.Size(), from)
}
