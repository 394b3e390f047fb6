//go:build unix

package records

import (
	"errors"
	"os"
	"syscall"
)

// tryLock takes an exclusive flock without blocking. flock locks belong to
// the open file description, so a second Open in the same process is
// refused just like another process, and the kernel drops the lock when
// the holder dies: there is no stale lock to clean up after a crash.
func tryLock(f *os.File) (bool, error) {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EWOULDBLOCK):
			return false, nil
		default:
			return false, err
		}
	}
}

func unlock(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}
