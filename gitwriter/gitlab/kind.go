package gitlab

import (
	"log/slog"

	"github.com/imagebump/imagebump/gitwriter/forge"
	"github.com/imagebump/imagebump/gitwriter/forge/rest"
	"github.com/imagebump/imagebump/gitwriter/pullrequest"
)

// Kind is GitLab's entry in the forge table: gitlab.com or a self-managed
// GitLab (possibly under a relative URL root), whose project paths may
// hold subgroups.
func Kind() forge.Kind {
	return forge.Kind{
		Name:  "gitlab",
		Title: "GitLab",
		New: func(apiURL, path, token string, log *slog.Logger) (pullrequest.Forge, error) {
			return New(apiURL, path, token, rest.WithLogger(log))
		},
		// GitLab accepts a token over git only with user oauth2.
		TokenUser: "oauth2",
		// Merge requests have user reviewers only.
		TeamReviewers: false,
		Draft:         true, // DraftPrefix on the title
		PublicHost:    "gitlab.com",
		PublicAPI:     "https://gitlab.com/api/v4",
		APIExample:    "https://%s/api/v4",
		APIPath:       "/api/v4",
		Namespaces:    true,
	}
}
