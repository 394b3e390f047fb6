//go:build !unix

package emulator_test

import "time"

func processCPU() (time.Duration, bool) { return 0, false }
