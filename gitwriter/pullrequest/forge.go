package pullrequest

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Forge is what the lifecycle needs from GitHub, GitLab or Gitea: what
// Observe reads and what Execute writes. Each method is one write or one
// read, so a call that hits a rate limit can be retried alone without
// repeating a write that already happened.
type Forge interface {
	Reader
	Writer
}

// Reader is what Observe reads of the forge.
type Reader interface {
	// PullRequests lists the pull requests whose head is branch: open,
	// closed and merged, whatever their author.
	PullRequests(ctx context.Context, branch string) ([]PullRequest, error)
	// Comments lists the bodies of a pull request's comments.
	Comments(ctx context.Context, number int) ([]string, error)
}

// Writer is what Execute writes to the forge: opening pull requests and
// changing open ones.
type Writer interface {
	Opener
	Editor
}

// Opener opens a pull request, then labels it and asks for reviews.
type Opener interface {
	// Create opens a pull request (as a draft if asked). Labels and
	// reviewers are set by the calls below.
	Create(ctx context.Context, pr NewPullRequest) (PullRequest, error)
	// Label adds labels to a pull request.
	Label(ctx context.Context, number int, labels []string) error
	// RequestReviews asks users and teams for a review. Reviewers the
	// forge refused or dropped while it set the others are reported in a
	// *ReviewersError; Execute comments on the pull request with it.
	RequestReviews(ctx context.Context, number int, users, teams []string) error
}

// Editor changes an open pull request.
type Editor interface {
	// Edit replaces a pull request's title and body.
	Edit(ctx context.Context, number int, title, body string) error
	// Close closes a pull request unmerged, replacing its body.
	Close(ctx context.Context, number int, body string) error
	// Comment adds a comment to a pull request.
	Comment(ctx context.Context, number int, body string) error
}

// Push asks Branches to rebuild a branch from the current base.
type Push struct {
	Branch string
	// Lease is the commit the branch must point at before it is replaced;
	// empty means it must not exist. A branch that moved since it was read
	// is never overwritten.
	Lease string
	// Files are written on top of the base tip in one commit.
	Files   []File
	Message string
}

// Branches is the git side of the lifecycle: the bot adapts its working
// copy to it.
type Branches interface {
	// Publish commits Files on top of the base tip and force-pushes the
	// result to the branch, provided it still points at Lease. It returns
	// the new head.
	Publish(ctx context.Context, p Push) (head string, err error)
	// Delete deletes a branch, provided it still points at lease.
	Delete(ctx context.Context, branch, lease string) error
}

// RateLimitError is a forge's answer that the client must wait before its
// next request. Forge implementations return it (wrapped or not) for
// primary and secondary limits alike.
type RateLimitError struct {
	// RetryAfter is how long to wait; a forge that does not say uses its
	// documented default.
	RetryAfter time.Duration
	Err        error
}

// Error says how long to wait and what was refused.
func (e *RateLimitError) Error() string {
	return fmt.Sprintf("rate limited, retry after %s: %v", e.RetryAfter, e.Err)
}

// Unwrap returns the forge client's own error.
func (e *RateLimitError) Unwrap() error { return e.Err }

// ReviewersError is a forge's answer that some reviewers were not asked
// while the others were: GitHub refuses a user who is not a collaborator
// or a team written ORG/TEAM, GitLab Free keeps one reviewer. A reviewer
// never fails the pull request: Execute names them in one comment on it
// and in Result.Warnings.
type ReviewersError struct {
	// Refused names each reviewer not asked, with the forge's reason when
	// it gave one ("`bob`: Reviews may only be requested from
	// collaborators.").
	Refused []string
	// Hint says what to check, in the forge's terms.
	Hint string
}

// Error names the reviewers not asked.
func (e *ReviewersError) Error() string {
	return "the forge did not take these reviewers: " + strings.Join(e.Refused, "; ")
}
