package bot

import (
	"context"
	"fmt"
	"slices"

	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/patcher"
)

// Outcome is what resolving a checkout's policies and applying them to its
// manifests would do. Nothing is written until Write.
type Outcome struct {
	// PolicyFiles are the policy files read.
	PolicyFiles *config.Policies
	// Policies has the resolution of every policy a marker uses, by name.
	Policies []Resolution
	// Tree is the manifests as they were read for Patch; pull request
	// groups are planned on it.
	Tree *patcher.Tree
	// Patch has the file changes, problems and refused downgrades.
	Patch *patcher.Plan
	// Written says, after Write, what became of each planned file.
	Written []patcher.WriteResult
}

// Failed reports whether some work failed or needs attention: a policy that
// did not resolve, a problem with a marker or a file, a planned file that
// Write did not write.
func (o *Outcome) Failed() bool {
	if len(o.Patch.Problems) > 0 || o.NotWritten() > 0 {
		return true
	}
	return slices.ContainsFunc(o.Policies, func(r Resolution) bool { return r.Err != nil })
}

// Write is the write stage of apply: it writes the planned files (see
// patcher.Plan.Write) and records what became of each in Written, whatever
// stops it part-way.
func (o *Outcome) Write(ctx context.Context) {
	o.Written, _ = o.Patch.Write(ctx)
}

// NotWritten counts the planned files Write did not write.
func (o *Outcome) NotWritten() int {
	n := 0
	for _, w := range o.Written {
		if w.Err != nil {
			n++
		}
	}
	return n
}

// Plan loads the policy files of the checkout at root, scans the manifests
// under paths (all of root when empty) for markers, resolves the policies
// the markers use, and plans the rewrites. Invalid policy files make it
// return config.Problems and plan nothing.
func (r *Resolver) Plan(ctx context.Context, reg Registry, root string, paths []string) (*Outcome, error) {
	pols, err := Load(root, r.Load...)
	if err != nil {
		return nil, err
	}
	if r.Check != nil {
		if err := r.Check(pols); err != nil {
			return nil, err
		}
	}
	// An ImageUpdateAutomation's update.path is the subtree Flux writes in.
	if a := pols.Flux.Auto(); a != nil && a.Path != "" && len(paths) == 0 {
		paths = []string{a.Path}
	}
	// One read of the manifests serves the scan and the plan.
	tree, err := patcher.ReadTree(ctx, root, paths, patcher.WithMaxFileSize(r.MaxFileSize))
	if err != nil {
		return nil, fmt.Errorf("scanning manifests: %w", err)
	}
	resolved := r.Resolve(ctx, reg, ScanTree(tree, pols))
	plan, err := tree.Plan(ctx, Targets(pols, resolved, nil))
	if err != nil {
		return nil, fmt.Errorf("planning changes: %w", err)
	}
	if pols.Flux != nil {
		// What the Flux objects ask that imagebump does otherwise is
		// said with the plan, never dropped silently.
		for _, n := range pols.Flux.Notes {
			plan.Warnings = append(plan.Warnings, patcher.Warning{File: n.File, Line: n.Line, Message: n.Message})
		}
	}
	return &Outcome{PolicyFiles: pols, Policies: resolved, Tree: tree, Patch: plan}, nil
}
