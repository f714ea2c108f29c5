package bot

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/gitwriter"
	"github.com/imagebump/imagebump/gitwriter/pullrequest"
	"github.com/imagebump/imagebump/test/filetree"
	"github.com/imagebump/imagebump/test/gitserver"
)

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

// TestBranchStateBehind reads a bot branch through a real working copy on
// git http-backend after the base moved, and decides on it: a branch whose
// base moved in a file the group changes is rebuilt on the tip even when
// its contents are the wanted ones (it would conflict); a base that moved
// elsewhere leaves it alone.
func TestBranchStateBehind(t *testing.T) {
	const (
		old    = "image: ghcr.io/acme/web:1.0.0\n"
		wanted = "image: ghcr.io/acme/web:1.2.0\n"
	)
	tests := []struct {
		name string
		// base is what someone commits on main after the branch was built;
		// nil: nothing.
		base       map[string]string
		wantBehind []string
		want       pullrequest.Action
	}{
		{"the base did not move", nil, nil, pullrequest.ActionSkip},
		{"the base moved elsewhere", map[string]string{"other.yaml": "b: 2\n"}, nil, pullrequest.ActionSkip},
		{"the base changed the same line", map[string]string{"deploy.yaml": "image: ghcr.io/acme/web:1.1.0\n"}, []string{"deploy.yaml"}, pullrequest.ActionUpdateBranch},
		{"the base changed the group's file elsewhere", map[string]string{"deploy.yaml": "replicas: 2\n" + old}, []string{"deploy.yaml"}, pullrequest.ActionUpdateBranch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := gitserver.Start(t)
			s.NewRepo(t, "fleet", map[string]string{"deploy.yaml": old, "other.yaml": "b: 1\n"})
			wc, err := gitwriter.New(gitwriter.Options{
				URL: s.RepoURL("fleet"), Branch: "main", WorkDir: t.TempDir(),
				Auth:   gitwriter.Auth{TokenFile: writeTemp(t, s.Token)},
				Author: gitwriter.Signature{Name: "imagebump", Email: "bot@example.com"},
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if _, err := wc.Sync(ctx); err != nil {
				t.Fatal(err)
			}
			bb := gitwriter.BotBranch{Prefix: "imagebump/", Name: "imagebump/web"}
			cs := gitwriter.ChangeSet{
				Files:   []gitwriter.File{{Path: "deploy.yaml", Content: []byte(wanted)}},
				Changes: []gitwriter.Change{{File: "deploy.yaml", Image: "ghcr.io/acme/web", Policy: "web", Field: "ref", Old: "1.0.0", New: "1.2.0"}},
			}
			if _, err := wc.Publish(ctx, bb, cs, ""); err != nil {
				t.Fatal(err)
			}
			if tc.base != nil {
				s.Commit(t, "fleet", "main", "by hand", tc.base)
			}
			if _, err := wc.Sync(ctx); err != nil {
				t.Fatal(err)
			}
			// The group as planGroups would form it on the new base.
			file, err := os.ReadFile(filepath.Join(wc.Dir(), "deploy.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			content := strings.Replace(string(file), "1.0.0", "1.2.0", 1)
			content = strings.Replace(content, "1.1.0", "1.2.0", 1)
			g := pullrequest.Group{
				Name: "web", Branch: bb.Name,
				Changes: []pullrequest.Change{{Policy: "web", Image: "ghcr.io/acme/web", From: "1.0.0", To: "1.2.0", Files: []string{"deploy.yaml"}}},
				Files:   []pullrequest.File{{Path: "deploy.yaml", Content: []byte(content)}},
			}
			br, err := branchState(ctx, wc, bb.Name, []string{"deploy.yaml"})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantBehind, br.Behind); diff != "" {
				t.Errorf("Behind (-want +got):\n%s", diff)
			}
			pr := pullrequest.PullRequest{Number: 3, State: pullrequest.StateOpen, Head: bb.Name, HeadSHA: br.Head, Title: pullrequest.Title(g), Body: pullrequest.Body(g, 0)}
			ds, err := pullrequest.Decide([]pullrequest.Group{g}, []pullrequest.PullRequest{pr}, map[string]pullrequest.Branch{bb.Name: br}, pullrequest.Settings{Base: "main"})
			if err != nil {
				t.Fatal(err)
			}
			if ds[0].Action != tc.want || ds[0].Push != (tc.want == pullrequest.ActionUpdateBranch) {
				t.Fatalf("decision %s (push %v, %s), want %s", ds[0].Action, ds[0].Push, ds[0].Reason, tc.want)
			}
			if !ds[0].Push {
				return
			}
			// Rebuilt on the tip with the lease, the branch is current.
			if _, err := wc.Publish(ctx, bb, gitwriter.ChangeSet{Files: []gitwriter.File{{Path: "deploy.yaml", Content: []byte(content)}}, Changes: cs.Changes}, ds[0].Lease); err != nil {
				t.Fatal(err)
			}
			br, err = branchState(ctx, wc, bb.Name, []string{"deploy.yaml"})
			if err != nil {
				t.Fatal(err)
			}
			if len(br.Behind) != 0 {
				t.Errorf("after the rebuild Behind = %v, want none", br.Behind)
			}
			if got := s.Git(t, "fleet", "merge-base", "main", bb.Name); got != s.Ref(t, "fleet", "refs/heads/main") {
				t.Errorf("merge-base of the rebuilt branch = %s, want the tip of main", got)
			}
		})
	}
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
