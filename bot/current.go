package bot

import (
	"context"
	"strings"

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

// probeTarget is a target no manifest holds, so planning against it turns
// every marked field into a change whose Old is the value the patcher read
// (quotes taken off, as it parses them): the current values, with file
// and line, without a reader of our own.
var probeTarget = patcher.Target{
	Image:  "imagebump.invalid/probe",
	Tag:    "imagebump-probe",
	Digest: "sha256:" + strings.Repeat("0", 64),
}

// currentValues lists the values the markers of known policies mark in
// tree, sorted by file and line. It plans in memory; nothing is written.
func currentValues(ctx context.Context, tree *patcher.Tree, pols *config.Policies) []Value {
	t := patcher.Targets{}
	for _, p := range pols.Policies {
		pt := probeTarget
		t[p.Name()] = &pt
	}
	plan, err := tree.Plan(ctx, t)
	if err != nil {
		return nil
	}
	out := make([]Value, 0, len(plan.Changes))
	for _, c := range plan.Changes {
		out = append(out, Value{File: c.File, Line: c.Line, Policy: c.Policy, Field: string(c.Field), Value: c.Old})
	}
	return out
}
