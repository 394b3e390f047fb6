//go:build unix

package records

import (
	"syscall"
	"time"
)

// cpuTime is the process's user plus system CPU time: next to wall time it
// shows how much of a benchmark was waiting for a CPU on a busy machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
