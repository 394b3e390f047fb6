package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/manoctl/manoctl/reconcile/desired"
	"github.com/manoctl/manoctl/reconcile/plan"
	"github.com/manoctl/manoctl/reconcile/records"
)

func init() {
	exitMappers = append(exitMappers, func(err error) (int, bool) {
		var le *records.LockedError
		var se *plan.StaleError
		switch {
		case errors.As(err, &le), errors.As(err, &se):
			return exitStale, true
		case desired.IsInvalid(err):
			return exitInvalid, true
		}
		return 0, false
	})
}

// stateFlags are the flags of every verb that reads or writes the state.
type stateFlags struct {
	dir      string
	manifest string
}

func (s *stateFlags) addState(cmd *cobra.Command) {
	cmd.Flags().StringVar(&s.dir, "state-dir", records.DefaultStateDir, "state directory (records and the embedded infrastructure)")
}

func (s *stateFlags) addManifest(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&s.manifest, "file", "f", "manoctl.yaml", "desired-state manifest (YAML, JSON or CUE)")
}

// openRecords opens the state directory; a writer takes its lock.
func openRecords(dir string, readOnly bool) (*records.Store, error) {
	if readOnly {
		if _, err := os.Stat(filepath.Join(dir, "state.json")); errors.Is(err, os.ErrNotExist) {
			// Nothing applied yet: an empty store answers reads.
			return records.NewMemStore(), nil
		}
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	s, err := records.Open(dir, records.Options{ReadOnly: readOnly})
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", dir, err)
	}
	return s, nil
}

// loadDesired reads and resolves the manifest; invalid input is reported
// on stderr with its positions and maps to exit 3.
func loadDesired(ctx context.Context, f *factory, path string) (*desired.State, error) {
	m, err := desired.Load(path)
	if err != nil {
		return nil, reportInvalid(f, err)
	}
	st, err := desired.Resolve(ctx, m)
	if err != nil {
		return nil, reportInvalid(f, err)
	}
	return st, nil
}

// reportInvalid prints an InvalidError's diagnostics one per line and
// returns an error that exits 3 without printing them again.
func reportInvalid(f *factory, err error) error {
	var ie *desired.InvalidError
	if !errors.As(err, &ie) {
		return err
	}
	for _, d := range ie.Diagnostics {
		fmt.Fprintln(f.io.ErrOut, d.String())
	}
	return &codedError{code: exitInvalid, err: fmt.Errorf("%d problem(s) in the manifest or its descriptors", len(ie.Diagnostics)), silent: false}
}
