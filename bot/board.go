package bot

import (
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/gitwriter"
	"github.com/imagebump/imagebump/gitwriter/pullrequest"
	"github.com/imagebump/imagebump/patcher"
)

// Board keeps what the status page, its JSON API and the dashboard issue
// show: the last pass of every repository and the recent webhook events.
// It is pure data, fed after each pass (Record) and by the webhook
// receiver (RecordEvent); it is safe for concurrent use.
type Board struct {
	mu     sync.Mutex
	order  []string
	repos  map[string]RepositoryStatus
	events []Event
}

// MaxEvents is how many webhook events a Board keeps, newest first.
const MaxEvents = 50

// NewBoard returns a board listing repos (URLs) in this order, each
// without a pass until Record.
func NewBoard(repos []string) *Board {
	b := &Board{repos: map[string]RepositoryStatus{}}
	for _, u := range repos {
		u = Scrub(u)
		if _, dup := b.repos[u]; dup {
			continue
		}
		b.order = append(b.order, u)
		b.repos[u] = RepositoryStatus{URL: u}
	}
	return b
}

// Overview is everything the board knows: the JSON of GET /api/v1/status.
type Overview struct {
	Repositories []RepositoryStatus `json:"repositories"`
	// Events are the recent webhook events, newest first.
	Events []Event `json:"events"`
}

// RepositoryStatus is one repository's last pass and its policies.
type RepositoryStatus struct {
	URL  string `json:"url"`
	Mode string `json:"mode,omitempty"`
	// LastPass is nil until the first pass has finished.
	LastPass *PassStatus `json:"lastPass,omitempty"`
	// NextDue is when the schedule next runs a pass; zero when unknown.
	NextDue  time.Time       `json:"nextDue,omitzero"`
	Policies []PolicyStatus  `json:"policies"`
	Problems []ProblemStatus `json:"problems,omitempty"`
	// Dashboard is the dashboard issue, when the repository has one.
	Dashboard *DashboardResult `json:"dashboard,omitempty"`
}

// PassStatus is how a pass went.
type PassStatus struct {
	Started time.Time `json:"started"`
	// Duration is in seconds.
	Duration float64 `json:"durationSeconds"`
	// Result is "ok", "failed" or "invalid" (the exit status's words).
	Result string `json:"result"`
	DryRun bool   `json:"dryRun,omitempty"`
	// Error is what stopped the pass, if anything did.
	Error string `json:"error,omitempty"`
}

// ProblemStatus is a problem with a marker or a file.
type ProblemStatus struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
}

// State is what became of a policy in the last pass.
type State string

// The states of a policy.
const (
	StateUpToDate State = "up-to-date"
	StatePROpen   State = "pr-open"
	StatePushed   State = "pushed"
	// StatePending: a change is planned but was not written (a dry run,
	// or a pull request action that writes nothing this pass).
	StatePending  State = "pending"
	StateDeferred State = "deferred"
	StateSkipped  State = "skipped"
	StateFailing  State = "failing"
)

// PolicyStatus is one policy's image, the values its markers hold, the
// tag it selected and what became of it.
type PolicyStatus struct {
	Name     string  `json:"name"`
	Image    string  `json:"image"`
	Current  []Value `json:"current"`
	Selected string  `json:"selected,omitempty"`
	Digest   string  `json:"digest,omitempty"`
	State    State   `json:"state"`
	// Skip is the reason of a skipped or deferred policy in the skip
	// vocabulary ("refused-downgrade", "registry-failed", …), its stable
	// identifier; a failing policy whose group is held for it and keeps
	// an open pull request has "registry-failed" too.
	Skip pullrequest.SkipReason `json:"skip,omitempty"`
	// Reason says in words why a policy is skipped, deferred or pending;
	// Error why it is failing.
	Reason string `json:"reason,omitempty"`
	Error  string `json:"error,omitempty"`
	// PullRequest is the pull request of the policy's group, if any.
	PullRequest *PullRequestLink `json:"pullRequest,omitempty"`
	// Commit is the commit push mode pushed.
	Commit string `json:"commit,omitempty"`
}

// SkipText is Skip in words, for people ("refused downgrade"); "" when
// the policy was not skipped.
func (p PolicyStatus) SkipText() string {
	if p.Skip == "" {
		return ""
	}
	return p.Skip.Text()
}

// PullRequestLink is a pull request by number and address.
type PullRequestLink struct {
	Number int    `json:"number"`
	URL    string `json:"url,omitempty"`
}

// Event is one webhook event the receiver handled.
type Event struct {
	Time       time.Time `json:"time"`
	Source     string    `json:"source"`
	Repository string    `json:"repository,omitempty"`
	Image      string    `json:"image,omitempty"`
	// Result is what the receiver made of it ("scheduled", "ignored",
	// "unauthorized", …).
	Result string `json:"result"`
}

// Record keeps the result of a pass, and when the next one is due (zero:
// unknown). A repository the board does not list is added at the end.
func (b *Board) Record(res Result, next time.Time) {
	st := Summarize(res)
	st.NextDue = next
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.repos[st.URL]; !ok {
		b.order = append(b.order, st.URL)
	}
	b.repos[st.URL] = st
}

// RecordEvent keeps a webhook event; the oldest is dropped beyond
// MaxEvents. Nothing in it may be a secret: the receiver passes what the
// event names (source, repository, image) and what it did.
func (b *Board) RecordEvent(source, repo, image, result string, at time.Time) {
	e := Event{Time: at, Source: Scrub(source), Repository: Scrub(repo), Image: Scrub(image), Result: Scrub(result)}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.events = slices.Insert(b.events, 0, e)
	if len(b.events) > MaxEvents {
		b.events = b.events[:MaxEvents]
	}
}

// Overview returns a copy of what the board holds.
func (b *Board) Overview() Overview {
	b.mu.Lock()
	defer b.mu.Unlock()
	o := Overview{Repositories: make([]RepositoryStatus, 0, len(b.order)), Events: slices.Clone(b.events)}
	for _, u := range b.order {
		o.Repositories = append(o.Repositories, b.repos[u])
	}
	if o.Events == nil {
		o.Events = []Event{}
	}
	return o
}

// Repository returns the status of the repository at url.
func (b *Board) Repository(url string) (RepositoryStatus, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	st, ok := b.repos[Scrub(url)]
	return st, ok
}

// Summarize turns a pass's result into its repository's status. Every
// text it copies goes through Scrub.
func Summarize(res Result) RepositoryStatus {
	st := RepositoryStatus{
		URL:  Scrub(res.Repository),
		Mode: string(res.Mode),
		LastPass: &PassStatus{
			Started:  res.Started,
			Duration: res.Duration.Seconds(),
			Result:   resultWord(res.Status()),
			DryRun:   res.DryRun,
		},
		Policies: []PolicyStatus{},
	}
	if res.Err != nil {
		st.LastPass.Error = Scrub(res.Err.Error())
	}
	if res.Plan != nil {
		for _, p := range res.Plan.Problems {
			st.Problems = append(st.Problems, ProblemStatus{File: p.File, Line: p.Line, Message: Scrub(p.Message)})
		}
	}
	if res.Dashboard != nil {
		d := *res.Dashboard
		d.URL, d.Error = Scrub(d.URL), Scrub(d.Error)
		st.Dashboard = &d
	}
	for _, r := range res.Policies {
		st.Policies = append(st.Policies, policyStatus(res, r))
	}
	return st
}

func resultWord(s Status) string {
	switch s {
	case StatusInvalid:
		return "invalid"
	case StatusFailed:
		return "failed"
	}
	return "ok"
}

// policyStatus is one policy's line of the status.
func policyStatus(res Result, r Resolution) PolicyStatus {
	name := r.Policy.Name()
	ps := PolicyStatus{Name: name, Image: r.Policy.Spec().Image, Selected: r.Tag, Digest: r.Digest, Current: []Value{}}
	for _, v := range res.Current {
		if v.Policy == name {
			v.Value = Scrub(v.Value)
			ps.Current = append(ps.Current, v)
		}
	}
	o := policyState(res, r)
	ps.State, ps.Skip, ps.Reason, ps.Error = o.state, o.skip, Scrub(o.reason), Scrub(o.err)
	if pr := o.pr; pr != nil && pr.Number > 0 {
		ps.PullRequest = &PullRequestLink{Number: pr.Number, URL: safeURL(pr.URL)}
	}
	if ps.State == StatePushed {
		ps.Commit = res.Pushed.Commit
	}
	return ps
}

// outcome is what became of one policy in a pass: its state, the skip
// reason and the words for it or the error, and the pull request shown
// with it.
type outcome struct {
	state  State
	skip   pullrequest.SkipReason
	reason string
	err    string
	pr     *pullrequest.Result
}

// policyState is the one place that maps a pass's outcome for a policy to
// a State. It reads data only, never the words of a reason: the
// resolution's error, the pass's skips (Result.Skips, in the vocabulary
// of pullrequest.SkipReason), push mode's commit, and in pull request mode
// the decision for the policy's group (Action, Skip, the State of the pull
// request it names) and what carrying it out did.
func policyState(res Result, r Resolution) outcome {
	name := r.Policy.Name()
	downgrade, group := skipsOf(res.Skips, name)
	changes := res.Plan != nil && slices.ContainsFunc(res.Plan.Changes, func(c patcher.Change) bool { return c.Policy == name })
	if res.Mode == config.Push {
		switch {
		case r.Err != nil:
			return outcome{state: StateFailing, err: r.Err.Error()}
		case !changes && downgrade != nil:
			return outcome{state: StateSkipped, skip: downgrade.Reason, reason: downgrade.Message}
		case !changes:
			return outcome{state: StateUpToDate}
		case res.Err != nil:
			return outcome{state: StateFailing, err: res.Err.Error()}
		case res.Pushed != nil && res.Pushed.Commit != "" && res.Commit != nil &&
			slices.ContainsFunc(res.Commit.Changes, func(c gitwriter.Change) bool { return c.Policy == name }):
			return outcome{state: StatePushed}
		case res.DryRun:
			return outcome{state: StatePending, reason: "dry run: would commit and push"}
		}
		return outcome{state: StateUpToDate}
	}

	pr := prOf(res, name, group)
	if r.Err != nil {
		// A group held because this policy did not resolve keeps its pull
		// request: the failing policy shows it with the error.
		o := outcome{state: StateFailing, err: r.Err.Error()}
		if group != nil && group.Reason == pullrequest.SkipRegistryFailed && group.Number > 0 {
			o.skip, o.reason, o.pr = group.Reason, group.Message, pr
		}
		return o
	}
	switch {
	case pr != nil && pr.Err != nil:
		return outcome{state: StateFailing, err: pr.Err.Error(), pr: pr}
	case pr != nil && pr.Action == pullrequest.ActionDefer:
		return outcome{state: StateDeferred, skip: pr.Skip, reason: pr.Reason, pr: pr}
	case pr != nil && pr.Skip != "":
		return outcome{state: StateSkipped, skip: pr.Skip, reason: pr.Reason, pr: pr}
	case !changes && downgrade != nil:
		return outcome{state: StateSkipped, skip: downgrade.Reason, reason: downgrade.Message}
	case !changes:
		return outcome{state: StateUpToDate}
	case pr == nil && res.Err != nil:
		return outcome{state: StateFailing, err: res.Err.Error()}
	case pr == nil:
		return outcome{state: StatePending, reason: "no pull request decision for its group"}
	}
	switch pr.Action {
	case pullrequest.ActionCreate, pullrequest.ActionUpdate, pullrequest.ActionUpdateBranch, pullrequest.ActionUpdateText:
		if res.DryRun {
			return outcome{state: StatePending, reason: "dry run: would " + string(pr.Action), pr: pr}
		}
		return outcome{state: StatePROpen, pr: pr}
	case pullrequest.ActionSkip:
		if pr.State == pullrequest.StateOpen {
			// The open pull request already carries the change.
			return outcome{state: StatePROpen, pr: pr}
		}
	case pullrequest.ActionClose, pullrequest.ActionDeleteBranch:
		return outcome{state: StateUpToDate}
	}
	// Planned and not written for a reason outside the vocabulary (a
	// merged pull request the base does not show yet).
	return outcome{state: StatePending, reason: pr.Reason, pr: pr}
}

// skipsOf returns the first refused downgrade among skips that concerns
// the policy name, and the skip of a pull request group it is in: the one
// holding its group because a registry failed, else the first.
func skipsOf(skips []Skip, name string) (downgrade, group *Skip) {
	for i := range skips {
		s := &skips[i]
		if !slices.Contains(s.Policies, name) {
			continue
		}
		switch {
		case s.Reason == pullrequest.SkipDowngrade:
			if downgrade == nil {
				downgrade = s
			}
		case s.Branch != "" && (group == nil || (s.Reason == pullrequest.SkipRegistryFailed && group.Reason != pullrequest.SkipRegistryFailed)):
			group = s
		}
	}
	return downgrade, group
}

// prOf is the pull request result of the group a policy is in. A group
// held because a registry failed names no versions: its result is the one
// on the branch of its skip, whose policies are the group's as the pass
// formed it. Any other is the decision whose versions name the policy,
// else the one on the branch of its group's skip.
func prOf(res Result, name string, group *Skip) *pullrequest.Result {
	onBranch := func() *pullrequest.Result {
		for i := range res.PullRequests {
			if res.PullRequests[i].Branch == group.Branch {
				return &res.PullRequests[i]
			}
		}
		return nil
	}
	if group != nil && group.Reason == pullrequest.SkipRegistryFailed {
		if pr := onBranch(); pr != nil {
			return pr
		}
	}
	for i := range res.PullRequests {
		if slices.ContainsFunc(res.PullRequests[i].Versions, func(v pullrequest.Version) bool { return v.Policy == name }) {
			return &res.PullRequests[i]
		}
	}
	if group == nil {
		return nil
	}
	return onBranch()
}

// userInfo matches the user information of a URL in text.
var userInfo = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]*@`)

// Scrub removes the user information (user:password@) of every URL in s:
// the status never shows credentials, even those an error might carry.
func Scrub(s string) string {
	return userInfo.ReplaceAllString(s, "${1}")
}

// safeURL is an http(s) address without user information, or "".
func safeURL(u string) string {
	u = Scrub(u)
	if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
		return ""
	}
	return u
}
