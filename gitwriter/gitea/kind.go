package gitea

import (
	"fmt"
	"log/slog"

	"github.com/imagebump/imagebump/gitwriter/forge"
	"github.com/imagebump/imagebump/gitwriter/forge/rest"
	"github.com/imagebump/imagebump/gitwriter/pullrequest"
)

// Kind is Gitea's (and Forgejo's) entry in the forge table: always
// self-hosted here, so its apiURL is always given.
func Kind() forge.Kind {
	return forge.Kind{
		Name:  "gitea",
		Title: "Gitea",
		New: func(apiURL, path, token string, log *slog.Logger) (pullrequest.Forge, error) {
			owner, name, err := forge.SplitPath(path)
			if err != nil {
				return nil, fmt.Errorf("gitea: %w", err)
			}
			return New(apiURL, owner, name, token, rest.WithLogger(log))
		},
		// Gitea checks the token alone; gitwriter's default user serves.
		TokenUser:     "",
		TeamReviewers: true, // teams of the repository's organization
		Draft:         true, // DraftPrefix on the title
		APIExample:    "https://%s",
	}
}
