package github

import (
	"fmt"
	"log/slog"

	"github.com/imagebump/imagebump/gitwriter/forge"
	"github.com/imagebump/imagebump/gitwriter/pullrequest"
)

// Kind is GitHub's entry in the forge table: github.com, whose API root
// the client knows, or GitHub Enterprise at https://HOST/api/v3/. opts
// apply to every client it makes, after the pass's logger: tests give a
// clock and sleep of their own (WithClock, WithSleep), so spaced writes
// cost no real time.
func Kind(opts ...Option) forge.Kind {
	return forge.Kind{
		Name:  "github",
		Title: "GitHub",
		New: func(apiURL, path, token string, log *slog.Logger) (pullrequest.Forge, error) {
			owner, name, err := forge.SplitPath(path)
			if err != nil {
				return nil, fmt.Errorf("github: %w", err)
			}
			return New(apiURL, owner, name, token, append([]Option{WithLogger(log)}, opts...)...)
		},
		// GitHub checks the token alone; gitwriter's default user serves.
		TokenUser:     "",
		TeamReviewers: true,
		Draft:         true,
		PublicHost:    "github.com",
		PublicAPI:     "", // api.github.com, go-github's default
		APIExample:    "https://%s/api/v3/",
		APIPath:       "/api/v3",
	}
}
