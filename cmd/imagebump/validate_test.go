package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/test/filetree"
)

// TestValidateForge checks that validate --forge refuses the pull request
// settings that forge cannot honour, as read from the forge table, and
// accepts them without --forge or on a forge that has them.
func TestValidateForge(t *testing.T) {
	files := map[string]string{
		".imagebump.yaml": "policies:\n  - {name: web, image: ghcr.io/acme/web, semver: '^1'}\npullRequests:\n  teamReviewers: [platform]\n",
	}
	tests := []struct {
		name     string
		args     []string
		wantOut  string
		wantErr  string
		wantCode int
	}{
		{"no forge named", nil, "ok: 1 policies in 1 policy files, 0 markers\n", "", 0},
		{"github has team reviewers", []string{"--forge", "github"}, "ok: 1 policies in 1 policy files, 0 markers\n", "", 0},
		{"gitlab has none", []string{"--forge", "gitlab"},
			".imagebump.yaml: pullRequests.teamReviewers: GitLab has no team reviewers; list the people under reviewers instead\n", "", 2},
		{"unknown forge", []string{"--forge", "sourcehut"}, "", `--forge "sourcehut": not one of github, gitlab, gitea`, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filetree.Write(t, files)
			out, stderr, code := runCLI(t, append([]string{"validate", dir}, tc.args...)...)
			if diff := cmp.Diff(tc.wantOut, out); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			if code != tc.wantCode || !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("exit code %d, stderr %q; want %d and %q", code, stderr, tc.wantCode, tc.wantErr)
			}
		})
	}
}
