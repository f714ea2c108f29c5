// Package problem holds the one type for something wrong at a place in a
// file, shared from the loaders (config, patcher) through bot to the JSON
// output. It imports only the standard library, so every package may use
// it without linking anything else.
package problem

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Problem is something wrong at one place in a file that needs a person's
// attention. Nothing is changed where a problem is reported.
type Problem struct {
	// File is relative to the directory read, with forward slashes.
	File string `json:"file"`
	// Line is 1-based; 0 when the problem is about the whole file.
	Line int `json:"line"`
	// Column is 1-based; 0 when not known.
	Column  int    `json:"column,omitempty"`
	Message string `json:"message"`
}

// String formats the problem as file:line[:column]: message.
func (p Problem) String() string {
	switch {
	case p.Line > 0 && p.Column > 0:
		return fmt.Sprintf("%s:%d:%d: %s", p.File, p.Line, p.Column, p.Message)
	case p.Line > 0:
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Message)
	}
	return fmt.Sprintf("%s: %s", p.File, p.Message)
}

// List is the error of a load that found invalid input. It lists every
// problem, not only the first.
type List []Problem

func (l List) Error() string {
	lines := make([]string, len(l))
	for i, p := range l {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Sorted returns the problems ordered by file, line and column, each once:
// the same problem reached twice (two walks of one tree, a YAML alias) is
// reported once.
func (l List) Sorted() List {
	out := slices.Clone(l)
	slices.SortStableFunc(out, func(a, b Problem) int {
		return cmp.Or(strings.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	seen := map[Problem]bool{}
	return slices.DeleteFunc(out, func(p Problem) bool {
		dup := seen[p]
		seen[p] = true
		return dup
	})
}
