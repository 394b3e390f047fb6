package records

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// lockFileName is the lock file in the state directory. It is never
// removed: removing it would let a second process lock a new inode while
// the first still holds the old one.
const lockFileName = "LOCK"

// LockInfo identifies the process holding the state directory's lock. It
// is written into the lock file, as JSON, by the holder.
type LockInfo struct {
	PID       int       `json:"pid"`
	Hostname  string    `json:"hostname"`
	Command   string    `json:"command"`
	StartedAt time.Time `json:"started_at"`
}

func (l LockInfo) String() string {
	if l.PID == 0 {
		return "an unknown process"
	}
	s := fmt.Sprintf("pid %d on %s", l.PID, l.Hostname)
	if l.Command != "" {
		s += fmt.Sprintf(" (%s)", l.Command)
	}
	if !l.StartedAt.IsZero() {
		s += " since " + l.StartedAt.Format(time.RFC3339)
	}
	return s
}

// LockedError is returned by Open when another process (or another Store
// in this process) holds the state directory for writing. The CLI maps it
// to exit code 4.
type LockedError struct {
	// Dir is the state directory.
	Dir string
	// Holder is what the holder wrote into the lock file; zero when it
	// could not be read (the holder is between locking and writing it).
	Holder LockInfo
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("records: state directory %s is locked by %s; wait for it to finish, or use a read-only command", e.Dir, e.Holder)
}

// ErrLockUnsupported is returned on platforms without advisory file locks.
var ErrLockUnsupported = errors.New("records: file locking is not supported on this platform")

// fileLock is a held lock.
type fileLock struct {
	f *os.File
}

// acquireLock takes the exclusive lock on dir/LOCK without waiting, and
// records who holds it.
func acquireLock(dir, command string, now time.Time) (*fileLock, error) {
	path := filepath.Join(dir, lockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("records: open lock file: %w", err)
	}
	ok, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("records: lock %s: %w", path, err)
	}
	if !ok {
		f.Close()
		holder, _ := ReadLockInfo(dir)
		return nil, &LockedError{Dir: dir, Holder: holder}
	}
	host, _ := os.Hostname()
	info := LockInfo{PID: os.Getpid(), Hostname: host, Command: command, StartedAt: now.UTC().Truncate(time.Second)}
	b, _ := json.Marshal(info)
	// The holder's identity is informational; failing to write it must
	// not fail the open, the lock itself is what protects the state.
	if err := f.Truncate(0); err == nil {
		if _, err := f.WriteAt(append(b, '\n'), 0); err == nil {
			_ = f.Sync()
		}
	}
	return &fileLock{f: f}, nil
}

// release drops the lock. The file stays, with the last holder's info.
func (l *fileLock) release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := unlock(l.f)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}

// ReadLockInfo reads who holds (or last held) the lock of a state
// directory.
func ReadLockInfo(dir string) (LockInfo, error) {
	var info LockInfo
	b, err := os.ReadFile(filepath.Join(dir, lockFileName))
	if err != nil {
		return info, err
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return info, errors.New("records: lock file is empty")
	}
	err = json.Unmarshal(b, &info)
	return info, err
}
