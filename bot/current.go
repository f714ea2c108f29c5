package bot

import (
	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/patcher"
)

// Value is the value a marked field holds in the manifests, where it is.
type Value struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Policy string `json:"policy"`
	Field  string `json:"field"`
	Value  string `json:"value"`
}

// currentValues lists the values the markers of known policies mark in
// tree, sorted by file and line, as the patcher's scan reads them.
func currentValues(tree *patcher.Tree, pols *config.Policies) []Value {
	var out []Value
	for _, m := range tree.Scan().Markers {
		if pols.Lookup(m.Policy) == nil {
			continue
		}
		out = append(out, Value{File: m.File, Line: m.Line, Policy: m.Policy, Field: string(m.Field), Value: m.Value})
	}
	return out
}
