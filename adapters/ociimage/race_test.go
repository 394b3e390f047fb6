//go:build race

package ociimage_test

// raceEnabled: the race detector instruments compress/flate, which makes
// gzipping the daemon binary ten times slower; see
// TestManoctlImageReproducible.
const raceEnabled = true
