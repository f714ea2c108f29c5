package gitea

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	sdk "code.gitea.io/sdk/gitea"

	"github.com/imagebump/imagebump/gitwriter/forge"
	"github.com/imagebump/imagebump/gitwriter/forge/rest"
	"github.com/imagebump/imagebump/gitwriter/pullrequest"
)

// DefaultRateLimitWait is how long to wait on a 429 without Retry-After.
// Gitea itself has no API rate limit; a proxy in front of it may.
const DefaultRateLimitWait = time.Minute

// DraftPrefix is the title prefix Gitea reads as work in progress (its
// default WORK_IN_PROGRESS_PREFIXES): Gitea's API has no draft field.
const DraftPrefix = "WIP: "

// LabelColor is the color of the labels the client creates.
const LabelColor = "#ededed"

// Client is a pullrequest.Forge for one Gitea or Forgejo repository. Like
// the SDK client under it, it is not safe for concurrent use: the SDK
// keeps the request context in the client.
type Client struct {
	sdk         *sdk.Client
	owner, repo string
}

var _ pullrequest.Forge = (*Client)(nil)

// Option configures New: the options every forge client shares.
type Option = rest.Option

// WithHTTPClient sets the HTTP client requests go through (default: Go's
// default transport with rest.DefaultTimeout per request).
func WithHTTPClient(c *http.Client) Option { return rest.WithHTTPClient(c) }

// New returns a client for owner/repo on the Gitea at apiURL (its root,
// https://HOST, without /api/v1). The token is sent as "Authorization:
// token …" and never appears in errors. New does no I/O: the SDK's server
// version probe is off, which assumes Gitea 1.14 or later (or Forgejo).
func New(apiURL, owner, repo, token string, opts ...Option) (*Client, error) {
	if owner == "" || repo == "" {
		return nil, fmt.Errorf("gitea: owner and repository are required (got %q/%q)", owner, repo)
	}
	if token == "" {
		return nil, errors.New("gitea: no token: the pull request mode needs the repository's tokenFile")
	}
	if err := forge.CheckAPIURL(apiURL); err != nil {
		return nil, fmt.Errorf("gitea: apiURL %w", err)
	}
	o := rest.NewOptions(opts)
	root := strings.TrimSuffix(strings.TrimSuffix(apiURL, "/"), "/api/v1")
	c, err := sdk.NewClient(root, sdk.SetToken(token), sdk.SetHTTPClient(o.HTTPClient), sdk.SetGiteaVersion(""))
	if err != nil {
		return nil, fmt.Errorf("gitea: %w", err)
	}
	return &Client{sdk: c, owner: owner, repo: repo}, nil
}

// wrap says what was being done and turns a 429 into
// pullrequest.RateLimitError so the lifecycle waits it out.
func wrap(resp *sdk.Response, err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	err = fmt.Errorf(format+": %w", append(args, err)...)
	if resp != nil && resp.Response != nil && resp.StatusCode == http.StatusTooManyRequests {
		return &pullrequest.RateLimitError{RetryAfter: retryAfter(resp.Header, time.Now()), Err: err}
	}
	return err
}

// retryAfter reads Retry-After, else DefaultRateLimitWait
// (rest.RetryAfter).
func retryAfter(h http.Header, now time.Time) time.Duration {
	return rest.RetryAfter(h, now, DefaultRateLimitWait)
}

// wipRe matches Gitea's default work-in-progress prefixes.
var wipRe = regexp.MustCompile(`(?i)^\s*(wip:|\[wip\])\s*`)

// unwip is a title without its work-in-progress prefix: the lifecycle
// compares titles it rendered, which never carry one.
func unwip(title string) string { return wipRe.ReplaceAllString(title, "") }

// fromFork reports whether pr's head lies in another repository than its
// base: a fork's branch names are their authors', never the bot's.
func fromFork(pr *sdk.PullRequest) bool {
	return pr.Head != nil && pr.Base != nil && pr.Head.RepoID != 0 && pr.Head.RepoID != pr.Base.RepoID
}

func convert(pr *sdk.PullRequest) pullrequest.PullRequest {
	out := pullrequest.PullRequest{Number: int(pr.Index), Title: unwip(pr.Title), Body: pr.Body, URL: pr.HTMLURL}
	switch {
	case pr.HasMerged:
		out.State = pullrequest.StateMerged
	case pr.State == sdk.StateOpen:
		out.State = pullrequest.StateOpen
	default:
		out.State = pullrequest.StateClosed
	}
	if pr.Head != nil {
		out.Head, out.HeadSHA = headBranch(pr.Head), pr.Head.Sha
	}
	return out
}

// headBranch is the name of a pull request's head branch. Once the branch
// is deleted, Gitea's ref is the pull request's own (refs/pull/N/head); its
// label still names the branch.
func headBranch(h *sdk.PRBranchInfo) string {
	if h.Name != "" {
		return h.Name
	}
	return h.Ref
}

// pageSize is Gitea's default MAX_RESPONSE_ITEMS.
const pageSize = 50

// PullRequests lists the pull requests from branch of this repository, in
// every state. Gitea's list has no head filter, so every pull request of
// the repository is read and filtered here.
func (c *Client) PullRequests(ctx context.Context, branch string) ([]pullrequest.PullRequest, error) {
	c.sdk.SetContext(ctx)
	opts := sdk.ListPullRequestsOptions{ListOptions: sdk.ListOptions{Page: 1, PageSize: pageSize}, State: sdk.StateAll}
	var out []pullrequest.PullRequest
	var resp *sdk.Response
	err := rest.Pages(1, func(page int) (int, error) {
		opts.Page = page
		prs, r, err := c.sdk.ListRepoPullRequests(c.owner, c.repo, opts)
		resp = r
		if err != nil {
			return 0, err
		}
		for _, pr := range prs {
			// Pull requests from forks share head names with ours.
			// Matched by label: a pull request whose branch a human
			// deleted after closing it is still a declined one.
			if pr.Head != nil && headBranch(pr.Head) == branch && !fromFork(pr) {
				out = append(out, convert(pr))
			}
		}
		if len(prs) == 0 {
			return 0, nil
		}
		return r.NextPage, nil
	})
	if err != nil {
		return nil, wrap(resp, err, "listing pull requests of %s/%s", c.owner, c.repo)
	}
	return out, nil
}

// Comments lists the bodies of a pull request's comments.
func (c *Client) Comments(ctx context.Context, number int) ([]string, error) {
	c.sdk.SetContext(ctx)
	opts := sdk.ListIssueCommentOptions{ListOptions: sdk.ListOptions{Page: 1, PageSize: pageSize}}
	var out []string
	var resp *sdk.Response
	err := rest.Pages(1, func(page int) (int, error) {
		opts.Page = page
		cs, r, err := c.sdk.ListIssueComments(c.owner, c.repo, int64(number), opts)
		resp = r
		if err != nil {
			return 0, err
		}
		for _, cm := range cs {
			out = append(out, cm.Body)
		}
		if len(cs) == 0 {
			return 0, nil
		}
		return r.NextPage, nil
	})
	if err != nil {
		return nil, wrap(resp, err, "listing comments of %s/%s#%d", c.owner, c.repo, number)
	}
	return out, nil
}

// Create opens a pull request; a draft gets DraftPrefix on its title. An
// empty base means the repository's default branch.
func (c *Client) Create(ctx context.Context, pr pullrequest.NewPullRequest) (pullrequest.PullRequest, error) {
	c.sdk.SetContext(ctx)
	base := pr.Base
	if base == "" {
		r, resp, err := c.sdk.GetRepo(c.owner, c.repo)
		if err != nil {
			return pullrequest.PullRequest{}, wrap(resp, err, "reading the default branch of %s/%s", c.owner, c.repo)
		}
		base = r.DefaultBranch
	}
	title := pr.Title
	if pr.Draft {
		title = DraftPrefix + title
	}
	created, resp, err := c.sdk.CreatePullRequest(c.owner, c.repo, sdk.CreatePullRequestOption{Head: pr.Head, Base: base, Title: title, Body: pr.Body})
	if err != nil {
		return pullrequest.PullRequest{}, wrap(resp, err, "opening a pull request on %s/%s from %s", c.owner, c.repo, pr.Head)
	}
	return convert(created), nil
}

// Label adds labels to a pull request. Gitea takes label IDs: names are
// looked up among the repository's labels, then its organization's, and a
// label found in neither is created in the repository, as GitHub and
// GitLab do when a label is added by name.
func (c *Client) Label(ctx context.Context, number int, labels []string) error {
	c.sdk.SetContext(ctx)
	ids, err := c.labelIDs(labels)
	if err != nil {
		return err
	}
	_, resp, err := c.sdk.AddIssueLabels(c.owner, c.repo, int64(number), sdk.IssueLabelsOption{Labels: ids})
	return wrap(resp, err, "labelling %s/%s#%d", c.owner, c.repo, number)
}

func (c *Client) labelIDs(names []string) ([]int64, error) {
	have := map[string]int64{}
	var resp *sdk.Response
	err := rest.Pages(1, func(page int) (int, error) {
		ls, r, err := c.sdk.ListRepoLabels(c.owner, c.repo, sdk.ListLabelsOptions{ListOptions: sdk.ListOptions{Page: page, PageSize: pageSize}})
		resp = r
		if err != nil {
			return 0, err
		}
		for _, l := range ls {
			have[l.Name] = l.ID
		}
		if len(ls) == 0 {
			return 0, nil
		}
		return r.NextPage, nil
	})
	if err != nil {
		return nil, wrap(resp, err, "listing the labels of %s/%s", c.owner, c.repo)
	}
	missing := func() bool {
		for _, n := range names {
			if _, ok := have[n]; !ok {
				return true
			}
		}
		return false
	}
	if missing() {
		// The owner may be a user, who has no labels: 404.
		ls, resp, err := c.sdk.ListOrgLabels(c.owner, sdk.ListOrgLabelsOptions{ListOptions: sdk.ListOptions{Page: 1, PageSize: pageSize}})
		if err != nil && (resp == nil || resp.StatusCode != http.StatusNotFound) {
			return nil, wrap(resp, err, "listing the labels of organization %s", c.owner)
		}
		for _, l := range ls {
			if _, ok := have[l.Name]; !ok {
				have[l.Name] = l.ID
			}
		}
	}
	var ids []int64
	for _, n := range names {
		id, ok := have[n]
		if !ok {
			l, resp, err := c.sdk.CreateLabel(c.owner, c.repo, sdk.CreateLabelOption{Name: n, Color: LabelColor})
			if err != nil {
				return nil, wrap(resp, err, "creating label %q in %s/%s", n, c.owner, c.repo)
			}
			id = l.ID
			have[n] = id
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// RequestReviews asks users and teams (of the repository's organization)
// for a review.
func (c *Client) RequestReviews(ctx context.Context, number int, users, teams []string) error {
	c.sdk.SetContext(ctx)
	resp, err := c.sdk.CreateReviewRequests(c.owner, c.repo, int64(number), sdk.PullReviewRequestOptions{Reviewers: users, TeamReviewers: teams})
	return wrap(resp, err, "requesting reviews on %s/%s#%d", c.owner, c.repo, number)
}

// Edit replaces a pull request's title and body. A work-in-progress pull
// request keeps its prefix: the lifecycle's titles never carry one.
func (c *Client) Edit(ctx context.Context, number int, title, body string) error {
	c.sdk.SetContext(ctx)
	pr, resp, err := c.sdk.GetPullRequest(c.owner, c.repo, int64(number))
	if err != nil {
		return wrap(resp, err, "reading %s/%s#%d", c.owner, c.repo, number)
	}
	if m := wipRe.FindString(pr.Title); m != "" {
		title = m + title
	}
	_, resp, err = c.sdk.EditPullRequest(c.owner, c.repo, int64(number), sdk.EditPullRequestOption{Title: title, Body: &body})
	return wrap(resp, err, "editing %s/%s#%d", c.owner, c.repo, number)
}

// Close closes a pull request unmerged and replaces its body, in one call.
func (c *Client) Close(ctx context.Context, number int, body string) error {
	c.sdk.SetContext(ctx)
	closed := sdk.StateClosed
	_, resp, err := c.sdk.EditPullRequest(c.owner, c.repo, int64(number), sdk.EditPullRequestOption{State: &closed, Body: &body})
	return wrap(resp, err, "closing %s/%s#%d", c.owner, c.repo, number)
}

// Comment adds a comment to a pull request.
func (c *Client) Comment(ctx context.Context, number int, body string) error {
	c.sdk.SetContext(ctx)
	_, resp, err := c.sdk.CreateIssueComment(c.owner, c.repo, int64(number), sdk.CreateIssueCommentOption{Body: body})
	return wrap(resp, err, "commenting on %s/%s#%d", c.owner, c.repo, number)
}
