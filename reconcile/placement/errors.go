package placement

import (
	"errors"
	"strings"
)

// Sentinel errors, for errors.Is.
var (
	// ErrInvalid: the request or the VIM list is malformed
	// (*ValidationError).
	ErrInvalid = errors.New("placement: invalid input")
	// ErrInfeasible: no placement satisfies the constraints
	// (*InfeasibleError).
	ErrInfeasible = errors.New("placement: infeasible")
	// ErrStale: Pool.Commit was given a result computed against another
	// pool, or against an older state of this one.
	ErrStale = errors.New("placement: result is stale: the pool changed since it was computed")
)

// ValidationError lists every problem of a request or VIM list.
type ValidationError struct {
	Problems []string
}

func (e *ValidationError) Error() string {
	return "placement: invalid input: " + strings.Join(e.Problems, "; ")
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// Assignment is one function on one VIM, in an explanation.
type Assignment struct {
	Function, Label string
	VIM, VIMName    string
}

// InfeasibleError says which function cannot be placed and why, VIM by VIM.
type InfeasibleError struct {
	// Function is the ID and Label the vnf_id or name of the function that
	// fits nowhere; With labels the functions bound to it by affinity.
	Function, Label string
	With            []string
	// Given is the placement of the other functions under which it fits
	// nowhere: empty when it fits nowhere even alone, otherwise the deepest
	// partial placement the search reached.
	Given []Assignment
	// Candidates says, for each VIM in list order, why it was rejected.
	Candidates []Candidate
	// Proven is true when the search was exhaustive: no placement exists.
	// False means the node budget ran out before any placement was found.
	Proven bool
}

func (e *InfeasibleError) Error() string {
	var b strings.Builder
	b.WriteString("placement: no VIM can host ")
	b.WriteString(e.Label)
	if len(e.With) > 0 {
		b.WriteString(" (with affine ")
		b.WriteString(strings.Join(e.With, ", "))
		b.WriteString(")")
	}
	if len(e.Given) > 0 {
		b.WriteString(" once ")
		for i, a := range e.Given {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(a.Label + " is on " + a.VIMName)
		}
	}
	if len(e.Candidates) == 0 {
		b.WriteString(": there are no VIMs")
	}
	for i, c := range e.Candidates {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(c.Name + ": " + c.Reason())
	}
	if !e.Proven {
		b.WriteString(" (search budget exhausted before any placement was found)")
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInfeasible) true.
func (e *InfeasibleError) Is(target error) bool { return target == ErrInfeasible }
