//go:build unix

package emulator_test

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user + system) the test process has used: all
// goroutines, the client's, the bus's and the emulator's, and the GC's.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
