package bot

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/gitwriter"
	"github.com/imagebump/imagebump/gitwriter/pullrequest"
	"github.com/imagebump/imagebump/patcher"
)

// pullRequests is step 6 in pull request mode: one branch and pull request
// per group, built from the base branch, decided by the pure lifecycle
// (pullrequest.Decide) and carried out unless this is a dry run.
func (r *Runner) pullRequests(ctx context.Context, reg Registry, wc WorkingCopy, repo config.Repository, st *Outcome, res *Result, log *slog.Logger) {
	groups, changes, err := r.groups(ctx, reg, wc, repo, st, log)
	if err != nil {
		res.Err = err
		return
	}
	if len(groups) == 0 {
		return
	}
	open := r.Forge
	if open == nil {
		open = func(repo config.Repository) (pullrequest.Forge, error) { return OpenForge(repo, log) }
	}
	forge, err := open(repo)
	if err != nil {
		res.Err = fmt.Errorf("pull requests: %w", err)
		return
	}
	branches := map[string]pullrequest.Branch{}
	for _, g := range groups {
		b, err := branchState(ctx, wc, g.Branch)
		if err != nil {
			res.Err = fmt.Errorf("reading branch %s: %w", g.Branch, err)
			return
		}
		branches[g.Branch] = b
	}
	budget := &pullrequest.Budget{Max: pullrequest.DefaultMaxWait}
	opts := append([]pullrequest.Option{pullrequest.WithBudget(budget), pullrequest.WithLogger(log)}, r.ForgeOptions...)
	prs, failed := pullrequest.Observe(ctx, forge, groups, branches, opts...)
	var failures []pullrequest.Result
	groups = slices.DeleteFunc(groups, func(g pullrequest.Group) bool {
		if err := failed[g.Branch]; err != nil {
			failures = append(failures, pullrequest.Result{Decision: pullrequest.Decision{Group: g.Name, Branch: g.Branch, Action: pullrequest.ActionSkip, Reason: "reading its pull requests failed"}, Err: err})
			return true
		}
		return false
	})
	s := st.PolicyFiles.PullRequests
	decisions, err := pullrequest.Decide(groups, prs, branches, pullrequest.Settings{
		Base: repo.Branch, Labels: s.Labels, Reviewers: s.Reviewers, TeamReviewers: s.TeamReviewers, Draft: s.Draft, MaxOpen: s.MaxOpen,
	})
	if err != nil {
		res.Err = fmt.Errorf("pull requests: %w", err)
		return
	}
	if r.DryRun {
		for _, d := range decisions {
			res.PullRequests = append(res.PullRequests, pullrequest.Result{Decision: d, Number: d.Number})
		}
	} else {
		res.PullRequests = pullrequest.Execute(ctx, decisions, forge, prBranches{wc: wc, changes: changes}, opts...)
	}
	res.PullRequests = append(res.PullRequests, failures...)
	// The status links every pull request, not only those opened now.
	urls := map[int]string{}
	for _, pr := range prs {
		urls[pr.Number] = pr.URL
	}
	for i := range res.PullRequests {
		if pr := &res.PullRequests[i]; pr.URL == "" {
			pr.URL = urls[pr.Number]
		}
	}
}

// groups forms the pull request groups of a pass from the policies its
// markers use, each planned alone on the base tree, with the source
// repository of each new image for the pull request body. A group with a policy
// that did not resolve is left out: its pull request is neither updated
// nor closed while the registry cannot say what the newest tag is. It also
// returns each branch's changes by field, for the commit message.
func (r *Runner) groups(ctx context.Context, reg Registry, wc WorkingCopy, repo config.Repository, st *Outcome, log *slog.Logger) ([]pullrequest.Group, map[string][]gitwriter.Change, error) {
	s := st.PolicyFiles.PullRequests
	// The policy files name the prefix; only branches under it are ever
	// force-pushed or deleted.
	if err := wc.SetBranchPrefix(s.BranchPrefix); err != nil {
		return nil, nil, fmt.Errorf("pull request branches: %w", err)
	}
	members := map[string][]Resolution{}
	var names []string
	for _, res := range st.Policies {
		g := groupOf(res.Policy, s.Grouping)
		if _, ok := members[g]; !ok {
			names = append(names, g)
		}
		members[g] = append(members[g], res)
	}
	slices.Sort(names)
	branchOf, err := gitwriter.BranchNames(s.BranchPrefix, names)
	if err != nil {
		return nil, nil, fmt.Errorf("pull request branches: %w", err)
	}
	var groups []pullrequest.Group
	changes := map[string][]gitwriter.Change{}
	for _, name := range names {
		in := map[string]bool{}
		failed := false
		for _, res := range members[name] {
			in[res.Policy.Name()] = true
			failed = failed || res.Err != nil
		}
		if failed {
			continue
		}
		plan, err := st.Tree.Plan(ctx, Targets(st.PolicyFiles, st.Policies, func(p *config.Policy) bool { return in[p.Name()] }))
		if err != nil {
			return nil, nil, fmt.Errorf("planning group %s: %w", name, err)
		}
		g := pullrequest.Group{Name: name, Branch: branchOf[name], Changes: groupChanges(members[name], plan.Changes)}
		// The source link is looked up only for images that change.
		for i, c := range g.Changes {
			src, err := reg.Source(ctx, c.Image+":"+c.To)
			if err != nil {
				log.Warn("reading the source label", "image", c.Image, "tag", c.To, "err", err)
			}
			g.Changes[i].Source = src
		}
		for _, f := range plan.Files {
			g.Files = append(g.Files, pullrequest.File{Path: f.Path, Content: f.New})
		}
		groups = append(groups, g)
		changes[g.Branch] = changeSet(st.PolicyFiles, plan).Changes
	}
	return groups, changes, nil
}

// groupOf is the pull request group of a policy under a grouping: its
// name, its group (default its name), or "all".
func groupOf(p *config.Policy, grouping config.Grouping) string {
	switch grouping {
	case config.All:
		return "all"
	case config.ByGroup:
		if g := p.Group; g != "" {
			return g
		}
	}
	return p.Name()
}

// groupChanges summarises a group's field changes for the pull request:
// one entry per policy and old tag, with the files it is in.
func groupChanges(members []Resolution, fields []patcher.Change) []pullrequest.Change {
	byPolicy := map[string]Resolution{}
	for _, m := range members {
		byPolicy[m.Policy.Name()] = m
	}
	var out []pullrequest.Change
	index := map[[2]string]int{}
	for _, c := range fields {
		m, ok := byPolicy[c.Policy]
		if !ok {
			continue
		}
		from := ""
		switch c.Field {
		case patcher.FieldRef:
			from = tagOf(c.Old)
		case patcher.FieldTag:
			from = c.Old
		}
		k := [2]string{c.Policy, from}
		i, ok := index[k]
		if !ok && from == "" {
			// A digest or name field: it belongs with the policy's tag
			// change when there is one.
			for j, o := range out {
				if o.Policy == c.Policy {
					i, ok = j, true
					break
				}
			}
		}
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, pullrequest.Change{Policy: c.Policy, Image: m.Policy.Spec().Image, From: from, To: m.Tag, Digest: m.Digest})
		}
		if !slices.Contains(out[i].Files, c.File) {
			out[i].Files = append(out[i].Files, c.File)
		}
	}
	slices.SortFunc(out, func(a, b pullrequest.Change) int {
		return cmp.Or(cmp.Compare(a.Policy, b.Policy), cmp.Compare(a.From, b.From))
	})
	return out
}

// tagOf returns the tag (with its digest) of an image reference, or the
// whole reference when it has no tag.
func tagOf(ref string) string {
	name, digest, _ := strings.Cut(ref, "@")
	i := strings.LastIndexByte(name, ':')
	if i < 0 || i < strings.LastIndexByte(name, '/') {
		return ref
	}
	if digest != "" {
		return name[i+1:] + "@" + digest
	}
	return name[i+1:]
}

// branchState reads a group branch for the lifecycle: its commits since
// the base and the content of every file it changes.
func branchState(ctx context.Context, wc WorkingCopy, name string) (pullrequest.Branch, error) {
	st, err := wc.Branch(ctx, name)
	if err != nil || !st.Exists {
		return pullrequest.Branch{}, err
	}
	b := pullrequest.Branch{Exists: true, Head: st.Head}
	for _, c := range st.Commits {
		b.Commits = append(b.Commits, pullrequest.Commit{Hash: c.Hash, ByBot: c.ByBot})
	}
	for _, p := range st.Files {
		content, err := wc.ReadFile(st.Head, p)
		if err != nil {
			// A file the branch deletes has no content at its head.
			content = nil
		}
		b.Files = append(b.Files, pullrequest.File{Path: p, Content: content})
	}
	return b, nil
}

// prBranches is the git side of the lifecycle on a working copy.
type prBranches struct {
	wc      WorkingCopy
	changes map[string][]gitwriter.Change // by branch, for commit messages
}

func (b prBranches) Publish(ctx context.Context, p pullrequest.Push) (string, error) {
	cs := gitwriter.ChangeSet{Changes: b.changes[p.Branch]}
	for _, f := range p.Files {
		cs.Files = append(cs.Files, gitwriter.File{Path: f.Path, Content: f.Content})
	}
	res, err := b.wc.Publish(ctx, p.Branch, cs, p.Lease)
	if err != nil {
		return "", err
	}
	if res.Unchanged {
		return "", fmt.Errorf("branch %s: the base already holds these files", p.Branch)
	}
	return res.Head, nil
}

func (b prBranches) Delete(ctx context.Context, branch, lease string) error {
	return b.wc.DeleteBranch(ctx, branch, lease)
}
