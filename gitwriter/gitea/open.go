package gitea

import (
	"context"

	sdk "code.gitea.io/sdk/gitea"

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
	c.sdk.SetContext(ctx)
	opts := sdk.ListPullRequestsOptions{ListOptions: sdk.ListOptions{Page: 1, PageSize: pageSize}, State: sdk.StateOpen}
	var out []pullrequest.PullRequest
	var resp *sdk.Response
	seen := 0
	err := rest.Pages(1, func(page int) (int, error) {
		opts.Page = page
		prs, r, err := c.sdk.ListRepoPullRequests(c.owner, c.repo, opts)
		resp = r
		if err != nil {
			return 0, err
		}
		seen += len(prs)
		if err := rest.Items(seen); err != nil {
			return 0, err
		}
		for _, pr := range prs {
			if pr.Head != nil && !fromFork(pr) {
				out = append(out, convert(pr))
			}
		}
		if len(prs) == 0 {
			return 0, nil
		}
		return r.NextPage, nil
	})
	if err != nil {
		return nil, wrap(resp, err, "listing the open pull requests of %s/%s", c.owner, c.repo)
	}
	return out, nil
}
