//go:build !linux

package daemon_test

import "testing"

// stateFS needs Linux namespaces; elsewhere the disk-full cells skip.
type stateFS struct{ dir string }

func newStateFS(t *testing.T, size int64) *stateFS {
	t.Skip("disk-full cells need Linux user and mount namespaces")
	return nil
}

func (s *stateFS) fill(t *testing.T)                                             {}
func (s *stateFS) free(t *testing.T)                                             {}
func (s *stateFS) used(t *testing.T) int64                                       { return 0 }
func (s *stateFS) daemonCommand(t *testing.T, args ...string) (string, []string) { return "", nil }
