package pullrequest

import "context"

// OpenLister lists a repository's open pull requests whatever their head
// branch. The forge clients implement it with a listing bounded in pages
// and items.
type OpenLister interface {
	OpenPullRequests(ctx context.Context) ([]PullRequest, error)
}

// Own lists the bot's open pull requests, known by the hidden marker in
// their body, whatever their branch: those whose branch was deleted or
// lies under a former branch prefix are found too, which looking up the
// groups' branches cannot do. Rate limits are waited out as in Observe.
func Own(ctx context.Context, forge OpenLister, opts ...Option) ([]PullRequest, error) {
	w := &waiter{options: newOptions(opts)}
	var all []PullRequest
	if err := w.do(ctx, "listing open pull requests", func() (err error) {
		all, err = forge.OpenPullRequests(ctx)
		return err
	}); err != nil {
		return nil, err
	}
	var out []PullRequest
	for _, pr := range all {
		if _, ok := ParseMarker(pr.Body); ok && pr.State == StateOpen {
			out = append(out, pr)
		}
	}
	return out, nil
}
