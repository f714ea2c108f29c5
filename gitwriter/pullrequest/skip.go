package pullrequest

// SkipReason says why a pass deliberately left something as it is. It is
// the one vocabulary of skips: run's log lines, its --dry-run output and
// the pass result (bot.Result.Skips, which the status page shows) carry
// these values, so each can be mapped once. Decide sets the pull request
// ones on Decision.Skip; the bot adds the others.
type SkipReason string

// The skip reasons.
const (
	// SkipMaxOpen: a new pull request is deferred because maxOpen of the
	// bot's pull requests are open.
	SkipMaxOpen SkipReason = "deferred-max-open"
	// SkipDowngrade: a field holds a value the policy orders above the
	// selected one; it is never downgraded.
	SkipDowngrade SkipReason = "refused-downgrade"
	// SkipDeclined: a human closed the pull request proposing these
	// versions without merging; they are not proposed again.
	SkipDeclined SkipReason = "closed-by-human"
	// SkipForeignCommits: the branch carries commits imagebump did not
	// make; they are never overwritten.
	SkipForeignCommits SkipReason = "foreign-commits"
	// SkipRegistryFailed: a policy of the group did not resolve (its
	// registry failed); the group's pull request is kept exactly as it is.
	SkipRegistryFailed SkipReason = "registry-failed"
	// SkipForeignPullRequest: an open pull request that imagebump did not
	// open uses the group's branch; a second one is never opened.
	SkipForeignPullRequest SkipReason = "foreign-pull-request"
)

// SkipReasons lists every skip reason, for those who map them (a status
// page, a metric's label values).
func SkipReasons() []SkipReason {
	return []SkipReason{SkipMaxOpen, SkipDowngrade, SkipDeclined, SkipForeignCommits, SkipRegistryFailed, SkipForeignPullRequest}
}

// Text is the reason in words, for people: "deferred by maxOpen".
func (r SkipReason) Text() string {
	switch r {
	case SkipMaxOpen:
		return "deferred by maxOpen"
	case SkipDowngrade:
		return "refused downgrade"
	case SkipDeclined:
		return "closed by a human, that version skipped"
	case SkipForeignCommits:
		return "foreign commits on the branch"
	case SkipRegistryFailed:
		return "registry failed, pull request kept"
	case SkipForeignPullRequest:
		return "pull request not opened by imagebump"
	}
	return string(r)
}
