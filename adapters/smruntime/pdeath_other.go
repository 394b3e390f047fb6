//go:build unix && !linux

package smruntime

import "syscall"

// parentDeathSignal: only Linux has a parent-death signal; elsewhere a
// manager outlives a daemon killed with SIGKILL.
func parentDeathSignal(*syscall.SysProcAttr) {}
