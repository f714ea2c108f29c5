package github

import (
	"context"

	gh "github.com/google/go-github/v60/github"

	"github.com/imagebump/imagebump/gitwriter/forge/rest"
	"github.com/imagebump/imagebump/gitwriter/pullrequest"
)

// The bot finds its stray pull requests through this listing.
var _ pullrequest.OpenLister = (*Client)(nil)

// OpenPullRequests lists the repository's open pull requests whatever
// their head branch, those from forks left out: the bot finds its own
// among them by their hidden marker, also when their branch is gone or
// lies under a former prefix. The listing is bounded in pages and items.
func (c *Client) OpenPullRequests(ctx context.Context) ([]pullrequest.PullRequest, error) {
	opts := &gh.PullRequestListOptions{State: "open", ListOptions: gh.ListOptions{PerPage: 100}}
	var out []pullrequest.PullRequest
	seen := 0
	err := rest.Pages(0, func(page int) (int, error) {
		opts.Page = page
		prs, resp, err := c.gh.PullRequests.List(ctx, c.owner, c.repo, opts)
		if err != nil {
			return 0, err
		}
		seen += len(prs)
		if err := rest.Items(seen); err != nil {
			return 0, err
		}
		for _, pr := range prs {
			// A fork's head label names its owner, never ours.
			if l := pr.GetHead().GetLabel(); l == "" || l == c.owner+":"+pr.GetHead().GetRef() {
				out = append(out, convert(pr))
			}
		}
		return resp.NextPage, nil
	})
	if err != nil {
		return nil, wrap(err, "listing the open pull requests of %s/%s", c.owner, c.repo)
	}
	return out, nil
}
