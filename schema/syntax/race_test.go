//go:build race

package syntax

// raceEnabled thins the mutation test under the race detector, which
// slows CUE evaluation tenfold; the full set runs without -race.
const raceEnabled = true
