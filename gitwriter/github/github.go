package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
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

// Client is a pullrequest.Forge for one GitHub repository.
type Client struct {
	gh          *gh.Client
	owner, repo string
}

var _ pullrequest.Forge = (*Client)(nil)

// Option configures New: the options every forge client shares.
type Option = rest.Option

// WithHTTPClient sets the HTTP client requests go through (default: Go's
// default transport with rest.DefaultTimeout per request). The token is
// added on top of it.
func WithHTTPClient(c *http.Client) Option { return rest.WithHTTPClient(c) }

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
	c := gh.NewClient(o.HTTPClient).WithAuthToken(token)
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
	return &Client{gh: c, owner: owner, repo: repo}, nil
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

// wrap says what was being done and turns go-github's rate-limit errors
// into pullrequest.RateLimitError so the lifecycle waits them out.
func wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	err = fmt.Errorf(format+": %w", append(args, err)...)
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
	req := &gh.NewPullRequest{Title: &pr.Title, Head: &pr.Head, Base: &base, Body: &pr.Body}
	if pr.Draft {
		// Only sent when wanted: plans without drafts reject the field.
		req.Draft = gh.Bool(true)
	}
	created, _, err := c.gh.PullRequests.Create(ctx, c.owner, c.repo, req)
	if err != nil {
		return pullrequest.PullRequest{}, wrap(err, "opening a pull request on %s/%s from %s", c.owner, c.repo, pr.Head)
	}
	return convert(created), nil
}

// Label adds labels to a pull request.
func (c *Client) Label(ctx context.Context, number int, labels []string) error {
	_, _, err := c.gh.Issues.AddLabelsToIssue(ctx, c.owner, c.repo, number, labels)
	return wrap(err, "labelling %s/%s#%d", c.owner, c.repo, number)
}

// RequestReviews asks users and teams (slugs) for a review.
func (c *Client) RequestReviews(ctx context.Context, number int, users, teams []string) error {
	_, _, err := c.gh.PullRequests.RequestReviewers(ctx, c.owner, c.repo, number, gh.ReviewersRequest{Reviewers: users, TeamReviewers: teams})
	return wrap(err, "requesting reviews on %s/%s#%d", c.owner, c.repo, number)
}

// Edit replaces a pull request's title and body.
func (c *Client) Edit(ctx context.Context, number int, title, body string) error {
	_, _, err := c.gh.PullRequests.Edit(ctx, c.owner, c.repo, number, &gh.PullRequest{Title: &title, Body: &body})
	return wrap(err, "editing %s/%s#%d", c.owner, c.repo, number)
}

// Close closes a pull request unmerged and replaces its body, in one call.
func (c *Client) Close(ctx context.Context, number int, body string) error {
	_, _, err := c.gh.PullRequests.Edit(ctx, c.owner, c.repo, number, &gh.PullRequest{State: gh.String("closed"), Body: &body})
	return wrap(err, "closing %s/%s#%d", c.owner, c.repo, number)
}

// Comment adds a comment to a pull request.
func (c *Client) Comment(ctx context.Context, number int, body string) error {
	_, _, err := c.gh.Issues.CreateComment(ctx, c.owner, c.repo, number, &gh.IssueComment{Body: &body})
	return wrap(err, "commenting on %s/%s#%d", c.owner, c.repo, number)
}
