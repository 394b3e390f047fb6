//go:build linux

package daemon_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// stateFS is a size-limited tmpfs for a daemon's state directory, so that
// a test can fill the disk under a running daemon and free it again.
//
// The tmpfs lives in a private user and mount namespace: a holder process
// (unshare --user --map-root-user --mount) mounts it and sleeps; the
// daemon joins the holder's namespaces with nsenter; the test reaches the
// same directory through /proc/<holder>/root. This needs no privilege
// where unprivileged user namespaces are enabled (Debian's default since
// 11) and works as root too; the mount goes away with the holder, so a
// crashed test leaves nothing mounted. Where user namespaces are refused,
// the test is skipped with the reason. The alternatives were worse: a
// tmpfs mounted in the test's own namespace needs root and leaks on a
// crash; a fault hook in the records' write path would test a simulation
// of ENOSPC, not the kernel's (partial writes, fsync errors).
type stateFS struct {
	dir    string // mount point: the same path inside and outside
	size   int64
	holder *exec.Cmd
	filler string
}

const tmpfsMagic = 0x01021994

func newStateFS(t *testing.T, size int64) *stateFS {
	t.Helper()
	for _, tool := range []string{"unshare", "nsenter", "sh"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("disk-full cell needs %s (util-linux): %v", tool, err)
		}
	}
	base := t.TempDir()
	s := &stateFS{dir: filepath.Join(base, "state"), size: size}
	if err := os.Mkdir(s.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(base, "mounted")
	s.holder = exec.Command("unshare", "--user", "--map-root-user", "--mount", "--propagation", "private",
		"sh", "-c", `mount -t tmpfs -o "size=$1,mode=0700" manoctl-state "$2" && : > "$3" && exec sleep 86400`,
		"sh", strconv.FormatInt(size, 10), s.dir, marker)
	out := &syncBuffer{}
	s.holder.Stdout, s.holder.Stderr = out, out
	if err := s.holder.Start(); err != nil {
		t.Skipf("disk-full cell: cannot start unshare: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- s.holder.Wait() }()
	t.Cleanup(func() {
		s.holder.Process.Kill()
		<-done
	})
	deadline := time.After(10 * time.Second)
	for {
		if _, err := os.Stat(marker); err == nil {
			break
		}
		select {
		case err := <-done:
			done <- err
			t.Skipf("disk-full cell: no private user and mount namespace with a tmpfs here (%v): %s", err, out.String())
		case <-deadline:
			t.Fatalf("unshare did not mount the tmpfs within 10s: %s", out.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	s.filler = filepath.Join(s.inside(), "filler")
	s.check(t)
	return s
}

// inside is the state directory as the test reaches it: in the holder's
// mount namespace.
func (s *stateFS) inside() string { return fmt.Sprintf("/proc/%d/root%s", s.holder.Process.Pid, s.dir) }

// check makes sure the test writes to the small tmpfs and nowhere else.
func (s *stateFS) check(t *testing.T) {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(s.inside(), &st); err != nil {
		t.Fatalf("statfs %s: %v", s.inside(), err)
	}
	if st.Type != tmpfsMagic || int64(st.Blocks)*int64(st.Bsize) > s.size+1<<20 {
		t.Fatalf("%s is not the %d-byte tmpfs (type %#x, %d bytes)", s.inside(), s.size, st.Type, int64(st.Blocks)*int64(st.Bsize))
	}
}

// fill writes a file until the tmpfs is full (ENOSPC).
func (s *stateFS) fill(t *testing.T) {
	t.Helper()
	s.check(t)
	f, err := os.OpenFile(s.filler, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var total int64
	for _, chunk := range []int{1 << 16, 1 << 12, 1 << 9, 1} {
		buf := make([]byte, chunk)
		for total <= s.size {
			n, err := f.Write(buf)
			total += int64(n)
			if err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("fill the state tmpfs: %v", err)
				}
				break
			}
		}
	}
	if total > s.size {
		t.Fatalf("wrote %d bytes to a %d-byte tmpfs", total, s.size)
	}
}

// free removes the filler.
func (s *stateFS) free(t *testing.T) {
	t.Helper()
	if err := os.Remove(s.filler); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
}

// daemonCommand is the command line that runs manoctl args in the
// holder's namespaces.
func (s *stateFS) daemonCommand(t *testing.T, args ...string) (string, []string) {
	return "nsenter", append([]string{"-t", strconv.Itoa(s.holder.Process.Pid), "-U", "-m", "--preserve-credentials", "--", manoctlBinary(t)}, args...)
}
