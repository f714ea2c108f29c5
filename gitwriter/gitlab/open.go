package gitlab

import (
	"context"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/imagebump/imagebump/gitwriter/forge/rest"
	"github.com/imagebump/imagebump/gitwriter/pullrequest"
)

// The bot finds its stray pull requests through this listing.
var _ pullrequest.OpenLister = (*Client)(nil)

// OpenPullRequests lists the project's open merge requests whatever their
// source branch, those from forks left out: the bot finds its own among
// them by their hidden marker, also when their branch is gone or lies
// under a former prefix. The listing is bounded in pages and items.
func (c *Client) OpenPullRequests(ctx context.Context) ([]pullrequest.PullRequest, error) {
	opts := &gl.ListProjectMergeRequestsOptions{ListOptions: gl.ListOptions{PerPage: 100}, State: gl.Ptr("opened")}
	var out []pullrequest.PullRequest
	seen := 0
	err := rest.Pages(1, func(page int) (int, error) {
		opts.Page = int64(page)
		mrs, resp, err := c.gl.MergeRequests.ListProjectMergeRequests(c.project, opts, c.ctx(ctx))
		if err != nil {
			return 0, err
		}
		seen += len(mrs)
		if err := rest.Items(seen); err != nil {
			return 0, err
		}
		for _, mr := range mrs {
			if !fromFork(mr) {
				out = append(out, convert(mr))
			}
		}
		return int(resp.NextPage), nil
	})
	if err != nil {
		return nil, c.wrap(err, "listing the open merge requests of %s", c.project)
	}
	return out, nil
}
