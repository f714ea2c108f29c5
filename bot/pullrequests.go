package bot

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/gitwriter"
	"github.com/imagebump/imagebump/gitwriter/pullrequest"
)

// sourcer gives the source repository of an image, for the pull request
// body: its org.opencontainers.image.source label, or "".
type sourcer interface {
	Source(ctx context.Context, ref string) (string, error)
}

// branchReader reads the bot's branches for the lifecycle: which exist,
// and what one holds.
type branchReader interface {
	Branches(ctx context.Context, prefix string) (map[string]string, error)
	Branch(ctx context.Context, name string) (gitwriter.BranchState, error)
	ReadFile(commit, path string) ([]byte, error)
}

// branchWriter rebuilds and deletes the bot's branches; the prefix travels
// with every branch, so nothing outside it can be rewritten.
type branchWriter interface {
	Publish(ctx context.Context, b gitwriter.BotBranch, cs gitwriter.ChangeSet, lease string) (gitwriter.PublishResult, error)
	DeleteBranch(ctx context.Context, b gitwriter.BotBranch, lease string) error
}

// prWorkingCopy is the git side of pull request mode.
type prWorkingCopy interface {
	branchReader
	branchWriter
}

// pullRequests is step 6 in pull request mode: one branch and pull request
// per group, built from the base branch, decided by the pure lifecycle
// (pullrequest.Decide) and carried out unless this is a dry run. The
// groups come from planGroups; this method does the I/O around it.
func (r *Runner) pullRequests(ctx context.Context, reg sourcer, wc prWorkingCopy, repo config.Repository, st *Outcome, res *Result, log *slog.Logger, pf *passForge) {
	if err := basesOutside(repo, st.PolicyFiles.PullRequests.BranchPrefix); err != nil {
		res.Err = fmt.Errorf("pull requests: %w", err)
		return
	}
	plan, err := planGroups(ctx, st)
	if err != nil {
		res.Err = err
		return
	}
	// Every skip among the decisions, held groups included, is reported
	// in the pass's one vocabulary, whatever stops the pass below.
	res.PullRequests = append(res.PullRequests, heldResults(plan)...)
	defer func() { res.Skips = append(res.Skips, pullRequestSkips(res.PullRequests, plan.Members)...) }()
	groups, err := WithObsolete(ctx, wc, st.PolicyFiles.PullRequests.BranchPrefix, plan.Groups, plan.Held)
	if err != nil {
		res.Err = fmt.Errorf("pull requests: %w", err)
		return
	}
	forge, err := pf.get()
	if err != nil {
		res.Err = fmt.Errorf("pull requests: %w", err)
		return
	}
	budget := &pullrequest.Budget{Max: pullrequest.DefaultMaxWait}
	opts := append([]pullrequest.Option{pullrequest.WithBudget(budget), pullrequest.WithLogger(log)}, r.ForgeOptions...)
	lister, ok := forge.(pullrequest.OpenLister)
	if !ok {
		res.Err = fmt.Errorf("pull requests: the forge client %T cannot list open pull requests", forge)
		return
	}
	own, err := pullrequest.Own(ctx, lister, opts...)
	if err != nil {
		res.Err = fmt.Errorf("pull requests: %w", err)
		return
	}
	keptPullRequests(res.PullRequests, own, plan)
	groups = WithStray(own, groups, plan.Held, st.PolicyFiles.PullRequests.BranchPrefix)
	if len(groups) == 0 {
		return
	}
	addSources(ctx, reg, groups, log)
	branches, err := BranchStates(ctx, wc, groups)
	if err != nil {
		res.Err = err
		return
	}
	prs, failed := pullrequest.Observe(ctx, forge, groups, branches, opts...)
	var failures []pullrequest.Result
	groups = slices.DeleteFunc(groups, func(g pullrequest.Group) bool {
		if err := failed[g.Branch]; err != nil {
			// Its versions name the group's policies, for the status.
			var vs []pullrequest.Version
			for _, c := range g.Changes {
				vs = append(vs, pullrequest.Version{Policy: c.Policy, Image: c.Image, From: c.From, To: c.To})
			}
			failures = append(failures, pullrequest.Result{Decision: pullrequest.Decision{Group: g.Name, Branch: g.Branch, Action: pullrequest.ActionSkip, Reason: "reading its pull requests failed", Versions: vs}, Err: err})
			return true
		}
		return false
	})
	s := st.PolicyFiles.PullRequests
	decisions, err := pullrequest.Decide(groups, prs, branches, settings(repo, s))
	if err != nil {
		res.Err = fmt.Errorf("pull requests: %w", err)
		return
	}
	if r.DryRun {
		for _, d := range decisions {
			res.PullRequests = append(res.PullRequests, pullrequest.Result{Decision: d, Number: d.Number})
		}
	} else {
		res.PullRequests = append(res.PullRequests, pullrequest.Execute(ctx, decisions, forge, prBranches{wc: wc, prefix: s.BranchPrefix, changes: plan.Commits}, opts...)...)
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

// basesOutside refuses a base (or push) branch under the bot's branch
// prefix before anything is read: the bot would take it for one of its
// own, obsolete, branches. gitwriter refuses to rewrite it in any case.
func basesOutside(repo config.Repository, prefix string) error {
	for _, b := range []string{repo.Branch, repo.PushBranch} {
		if b != "" && strings.HasPrefix(b, prefix) {
			return fmt.Errorf("the branch %q lies under pullRequests.branchPrefix %q, which names the bot's own branches; choose another prefix", b, prefix)
		}
	}
	return nil
}

// settings are the lifecycle settings of repo's policy files.
func settings(repo config.Repository, s config.PullRequests) pullrequest.Settings {
	return pullrequest.Settings{
		Base: repo.Branch, Labels: s.Labels, Reviewers: s.Reviewers, TeamReviewers: s.TeamReviewers, Draft: s.Draft, MaxOpen: s.MaxOpen,
	}
}

// prPlan is what a pass proposes in pull request mode, before git or the
// forge is asked anything.
type prPlan struct {
	// Groups are the groups Decide receives, by name. A group without
	// Files proposes nothing new: the base already holds its values, and
	// Decide closes its open pull request.
	Groups []pullrequest.Group
	// Commits are each group's field changes, by branch, for its commit
	// message.
	Commits map[string][]gitwriter.Change
	// Held are the groups left out, by branch, because a policy of theirs
	// did not resolve: while the registry cannot say what the newest tag
	// is, their pull requests are neither updated nor closed.
	Held map[string]string
	// Failed are the policies that did not resolve, by held branch; Members
	// every group's policies, by branch, sorted.
	Failed  map[string][]string
	Members map[string][]string
}

// planGroups forms the pull request groups of a pass from its outcome: the
// policies its markers use, grouped by the policy files' grouping, each
// group planned alone on the tree already read. It does no I/O besides
// what Tree.Plan checks on disk; the source links are added afterwards
// (addSources).
func planGroups(ctx context.Context, st *Outcome) (prPlan, error) {
	s := st.PolicyFiles.PullRequests
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
		return prPlan{}, fmt.Errorf("pull request branches: %w", err)
	}
	plan := prPlan{Commits: map[string][]gitwriter.Change{}, Held: map[string]string{}, Failed: map[string][]string{}, Members: map[string][]string{}}
	for _, name := range names {
		in := map[string]bool{}
		var failed []string
		for _, res := range members[name] {
			in[res.Policy.Name()] = true
			plan.Members[branchOf[name]] = append(plan.Members[branchOf[name]], res.Policy.Name())
			if res.Err != nil {
				failed = append(failed, res.Policy.Name())
			}
		}
		slices.Sort(plan.Members[branchOf[name]])
		if len(failed) > 0 {
			slices.Sort(failed)
			plan.Failed[branchOf[name]] = failed
			// Planned without the failed policy, the group would look
			// done and Decide would close its pull request.
			plan.Held[branchOf[name]] = name
			continue
		}
		p, err := st.Tree.Plan(ctx, Targets(st.PolicyFiles, st.Policies, func(p *config.Policy) bool { return in[p.Name()] }))
		if err != nil {
			return prPlan{}, fmt.Errorf("planning group %s: %w", name, err)
		}
		commit := changeSet(st.PolicyFiles, p)
		g := pullrequest.Group{Name: name, Branch: branchOf[name], Changes: groupChanges(members[name], commit.Changes)}
		for _, f := range commit.Files {
			g.Files = append(g.Files, pullrequest.File{Path: f.Path, Content: f.Content})
		}
		plan.Groups = append(plan.Groups, g)
		plan.Commits[g.Branch] = commit.Changes
	}
	return plan, nil
}

// WithObsolete returns groups and, after them, an obsolete group for each
// of the bot's branches under prefix that none of groups maps to and no
// held group owns (held: group names by branch). With BranchStates it is
// what the lifecycle reads from git: the bot's pull request pass reads its
// working copy through them, the forge tests their repositories.
func WithObsolete(ctx context.Context, wc branchReader, prefix string, groups []pullrequest.Group, held map[string]string) ([]pullrequest.Group, error) {
	existing, err := wc.Branches(ctx, prefix)
	if err != nil {
		return nil, err
	}
	return append(slices.Clip(groups), obsoleteGroups(groups, held, existing, prefix)...), nil
}

// BranchStates reads the state of every group's branch: its commits, the
// contents of the files it changes, and the files the base moved under it
// (Behind), by branch.
func BranchStates(ctx context.Context, wc branchReader, groups []pullrequest.Group) (map[string]pullrequest.Branch, error) {
	branches := map[string]pullrequest.Branch{}
	for _, g := range groups {
		var paths []string
		for _, f := range g.Files {
			paths = append(paths, f.Path)
		}
		b, err := branchState(ctx, wc, g.Branch, paths)
		if err != nil {
			return nil, fmt.Errorf("reading branch %s: %w", g.Branch, err)
		}
		branches[g.Branch] = b
	}
	return branches, nil
}

// obsoleteGroups are the bot branches (existing, under prefix) that no
// group maps to and no held group owns: their policy or markers were
// removed, or the grouping changed. Decide closes their pull requests and
// deletes them.
func obsoleteGroups(groups []pullrequest.Group, held map[string]string, existing map[string]string, prefix string) []pullrequest.Group {
	current := map[string]bool{}
	for _, g := range groups {
		current[g.Branch] = true
	}
	var out []pullrequest.Group
	for _, b := range slices.Sorted(maps.Keys(existing)) {
		if current[b] || held[b] != "" {
			continue
		}
		name := strings.TrimPrefix(b, prefix)
		out = append(out, pullrequest.Group{
			Name: name, Branch: b,
			Obsolete: fmt.Sprintf("no policy in use maps to group %q any more (a policy or its markers were removed, or the grouping changed)", name),
		})
	}
	return out
}

// WithStray returns groups and, after them, an obsolete group for each of
// the bot's open pull requests (own, from pullrequest.Own) whose head
// branch none of groups maps to and no held group owns: their branch was
// deleted, or lies outside the branch prefix (a former prefix), so
// WithObsolete's branch listing did not find them. Decide closes their
// pull requests; a branch outside the prefix is never deleted.
func WithStray(own []pullrequest.PullRequest, groups []pullrequest.Group, held map[string]string, prefix string) []pullrequest.Group {
	known := map[string]bool{}
	for _, g := range groups {
		known[g.Branch] = true
	}
	out := slices.Clip(groups)
	own = slices.Clone(own)
	slices.SortFunc(own, func(a, b pullrequest.PullRequest) int { return cmp.Compare(a.Head, b.Head) })
	for _, pr := range own {
		if known[pr.Head] || held[pr.Head] != "" {
			continue
		}
		known[pr.Head] = true
		m, _ := pullrequest.ParseMarker(pr.Body)
		g := pullrequest.Group{Name: m.Group, Branch: pr.Head}
		if strings.HasPrefix(pr.Head, prefix) && pr.Head != prefix {
			g.Obsolete = fmt.Sprintf("no policy in use maps to group %q any more, and its branch %s is gone", m.Group, pr.Head)
		} else {
			g.KeepBranch = true
			g.Obsolete = fmt.Sprintf("its branch %s lies outside the branch prefix %q (a former prefix); the group is now proposed under the prefix, if at all", pr.Head, prefix)
		}
		out = append(out, g)
	}
	return out
}

// addSources fills in the source repository of each new image, for the
// pull request body; a failed lookup only leaves the link out.
func addSources(ctx context.Context, reg sourcer, groups []pullrequest.Group, log *slog.Logger) {
	for _, g := range groups {
		for i, c := range g.Changes {
			src, err := reg.Source(ctx, c.Image+":"+c.To)
			if err != nil {
				log.Warn("reading the source label", "image", c.Image, "tag", c.To, "err", err)
			}
			g.Changes[i].Source = src
		}
	}
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

// branchState reads a group branch for the lifecycle: its commits since
// the base, the content of every file it changes, and which of those files
// and of the group's (paths) the base changed since the branch was built.
func branchState(ctx context.Context, wc branchReader, name string, paths []string) (pullrequest.Branch, error) {
	st, err := wc.Branch(ctx, name)
	if err != nil || !st.Exists {
		return pullrequest.Branch{}, err
	}
	b := pullrequest.Branch{Exists: true, Head: st.Head}
	for _, c := range st.Commits {
		b.Commits = append(b.Commits, pullrequest.Commit{Hash: c.Hash, ByBot: c.ByBot})
	}
	for _, p := range st.Files {
		content, err := readAt(wc, st.Head, p)
		if err != nil {
			return pullrequest.Branch{}, err
		}
		b.Files = append(b.Files, pullrequest.File{Path: p, Content: content})
	}
	if st.MergeBase == st.Base {
		return b, nil
	}
	touched := slices.Concat(st.Files, paths)
	slices.Sort(touched)
	for _, p := range slices.Compact(touched) {
		then, err := readAt(wc, st.MergeBase, p)
		if err != nil {
			return pullrequest.Branch{}, err
		}
		now, err := readAt(wc, st.Base, p)
		if err != nil {
			return pullrequest.Branch{}, err
		}
		if !bytes.Equal(then, now) || (then == nil) != (now == nil) {
			b.Behind = append(b.Behind, p)
		}
	}
	return b, nil
}

// readAt is path's content at commit; nil when the commit does not have it.
// ReadFile's errors name the path and commit already.
func readAt(wc branchReader, commit, path string) ([]byte, error) {
	content, err := wc.ReadFile(commit, path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return content, err
}

// prBranches is the git side of the lifecycle on a working copy.
type prBranches struct {
	wc      branchWriter
	prefix  string                        // the bot's branch prefix
	changes map[string][]gitwriter.Change // by branch, for commit messages
}

func (b prBranches) Publish(ctx context.Context, p pullrequest.Push) (string, error) {
	cs := gitwriter.ChangeSet{Changes: b.changes[p.Branch]}
	for _, f := range p.Files {
		cs.Files = append(cs.Files, gitwriter.File{Path: f.Path, Content: f.Content})
	}
	res, err := b.wc.Publish(ctx, gitwriter.BotBranch{Prefix: b.prefix, Name: p.Branch}, cs, p.Lease)
	if err != nil {
		return "", err
	}
	if res.Unchanged {
		return "", fmt.Errorf("branch %s: the base already holds these files", p.Branch)
	}
	return res.Head, nil
}

func (b prBranches) Delete(ctx context.Context, branch, lease string) error {
	return b.wc.DeleteBranch(ctx, gitwriter.BotBranch{Prefix: b.prefix, Name: branch}, lease)
}
