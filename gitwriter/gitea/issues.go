package gitea

import (
	"context"

	sdk "code.gitea.io/sdk/gitea"

	"github.com/imagebump/imagebump/gitwriter/forge"
	"github.com/imagebump/imagebump/gitwriter/forge/rest"
)

// OpenIssues lists the repository's open issues, pull requests left out.
func (c *Client) OpenIssues(ctx context.Context) ([]forge.Issue, error) {
	c.sdk.SetContext(ctx)
	opts := sdk.ListIssueOption{ListOptions: sdk.ListOptions{Page: 1, PageSize: pageSize}, State: sdk.StateOpen, Type: sdk.IssueTypeIssue}
	var out []forge.Issue
	var resp *sdk.Response
	err := rest.Pages(1, func(page int) (int, error) {
		opts.Page = page
		is, r, err := c.sdk.ListRepoIssues(c.owner, c.repo, opts)
		resp = r
		if err != nil {
			return 0, err
		}
		for _, i := range is {
			if i.PullRequest == nil {
				out = append(out, issue(i))
			}
		}
		if len(is) == 0 {
			return 0, nil
		}
		return r.NextPage, nil
	})
	if err != nil {
		return nil, wrap(resp, err, "listing open issues of %s/%s", c.owner, c.repo)
	}
	return out, nil
}

// CreateIssue opens an issue.
func (c *Client) CreateIssue(ctx context.Context, title, body string) (forge.Issue, error) {
	c.sdk.SetContext(ctx)
	i, resp, err := c.sdk.CreateIssue(c.owner, c.repo, sdk.CreateIssueOption{Title: title, Body: body})
	if err != nil {
		return forge.Issue{}, wrap(resp, err, "opening an issue on %s/%s", c.owner, c.repo)
	}
	return issue(i), nil
}

// EditIssue replaces an issue's title and body, and closes it when close
// is set.
func (c *Client) EditIssue(ctx context.Context, number int, title, body string, close bool) error {
	c.sdk.SetContext(ctx)
	opts := sdk.EditIssueOption{Title: title, Body: &body}
	if close {
		closed := sdk.StateClosed
		opts.State = &closed
	}
	_, resp, err := c.sdk.EditIssue(c.owner, c.repo, int64(number), opts)
	return wrap(resp, err, "editing issue #%d of %s/%s", number, c.owner, c.repo)
}

func issue(i *sdk.Issue) forge.Issue {
	return forge.Issue{Number: int(i.Index), Title: i.Title, Body: i.Body, URL: i.HTMLURL}
}
