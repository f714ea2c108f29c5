package bot

import (
	"context"
	"fmt"
	"slices"

	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/patcher"
	"github.com/imagebump/imagebump/policy"
)

// Outcome is what resolving a checkout's policies and applying them to its
// manifests would do. Nothing is written until Patch.Write.
type Outcome struct {
	// Policies has the resolution of every policy a marker uses, by name.
	Policies []Resolution
	// Patch has the file changes, problems and refused downgrades.
	Patch *patcher.Plan
}

// Failed reports whether some work failed or needs attention: a policy that
// did not resolve, or a problem with a marker or a file.
func (o *Outcome) Failed() bool {
	if len(o.Patch.Problems) > 0 {
		return true
	}
	return slices.ContainsFunc(o.Policies, func(r Resolution) bool { return r.Err != nil })
}

// Plan loads the policy files of the checkout at root, scans the manifests
// under paths (all of root when empty) for markers, resolves the policies
// the markers use, and plans the rewrites. Invalid policy files make it
// return config.Problems and plan nothing.
func (r *Resolver) Plan(ctx context.Context, reg Registry, root string, paths []string) (*Outcome, error) {
	pols, err := config.LoadPolicies(root)
	if err != nil {
		return nil, err
	}
	// References finds markers without parsing: cheap, and a superset of
	// what the patcher acts on, so no policy in use is left unresolved.
	markers, err := patcher.ReferencesDir(ctx, root, paths)
	if err != nil {
		return nil, fmt.Errorf("scanning manifests: %w", err)
	}
	// Only policies some marker uses are resolved; :digest markers ask for
	// the digest even of policies that do not pin.
	needDigest := map[string]bool{}
	var names []string
	for _, m := range markers {
		if pols.Lookup(m.Policy) == nil {
			continue // an unknown policy: the patcher reports it
		}
		if _, seen := needDigest[m.Policy]; !seen {
			names = append(names, m.Policy)
		}
		needDigest[m.Policy] = needDigest[m.Policy] || m.Field == patcher.FieldDigest
	}
	slices.Sort(names)
	reqs := make([]Request, len(names))
	for i, n := range names {
		reqs[i] = Request{Policy: pols.Lookup(n), Digest: needDigest[n]}
	}
	resolved := r.Resolve(ctx, reg, reqs)

	targets := patcher.Targets{}
	for _, p := range pols.Policies {
		targets[p.Name()] = nil // known; unresolved unless set below
	}
	for _, res := range resolved {
		if res.Err != nil {
			continue
		}
		p, tag := res.Policy, res.Tag
		targets[p.Name()] = &patcher.Target{
			Image:  p.Spec().Image,
			Tag:    tag,
			Digest: res.Digest,
			// Following a mutable tag only means something with its digest.
			PinDigest: p.Spec().PinDigest || p.Kind() == policy.KindTrack,
			Higher:    func(current string) bool { return p.Higher(current, tag) },
		}
	}
	plan, err := patcher.PlanDir(ctx, root, paths, targets)
	if err != nil {
		return nil, fmt.Errorf("planning changes: %w", err)
	}
	return &Outcome{Policies: resolved, Patch: plan}, nil
}
