//go:build !unix

package records

import "time"

func cpuTime() time.Duration { return 0 }
