package bot

import (
	"context"
	"fmt"
	"slices"

	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/patcher"
	"github.com/imagebump/imagebump/policy"
)

// The stages of a pass, in order: Load the policy files, Scan the manifests
// for the policies their markers use, Resolve those against the registries
// (Resolver.Resolve), and plan the rewrites of a file tree (Targets, then
// patcher.PlanDir). plan, apply and run compose them through Resolver.Plan,
// which reads the tree once for Scan and the plan (ScanTree, Tree.Plan);
// run calls the last stage again for each pull request group, on the same
// tree, and on the new tip after a rejected push, without resolving twice.

// Load reads and validates the policy files of the tree at root. Invalid
// files make it return config.Problems.
func Load(root string, opts ...config.LoadOption) (*config.Policies, error) {
	return config.LoadPolicies(root, opts...)
}

// Scan finds the markers under paths (all of root when empty) and returns
// one Request per policy they use, sorted by name. Markers naming no policy
// are left to the patcher, which reports them. A :digest marker asks for
// the digest even of a policy that does not pin digests.
func Scan(ctx context.Context, root string, paths []string, pols *config.Policies) ([]Request, error) {
	// References finds markers without parsing: cheap, and a superset of
	// what the patcher acts on, so no policy in use is left unresolved.
	markers, err := patcher.ReferencesDir(ctx, root, paths)
	if err != nil {
		return nil, fmt.Errorf("scanning manifests: %w", err)
	}
	return requests(markers, pols), nil
}

// ScanTree is Scan on a tree already read, which Resolver.Plan then plans
// without reading it again.
func ScanTree(tree *patcher.Tree, pols *config.Policies) []Request {
	return requests(tree.References(), pols)
}

// requests is one Request per policy of pols that markers use.
func requests(markers []patcher.Marker, pols *config.Policies) []Request {
	needDigest := map[string]bool{}
	var names []string
	for _, m := range markers {
		// An inactive policy (a suspended Flux object) is not resolved:
		// Targets leaves its markers alone.
		if p := pols.Lookup(m.Policy); p == nil || p.Inactive != "" {
			continue
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
	return reqs
}

// Targets says what the patcher writes for each policy of pols: the
// resolved ones get their tag and digest, every other known policy a nil
// target, so its markers are left alone without a problem. When only is
// not nil, policies for which it returns false are left alone too; a pull
// request group plans its own policies this way.
func Targets(pols *config.Policies, resolved []Resolution, only func(*config.Policy) bool) patcher.Targets {
	t := patcher.Targets{}
	for _, p := range pols.Policies {
		t[p.Name()] = nil
	}
	for _, res := range resolved {
		if res.Err != nil || (only != nil && !only(res.Policy)) {
			continue
		}
		p, tag := res.Policy, res.Tag
		t[p.Name()] = &patcher.Target{
			Image:  p.Spec().Image,
			Tag:    tag,
			Digest: res.Digest,
			// Following a mutable tag only means something with its digest.
			PinDigest: p.PinDigest || p.Kind() == policy.KindTrack,
			Higher:    func(current string) bool { return p.Higher(current, tag) },
		}
	}
	return t
}
