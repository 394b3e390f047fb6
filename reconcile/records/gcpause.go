package records

import (
	"runtime/debug"
	"sync"
)

// Loading a large state allocates its whole live heap in a few seconds: a
// million and more small, pointer-rich go-memdb index nodes. With the
// collector running, every doubling of the heap starts a cycle that marks
// everything loaded so far, and write barriers slow the inserts while it
// does: about 40% of the load time of 100,000 services. Open therefore
// pauses the collector while it loads (unless Options.LoadWithGC) and
// restores the previous setting afterwards; the first cycle after that
// runs concurrently, once. A memory limit (GOMEMLIMIT) still holds while
// paused, since the runtime collects when the limit is near whatever the
// GC percentage.
//
// Pauses are counted, so that concurrent Opens in one process restore the
// setting only when the last load ends.
var gcPause struct {
	mu    sync.Mutex
	n     int
	saved int
}

// pauseGC pauses the collector and returns the function that ends the
// pause (idempotent).
func pauseGC() (resume func()) {
	gcPause.mu.Lock()
	if gcPause.n == 0 {
		gcPause.saved = debug.SetGCPercent(-1)
	}
	gcPause.n++
	gcPause.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			gcPause.mu.Lock()
			defer gcPause.mu.Unlock()
			gcPause.n--
			if gcPause.n == 0 {
				debug.SetGCPercent(gcPause.saved)
			}
		})
	}
}
