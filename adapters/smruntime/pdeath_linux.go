package smruntime

import "syscall"

// parentDeathSignal has the kernel kill the manager when the daemon that
// started it dies: a SIGKILLed daemon cannot stop its managers, and the
// one that restarts does not know them, so they would run on for ever.
// (The signal comes when the thread that started the manager ends; Go
// ends a thread only when a goroutine locked to it returns, which manoctl
// never does.)
func parentDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
