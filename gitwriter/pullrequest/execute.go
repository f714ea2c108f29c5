package pullrequest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// DefaultMaxWait is how long Observe or Execute waits out rate limits in
// total, unless WithMaxWait says otherwise.
const DefaultMaxWait = 2 * time.Minute

// Option configures Observe and Execute.
type Option func(*options)

type options struct {
	budget *Budget
	sleep  func(context.Context, time.Duration) error
	log    *slog.Logger
}

// Budget is how long a pass may wait out rate limits in total. Passing one
// Budget to both Observe and Execute makes the bound hold for the whole
// pass. It is not safe for concurrent use.
type Budget struct {
	Max    time.Duration
	waited time.Duration
}

// Waited is how long the pass has waited so far.
func (b *Budget) Waited() time.Duration { return b.waited }

// WithBudget shares b between calls (default: a Budget of DefaultMaxWait
// for each call). A group whose request would need more waiting than is
// left fails; the others go on.
func WithBudget(b *Budget) Option { return func(o *options) { o.budget = b } }

// WithMaxWait gives the call a budget of its own of d.
func WithMaxWait(d time.Duration) Option { return WithBudget(&Budget{Max: d}) }

// WithSleep replaces how waiting is done (default: a timer that ctx
// cancels), so tests need not sleep.
func WithSleep(sleep func(context.Context, time.Duration) error) Option {
	return func(o *options) { o.sleep = sleep }
}

// WithLogger logs each write and each wait (default: nothing is logged).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

func newOptions(opts []Option) options {
	o := options{sleep: sleepCtx, log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	if o.budget == nil {
		o.budget = &Budget{Max: DefaultMaxWait}
	}
	return o
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// minWait keeps a forge that says "retry after 0" from spinning.
const minWait = time.Second

// waiter retries calls that hit a rate limit while the budget lasts.
type waiter struct {
	options
}

func (w *waiter) do(ctx context.Context, what string, call func() error) error {
	for {
		err := call()
		var rl *RateLimitError
		if !errors.As(err, &rl) {
			return err
		}
		d := max(rl.RetryAfter, minWait)
		b := w.budget
		if b.waited+d > b.Max {
			return fmt.Errorf("%s: rate limited for %s more, beyond the %s this pass may wait (%s waited already): %w", what, d, b.Max, b.waited, err)
		}
		w.log.InfoContext(ctx, "waiting out a rate limit", "call", what, "wait", d)
		b.waited += d
		if err := w.sleep(ctx, d); err != nil {
			return fmt.Errorf("%s: waiting out a rate limit: %w", what, err)
		}
	}
}

// Observe reads from the forge what Decide needs about the groups: the pull
// requests on their branches and, where the bot may have commented before
// (the branch carries commits the bot did not make, or the group's pull
// request is about to be closed), the open pull request's comments. A group whose reads fail
// is reported in failed, keyed by branch, and must be left out of Decide:
// without its pull requests Decide would open a second one.
func Observe(ctx context.Context, forge Reader, groups []Group, branches map[string]Branch, opts ...Option) (prs []PullRequest, failed map[string]error) {
	w := &waiter{options: newOptions(opts)}
	failed = map[string]error{}
	for _, g := range groups {
		var found []PullRequest
		err := w.do(ctx, "listing pull requests of branch "+g.Branch, func() (err error) {
			found, err = forge.PullRequests(ctx, g.Branch)
			return err
		})
		if err != nil {
			failed[g.Branch] = fmt.Errorf("group %s: %w", g.Name, err)
			continue
		}
		foreign := slices.ContainsFunc(branches[g.Branch].Commits, func(c Commit) bool { return !c.ByBot })
		for i, pr := range found {
			if _, ours := ParseMarker(pr.Body); !(foreign || len(g.Files) == 0) || !ours || pr.State != StateOpen {
				continue
			}
			err = w.do(ctx, fmt.Sprintf("listing comments of pull request #%d", pr.Number), func() (err error) {
				found[i].Comments, err = forge.Comments(ctx, pr.Number)
				return err
			})
			if err != nil {
				break
			}
		}
		if err != nil {
			failed[g.Branch] = fmt.Errorf("group %s: %w", g.Name, err)
			continue
		}
		prs = append(prs, found...)
	}
	return prs, failed
}

// Result is what carrying out one Decision did.
type Result struct {
	Decision
	// Number and URL are the pull request's after the writes; Head is the
	// branch head pushed, if any.
	Number int
	URL    string
	Head   string
	// Err says what failed, naming the group and branch. Writes done
	// before the failure stay done; the next pass converges.
	Err error
	// Warnings say what went wrong without failing the pull request: the
	// reviewers the forge refused, or a review request cut short (a rate
	// limit beyond the pass's budget, a failed request). Reviewers are only
	// asked when a pull request is opened, so each is reported once, here
	// and in a comment on the pull request.
	Warnings []string
}

// Execute carries out decisions through the forge and the git side, one
// group after the other. A failing group does not stop the others.
func Execute(ctx context.Context, ds []Decision, forge Writer, branches Branches, opts ...Option) []Result {
	w := &waiter{options: newOptions(opts)}
	results := make([]Result, 0, len(ds))
	for _, d := range ds {
		r := Result{Decision: d, Number: d.Number}
		if err := execute(ctx, w, d, forge, branches, &r); err != nil {
			r.Err = fmt.Errorf("group %s (branch %s): %s: %w", d.Group, d.Branch, d.Action, err)
			w.log.WarnContext(ctx, "pull request action failed", "group", d.Group, "branch", d.Branch, "action", string(d.Action), "error", err)
		} else if d.Writes() {
			w.log.InfoContext(ctx, "pull request action done", "group", d.Group, "branch", d.Branch, "action", string(d.Action), "number", r.Number, "versions", describe(d.Versions), "reason", d.Reason)
		}
		results = append(results, r)
	}
	return results
}

func execute(ctx context.Context, w *waiter, d Decision, forge Writer, branches Branches, r *Result) error {
	if d.Push {
		head, err := branches.Publish(ctx, Push{Branch: d.Branch, Lease: d.Lease, Files: d.Files, Message: d.Message})
		if err != nil {
			return fmt.Errorf("publishing the branch: %w", err)
		}
		r.Head = head
	}
	switch d.Action {
	case ActionSkip, ActionDefer, ActionUpdateBranch:
		return nil
	case ActionCreate:
		if d.Open == nil {
			return errors.New("create decision without a pull request to open")
		}
		var pr PullRequest
		if err := w.do(ctx, "opening the pull request", func() (err error) {
			pr, err = forge.Create(ctx, *d.Open)
			return err
		}); err != nil {
			return err
		}
		r.Number, r.URL = pr.Number, pr.URL
		if len(d.Open.Labels) > 0 {
			if err := w.do(ctx, fmt.Sprintf("labelling pull request #%d", pr.Number), func() error {
				return forge.Label(ctx, pr.Number, d.Open.Labels)
			}); err != nil {
				return err
			}
		}
		if len(d.Open.Reviewers) > 0 || len(d.Open.TeamReviewers) > 0 {
			err := w.do(ctx, fmt.Sprintf("requesting reviews on pull request #%d", pr.Number), func() error {
				return forge.RequestReviews(ctx, pr.Number, d.Open.Reviewers, d.Open.TeamReviewers)
			})
			if err != nil {
				reviewersNotAsked(ctx, w, forge, d, pr.Number, err, r)
			}
		}
		return nil
	case ActionUpdate, ActionUpdateText:
		return w.do(ctx, fmt.Sprintf("editing pull request #%d", d.Number), func() error {
			return forge.Edit(ctx, d.Number, d.Title, d.Body)
		})
	case ActionDeleteBranch:
		if err := branches.Delete(ctx, d.Branch, d.Lease); err != nil {
			return fmt.Errorf("deleting the branch: %w", err)
		}
		return nil
	case ActionCommentForeign:
		return w.do(ctx, fmt.Sprintf("commenting on pull request #%d", d.Number), func() error {
			return forge.Comment(ctx, d.Number, d.Comment)
		})
	case ActionClose:
		if d.Comment != "" {
			if err := w.do(ctx, fmt.Sprintf("commenting on pull request #%d", d.Number), func() error {
				return forge.Comment(ctx, d.Number, d.Comment)
			}); err != nil {
				return err
			}
		}
		if err := w.do(ctx, fmt.Sprintf("closing pull request #%d", d.Number), func() error {
			return forge.Close(ctx, d.Number, d.Body)
		}); err != nil {
			return err
		}
		if d.DeleteBranch {
			if err := branches.Delete(ctx, d.Branch, d.Lease); err != nil {
				return fmt.Errorf("deleting the branch: %w", err)
			}
		}
		return nil
	default:
		return fmt.Errorf("unknown action %q", d.Action)
	}
}

// reviewersNotAsked reports a review request that the forge refused in
// part or that was cut short, without failing the pull request: once in
// r.Warnings and the log, and once in a comment on the pull request,
// since reviewers are asked only when it is opened.
func reviewersNotAsked(ctx context.Context, w *waiter, forge Writer, d Decision, number int, err error, r *Result) {
	var note string
	var re *ReviewersError
	if errors.As(err, &re) {
		note = "imagebump could not request a review from:\n\n- " + strings.Join(re.Refused, "\n- ")
		if re.Hint != "" {
			note += "\n\n" + re.Hint
		}
	} else {
		note = fmt.Sprintf("imagebump could not request the reviews of `pullRequests.reviewers` and `teamReviewers`: %v\n\nThey are only asked when a pull request is opened; ask them here by hand.", err)
	}
	r.Warnings = append(r.Warnings, fmt.Sprintf("pull request #%d: reviewers not requested: %v", number, err))
	w.log.WarnContext(ctx, "reviewers not requested", "group", d.Group, "branch", d.Branch, "number", number, "error", err)
	if err := w.do(ctx, fmt.Sprintf("commenting on pull request #%d", number), func() error {
		return forge.Comment(ctx, number, note)
	}); err != nil {
		r.Warnings = append(r.Warnings, fmt.Sprintf("pull request #%d: saying so in a comment: %v", number, err))
	}
}
