package bot

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/gitwriter/pullrequest"
	"github.com/imagebump/imagebump/test/filetree"
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

// prPolicies has web and worker resolve, broken fail at its registry; web
// and broken share the group "apps".
const prPolicies = `pullRequests:
  grouping: GROUPING
policies:
  - name: web
    image: ghcr.io/acme/web
    semver: ^1
    group: apps
  - name: broken
    image: ghcr.io/acme/broken
    semver: "*"
    group: apps
  - name: other
    image: ghcr.io/acme/unused
    semver: "*"
    group: tools
`

// proposal is the bot's open pull request on group's branch, proposing
// policy's image from → to in deploy.yaml.
func proposal(n int, group, policy, image, from, to string) pullrequest.PullRequest {
	g := pullrequest.Group{
		Name: group, Branch: "imagebump/" + group,
		Changes: []pullrequest.Change{{Policy: policy, Image: image, From: from, To: to, Files: []string{"deploy.yaml"}}},
	}
	return pullrequest.PullRequest{Number: n, State: pullrequest.StateOpen, Head: g.Branch, HeadSHA: "h" + to, Title: pullrequest.Title(g), Body: pullrequest.Body(g, 0)}
}

// TestPlanGroups runs the pull request joint without a forge or git: a
// pass's outcome becomes groups (planGroups), which Decide turns into one
// action per group. A group left out of Decide gets no decision: its pull
// request is left untouched.
func TestPlanGroups(t *testing.T) {
	const (
		web142    = "web: ghcr.io/acme/web:1.4.2 # {\"$imagepolicy\": \"web\"}\n"
		web150    = "web: ghcr.io/acme/web:1.5.0 # {\"$imagepolicy\": \"web\"}\n"
		broken    = "broken: ghcr.io/acme/broken:1.0.0 # {\"$imagepolicy\": \"broken\"}\n"
		other100  = "other: ghcr.io/acme/unused:1.0.0 # {\"$imagepolicy\": \"other\"}\n"
		webImage  = "ghcr.io/acme/web"
		brokenImg = "ghcr.io/acme/broken"
	)
	tests := []struct {
		name     string
		grouping config.Grouping
		manifest string
		prs      []pullrequest.PullRequest
		// want is each group's action (the groups Decide acted on).
		want map[string]pullrequest.Action
		// wantHeld are the groups left out, by branch.
		wantHeld map[string]string
		// wantFiles is each group's proposed deploy.yaml ("" = none).
		wantFiles map[string]string
	}{{
		name:      "a new version opens a pull request",
		grouping:  config.ByPolicy,
		manifest:  web142,
		want:      map[string]pullrequest.Action{"web": pullrequest.ActionCreate},
		wantHeld:  map[string]string{},
		wantFiles: map[string]string{"web": web150},
	}, {
		name:      "a policy whose registry failed keeps its open pull request untouched",
		grouping:  config.ByPolicy,
		manifest:  broken + web142,
		prs:       []pullrequest.PullRequest{proposal(7, "broken", "broken", brokenImg, "1.0.0", "1.1.0")},
		want:      map[string]pullrequest.Action{"web": pullrequest.ActionCreate},
		wantHeld:  map[string]string{"imagebump/broken": "broken"},
		wantFiles: map[string]string{"web": broken + web150},
	}, {
		name:      "a policy that now matches the base is a close",
		grouping:  config.ByPolicy,
		manifest:  web150,
		prs:       []pullrequest.PullRequest{proposal(8, "web", "web", webImage, "1.4.2", "1.5.0")},
		want:      map[string]pullrequest.Action{"web": pullrequest.ActionClose},
		wantHeld:  map[string]string{},
		wantFiles: map[string]string{"web": ""},
	}, {
		name:      "a policy matching the base without a pull request is a skip",
		grouping:  config.ByPolicy,
		manifest:  web150,
		want:      map[string]pullrequest.Action{"web": pullrequest.ActionSkip},
		wantHeld:  map[string]string{},
		wantFiles: map[string]string{"web": ""},
	}, {
		name:     "two policies in one group where one failed: the group is held, the other group goes on",
		grouping: config.ByGroup,
		manifest: broken + web142 + other100,
		prs: []pullrequest.PullRequest{
			proposal(9, "apps", "web", webImage, "1.4.2", "1.5.0"),
			proposal(10, "tools", "other", "ghcr.io/acme/unused", "1.0.0", "9.9.9"),
		},
		want:      map[string]pullrequest.Action{"tools": pullrequest.ActionUpdateBranch},
		wantHeld:  map[string]string{"imagebump/apps": "apps"},
		wantFiles: map[string]string{"tools": broken + web142 + "other: ghcr.io/acme/unused:9.9.9 # {\"$imagepolicy\": \"other\"}\n"},
	}, {
		name:      "grouping all with a failed policy holds everything",
		grouping:  config.All,
		manifest:  broken + web142,
		prs:       []pullrequest.PullRequest{proposal(11, "all", "web", webImage, "1.4.2", "1.5.0")},
		want:      map[string]pullrequest.Action{},
		wantHeld:  map[string]string{"imagebump/all": "all"},
		wantFiles: map[string]string{},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := filetree.Write(t, map[string]string{
				".imagebump.yaml": strings.Replace(prPolicies, "GROUPING", string(tc.grouping), 1),
				"deploy.yaml":     tc.manifest,
			})
			ctx := context.Background()
			st, err := (&Resolver{}).Plan(ctx, dedupe(newFake()), root, nil)
			if err != nil {
				t.Fatal(err)
			}
			plan, err := planGroups(ctx, st)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantHeld, plan.Held); diff != "" {
				t.Errorf("held groups (-want +got):\n%s", diff)
			}
			files := map[string]string{}
			for _, g := range plan.Groups {
				files[g.Name] = ""
				for _, f := range g.Files {
					files[g.Name] += string(f.Content)
				}
				if len(g.Files) > 0 && len(plan.Commits[g.Branch]) == 0 {
					t.Errorf("group %s has files but no changes for its commit message", g.Name)
				}
			}
			if diff := cmp.Diff(tc.wantFiles, files); diff != "" {
				t.Errorf("proposed files by group (-want +got):\n%s", diff)
			}
			// Every open pull request's branch carries what it proposes.
			branches := map[string]pullrequest.Branch{}
			for _, pr := range tc.prs {
				branches[pr.Head] = pullrequest.Branch{Exists: true, Head: pr.HeadSHA, Commits: []pullrequest.Commit{{Hash: pr.HeadSHA, ByBot: true}}}
			}
			ds, err := pullrequest.Decide(plan.Groups, tc.prs, branches, settings(config.Repository{Branch: "main"}, st.PolicyFiles.PullRequests))
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]pullrequest.Action{}
			for _, d := range ds {
				got[d.Group] = d.Action
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("actions by group (-want +got):\n%s", diff)
			}
		})
	}
}
