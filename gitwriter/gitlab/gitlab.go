package gitlab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/imagebump/imagebump/gitwriter/forge"
	"github.com/imagebump/imagebump/gitwriter/forge/rest"
	"github.com/imagebump/imagebump/gitwriter/pullrequest"
)

// DefaultRateLimitWait is how long to wait on a 429 that names neither
// Retry-After nor RateLimit-Reset: GitLab's limits are counted per
// minute ("requests per period", with a period of 60 seconds by default:
// docs.gitlab.com/administration/settings/user_and_ip_rate_limits/), so a
// minute always reaches a fresh window.
const DefaultRateLimitWait = time.Minute

// MaxDescription is the longest merge request description GitLab takes,
// in characters ("Limited to 1,048,576 characters", GitLab's merge
// requests API documentation); a longer one is cut to it, keeping the
// hidden marker.
const MaxDescription = 1048576

// capDescription cuts a description above MaxDescription to fit, keeping
// the hidden marker and saying that it was cut.
func capDescription(body string) string { return forge.CapBody(body, MaxDescription, "GitLab") }

// DraftPrefix is what GitLab reads as "this merge request is a draft" in a
// title; its create API has no draft field.
const DraftPrefix = "Draft: "

// Client is a pullrequest.Forge for one GitLab project.
type Client struct {
	gl      *gl.Client
	project string
	log     *slog.Logger
	sleep   func(context.Context, time.Duration) error
	now     func() time.Time
	// users caches username → user ID for the client's life: one pass.
	users map[string]int64
}

var _ pullrequest.Forge = (*Client)(nil)

// Option configures New: the options every forge client shares.
type Option = rest.Option

// WithHTTPClient sets the HTTP client requests go through (default: Go's
// default transport with rest.DefaultTimeout per request).
func WithHTTPClient(c *http.Client) Option { return rest.WithHTTPClient(c) }

// WithLogger sets where the client logs what it decides on its own, such
// as reviewers GitLab did not keep (default: nowhere).
func WithLogger(l *slog.Logger) Option { return rest.WithLogger(l) }

// WithSleep replaces how the client waits between its own short retries
// (default: a timer that ctx cancels).
func WithSleep(sleep func(context.Context, time.Duration) error) Option { return rest.WithSleep(sleep) }

// New returns a client for the project at path (group/sub/project) on the
// GitLab whose API root is apiURL (https://HOST/api/v4). The token goes in
// the PRIVATE-TOKEN header and never appears in errors. The client's own
// retries are off: rate limits come back as pullrequest.RateLimitError, so
// the lifecycle waits them out within its budget.
func New(apiURL, path, token string, opts ...Option) (*Client, error) {
	if path == "" || !strings.Contains(path, "/") {
		return nil, fmt.Errorf("gitlab: project path %q is not GROUP/…/PROJECT", path)
	}
	if token == "" {
		return nil, errors.New("gitlab: no token: the pull request mode needs the repository's tokenFile")
	}
	if err := forge.CheckAPIURL(apiURL); err != nil {
		return nil, fmt.Errorf("gitlab: apiURL %w", err)
	}
	o := rest.NewOptions(opts)
	c, err := gl.NewClient(token,
		gl.WithURLWarningLogger(slog.New(slog.DiscardHandler)),
		gl.WithHTTPClient(o.HTTPClient),
		gl.WithoutRetries(),
		gl.WithBaseURL(apiURL),
	)
	if err != nil {
		return nil, fmt.Errorf("gitlab: %w", err)
	}
	return &Client{gl: c, project: path, users: map[string]int64{}, log: o.Logger, sleep: o.Sleep, now: o.Now}, nil
}

// WithClock replaces what the client reads the time from to compute a
// rate limit's wait from RateLimit-Reset (default: time.Now).
func WithClock(now func() time.Time) Option { return rest.WithClock(now) }

// wrap says what was being done and turns GitLab's 429 into
// pullrequest.RateLimitError so the lifecycle waits it out within the
// pass's budget.
func (c *Client) wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	err = fmt.Errorf(format+": %w", append(args, err)...)
	var er *gl.ErrorResponse
	if errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusTooManyRequests {
		// Retry-After, else RateLimit-Reset (a 429 means the window is
		// spent, whatever RateLimit-Remaining says), else
		// DefaultRateLimitWait.
		return &pullrequest.RateLimitError{RetryAfter: rest.RetryAfterRefused(er.Response.Header, c.now(), DefaultRateLimitWait), Err: err}
	}
	return err
}

// draftRe matches the title prefixes GitLab reads as draft.
var draftRe = regexp.MustCompile(`(?i)^\s*(\[draft\]|\(draft\)|draft:|draft\s*-|\[wip\]|wip:)\s*`)

// undraft is a title without its draft prefix: the lifecycle compares
// titles it rendered, which never carry one.
func undraft(title string) string {
	return draftRe.ReplaceAllString(title, "")
}

// fromFork reports whether mr comes from a fork of the project into it:
// GitLab's lists hold those, and their branch names are their authors',
// never the bot's.
func fromFork(mr *gl.BasicMergeRequest) bool {
	return mr.SourceProjectID != 0 && mr.TargetProjectID != 0 && mr.SourceProjectID != mr.TargetProjectID
}

// convert is mr as the lifecycle reads it.
func convert(mr *gl.BasicMergeRequest) pullrequest.PullRequest {
	return pullrequest.PullRequest{
		Number: int(mr.IID), State: state(mr.State), Head: mr.SourceBranch, HeadSHA: mr.SHA,
		Title: undraft(mr.Title), Body: mr.Description, URL: mr.WebURL,
	}
}

func state(s string) pullrequest.State {
	switch s {
	case "opened", "locked":
		return pullrequest.StateOpen
	case "merged":
		return pullrequest.StateMerged
	default:
		return pullrequest.StateClosed
	}
}

func (c *Client) ctx(ctx context.Context) gl.RequestOptionFunc { return gl.WithContext(ctx) }

// PullRequests lists the merge requests from branch of this project, in
// every state.
func (c *Client) PullRequests(ctx context.Context, branch string) ([]pullrequest.PullRequest, error) {
	opts := &gl.ListProjectMergeRequestsOptions{
		ListOptions:  gl.ListOptions{PerPage: 100},
		State:        gl.Ptr("all"),
		SourceBranch: gl.Ptr(branch),
	}
	var out []pullrequest.PullRequest
	err := rest.Pages(1, func(page int) (int, error) {
		opts.Page = int64(page)
		mrs, resp, err := c.gl.MergeRequests.ListProjectMergeRequests(c.project, opts, c.ctx(ctx))
		if err != nil {
			return 0, err
		}
		for _, mr := range mrs {
			// The filter is GitLab's; checking again keeps a server that
			// ignored it from handing over other branches. The list holds
			// merge requests from forks too, whose branch names are
			// their authors' and never the bot's.
			if mr.SourceBranch == branch && !fromFork(mr) {
				out = append(out, convert(mr))
			}
		}
		return int(resp.NextPage), nil
	})
	if err != nil {
		return nil, c.wrap(err, "listing merge requests of %s from %s", c.project, branch)
	}
	return out, nil
}

// Comments lists the bodies of a merge request's notes, GitLab's own
// system notes ("added 1 commit") left out.
func (c *Client) Comments(ctx context.Context, number int) ([]string, error) {
	opts := &gl.ListMergeRequestNotesOptions{ListOptions: gl.ListOptions{PerPage: 100}, Sort: gl.Ptr("asc")}
	var out []string
	err := rest.Pages(1, func(page int) (int, error) {
		opts.Page = int64(page)
		notes, resp, err := c.gl.Notes.ListMergeRequestNotes(c.project, int64(number), opts, c.ctx(ctx))
		if err != nil {
			return 0, err
		}
		for _, n := range notes {
			if !n.System {
				out = append(out, n.Body)
			}
		}
		return int(resp.NextPage), nil
	})
	if err != nil {
		return nil, c.wrap(err, "listing notes of %s!%d", c.project, number)
	}
	return out, nil
}

// Create opens a merge request; a draft gets DraftPrefix on its title.
// An empty base means the project's default branch.
func (c *Client) Create(ctx context.Context, pr pullrequest.NewPullRequest) (pullrequest.PullRequest, error) {
	base := pr.Base
	if base == "" {
		p, _, err := c.gl.Projects.GetProject(c.project, nil, c.ctx(ctx))
		if err != nil {
			return pullrequest.PullRequest{}, c.wrap(err, "reading the default branch of %s", c.project)
		}
		base = p.DefaultBranch
	}
	title, body := pr.Title, capDescription(pr.Body)
	if pr.Draft {
		title = DraftPrefix + title
	}
	var mr *gl.MergeRequest
	for retry := 0; ; retry++ {
		var err error
		mr, _, err = c.gl.MergeRequests.CreateMergeRequest(c.project, &gl.CreateMergeRequestOptions{
			Title: &title, Description: &body, SourceBranch: &pr.Head, TargetBranch: &base,
		}, c.ctx(ctx))
		if err == nil {
			break
		}
		if retry >= createRetries || !sourceMissing(err) {
			return pullrequest.PullRequest{}, c.wrap(err, "opening a merge request on %s from %s", c.project, pr.Head)
		}
		// The branch was pushed just now; GitLab sees it shortly.
		if err := c.sleep(ctx, time.Second<<retry); err != nil {
			return pullrequest.PullRequest{}, fmt.Errorf("opening a merge request on %s from %s: %w", c.project, pr.Head, err)
		}
	}
	return pullrequest.PullRequest{
		Number: int(mr.IID), State: state(mr.State), Head: mr.SourceBranch, HeadSHA: mr.SHA,
		Title: undraft(mr.Title), Body: mr.Description, URL: mr.WebURL,
	}, nil
}

// createRetries is how often a creation GitLab refused because the source
// branch "does not exist" right after the push is tried again, after 1, 2
// and 4 seconds.
const createRetries = 3

// sourceMissing reports whether err is GitLab's 400 saying the source
// branch does not exist.
func sourceMissing(err error) bool {
	var er *gl.ErrorResponse
	if !errors.As(err, &er) || er.Response == nil || er.Response.StatusCode != http.StatusBadRequest {
		return false
	}
	m := strings.ToLower(er.Message)
	return strings.Contains(m, "does not exist") && (strings.Contains(m, "source_branch") || strings.Contains(m, "source branch"))
}

// Label adds labels to a merge request. GitLab creates project labels that
// do not exist yet.
func (c *Client) Label(ctx context.Context, number int, labels []string) error {
	add := gl.LabelOptions(labels)
	_, _, err := c.gl.MergeRequests.UpdateMergeRequest(c.project, int64(number), &gl.UpdateMergeRequestOptions{AddLabels: &add}, c.ctx(ctx))
	return c.wrap(err, "labelling %s!%d", c.project, number)
}

// RequestReviews adds users, by username, to a merge request's reviewers.
// GitLab has no team reviewers: teams are refused with an error rather
// than dropped.
func (c *Client) RequestReviews(ctx context.Context, number int, users, teams []string) error {
	if len(teams) > 0 {
		return fmt.Errorf("requesting reviews on %s!%d: GitLab has no team reviewers (%s); list users under reviewers", c.project, number, strings.Join(teams, ", "))
	}
	if len(users) == 0 {
		return nil
	}
	mr, _, err := c.gl.MergeRequests.GetMergeRequest(c.project, int64(number), nil, c.ctx(ctx))
	if err != nil {
		return c.wrap(err, "reading the reviewers of %s!%d", c.project, number)
	}
	var ids []int64
	for _, r := range mr.Reviewers {
		ids = append(ids, r.ID)
	}
	for _, u := range users {
		id, err := c.userID(ctx, u)
		if err != nil {
			return err
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	updated, _, err := c.gl.MergeRequests.UpdateMergeRequest(c.project, int64(number), &gl.UpdateMergeRequestOptions{ReviewerIDs: &ids}, c.ctx(ctx))
	if err != nil {
		return c.wrap(err, "requesting reviews on %s!%d", c.project, number)
	}
	// GitLab Free keeps one reviewer and drops, silently, users who
	// cannot read the merge request: those left out are reported to the
	// lifecycle, which names them once.
	var missing []string
	for _, u := range users {
		if !slices.ContainsFunc(updated.Reviewers, func(r *gl.BasicUser) bool { return strings.EqualFold(r.Username, u) }) {
			missing = append(missing, "`"+u+"`")
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return &pullrequest.ReviewersError{Refused: missing, Hint: "GitLab did not keep these reviewers: GitLab Free allows one reviewer per merge request, and drops users who cannot read it."}
}

// userID looks a username up once per client.
func (c *Client) userID(ctx context.Context, username string) (int64, error) {
	if id, ok := c.users[username]; ok {
		return id, nil
	}
	us, _, err := c.gl.Users.ListUsers(&gl.ListUsersOptions{Username: &username}, c.ctx(ctx))
	if err != nil {
		return 0, c.wrap(err, "looking up GitLab user %s", username)
	}
	for _, u := range us {
		if strings.EqualFold(u.Username, username) {
			c.users[username] = u.ID
			return u.ID, nil
		}
	}
	return 0, fmt.Errorf("looking up GitLab user %s: no such user (reviewers are usernames)", username)
}

// Edit replaces a merge request's title and description. A draft keeps its
// draft prefix: the lifecycle's titles never carry one. A description cut
// to MaxDescription reads back unlike the one the lifecycle rendered; it
// is only written when the merge request does not carry it already, so
// an oversized description causes no write on every pass.
func (c *Client) Edit(ctx context.Context, number int, title, body string) error {
	mr, _, err := c.gl.MergeRequests.GetMergeRequest(c.project, int64(number), nil, c.ctx(ctx))
	if err != nil {
		return c.wrap(err, "reading %s!%d", c.project, number)
	}
	// The prefix the title carries, which is all GitLab 13.x shows of a
	// draft (it has no draft field), else DraftPrefix for a draft.
	if p := draftRe.FindString(mr.Title); p != "" {
		title = p + title
	} else if mr.Draft {
		title = DraftPrefix + title
	}
	if capped := capDescription(body); capped != body {
		body = capped
		if mr.Title == title && strings.ReplaceAll(mr.Description, "\r\n", "\n") == body {
			return nil
		}
	}
	_, _, err = c.gl.MergeRequests.UpdateMergeRequest(c.project, int64(number), &gl.UpdateMergeRequestOptions{Title: &title, Description: &body}, c.ctx(ctx))
	return c.wrap(err, "editing %s!%d", c.project, number)
}

// Close closes a merge request unmerged and replaces its description, in
// one call.
func (c *Client) Close(ctx context.Context, number int, body string) error {
	body = capDescription(body)
	_, _, err := c.gl.MergeRequests.UpdateMergeRequest(c.project, int64(number), &gl.UpdateMergeRequestOptions{StateEvent: gl.Ptr("close"), Description: &body}, c.ctx(ctx))
	return c.wrap(err, "closing %s!%d", c.project, number)
}

// Comment adds a note to a merge request.
func (c *Client) Comment(ctx context.Context, number int, body string) error {
	_, _, err := c.gl.Notes.CreateMergeRequestNote(c.project, int64(number), &gl.CreateMergeRequestNoteOptions{Body: &body}, c.ctx(ctx))
	return c.wrap(err, "commenting on %s!%d", c.project, number)
}
