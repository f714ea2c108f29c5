package bot

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/gitwriter/forge"
	"github.com/imagebump/imagebump/gitwriter/pullrequest"
	"github.com/imagebump/imagebump/problem"
)

// lab is a forge kind the bot knows nothing of but its table entry: no
// team reviewers, no drafts.
var lab = forge.Kind{Name: "lab", Title: "Lab"}

func TestCheckForge(t *testing.T) {
	teams := config.PullRequests{TeamReviewers: []string{"platform"}}
	full := forge.Kind{Name: "hub", Title: "Hub", TeamReviewers: true, Draft: true}
	tests := []struct {
		name string
		kind forge.Kind
		mode config.Mode
		s    config.PullRequests
		want []string // problems; none when empty
	}{
		{"team reviewers where the forge has them", full, config.PullRequest, teams, nil},
		{"team reviewers refused", lab, config.PullRequest, teams, []string{
			".imagebump.yaml: pullRequests.teamReviewers: Lab has no team reviewers; list the people under reviewers instead (nothing was written for this repository)"}},
		{"draft refused", lab, config.PullRequest, config.PullRequests{Draft: true}, []string{
			".imagebump.yaml: pullRequests.draft: Lab has no draft pull requests (nothing was written for this repository)"}},
		{"user reviewers only", lab, config.PullRequest, config.PullRequests{Reviewers: []string{"alice"}}, nil},
		{"push mode has no forge settings", lab, config.Push, teams, nil},
		{"no forge", forge.Kind{}, config.PullRequest, teams, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pols := &config.Policies{PullRequests: tc.s, Files: []string{"apps/.imagebump.yaml", ".imagebump.yaml"}}
			err := checkForge(config.Repository{Mode: tc.mode, Forge: tc.kind}, pols)
			var got []string
			var ps problem.List
			if errors.As(err, &ps) {
				for _, p := range ps {
					got = append(got, p.String())
				}
			} else if err != nil {
				t.Fatalf("checkForge = %v, want problem.List", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

// TestOpenForge checks that the client comes from the kind config stored,
// with the repository's path, apiURL and token.
func TestOpenForge(t *testing.T) {
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	type call struct{ APIURL, Path, Token string }
	var got []call
	k := lab
	k.New = func(apiURL, path, token string, _ *slog.Logger) (pullrequest.Forge, error) {
		got = append(got, call{apiURL, path, token})
		return nil, nil
	}
	repo := config.Repository{Forge: k, APIURL: "https://lab.example/api", Owner: "group/sub", Name: "fleet", Auth: config.Auth{TokenFile: token}}
	if _, err := OpenForge(repo, nil); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]call{{"https://lab.example/api", "group/sub/fleet", "s3cret"}}, got); diff != "" {
		t.Errorf("constructor calls (-want +got):\n%s", diff)
	}

	repo.Auth.TokenFile = ""
	if _, err := OpenForge(repo, nil); err == nil || !strings.Contains(err.Error(), "needs auth.tokenFile: the token also serves the Lab API") {
		t.Errorf("without a token file: %v", err)
	}
	if _, err := OpenForge(config.Repository{}, nil); err == nil || !strings.Contains(err.Error(), "names no forge") {
		t.Errorf("without a forge: %v", err)
	}
}
