package github

import (
	"context"

	gh "github.com/google/go-github/v60/github"

	"github.com/imagebump/imagebump/gitwriter/forge"
	"github.com/imagebump/imagebump/gitwriter/forge/rest"
)

// OpenIssues lists the repository's open issues, pull requests (which
// GitHub lists as issues too) left out.
func (c *Client) OpenIssues(ctx context.Context) ([]forge.Issue, error) {
	opts := &gh.IssueListByRepoOptions{State: "open", ListOptions: gh.ListOptions{PerPage: 100}}
	var out []forge.Issue
	err := rest.Pages(0, func(page int) (int, error) {
		opts.Page = page
		is, resp, err := c.gh.Issues.ListByRepo(ctx, c.owner, c.repo, opts)
		if err != nil {
			return 0, err
		}
		for _, i := range is {
			if !i.IsPullRequest() {
				out = append(out, issue(i))
			}
		}
		return resp.NextPage, nil
	})
	if err != nil {
		return nil, wrap(err, "listing open issues of %s/%s", c.owner, c.repo)
	}
	return out, nil
}

// CreateIssue opens an issue; a body above MaxBody is cut as a pull
// request's is, keeping its hidden marker.
func (c *Client) CreateIssue(ctx context.Context, title, body string) (forge.Issue, error) {
	body = capBody(body)
	i, _, err := c.gh.Issues.Create(ctx, c.owner, c.repo, &gh.IssueRequest{Title: &title, Body: &body})
	if err != nil {
		return forge.Issue{}, wrap(err, "opening an issue on %s/%s", c.owner, c.repo)
	}
	return issue(i), nil
}

// EditIssue replaces an issue's title and body, and closes it when close
// is set.
func (c *Client) EditIssue(ctx context.Context, number int, title, body string, close bool) error {
	body = capBody(body)
	req := &gh.IssueRequest{Title: &title, Body: &body}
	if close {
		req.State = gh.String("closed")
	}
	_, _, err := c.gh.Issues.Edit(ctx, c.owner, c.repo, number, req)
	return wrap(err, "editing issue #%d of %s/%s", number, c.owner, c.repo)
}

func issue(i *gh.Issue) forge.Issue {
	return forge.Issue{Number: i.GetNumber(), Title: i.GetTitle(), Body: i.GetBody(), URL: i.GetHTMLURL()}
}
