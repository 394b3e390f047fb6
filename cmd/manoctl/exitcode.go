package main

import (
	"errors"
	"fmt"
)

// Exit codes: one contract for every verb (README "Exit codes").
const (
	exitOK      = 0  // success, or no changes
	exitError   = 1  // any failure not listed below
	exitChanges = 2  // plan --detailed-exitcode: changes present
	exitInvalid = 3  // invalid input: descriptors, manifest
	exitStale   = 4  // stale or applied plan, state lock held by another process
	exitUsage   = 64 // bad flags or arguments
)

// usageError is a problem with flags or arguments; usage is printed for it.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// exitError carries an explicit exit code. When silent, the command has
// already reported the problem and Main prints nothing more.
type codedError struct {
	code   int
	err    error
	silent bool
}

func (e *codedError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
func (e *codedError) Unwrap() error { return e.err }

// withCode attaches an exit code to err.
func withCode(code int, err error) error { return &codedError{code: code, err: err} }

// silentExit ends the command with code after it reported everything itself
// (for example, validation diagnostics already printed).
func silentExit(code int) error { return &codedError{code: code, silent: true} }

// exitCodeOf maps an error to the exit-code contract; the only place that
// does.
func exitCodeOf(err error) int {
	if err == nil {
		return exitOK
	}
	var ce *codedError
	if errors.As(err, &ce) {
		return ce.code
	}
	var ue *usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	for _, m := range exitMappers {
		if code, ok := m(err); ok {
			return code
		}
	}
	return exitError
}

// exitMappers let packages' typed errors (invalid descriptors, stale
// plans, lock conflicts) map to their codes without cmd importing every
// error type into this file.
var exitMappers []func(error) (int, bool)

func isSilent(err error) bool {
	var ce *codedError
	return errors.As(err, &ce) && ce.silent
}
