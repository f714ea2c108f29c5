package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/patcher"
	"github.com/imagebump/imagebump/registry"
)

// WorkingCopy is what a pass needs of a repository's git side: a local
// checkout kept in step with the remote branch, and a way to commit planned
// files and push them. The bot's is gitwriter.Repo (through gitCopy).
type WorkingCopy interface {
	// Sync brings the checkout to the remote branch's tip.
	Sync(ctx context.Context) error
	// Dir is the checkout's root directory.
	Dir() string
	// Push commits c on the checkout's tip and pushes it. When the remote
	// moved first it syncs and calls rebuild for the commit to make on the
	// new tip, a bounded number of times. A commit with no files, or whose
	// files change nothing, is not made: Pushed.Hash is then empty.
	Push(ctx context.Context, c Commit, rebuild func(ctx context.Context) (Commit, error)) (Pushed, error)
}

// Commit is a commit to make: the new content of files, and the changes
// they carry for the message.
type Commit struct {
	Files   []patcher.FileChange
	Changes []CommitChange
}

// CommitChange is one image changed by a commit, for its message.
type CommitChange struct {
	Policy string
	Image  string
	Old    string
	New    string
	Files  []string
}

// Pushed is a commit that was pushed.
type Pushed struct {
	Hash     string
	Branch   string
	Message  string
	Attempts int // 1 when the first push went through
}

// Runner runs update passes over the repositories of a bot config.
type Runner struct {
	// Config is the bot config; its Repositories are what passes run over.
	Config *config.Bot
	// Registry answers the registry questions of every pass; a round of
	// passes shares one registry.Pass, so each image is listed once per
	// round however many repositories use it.
	Registry *registry.Client
	// Open makes the working copy of repository i. Nil is an error.
	Open func(repo config.Repository) (WorkingCopy, error)
	// Resolver resolves policies; its zero value is ready.
	Resolver Resolver
	// DryRun syncs and plans for real but writes nothing to git or the
	// forge; results say what would have been done.
	DryRun bool
	// Logger receives a line per pass and per commit; nil discards.
	Logger *slog.Logger
	// Concurrency bounds the repositories in a pass at once; 0 means 4.
	Concurrency int
}

// Result is what one pass over one repository did. Logs, metrics and the
// exit code are derived from it.
type Result struct {
	// Repository is the repository's URL (the config refuses URLs with
	// credentials).
	Repository string
	Mode       config.Mode
	DryRun     bool
	Started    time.Time
	Duration   time.Duration
	// Policies has the resolution of every policy a marker uses.
	Policies []Resolution
	// Plan has the planned file changes, problems and refused downgrades;
	// nil when the pass stopped before planning.
	Plan *patcher.Plan
	// Pushed is the commit pushed in push mode; nil when none was (nothing
	// changed, a dry run, or a failure).
	Pushed *Pushed
	// Commit is the commit planned in push mode (what a dry run would
	// push); nil when nothing changed.
	Commit *Commit
	// Requests counts the registry requests of the round the pass was in.
	Requests []registry.Count
	// Invalid is set when the repository's policy files are invalid
	// (config.Problems in Err): exit 2 for this repository.
	Invalid bool
	// Err is what stopped the pass: a sync, policy file or push failure.
	Err error
}

// Failed reports whether the pass failed or needs attention: an error, a
// policy that did not resolve, a problem with a marker or file.
func (r *Result) Failed() bool {
	if r.Err != nil {
		return true
	}
	if r.Plan != nil && len(r.Plan.Problems) > 0 {
		return true
	}
	return slices.ContainsFunc(r.Policies, func(res Resolution) bool { return res.Err != nil })
}

// Once runs one pass over every repository, at most Concurrency at once,
// and returns their results in config order.
func (r *Runner) Once(ctx context.Context) []Result {
	pass := r.Round()
	out := make([]Result, len(r.Config.Repositories))
	var g errgroup.Group
	n := r.Concurrency
	if n <= 0 {
		n = 4
	}
	g.SetLimit(n)
	for i := range r.Config.Repositories {
		g.Go(func() error {
			out[i] = pass(ctx, i)
			return nil
		})
	}
	_ = g.Wait()
	return out
}

// Round starts a round of passes: the function it returns runs one pass
// over repository i, sharing one registry pass with the others of the
// round. It is safe for concurrent use with distinct i.
func (r *Runner) Round() func(ctx context.Context, i int) Result {
	reg := r.Registry.Pass()
	return func(ctx context.Context, i int) Result {
		res := r.pass(ctx, reg, r.Config.Repositories[i])
		res.Requests = reg.Counts()
		return res
	}
}

func (r *Runner) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Logger
}

// pass is DESIGN.md's "One pass over a repository".
func (r *Runner) pass(ctx context.Context, reg Registry, repo config.Repository) Result {
	res := Result{Repository: repo.URL, Mode: repo.Mode, DryRun: r.DryRun, Started: time.Now()}
	defer func() { res.Duration = time.Since(res.Started) }()
	log := r.logger().With("repository", res.Repository)

	if r.Open == nil {
		res.Err = errors.New("no way to open working copies")
		return res
	}
	wc, err := r.Open(repo)
	if err != nil {
		res.Err = fmt.Errorf("opening the working copy: %w", err)
		return res
	}
	// 1. Sync the working copy.
	if err := wc.Sync(ctx); err != nil {
		res.Err = fmt.Errorf("syncing the working copy: %w", err)
		return res
	}
	// 2–5. Load, scan, resolve, plan.
	commit, err := r.planCommit(ctx, reg, wc.Dir(), repo.Paths, &res)
	if err != nil {
		res.Err = err
		var problems config.Problems
		res.Invalid = errors.As(err, &problems)
		return res
	}
	if commit == nil {
		log.Info("pass finished: nothing to change")
		return res
	}
	res.Commit = commit
	// 6. Write.
	switch repo.Mode {
	case config.Push:
		if r.DryRun {
			log.Info("dry run: would commit and push", "files", len(commit.Files), "changes", len(commit.Changes))
			return res
		}
		rebuild := func(ctx context.Context) (Commit, error) {
			var again Result
			c, err := r.planCommit(ctx, reg, wc.Dir(), repo.Paths, &again)
			if err != nil {
				return Commit{}, err
			}
			res.Policies, res.Plan = again.Policies, again.Plan
			if c == nil {
				return Commit{}, nil
			}
			res.Commit = c
			return *c, nil
		}
		pushed, err := wc.Push(ctx, *commit, rebuild)
		if err != nil {
			res.Err = fmt.Errorf("pushing: %w", err)
			return res
		}
		if pushed.Hash != "" {
			res.Pushed = &pushed
			for _, c := range res.Commit.Changes {
				log.Info("pushed", "commit", pushed.Hash, "branch", pushed.Branch, "policy", c.Policy, "image", c.Image, "from", c.Old, "to", c.New)
			}
		}
	default:
		res.Err = fmt.Errorf("mode %q: pull requests are not wired into run yet; use mode: push", repo.Mode)
	}
	return res
}

// planCommit runs the load, scan, resolve and plan stages on the tree at
// root and returns the commit they call for, or nil when nothing changes.
// It records the resolutions and the plan in res.
func (r *Runner) planCommit(ctx context.Context, reg Registry, root string, paths []string, res *Result) (*Commit, error) {
	pols, err := Load(root)
	if err != nil {
		return nil, err
	}
	reqs, err := Scan(ctx, root, paths, pols)
	if err != nil {
		return nil, err
	}
	res.Policies = r.Resolver.Resolve(ctx, reg, reqs)
	plan, err := patcher.PlanDir(ctx, root, paths, Targets(pols, res.Policies, nil))
	if err != nil {
		return nil, fmt.Errorf("planning changes: %w", err)
	}
	res.Plan = plan
	if len(plan.Files) == 0 {
		return nil, nil
	}
	return &Commit{Files: plan.Files, Changes: commitChanges(pols, plan.Changes)}, nil
}

// commitChanges summarises field changes as one entry per policy and old
// value: what a commit message or pull request lists.
func commitChanges(pols *config.Policies, changes []patcher.Change) []CommitChange {
	type key struct{ policy, old, new string }
	var out []CommitChange
	index := map[key]int{}
	for _, c := range changes {
		p := pols.Lookup(c.Policy)
		if p == nil {
			continue
		}
		old, new := c.Old, c.New
		if c.Field == patcher.FieldRef {
			old, new = tagOf(old), tagOf(new)
		}
		k := key{c.Policy, old, new}
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, CommitChange{Policy: c.Policy, Image: p.Spec().Image, Old: old, New: new})
		}
		if !slices.Contains(out[i].Files, c.File) {
			out[i].Files = append(out[i].Files, c.File)
		}
	}
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
