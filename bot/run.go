package bot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/gitwriter"
	"github.com/imagebump/imagebump/gitwriter/pullrequest"
	"github.com/imagebump/imagebump/patcher"
	"github.com/imagebump/imagebump/problem"
	"github.com/imagebump/imagebump/registry"
)

// WorkingCopy is what Runner.Open makes: the git side of a repository, as
// each step of a pass uses it (a checkout, push mode, the pull request
// branches read and written). *gitwriter.Repo is one.
type WorkingCopy interface {
	checkout
	pusher
	branchReader
	branchWriter
}

// checkout is what a pass needs before planning: a working copy kept at
// the remote base branch's tip.
type checkout interface {
	Sync(ctx context.Context) (gitwriter.SyncResult, error)
	Dir() string
}

// pusher is push mode's write: one commit pushed, re-planned when the
// remote moved on.
type pusher interface {
	Push(ctx context.Context, cs gitwriter.ChangeSet, rebuild gitwriter.RebuildFunc) (gitwriter.PushResult, error)
}

// passRegistry is what a pass asks of the registry: resolving, and the
// source label of each image a pull request proposes.
type passRegistry interface {
	Registry
	sourcer
}

// Runner runs update passes over the repositories of a bot config.
type Runner struct {
	// Config is the bot config; its Repositories are what passes run over.
	Config *config.Bot
	// Registry answers the registry questions of every pass; a round of
	// passes shares one registry.Pass, so each image is listed once per
	// round however many repositories use it.
	Registry *registry.Client
	// Open makes the working copy of a repository; nil means OpenWorkingCopy.
	Open func(repo config.Repository) (WorkingCopy, error)
	// Forge makes the pull request client of a repository in pull request
	// mode; nil means OpenForge with the pass's logger.
	Forge func(repo config.Repository) (pullrequest.Forge, error)
	// ForgeOptions are passed to pullrequest.Observe and Execute (rate
	// limit budget, sleeping in tests).
	ForgeOptions []pullrequest.Option
	// Resolver resolves policies; its zero value is ready.
	Resolver Resolver
	// DryRun syncs and plans for real but writes nothing to git or the
	// forge; results say what would have been done.
	DryRun bool
	// Logger receives a line per commit and pull request action; nil
	// discards.
	Logger *slog.Logger
	// Progress, when set, gives the writer that receives a repository's
	// clone and fetch progress (a terminal's, for long first clones).
	Progress func(repo config.Repository) io.Writer
	// Concurrency bounds the repositories in a pass at once; 0 means 4.
	Concurrency int
	// Shard is the shard this runner serves, reported in every Result.
	// Config.Repositories should hold only the repositories it owns
	// (Shard.Filter); the zero value owns all.
	Shard Shard
	// Status is whether passes gather what only the status page shows:
	// the values the markers hold (Result.Current), which costs a parse of
	// every marked file, half the CPU of a warm pass over a 500-file
	// repository (BenchmarkOnceWarm). The daemon sets it; run --once,
	// whose results no page shows, does not. A repository with a
	// dashboard issue gets them either way.
	Status bool
	// Memo, when set, remembers each repository's last successful pass
	// so that a pass finding nothing changed does not plan again (see
	// Memo); nil plans every pass, as run --once does.
	Memo *Memo
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
	// Plan has the planned file changes, problems and refused downgrades of
	// the whole tree; nil when the pass stopped before planning.
	Plan *patcher.Plan
	// Commit is what push mode commits (or, in a dry run, would); nil when
	// nothing changes.
	Commit *gitwriter.ChangeSet
	// CommitMessage and CommitAuthor ("Name <email>") are the message and
	// author of the commit of Commit, set in a push mode dry run, which
	// makes none.
	CommitMessage string
	CommitAuthor  string
	// Pushed says what push mode pushed; nil in a dry run, in pull request
	// mode, or when the pass failed before pushing.
	Pushed *gitwriter.PushResult
	// PullRequests are the pull request mode decisions and, unless it is a
	// dry run, what carrying each out did.
	PullRequests []pullrequest.Result
	// Requests counts the registry requests of the round the pass was in.
	Requests []registry.Count
	// Current has the values the markers of known policies hold on the
	// base branch, by file and line, for the status; nil when the pass
	// stopped before planning.
	Current []Value
	// Dashboard says what became of the repository's dashboard issue; nil
	// when the pass did not get to it or the repository has no forge.
	Dashboard *DashboardResult
	// Invalid is set when the repository's policy files are invalid
	// (config.Problems in Err): exit 2 for this repository.
	Invalid bool
	// Skips are what the pass deliberately left as it is, and why, in the
	// one vocabulary of pullrequest.SkipReason: refused downgrades (both
	// modes) and pull request groups held back (deferred by maxOpen,
	// declined by a human, foreign commits, a failed registry, a foreign
	// pull request on the branch).
	Skips []Skip
	// Unchanged is set when the pass did not plan: the remote tip, the
	// policy files and every selected tag and digest were as the
	// repository's last successful pass left them (Runner.Memo). Plan,
	// Current and Skips are then that pass's (Plan without file contents),
	// Policies are resolved anew, and nothing was written.
	Unchanged bool
	// Err is what stopped the pass: a sync, policy file or push failure.
	Err error
	// Shard is the shard of the runner that made the pass (Runner.Shard).
	Shard Shard
}

// Failed reports whether the pass failed or needs attention: an error, a
// policy that did not resolve, a problem with a marker or file, a pull
// request action that failed.
func (r *Result) Failed() bool {
	if r.Err != nil || (r.Dashboard != nil && r.Dashboard.Error != "") {
		return true
	}
	if r.Plan != nil && len(r.Plan.Problems) > 0 {
		return true
	}
	if slices.ContainsFunc(r.PullRequests, func(pr pullrequest.Result) bool { return pr.Err != nil }) {
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
func (r *Runner) pass(ctx context.Context, reg passRegistry, repo config.Repository) (res Result) {
	res = Result{Repository: config.RedactURL(repo.URL), Shard: r.Shard, Mode: repo.Mode, DryRun: r.DryRun, Started: time.Now()}
	if d := r.Config.Limits.PassTimeout; d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, d, &DeadlineError{Limit: d})
		defer cancel()
	}
	defer func() {
		res.Skips = append(downgradeSkips(res.Plan), res.Skips...)
		res.Duration = time.Since(res.Started)
		res.Err = passDeadline(ctx, res.Err)
	}()
	log := r.logger().With("repository", res.Repository)
	log.Debug("pass started", "mode", string(repo.Mode), "branch", repo.Branch, "dryRun", r.DryRun, "deadline", r.Config.Limits.PassTimeout.String())

	open := r.Open
	if open == nil {
		open = func(repo config.Repository) (WorkingCopy, error) {
			var progress io.Writer
			if r.Progress != nil {
				progress = r.Progress(repo)
			}
			return OpenWorkingCopy(r.Config, repo, r.Logger, progress)
		}
	}
	wc, err := open(repo)
	if err != nil {
		res.Err = fmt.Errorf("opening the working copy: %w", err)
		return res
	}
	// 1. Sync the working copy.
	synced, err := wc.Sync(ctx)
	if err != nil {
		res.Err = fmt.Errorf("syncing the working copy: %w", err)
		return res
	}
	log.Debug("working copy synced", "branch", synced.Branch, "head", synced.Head, "cloned", synced.Cloned, "reason", config.RedactURLs(synced.Reason), "fetched", synced.Fetched)
	if r.Memo != nil {
		if r.Memo.unchanged(ctx, &r.Resolver, reg, repo, wc.Dir(), synced.Head, &res) {
			log.Debug("unchanged since the last pass: not planned", "head", synced.Head)
			return res
		}
		// Whatever this pass does, the memory of the last one is stale.
		r.Memo.drop(repo)
	}
	// 2–5. Load, scan, resolve, plan.
	st, err := r.plan(ctx, reg, wc.Dir(), repo, &res)
	if err != nil {
		res.Err = err
		var problems problem.List
		res.Invalid = errors.As(err, &problems)
		return res
	}
	// A Flux ImageUpdateAutomation in the checkout says where and how to
	// commit (see followFlux).
	if wc, repo, st, err = r.followFlux(ctx, reg, wc, repo, st, &res, log); err != nil {
		res.Err = err
		var problems problem.List
		res.Invalid = errors.As(err, &problems)
		return res
	}
	// Paths git does not check out are problems of their own; the rest of
	// the tree was checked out and planned.
	for _, sp := range synced.Skipped {
		res.Plan.Problems = append(res.Plan.Problems, problem.Problem{File: gitwriter.EscapePath(sp.Path), Message: "not checked out: " + sp.Why})
	}
	for _, p := range st.Policies {
		if p.Err == nil {
			log.Debug("policy resolved", "policy", p.Policy.Name(), "image", p.Policy.Spec().Image, "tag", p.Tag, "digest", p.Digest)
		}
	}
	log.Debug("planned", "policyFiles", len(st.PolicyFiles.Files), "policies", len(st.Policies), "files", len(st.Patch.Files), "changes", len(st.Patch.Changes), "problems", len(st.Patch.Problems), "skipped", len(st.Patch.Skipped))
	// What plan and validate print as warnings (near-miss markers, Flux
	// settings read otherwise); at debug level, as they repeat every pass.
	for _, w := range st.Patch.Warnings {
		log.Debug("warning", "file", w.File, "line", w.Line, "message", w.Message)
	}
	// 6. Write. One forge client serves the pass (see passForge).
	pf := r.passForge(repo, log)
	if repo.Mode == config.Push {
		r.push(ctx, reg, wc, repo, st, &res, log)
	} else {
		r.pullRequests(ctx, reg, wc, repo, st, &res, log, pf)
	}
	// 7. The dashboard issue shows what the pass did.
	r.dashboard(ctx, repo, st.PolicyFiles.Dashboard, &res, log, pf)
	if r.Memo != nil && res.Err == nil && ctx.Err() == nil {
		r.Memo.remember(repo, wc.Dir(), synced.Head, st, &res)
	}
	return res
}

// plan runs the load, scan, resolve and plan stages on the tree at root
// (Resolver.Plan), the policy files checked against repo's forge as soon
// as they are loaded, and records the resolutions and the plan in res.
func (r *Runner) plan(ctx context.Context, reg Registry, root string, repo config.Repository, res *Result) (*Outcome, error) {
	rv := r.Resolver
	rv.Check = func(pols *config.Policies) error { return checkForge(repo, pols) }
	// Flux automations of other repositories are passed over.
	rv.Load = append(slices.Clip(rv.Load), config.ForRepository(repo.URL))
	if repo.NoFlux {
		rv.Load = append(rv.Load, config.WithoutFlux())
	}
	if rv.MaxFileSize == 0 {
		rv.MaxFileSize = r.Config.Limits.MaxFileSize
	}
	o, err := rv.Plan(ctx, reg, root, repo.Paths)
	if err != nil {
		return nil, err
	}
	res.Policies, res.Plan = o.Policies, o.Patch
	if r.Status || o.PolicyFiles.Dashboard.Enabled {
		res.Current = currentValues(o.Tree, o.PolicyFiles)
	}
	return o, nil
}

// push is step 6 in push mode: one commit of every planned file, pushed;
// when someone pushed first, re-planned on their tip.
func (r *Runner) push(ctx context.Context, reg Registry, wc pusher, repo config.Repository, st *Outcome, res *Result, log *slog.Logger) {
	if len(st.Patch.Files) == 0 {
		return
	}
	cs := changeSet(st.PolicyFiles, st.Patch)
	if err := fluxMessage(&cs, st.PolicyFiles, st.Patch); err != nil {
		res.Err = err
		return
	}
	res.Commit = &cs
	if r.DryRun {
		msg, err := gitwriter.Message(r.Config.Commit.MessageTemplate, cs)
		if err != nil {
			res.Err = err
			return
		}
		res.CommitMessage = msg
		commit := r.Config.Commit
		if a := st.PolicyFiles.Flux.Auto(); a != nil {
			// The ImageUpdateAutomation's author makes the commit.
			if cfg, _, err := FluxSettings(r.Config, repo, a); err == nil {
				commit = cfg.Commit
			}
		}
		res.CommitAuthor = fmt.Sprintf("%s <%s>", commit.AuthorName, commit.AuthorEmail)
		log.Info("dry run: would commit and push", "files", len(cs.Files), "changes", len(cs.Changes))
		return
	}
	rebuild := func(ctx context.Context, dir string) (gitwriter.ChangeSet, error) {
		again, err := r.plan(ctx, reg, dir, repo, res)
		if err != nil {
			return gitwriter.ChangeSet{}, err
		}
		cs := changeSet(again.PolicyFiles, again.Patch)
		if err := fluxMessage(&cs, again.PolicyFiles, again.Patch); err != nil {
			return gitwriter.ChangeSet{}, err
		}
		res.Commit = &cs
		return cs, nil
	}
	pushed, err := wc.Push(ctx, cs, rebuild)
	if err != nil {
		res.Err = fmt.Errorf("pushing: %w", err)
		return
	}
	res.Pushed = &pushed
	if pushed.Commit == "" {
		res.Commit = nil
		return
	}
	for _, c := range res.Commit.Changes {
		log.Info("pushed", "commit", pushed.Commit, "branch", pushed.Branch, "policy", c.Policy, "image", c.Image, "file", c.File, "from", c.Old, "to", c.New)
	}
}
