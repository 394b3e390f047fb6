//go:build !race

package ociimage_test

const raceEnabled = false
