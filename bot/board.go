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
	// Reason says why a policy is skipped, deferred or pending; Error why
	// it is failing.
	Reason string `json:"reason,omitempty"`
	Error  string `json:"error,omitempty"`
	// PullRequest is the pull request of the policy's group, if any.
	PullRequest *PullRequestLink `json:"pullRequest,omitempty"`
	// Commit is the commit push mode pushed.
	Commit string `json:"commit,omitempty"`
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
	ps.State, ps.Reason, ps.Error = policyState(res, r)
	ps.Reason, ps.Error = Scrub(ps.Reason), Scrub(ps.Error)
	if pr := prOf(res, name); pr != nil && pr.Number > 0 && ps.State != StateUpToDate {
		ps.PullRequest = &PullRequestLink{Number: pr.Number, URL: safeURL(pr.URL)}
	}
	if ps.State == StatePushed && res.Pushed != nil {
		ps.Commit = res.Pushed.Commit
	}
	return ps
}

// policyState is the one place that maps a pass's outcome for a policy to
// a State with its reason or error: resolution errors, refused
// downgrades, push mode's commit, and in pull request mode the lifecycle's
// decision (Action and Reason) for the policy's group. New skip reasons of
// the lifecycle extend the switch on the action.
func policyState(res Result, r Resolution) (state State, reason, errText string) {
	name := r.Policy.Name()
	if r.Err != nil {
		return StateFailing, "", r.Err.Error()
	}
	changes := res.Plan != nil && slices.ContainsFunc(res.Plan.Changes, func(c patcher.Change) bool { return c.Policy == name })
	downgrade := ""
	if res.Plan != nil {
		if i := slices.IndexFunc(res.Plan.Skipped, func(s patcher.Skipped) bool { return s.Policy == name }); i >= 0 {
			s := res.Plan.Skipped[i]
			downgrade = s.Reason + ": " + s.File + " holds " + s.Current + ", the policy selected " + s.Selected
		}
	}
	if res.Mode == config.Push {
		switch {
		case !changes && downgrade != "":
			return StateSkipped, downgrade, ""
		case !changes:
			return StateUpToDate, "", ""
		case res.Err != nil:
			return StateFailing, "", res.Err.Error()
		case res.Pushed != nil && res.Pushed.Commit != "" && res.Commit != nil &&
			slices.ContainsFunc(res.Commit.Changes, func(c gitwriter.Change) bool { return c.Policy == name }):
			return StatePushed, "", ""
		case res.DryRun:
			return StatePending, "dry run: would commit and push", ""
		}
		return StateUpToDate, "", ""
	}
	pr := prOf(res, name)
	if pr == nil {
		switch {
		case res.Err != nil && changes:
			return StateFailing, "", res.Err.Error()
		case downgrade != "":
			return StateSkipped, downgrade, ""
		case changes:
			return StatePending, "no pull request decision for its group", ""
		}
		return StateUpToDate, "", ""
	}
	if pr.Err != nil {
		return StateFailing, "", pr.Err.Error()
	}
	d := pr.Decision
	switch d.Action {
	case pullrequest.ActionClose:
		return StateUpToDate, "", ""
	case pullrequest.ActionDefer:
		return StateDeferred, d.Reason, ""
	case pullrequest.ActionCreate, pullrequest.ActionUpdate, pullrequest.ActionUpdateBranch, pullrequest.ActionUpdateText:
		if res.DryRun {
			return StatePending, "dry run: would " + string(d.Action), ""
		}
		return StatePROpen, "", ""
	case pullrequest.ActionCommentForeign:
		return StateSkipped, d.Reason, ""
	case pullrequest.ActionSkip:
		switch {
		case !changes && downgrade != "":
			return StateSkipped, downgrade, ""
		case !changes:
			return StateUpToDate, "", ""
		case d.Number > 0 && pr.open():
			return StatePROpen, "", ""
		}
		return StateSkipped, d.Reason, ""
	}
	return StateSkipped, d.Reason, ""
}

// prOf is the pull request result of the group a policy is in: the
// decision whose versions name it.
func prOf(res Result, name string) *prResult {
	for i := range res.PullRequests {
		pr := &res.PullRequests[i]
		if slices.ContainsFunc(pr.Versions, func(v pullrequest.Version) bool { return v.Policy == name }) {
			return (*prResult)(pr)
		}
	}
	return nil
}

// prResult is a pull request result with the status's reading of it.
type prResult pullrequest.Result

// open reports whether a skip left an open pull request alone: the
// lifecycle names the pull request it acted on, and only skips of an open
// one say it already carries the change or waits.
func (pr *prResult) open() bool {
	return pr.Action == pullrequest.ActionSkip && openSkip.MatchString(pr.Reason)
}

// openSkip matches the reasons of skips that leave an open pull request
// as it is (pullrequest.decide's words).
var openSkip = regexp.MustCompile(`^pull request already carries exactly the wanted change`)

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
