package github

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	gh "github.com/google/go-github/v60/github"

	"github.com/imagebump/imagebump/gitwriter/forge"
	"github.com/imagebump/imagebump/gitwriter/forge/rest"
	"github.com/imagebump/imagebump/gitwriter/pullrequest"
)

// DefaultSecondaryWait is how long to wait on a secondary rate limit that
// names no Retry-After: GitHub's documentation asks for at least a minute.
const DefaultSecondaryWait = time.Minute

// MaxBody is the longest pull request body GitHub accepts, in characters;
// a longer body is cut to it, keeping the hidden marker.
const MaxBody = 65536

// createRetries is how often a creation GitHub refused with "No commits
// between" right after the push is tried again, after 1, 2 and 4 seconds:
// the pushed ref is not yet visible to the API.
const createRetries = 3

// Client is a pullrequest.Forge for one GitHub repository.
type Client struct {
	gh          *gh.Client
	owner, repo string
	log         *slog.Logger
	sleep       func(context.Context, time.Duration) error
	// login is the token's own user, looked up once ("" unknown).
	login     string
	loginRead bool
}

var _ pullrequest.Forge = (*Client)(nil)

// Option configures New: the options every forge client shares.
type Option = rest.Option

// WithHTTPClient sets the HTTP client requests go through (default: Go's
// default transport with rest.DefaultTimeout per request). The token is
// added on top of it.
func WithHTTPClient(c *http.Client) Option { return rest.WithHTTPClient(c) }

// WithLogger sets where the client logs what it decides on its own: a
// draft GitHub refused, a reviewer dropped (default: nowhere).
func WithLogger(l *slog.Logger) Option { return rest.WithLogger(l) }

// WithSleep replaces how the client waits between its own short retries
// and between its writes (default: a timer that ctx cancels).
func WithSleep(sleep func(context.Context, time.Duration) error) Option { return rest.WithSleep(sleep) }

// WithClock replaces what the client reads the time from to space its
// writes WriteGap apart (default: time.Now).
func WithClock(now func() time.Time) Option { return rest.WithClock(now) }

// New returns a client for owner/repo. apiURL is empty for github.com, or a
// GitHub Enterprise API root such as https://HOST/api/v3/. The token is sent
// as a bearer token and never appears in errors.
func New(apiURL, owner, repo, token string, opts ...Option) (*Client, error) {
	if owner == "" || repo == "" {
		return nil, fmt.Errorf("github: owner and repository are required (got %q/%q)", owner, repo)
	}
	if token == "" {
		return nil, errors.New("github: no token: the pull request mode needs the repository's tokenFile")
	}
	o := rest.NewOptions(opts)
	// Rate-limit answers are turned into errors under go-github, so its
	// client-wide lock-out never blocks later requests (see limits);
	// writes are spaced below that (see spacing).
	hc := *o.HTTPClient
	hc.Transport = limits{next: &spacing{next: hc.Transport, now: o.Now, sleep: o.Sleep, gate: gateFor(apiURL, token)}}
	c := gh.NewClient(&hc).WithAuthToken(token)
	if apiURL != "" {
		if err := forge.CheckAPIURL(apiURL); err != nil {
			return nil, fmt.Errorf("github: apiURL %w", err)
		}
		u, err := url.Parse(apiURL)
		if err != nil {
			return nil, fmt.Errorf("github: apiURL: %w", err)
		}
		c, err = c.WithEnterpriseURLs(apiURL, uploadURL(u))
		if err != nil {
			return nil, fmt.Errorf("github: apiURL %q: %w", apiURL, err)
		}
	}
	return &Client{gh: c, owner: owner, repo: repo, log: o.Logger, sleep: o.Sleep}, nil
}

// uploadURL derives GitHub Enterprise's upload root from its API root:
// https://HOST/api/v3/ serves uploads at https://HOST/api/uploads/.
func uploadURL(api *url.URL) string {
	u := *api
	p := strings.TrimSuffix(u.Path, "/")
	if strings.HasSuffix(p, "/api/v3") {
		u.Path = strings.TrimSuffix(p, "/v3") + "/uploads/"
	}
	return u.String()
}

// limits is the transport under go-github that answers GitHub's rate
// limits itself: a 429, or a 403 that is a primary or secondary limit,
// becomes a *limited error with GitHub's documented wait, before
// go-github sees the answer. go-github v60 maps only 403s, takes the
// primary window's reset (up to an hour) as the wait of a secondary limit
// without Retry-After, and then refuses every later request of the client
// without sending it; the lifecycle's own bounded waiting replaces all of
// that.
type limits struct {
	next http.RoundTripper
}

// limited is a rate-limit answer: how long GitHub asks to wait.
type limited struct {
	status  int
	wait    time.Duration
	message string
}

func (e *limited) Error() string {
	return fmt.Sprintf("GitHub rate limit (%d %s): %s", e.status, http.StatusText(e.status), e.message)
}

func (t limits) RoundTrip(req *http.Request) (*http.Response, error) {
	next := t.next
	if next == nil {
		next = http.DefaultTransport
	}
	resp, err := next.RoundTrip(req)
	if err != nil || (resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusForbidden) {
		return resp, err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	var e struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal(body, &e)
	if resp.StatusCode == http.StatusForbidden && !rateLimited(resp.Header, e.Message) {
		// Another refusal (permissions): go-github reports it.
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return resp, nil
	}
	// GitHub's rule: Retry-After; else the reset when nothing is left;
	// else at least a minute.
	return nil, &limited{status: resp.StatusCode, wait: rest.RetryAfter(resp.Header, time.Now(), DefaultSecondaryWait), message: e.Message}
}

// rateLimited tells a 403 that is a rate limit from one that is not.
func rateLimited(h http.Header, message string) bool {
	return h.Get("X-RateLimit-Remaining") == "0" || h.Get("Retry-After") != "" ||
		strings.Contains(strings.ToLower(message), "rate limit")
}

// wrap says what was being done and turns rate-limit answers into
// pullrequest.RateLimitError so the lifecycle waits them out.
func wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	err = fmt.Errorf(format+": %w", append(args, err)...)
	var l *limited
	if errors.As(err, &l) {
		return &pullrequest.RateLimitError{RetryAfter: l.wait, Err: err}
	}
	// go-github still refuses, without a request, one made after an
	// answer that said no request was left in the primary window.
	var primary *gh.RateLimitError
	if errors.As(err, &primary) {
		// One second more, as the reset is given in whole seconds.
		return &pullrequest.RateLimitError{RetryAfter: max(time.Until(primary.Rate.Reset.Time), 0) + time.Second, Err: err}
	}
	var secondary *gh.AbuseRateLimitError
	if errors.As(err, &secondary) {
		d := DefaultSecondaryWait
		if secondary.RetryAfter != nil {
			d = *secondary.RetryAfter
		}
		return &pullrequest.RateLimitError{RetryAfter: d, Err: err}
	}
	return err
}

func state(pr *gh.PullRequest) pullrequest.State {
	switch {
	case pr.MergedAt != nil || pr.GetMerged():
		return pullrequest.StateMerged
	case pr.GetState() == "open":
		return pullrequest.StateOpen
	default:
		return pullrequest.StateClosed
	}
}

func convert(pr *gh.PullRequest) pullrequest.PullRequest {
	return pullrequest.PullRequest{
		Number:  pr.GetNumber(),
		State:   state(pr),
		Head:    pr.GetHead().GetRef(),
		HeadSHA: pr.GetHead().GetSHA(),
		Title:   pr.GetTitle(),
		Body:    pr.GetBody(),
		URL:     pr.GetHTMLURL(),
	}
}

// PullRequests lists the pull requests from branch of this repository, in
// every state.
func (c *Client) PullRequests(ctx context.Context, branch string) ([]pullrequest.PullRequest, error) {
	opts := &gh.PullRequestListOptions{State: "all", Head: c.owner + ":" + branch, ListOptions: gh.ListOptions{PerPage: 100}}
	var out []pullrequest.PullRequest
	err := rest.Pages(0, func(page int) (int, error) {
		opts.Page = page
		prs, resp, err := c.gh.PullRequests.List(ctx, c.owner, c.repo, opts)
		if err != nil {
			return 0, err
		}
		for _, pr := range prs {
			// The head filter is GitHub's; checking the ref again keeps a
			// server that ignored it from handing over other branches.
			if pr.GetHead().GetRef() == branch {
				out = append(out, convert(pr))
			}
		}
		return resp.NextPage, nil
	})
	if err != nil {
		return nil, wrap(err, "listing pull requests of %s/%s from %s", c.owner, c.repo, branch)
	}
	return out, nil
}

// Comments lists the bodies of a pull request's comments.
func (c *Client) Comments(ctx context.Context, number int) ([]string, error) {
	opts := &gh.IssueListCommentsOptions{ListOptions: gh.ListOptions{PerPage: 100}}
	var out []string
	err := rest.Pages(0, func(page int) (int, error) {
		opts.Page = page
		cs, resp, err := c.gh.Issues.ListComments(ctx, c.owner, c.repo, number, opts)
		if err != nil {
			return 0, err
		}
		for _, cm := range cs {
			out = append(out, cm.GetBody())
		}
		return resp.NextPage, nil
	})
	if err != nil {
		return nil, wrap(err, "listing comments of %s/%s#%d", c.owner, c.repo, number)
	}
	return out, nil
}

// Create opens a pull request. An empty base means the repository's
// default branch.
func (c *Client) Create(ctx context.Context, pr pullrequest.NewPullRequest) (pullrequest.PullRequest, error) {
	base := pr.Base
	if base == "" {
		repo, _, err := c.gh.Repositories.Get(ctx, c.owner, c.repo)
		if err != nil {
			return pullrequest.PullRequest{}, wrap(err, "reading the default branch of %s/%s", c.owner, c.repo)
		}
		base = repo.GetDefaultBranch()
	}
	body := capBody(pr.Body)
	req := &gh.NewPullRequest{Title: &pr.Title, Head: &pr.Head, Base: &base, Body: &body}
	if pr.Draft {
		// Only sent when wanted: plans without drafts reject the field.
		req.Draft = gh.Bool(true)
	}
	for retry := 0; ; {
		created, _, err := c.gh.PullRequests.Create(ctx, c.owner, c.repo, req)
		switch {
		case err == nil:
			return convert(created), nil
		case req.Draft != nil && refusedWith(err, "Draft pull requests are not supported"):
			// Private repositories on GitHub Free and Pro have no
			// drafts: a normal pull request serves rather than none.
			c.log.WarnContext(ctx, "GitHub refused a draft pull request in this repository; opening a normal one", "repository", c.owner+"/"+c.repo, "branch", pr.Head)
			req.Draft = nil
		case retry < createRetries && refusedWith(err, "No commits between"):
			// The branch was pushed just now; the API sees it shortly.
			if err := c.sleep(ctx, time.Second<<retry); err != nil {
				return pullrequest.PullRequest{}, fmt.Errorf("opening a pull request on %s/%s from %s: %w", c.owner, c.repo, pr.Head, err)
			}
			retry++
		default:
			return pullrequest.PullRequest{}, wrap(err, "opening a pull request on %s/%s from %s", c.owner, c.repo, pr.Head)
		}
	}
}

// refusedWith reports whether err is GitHub's 422 whose message, or one
// of whose errors, contains text.
func refusedWith(err error, text string) bool {
	var er *gh.ErrorResponse
	if !errors.As(err, &er) || er.Response == nil || er.Response.StatusCode != http.StatusUnprocessableEntity {
		return false
	}
	if strings.Contains(er.Message, text) {
		return true
	}
	for _, e := range er.Errors {
		if strings.Contains(e.Message, text) {
			return true
		}
	}
	return false
}

// capBody cuts a body longer than MaxBody characters to fit, keeping its
// end from the hidden marker on (which the bot reads back) and saying
// that it was cut.
func capBody(body string) string { return forge.CapBody(body, MaxBody, "GitHub") }

// Label adds labels to a pull request.
func (c *Client) Label(ctx context.Context, number int, labels []string) error {
	_, _, err := c.gh.Issues.AddLabelsToIssue(ctx, c.owner, c.repo, number, labels)
	return wrap(err, "labelling %s/%s#%d", c.owner, c.repo, number)
}

// RequestReviews asks users and teams (slugs) for a review. The token's
// own user is left out: GitHub refuses a review request from a pull
// request's author. As GitHub fails the whole request when one reviewer
// cannot be asked (not a collaborator, a team in the wrong form), a
// refused request is made again one reviewer at a time, and those GitHub
// still refuses are returned in a *pullrequest.ReviewersError, which the
// lifecycle reports without failing the pull request.
func (c *Client) RequestReviews(ctx context.Context, number int, users, teams []string) error {
	login, err := c.ownLogin(ctx)
	if err != nil {
		return err
	}
	if login != "" {
		users = slices.DeleteFunc(slices.Clone(users), func(u string) bool {
			if strings.EqualFold(u, login) {
				c.log.InfoContext(ctx, "not requesting a review from the token's own user, the pull request's author", "repository", c.owner+"/"+c.repo, "number", number, "user", u)
				return true
			}
			return false
		})
	}
	if len(users) == 0 && len(teams) == 0 {
		return nil
	}
	_, _, err = c.gh.PullRequests.RequestReviewers(ctx, c.owner, c.repo, number, gh.ReviewersRequest{Reviewers: users, TeamReviewers: teams})
	if err == nil || !refusedWith(err, "") {
		return wrap(err, "requesting reviews on %s/%s#%d", c.owner, c.repo, number)
	}
	var refused []string
	ask := func(name string, req gh.ReviewersRequest) error {
		_, _, err := c.gh.PullRequests.RequestReviewers(ctx, c.owner, c.repo, number, req)
		var er *gh.ErrorResponse
		switch {
		case err == nil:
		case refusedWith(err, "") && errors.As(err, &er):
			refused = append(refused, fmt.Sprintf("%s: %s", name, er.Message))
		default:
			return wrap(err, "requesting a review from %s on %s/%s#%d", name, c.owner, c.repo, number)
		}
		return nil
	}
	for _, u := range users {
		if err := ask("`"+u+"`", gh.ReviewersRequest{Reviewers: []string{u}}); err != nil {
			return err
		}
	}
	for _, t := range teams {
		if err := ask("team `"+t+"`", gh.ReviewersRequest{TeamReviewers: []string{t}}); err != nil {
			return err
		}
	}
	if len(refused) == 0 {
		return nil
	}
	return &pullrequest.ReviewersError{Refused: refused, Hint: "Check `pullRequests.reviewers` and `teamReviewers`: reviewers must be collaborators, teams are written as their slug."}
}

// ownLogin is the login of the token's user, read once. A token that
// cannot read it (a GitHub App's) is no pull request's user: "".
func (c *Client) ownLogin(ctx context.Context) (string, error) {
	if c.loginRead {
		return c.login, nil
	}
	u, _, err := c.gh.Users.Get(ctx, "")
	if err != nil {
		var l *limited
		if errors.As(err, &l) {
			return "", wrap(err, "reading the token's user")
		}
		c.loginRead = true
		return "", nil
	}
	c.login, c.loginRead = u.GetLogin(), true
	return c.login, nil
}

// Edit replaces a pull request's title and body. A body cut to MaxBody
// reads back unlike the one the lifecycle rendered; it is only written
// when the pull request does not carry it already, so an oversized body
// causes no write on every pass.
func (c *Client) Edit(ctx context.Context, number int, title, body string) error {
	if capped := capBody(body); capped != body {
		body = capped
		cur, _, err := c.gh.PullRequests.Get(ctx, c.owner, c.repo, number)
		if err != nil {
			return wrap(err, "reading %s/%s#%d", c.owner, c.repo, number)
		}
		if cur.GetTitle() == title && strings.ReplaceAll(cur.GetBody(), "\r\n", "\n") == body {
			return nil
		}
	}
	_, _, err := c.gh.PullRequests.Edit(ctx, c.owner, c.repo, number, &gh.PullRequest{Title: &title, Body: &body})
	return wrap(err, "editing %s/%s#%d", c.owner, c.repo, number)
}

// Close closes a pull request unmerged and replaces its body, in one call.
func (c *Client) Close(ctx context.Context, number int, body string) error {
	body = capBody(body)
	_, _, err := c.gh.PullRequests.Edit(ctx, c.owner, c.repo, number, &gh.PullRequest{State: gh.String("closed"), Body: &body})
	return wrap(err, "closing %s/%s#%d", c.owner, c.repo, number)
}

// Comment adds a comment to a pull request.
func (c *Client) Comment(ctx context.Context, number int, body string) error {
	_, _, err := c.gh.Issues.CreateComment(ctx, c.owner, c.repo, number, &gh.IssueComment{Body: &body})
	return wrap(err, "commenting on %s/%s#%d", c.owner, c.repo, number)
}
