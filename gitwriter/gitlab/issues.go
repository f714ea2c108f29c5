package gitlab

import (
	"context"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/imagebump/imagebump/gitwriter/forge"
	"github.com/imagebump/imagebump/gitwriter/forge/rest"
)

// OpenIssues lists the project's open issues.
func (c *Client) OpenIssues(ctx context.Context) ([]forge.Issue, error) {
	opts := &gl.ListProjectIssuesOptions{ListOptions: gl.ListOptions{PerPage: 100}, State: gl.Ptr("opened")}
	var out []forge.Issue
	err := rest.Pages(1, func(page int) (int, error) {
		opts.Page = int64(page)
		is, resp, err := c.gl.Issues.ListProjectIssues(c.project, opts, c.ctx(ctx))
		if err != nil {
			return 0, err
		}
		for _, i := range is {
			out = append(out, issue(i))
		}
		return int(resp.NextPage), nil
	})
	if err != nil {
		return nil, c.wrap(err, "listing open issues of %s", c.project)
	}
	return out, nil
}

// CreateIssue opens an issue; a description above MaxDescription (GitLab's
// limit for issues too) is cut as a merge request's is.
func (c *Client) CreateIssue(ctx context.Context, title, body string) (forge.Issue, error) {
	body = capDescription(body)
	i, _, err := c.gl.Issues.CreateIssue(c.project, &gl.CreateIssueOptions{Title: &title, Description: &body}, c.ctx(ctx))
	if err != nil {
		return forge.Issue{}, c.wrap(err, "opening an issue on %s", c.project)
	}
	return issue(i), nil
}

// EditIssue replaces an issue's title and description, and closes it when
// close is set.
func (c *Client) EditIssue(ctx context.Context, number int, title, body string, close bool) error {
	body = capDescription(body)
	opts := &gl.UpdateIssueOptions{Title: &title, Description: &body}
	if close {
		opts.StateEvent = gl.Ptr("close")
	}
	_, _, err := c.gl.Issues.UpdateIssue(c.project, int64(number), opts, c.ctx(ctx))
	return c.wrap(err, "editing issue #%d of %s", number, c.project)
}

func issue(i *gl.Issue) forge.Issue {
	return forge.Issue{Number: int(i.IID), Title: i.Title, Body: i.Description, URL: i.WebURL}
}
