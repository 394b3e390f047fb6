package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"runtime/pprof"

	"github.com/spf13/pflag"
)

// longRunGCPercent is the garbage collector's target of the long-running
// commands (daemon, emulator) when GOGC is not set. Their live heap is
// small next to the garbage that bus traffic makes (every message is
// encoded and decoded), so at Go's default of 100 the collector runs
// constantly: with 400 it takes about a quarter of the CPU time it took,
// for a heap that peaks at five times the live data instead of twice.
// GOGC (and GOMEMLIMIT) still win when set.
const longRunGCPercent = 400

// embeddedGCPercent is the garbage collector's target while a command
// runs the embedded platform (apply, destroy, the TUI): the lifecycle's
// messages are garbage as soon as they are handled, and at Go's default
// of 100 the collector took 40% of the CPU of an apply. 200 takes a sixth
// less CPU per service (embedded benchmark, 1,800 -> 2,200 services/s on
// two cores) for a heap that peaks at three times the live data, which
// stays reasonable next to the records of a large state directory.
const embeddedGCPercent = 200

// tuneGC applies longRunGCPercent unless GOGC is set.
func tuneGC() { setGCPercent(longRunGCPercent) }

// tuneGCEmbedded applies embeddedGCPercent unless GOGC is set.
func tuneGCEmbedded() { setGCPercent(embeddedGCPercent) }

func setGCPercent(percent int) {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(percent)
	}
}

// addCPUProfileFlag adds the hidden --cpuprofile flag of the long-running
// commands, for the benchmarks that run them as processes.
func addCPUProfileFlag(fl *pflag.FlagSet, path *string) {
	fl.StringVar(path, "cpuprofile", "", "write a CPU profile of the whole run to this file")
	_ = fl.MarkHidden("cpuprofile")
}

// startCPUProfile starts profiling into path ("" does nothing); the
// returned function stops it and closes the file.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
