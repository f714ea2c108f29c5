package gitwriter

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// branchDepths are the depths Branch fetches at, deeper each time the base
// is not found: the working copy is shallow, and most bot branches are one
// commit on a base a few commits back.
var branchDepths = []int{8, 64, 512, 4096}

// BranchCommit is one commit of a branch that its base does not have.
type BranchCommit struct {
	Hash      string
	Author    Signature
	Committer Signature
	Subject   string
	// ByBot is true when the message carries Trailer and both the author
	// and the committer have the bot's email: a bot commit someone amended
	// or rebased is not the bot's any more.
	ByBot bool
}

// BranchState is a remote branch compared with the base branch the working
// copy is at.
type BranchState struct {
	Name   string
	Exists bool
	// Head is the branch's tip; Base the base branch's tip at the last
	// Sync, which Publish builds on.
	Head string
	Base string
	// MergeBase is the newest commit of the base branch met following
	// first parents from Head: the base the branch was built on.
	MergeBase string
	// Commits are the commits reachable from Head and not from Base, oldest
	// first.
	Commits []BranchCommit
	// Files are the paths that differ between MergeBase and Head, sorted.
	Files []string
}

// Branch reads the remote branch name and what it holds beyond the base
// branch. When the working copy lacks the branch's commits, it fetches the
// branch and enough of both histories to find where they meet. Sync first.
func (r *Repo) Branch(ctx context.Context, name string) (BranchState, error) {
	if err := r.checkBase(); err != nil {
		return BranchState{}, err
	}
	st := BranchState{Name: name, Base: r.head.String()}
	refs, err := r.listRemote(ctx)
	if err != nil {
		return st, err
	}
	head, ok := refs[name]
	if !ok {
		return st, nil
	}
	st.Exists, st.Head = true, head.String()
	// Usually nothing moved since the last look, or the bot published the
	// head itself: what the working copy holds is enough, and a deepening
	// fetch would send whole trees again.
	if r.hasCommit(head) {
		found, err := r.compare(head, &st)
		if err != nil {
			return st, r.errorf("comparing branch %s with %s: %w", name, r.opts.Branch, err)
		}
		if found {
			return st, nil
		}
	}
	for _, depth := range branchDepths {
		specs := []config.RefSpec{
			config.RefSpec(fmt.Sprintf("+refs/heads/%s:refs/remotes/origin/%s", name, name)),
			// Deepens the base too, into a ref of our own so that the
			// tracking ref keeps naming what the working copy is at.
			config.RefSpec(fmt.Sprintf("+refs/heads/%s:refs/imagebump/base", r.opts.Branch)),
		}
		err := r.repo.FetchContext(ctx, &git.FetchOptions{RemoteName: "origin", RefSpecs: specs, Depth: depth, Auth: r.auth, Tags: git.NoTags})
		if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
			return st, r.errorf("fetching branch %s of %s: %w", name, r.opts.URL, err)
		}
		found, err := r.compare(head, &st)
		if err != nil {
			return st, r.errorf("comparing branch %s with %s: %w", name, r.opts.Branch, err)
		}
		if found {
			return st, nil
		}
	}
	return st, r.errorf("branch %s of %s: no common history with %s within %d commits", name, r.opts.URL, r.opts.Branch, branchDepths[len(branchDepths)-1])
}

// Branches returns the remote's branches under prefix with their heads:
// the bot's branches, whichever group made them, so that the bot finds
// those no group maps to any more. An empty prefix is refused.
func (r *Repo) Branches(ctx context.Context, prefix string) (map[string]string, error) {
	if prefix == "" {
		return nil, errors.New("listing the bot's branches: the branch prefix may not be empty")
	}
	refs, err := r.listRemote(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for name, h := range refs {
		if strings.HasPrefix(name, prefix) && name != prefix {
			out[name] = h.String()
		}
	}
	return out, nil
}

// compare fills st from the commits fetched so far. It returns false when
// the histories fetched are too shallow to tell.
func (r *Repo) compare(head plumbing.Hash, st *BranchState) (bool, error) {
	s := r.repo.Storer
	get := func(h plumbing.Hash) *object.Commit {
		c, err := object.GetCommit(s, h)
		if err != nil {
			return nil
		}
		return c
	}
	// Everything of the base we have.
	inBase := map[plumbing.Hash]bool{}
	queue := []plumbing.Hash{r.head}
	for len(queue) > 0 {
		h := queue[0]
		queue = queue[1:]
		if inBase[h] {
			continue
		}
		c := get(h)
		if c == nil {
			continue // beyond the shallow edge
		}
		inBase[h] = true
		queue = append(queue, c.ParentHashes...)
	}
	// The branch's own commits: stop at the base, give up at the edge.
	var mine []*object.Commit
	seen := map[plumbing.Hash]bool{}
	queue = []plumbing.Hash{head}
	for len(queue) > 0 {
		h := queue[0]
		queue = queue[1:]
		if seen[h] || inBase[h] {
			continue
		}
		seen[h] = true
		c := get(h)
		if c == nil {
			return false, nil
		}
		mine = append(mine, c)
		queue = append(queue, c.ParentHashes...)
	}
	mergeBase := head
	for !inBase[mergeBase] {
		c := get(mergeBase)
		if c == nil || len(c.ParentHashes) == 0 {
			return false, nil
		}
		mergeBase = c.ParentHashes[0]
	}
	mine = parentsFirst(mine)
	st.MergeBase = mergeBase.String()
	st.Commits = st.Commits[:0]
	for _, c := range mine {
		subject, _, _ := strings.Cut(c.Message, "\n")
		st.Commits = append(st.Commits, BranchCommit{
			Hash:      c.Hash.String(),
			Author:    Signature{Name: c.Author.Name, Email: c.Author.Email},
			Committer: Signature{Name: c.Committer.Name, Email: c.Committer.Email},
			Subject:   subject,
			ByBot: hasTrailer(c.Message) &&
				strings.EqualFold(c.Author.Email, r.opts.Author.Email) &&
				strings.EqualFold(c.Committer.Email, r.opts.Author.Email),
		})
	}
	files, err := changedFiles(get(mergeBase), get(head))
	if err != nil {
		return false, err
	}
	st.Files = files
	return true, nil
}

// parentsFirst orders commits so that each comes after its parents among
// them (a depth-first post-order), whatever their dates say.
func parentsFirst(commits []*object.Commit) []*object.Commit {
	byHash := make(map[plumbing.Hash]*object.Commit, len(commits))
	for _, c := range commits {
		byHash[c.Hash] = c
	}
	done := map[plumbing.Hash]bool{}
	out := make([]*object.Commit, 0, len(commits))
	var visit func(c *object.Commit)
	visit = func(c *object.Commit) {
		if done[c.Hash] {
			return
		}
		done[c.Hash] = true
		for _, p := range c.ParentHashes {
			if pc, ok := byHash[p]; ok {
				visit(pc)
			}
		}
		out = append(out, c)
	}
	for _, c := range commits {
		visit(c)
	}
	return out
}

func changedFiles(from, to *object.Commit) ([]string, error) {
	ft, err := from.Tree()
	if err != nil {
		return nil, err
	}
	tt, err := to.Tree()
	if err != nil {
		return nil, err
	}
	changes, err := ft.Diff(tt)
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for _, c := range changes {
		for _, n := range []string{c.From.Name, c.To.Name} {
			if n != "" {
				set[n] = true
			}
		}
	}
	files := make([]string, 0, len(set))
	for f := range set {
		files = append(files, f)
	}
	sort.Strings(files)
	return files, nil
}

// ReadFile returns the content of path in commit (a hash from Sync,
// Branch or Publish), from the working copy's objects: no network. A path
// the commit does not have is an error wrapping os.ErrNotExist.
func (r *Repo) ReadFile(commit, path string) ([]byte, error) {
	if r.repo == nil {
		return nil, errors.New("read before sync: call Sync first")
	}
	c, err := object.GetCommit(r.repo.Storer, plumbing.NewHash(commit))
	if err != nil {
		return nil, fmt.Errorf("reading commit %s: %w", commit, err)
	}
	f, err := c.File(path)
	if errors.Is(err, object.ErrFileNotFound) {
		return nil, fmt.Errorf("%s at %s: %w", path, commit, os.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s at %s: %w", path, commit, err)
	}
	content, err := f.Contents()
	if err != nil {
		return nil, fmt.Errorf("reading %s at %s: %w", path, commit, err)
	}
	return []byte(content), nil
}

// PublishResult says what Publish did.
type PublishResult struct {
	// Head is the branch's head afterwards.
	Head string
	// Pushed is false when the branch already was base + this change.
	Pushed bool
	// Unchanged is true when the base already holds the files: there is
	// nothing to propose, and nothing was pushed.
	Unchanged bool
}

// Publish makes the bot branch b "the base tip + one commit writing
// cs": created, or force-pushed over what it was. Force is allowed only on
// bot branches (BotBranch), and only while the remote branch is still at
// lease, the head the caller saw ("" = the branch must not exist); else
// ErrLeaseLost. A server that refuses the update gives a *RefusedError.
// Nothing is pushed when the branch already is one commit with this tree
// on this base.
func (r *Repo) Publish(ctx context.Context, b BotBranch, cs ChangeSet, lease string) (PublishResult, error) {
	if err := r.checkBotBranch(b); err != nil {
		return PublishResult{}, err
	}
	name := b.Name
	if err := r.checkBase(); err != nil {
		return PublishResult{}, err
	}
	tree, same, err := r.treeWith(r.head, cs.Files)
	if err != nil {
		return PublishResult{}, r.errorf("building branch %s: %w", name, err)
	}
	if same {
		return PublishResult{Unchanged: true}, nil
	}
	if lease != "" {
		if c, err := object.GetCommit(r.repo.Storer, plumbing.NewHash(lease)); err == nil &&
			c.TreeHash == tree && len(c.ParentHashes) == 1 && c.ParentHashes[0] == r.head {
			return PublishResult{Head: lease}, nil
		}
	}
	commit, err := r.newCommit(r.head, tree, cs.Changes, cs.Message)
	if err != nil {
		return PublishResult{}, r.errorf("building branch %s: %w", name, err)
	}
	if err := r.pushCommit(ctx, commit, update{branch: name, expect: plumbing.NewHash(lease), leased: true}); err != nil {
		return PublishResult{}, fmt.Errorf("publishing %s: %w", name, err)
	}
	if err := r.repo.Storer.SetReference(plumbing.NewHashReference(plumbing.NewRemoteReferenceName("origin", name), commit)); err != nil {
		return PublishResult{}, err
	}
	r.log.Info("published branch", "url", r.opts.URL, "branch", name, "commit", commit.String(), "base", r.head.String())
	return PublishResult{Head: commit.String(), Pushed: true}, nil
}

// DeleteBranch deletes the bot branch b on the remote, if it is still at
// lease (any head when lease is ""); else ErrLeaseLost. Deleting a branch
// that is already gone is not an error. A server that refuses the delete
// gives a *RefusedError.
func (r *Repo) DeleteBranch(ctx context.Context, b BotBranch, lease string) error {
	if err := r.checkBotBranch(b); err != nil {
		return err
	}
	name := b.Name
	if r.repo == nil {
		return errors.New("delete before sync: call Sync first")
	}
	refs, err := r.listRemote(ctx)
	if err != nil {
		return err
	}
	if _, ok := refs[name]; !ok {
		return nil
	}
	var server sideband
	opts := &git.PushOptions{
		RemoteName: "origin",
		Auth:       r.auth,
		RefSpecs:   []config.RefSpec{config.RefSpec(":refs/heads/" + name)},
		Progress:   &server,
	}
	u := update{branch: name, expect: plumbing.NewHash(lease), anyHead: lease == "", leased: true, deleting: true}
	if lease != "" {
		opts.RequireRemoteRefs = []config.RefSpec{config.RefSpec(lease + ":refs/heads/" + name)}
	}
	err = r.pushOutcome(ctx, r.repo.PushContext(ctx, opts), u, server.b.String())
	if err != nil {
		return fmt.Errorf("deleting %s: %w", name, err)
	}
	_ = r.repo.Storer.RemoveReference(plumbing.NewRemoteReferenceName("origin", name))
	r.log.Info("deleted branch", "url", r.opts.URL, "branch", name)
	return nil
}

// BotBranch is a branch the bot owns: Name lies under Prefix, the prefix
// a repository's policy files give (pullRequests.branchPrefix). Publish and
// DeleteBranch rewrite only such branches, and check it on every call, so
// no setting made earlier can widen what the bot may force-push.
type BotBranch struct {
	Prefix string
	Name   string
}

// checkBotBranch refuses branches the bot may not force-push or delete: an
// empty or malformed prefix (every branch would be the bot's), a name not
// under it, and the base or push branch, including a base that itself lies
// under the prefix.
func (r *Repo) checkBotBranch(b BotBranch) error {
	if b.Prefix == "" {
		return fmt.Errorf("refusing to rewrite branch %q: the bot's branch prefix may not be empty", b.Name)
	}
	if err := checkRefName("refs/heads/" + b.Prefix + "x"); err != nil {
		return fmt.Errorf("branch prefix %q: %w", b.Prefix, err)
	}
	for _, base := range []string{r.opts.Branch, r.opts.PushBranch} {
		if base != "" && strings.HasPrefix(base, b.Prefix) {
			return fmt.Errorf("refusing to rewrite branch %q: the base branch %q lies under the bot's branch prefix %q; choose another pullRequests.branchPrefix", b.Name, base, b.Prefix)
		}
	}
	if !strings.HasPrefix(b.Name, b.Prefix) || b.Name == b.Prefix {
		return fmt.Errorf("refusing to rewrite branch %q: only branches under %q are the bot's", b.Name, b.Prefix)
	}
	if err := checkRefName("refs/heads/" + b.Name); err != nil {
		return fmt.Errorf("branch %q: %w", b.Name, err)
	}
	return nil
}

// checkBase makes sure the working copy is at the base branch, which the
// branch operations compare with and build on.
func (r *Repo) checkBase() error {
	if r.repo == nil {
		return errors.New("branch operation before sync: call Sync first")
	}
	if r.follow != r.opts.Branch {
		return fmt.Errorf("branch operations need the working copy on %s, not %s", r.opts.Branch, r.follow)
	}
	return nil
}
