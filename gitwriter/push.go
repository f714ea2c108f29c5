package gitwriter

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
)

// MaxPushAttempts bounds Push: the first push and the retries after a
// rejection.
const MaxPushAttempts = 5

// RebuildFunc plans the change again on the working copy in dir, just
// reset to the new tip of the remote branch. It returns what to commit
// now (no files: nothing left to do).
type RebuildFunc func(ctx context.Context, dir string) (ChangeSet, error)

// PushResult says what Push did.
type PushResult struct {
	// Branch is the branch pushed to: PushBranch if set, else Branch.
	Branch string
	// Commit is the pushed commit, "" when nothing was committed.
	Commit string
	// Attempts counts the pushes tried.
	Attempts int
	// Unchanged is true when the files already held this content: no
	// commit was made.
	Unchanged bool
}

// Push commits cs on the tip the working copy follows and pushes it to
// PushBranch (created from Branch when absent) or Branch, never forced.
// When the remote rejects the push because the branch moved on, Push syncs
// to the new tip, asks rebuild for the change again and retries, at most
// MaxPushAttempts pushes in all with jittered backoff. Without rebuild a
// rejection is final: the same bytes on a new tip could undo someone
// else's change. Nothing is committed when the files are unchanged. Sync
// must have run first.
func (r *Repo) Push(ctx context.Context, cs ChangeSet, rebuild RebuildFunc) (PushResult, error) {
	if r.repo == nil {
		return PushResult{}, errors.New("push before sync: call Sync first")
	}
	target := r.opts.Branch
	if r.opts.PushBranch != "" {
		target = r.opts.PushBranch
	}
	res := PushResult{Branch: target}
	for attempt := 1; ; attempt++ {
		commit, err := r.commitFiles(r.head, cs)
		if err != nil {
			return res, r.errorf("committing to %s of %s: %w", target, r.opts.URL, err)
		}
		if commit.IsZero() {
			res.Unchanged = true
			r.log.Info("nothing to commit", "url", r.opts.URL, "branch", target)
			return res, nil
		}
		res.Attempts = attempt
		// The push applies only while target is where the working copy
		// saw it: its tip, or absent for a PushBranch still to be created.
		u := update{branch: target}
		if r.follow == target {
			u.expect = r.head
		}
		err = r.pushCommit(ctx, commit, u)
		if err == nil {
			res.Commit = commit.String()
			r.log.Info("pushed", "url", r.opts.URL, "branch", target, "commit", res.Commit, "attempts", attempt)
			// The working copy follows what was pushed, so the next Sync
			// has nothing to fetch or reset.
			if err := r.advance(target, commit, cs.Files); err != nil {
				return res, r.errorf("checking out the pushed commit: %w", err)
			}
			r.follow, r.head = target, commit
			return res, nil
		}
		if !errors.Is(err, ErrPushRejected) {
			return res, err
		}
		if attempt == MaxPushAttempts || rebuild == nil {
			return res, fmt.Errorf("pushing to %s after %d attempts: %w", target, attempt, err)
		}
		r.log.Info("push rejected; rebuilding on the new tip", "url", r.opts.URL, "branch", target, "attempt", attempt, "error", err.Error())
		if err := sleep(ctx, backoff(attempt)); err != nil {
			return res, err
		}
		if _, err := r.Sync(ctx); err != nil {
			return res, err
		}
		if cs, err = rebuild(ctx, r.dir); err != nil {
			return res, fmt.Errorf("rebuilding the change on %s: %w", r.head, err)
		}
	}
}

// pushCommit pushes commit to the remote branch u.branch. Unleased, the
// push must be a fast-forward (or create the branch); leased, it is forced,
// but only while the remote branch is still at u.expect (the zero hash:
// still absent). A failure is classified by pushOutcome.
func (r *Repo) pushCommit(ctx context.Context, commit plumbing.Hash, u update) error {
	local := plumbing.ReferenceName("refs/imagebump/push/" + u.branch)
	if err := r.repo.Storer.SetReference(plumbing.NewHashReference(local, commit)); err != nil {
		return err
	}
	defer r.repo.Storer.RemoveReference(local)
	spec := config.RefSpec(fmt.Sprintf("%s:refs/heads/%s", local, u.branch))
	var server sideband
	opts := &git.PushOptions{RemoteName: "origin", Auth: r.auth, Progress: &server}
	if u.leased && !u.expect.IsZero() {
		spec = "+" + spec
		opts.RequireRemoteRefs = []config.RefSpec{config.RefSpec(u.expect.String() + ":refs/heads/" + u.branch)}
	}
	opts.RefSpecs = []config.RefSpec{spec}
	err := r.repo.PushContext(ctx, opts)
	return r.pushOutcome(ctx, err, u, server.b.String())
}

// backoff is the wait before retry n: 200ms doubling, ±50% jitter so that
// two bots racing on one branch fall out of step.
func backoff(n int) time.Duration {
	d := 200 * time.Millisecond << (n - 1)
	return d/2 + rand.N(d)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
