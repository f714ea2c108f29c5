package bot

import (
	"strings"
	"testing"

	"github.com/imagebump/imagebump/config"
)

func TestUnsupportedSettings(t *testing.T) {
	teams := config.PullRequests{TeamReviewers: []string{"platform"}}
	tests := []struct {
		name  string
		forge config.Forge
		s     config.PullRequests
		want  string // "" = no error
	}{
		{"github honours team reviewers", config.GitHub, teams, ""},
		{"gitlab refuses team reviewers", config.GitLab, teams, ".imagebump.yaml: pullRequests.teamReviewers: GitLab has no team reviewers"},
		{"gitea honours team reviewers", config.Gitea, teams, ""},
		{"gitlab with user reviewers only", config.GitLab, config.PullRequests{Reviewers: []string{"alice"}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := unsupported(config.Repository{Forge: tc.forge}, tc.s, []string{"apps/.imagebump.yaml", ".imagebump.yaml"})
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("unsupported = %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
				t.Errorf("unsupported = %v, want %q…", err, tc.want)
			}
		})
	}
}

func TestTokenUser(t *testing.T) {
	for forge, want := range map[config.Forge]string{config.GitHub: "", config.GitLab: "oauth2", config.Gitea: "", "": ""} {
		if got := TokenUser(forge); got != want {
			t.Errorf("TokenUser(%q) = %q, want %q", forge, got, want)
		}
	}
}
