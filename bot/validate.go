package bot

import (
	"context"
	"fmt"

	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/patcher"
	"github.com/imagebump/imagebump/problem"
)

// Validation is what checking a checkout offline found.
type Validation struct {
	// Policies are the policy files read; nil when they are invalid.
	Policies *config.Policies
	// Markers are the markers on rewritable values.
	Markers []patcher.Marker
	// Problems are every invalid policy file entry, misplaced or malformed
	// marker, marker naming no policy, unparsable file and unreadable
	// directory, sorted by file and line, each once.
	Problems problem.List
	// Warnings are comments that look like markers and are not, and the
	// like; they never change the status.
	Warnings []patcher.Warning
}

// Validate checks the policy files and markers of the checkout at root
// without contacting a registry. Manifests larger than maxFileSize (0:
// patcher.DefaultMaxFileSize) are not read, as in a pass. The error is for
// a root that cannot be read at all.
func Validate(ctx context.Context, root string, maxFileSize int64, opts ...config.LoadOption) (*Validation, error) {
	v := &Validation{}
	// What the policy files say even where they are invalid, so that one
	// run reports every problem: an unknown field does not hide a marker
	// naming an undefined policy.
	d, err := config.ReadPolicies(root, opts...)
	if err != nil {
		return nil, err
	}
	v.Problems = d.Problems
	if len(d.Problems) == 0 {
		v.Policies = d.Policies
	}
	scan, err := patcher.ScanDir(ctx, root, nil, patcher.WithMaxFileSize(maxFileSize))
	if err != nil {
		return nil, err
	}
	v.Markers, v.Warnings = scan.Markers, scan.Warnings
	if pols := d.Policies; pols.Flux != nil {
		// What Flux objects ask that imagebump does otherwise is said, not
		// silently dropped; it does not make the checkout invalid.
		for _, n := range pols.Flux.Notes {
			v.Warnings = append(v.Warnings, patcher.Warning{File: n.File, Line: n.Line, Message: n.Message})
		}
		if a := pols.Flux.Automation; a != nil {
			for _, n := range a.Unsupported {
				v.Warnings = append(v.Warnings, patcher.Warning{File: n.File, Line: n.Line, Message: n.Message + " (run writes nothing for this repository)"})
			}
		}
	}
	v.Problems = append(v.Problems, scan.Problems...)
	// A policy file that could not be decoded may define any name.
	if d.Complete {
		for _, m := range scan.Markers {
			if !d.Names[m.Policy] {
				v.Problems = append(v.Problems, problem.Problem{File: m.File, Line: m.Line,
					Message: fmt.Sprintf("marker names policy %q, which no policy file defines", m.Policy)})
			}
		}
	}
	// Both walks report an unreadable directory alike: once is enough.
	v.Problems = v.Problems.Sorted()
	return v, nil
}

// Status is invalid when anything is: validate exits 2 on any problem.
func (v *Validation) Status() Status {
	if len(v.Problems) > 0 {
		return StatusInvalid
	}
	return StatusOK
}
