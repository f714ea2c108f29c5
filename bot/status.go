package bot

import (
	"errors"

	"github.com/imagebump/imagebump/problem"
)

// Status is how a command's work ended, in DESIGN.md's terms. Its value is
// the exit code of the process; validate, plan, apply and run all derive it
// here, so the rules live in one place.
type Status int

// The statuses, from best to worst (StatusChanges aside, which only plan
// --exit-code asks for).
const (
	// StatusOK: everything was done.
	StatusOK Status = 0
	// StatusFailed: some work failed or needs attention (a registry, a
	// policy that matched no tag, a push, a marker problem, a file not
	// written); everything else was still done.
	StatusFailed Status = 1
	// StatusInvalid: bad usage, or an invalid config or policy file;
	// nothing was written for it.
	StatusInvalid Status = 2
	// StatusChanges: plan --exit-code found changes and nothing failed.
	StatusChanges Status = 3
)

// worse returns the more severe of a and b: invalid over failed over
// changes over ok.
func worse(a, b Status) Status {
	rank := func(s Status) int {
		switch s {
		case StatusInvalid:
			return 3
		case StatusFailed:
			return 2
		case StatusChanges:
			return 1
		}
		return 0
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}

// ErrStatus is the status of an error that stopped a command before it did
// its work: invalid input (problem.List) is StatusInvalid, anything else
// StatusFailed.
func ErrStatus(err error) Status {
	if err == nil {
		return StatusOK
	}
	var problems problem.List
	if errors.As(err, &problems) {
		return StatusInvalid
	}
	return StatusFailed
}

// Status is the status of plan (changes asked for with exitOnChanges) and
// apply: failed when a policy did not resolve, a marker or file has a
// problem, or a planned file was not written.
func (o *Outcome) Status(exitOnChanges bool) Status {
	switch {
	case o.Failed():
		return StatusFailed
	case exitOnChanges && len(o.Patch.Changes) > 0:
		return StatusChanges
	}
	return StatusOK
}

// Status is the status of one pass: invalid policy files, a failure, or ok.
func (r *Result) Status() Status {
	switch {
	case r.Invalid:
		return StatusInvalid
	case r.Failed():
		return StatusFailed
	}
	return StatusOK
}

// Statuses is the status of one pass over several repositories: the worst
// of theirs.
func Statuses(results []Result) Status {
	s := StatusOK
	for i := range results {
		s = worse(s, results[i].Status())
	}
	return s
}
