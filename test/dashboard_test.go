package test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/bot"
	"github.com/imagebump/imagebump/gitwriter/forge"
	"github.com/imagebump/imagebump/gitwriter/gitea"
	"github.com/imagebump/imagebump/gitwriter/github"
	"github.com/imagebump/imagebump/gitwriter/gitlab"
	"github.com/imagebump/imagebump/gitwriter/pullrequest"
	"github.com/imagebump/imagebump/test/forgefake"
	"github.com/imagebump/imagebump/test/githubfake"
)

// The forge clients are the dashboard's Issues.
var (
	_ bot.Issues = (*github.Client)(nil)
	_ bot.Issues = (*gitlab.Client)(nil)
	_ bot.Issues = (*gitea.Client)(nil)
)

// TestDashboardZeroChurn runs the dashboard issue's life on every forge of
// the table (GitHub and GitLab fakes, a real Gitea): opened once, found
// again by its hidden marker among other issues, edited only when its text
// changes, never written when equal, closed when turned off.
func TestDashboardZeroChurn(t *testing.T) {
	for _, f := range prForges {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			repo := forgefake.InitRepo(t, "main", map[string]string{"README.md": "fleet\n"})
			fake, client := f.start(t, repo)
			is, ok := client.(bot.Issues)
			if !ok {
				t.Fatalf("the %s client is not a bot.Issues", f.name)
			}
			ctx := context.Background()
			// A human's issue, opened through the API like any other: the
			// bot must never touch it.
			human, err := is.CreateIssue(ctx, "Flaky deploys", "Seen twice this week.")
			if err != nil {
				t.Fatal(err)
			}
			if gh, ok := fake.(*githubfake.Server); ok {
				// GitHub lists pull requests among issues: one whose body
				// carries the marker is still no dashboard.
				parent := forgefake.Git(t, repo, "rev-parse", "main")
				if _, err := forgefake.CommitFiles(repo, parent, "feature", map[string]string{"x": "y\n"}, "human@example.com", "feature"); err != nil {
					t.Fatal(err)
				}
				gh.HumanOpen("feature", "Quote the dashboard", "It says "+bot.DashboardMarker)
			}
			const title = "imagebump dashboard"
			first, second := dashboardTexts()
			steps := []struct {
				name       string
				enabled    bool
				title      string
				body       string
				wantAction string
				wantWrites int
			}{
				{"opened", true, title, first, bot.DashboardCreated, 1},
				{"equal: nothing written", true, title, first, bot.DashboardUnchanged, 0},
				{"text changed", true, title, second, bot.DashboardUpdated, 1},
				{"equal again: nothing written", true, title, second, bot.DashboardUnchanged, 0},
				{"title changed", true, "Dependency dashboard", second, bot.DashboardUpdated, 1},
				{"turned off: closed", false, "", "", bot.DashboardClosed, 1},
				{"off: nothing written", false, "", "", bot.DashboardNone, 0},
			}
			number := 0
			for _, s := range steps {
				before := len(fake.Writes())
				got, err := bot.SyncDashboard(ctx, is, s.enabled, s.title, s.body, false)
				if err != nil {
					t.Fatalf("%s: %v", s.name, err)
				}
				writes := fake.Writes()[before:]
				if got.Action != s.wantAction || len(writes) != s.wantWrites {
					t.Errorf("%s: action %s with %d writes %v; want %s with %d", s.name, got.Action, len(writes), writes, s.wantAction, s.wantWrites)
				}
				if number == 0 {
					number = got.Number
				} else if got.Number != 0 && got.Number != number {
					t.Errorf("%s: issue #%d, not the dashboard #%d", s.name, got.Number, number)
				}
				open, err := is.OpenIssues(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var dash []forge.Issue
				for _, i := range open {
					if strings.Contains(i.Body, bot.DashboardMarker) {
						dash = append(dash, i)
					}
				}
				if !s.enabled {
					if len(dash) != 0 {
						t.Errorf("%s: dashboard issues still open: %+v", s.name, dash)
					}
				} else if len(dash) != 1 || dash[0].Title != s.title || strings.TrimSpace(dash[0].Body) != strings.TrimSpace(s.body) {
					t.Errorf("%s: open dashboard issues %+v; want one titled %q with the body", s.name, dash, s.title)
				}
				if !slices.ContainsFunc(open, func(i forge.Issue) bool { return i.Number == human.Number && i.Body == human.Body }) {
					t.Errorf("%s: the human's issue #%d is no longer open and unchanged: %+v", s.name, human.Number, open)
				}
			}
		})
	}
}

// dashboardTexts are two dashboard texts as the board writes them: every
// policy up to date, then one policy in each state and skip reason, with
// links, commits, errors and problems, so each forge must give back the
// markdown the bot wrote for the text to count as unchanged.
func dashboardTexts() (first, second string) {
	web := func(state bot.State) bot.PolicyStatus {
		return bot.PolicyStatus{Name: "web", Image: "ghcr.io/acme/web", Selected: "1.5.0", State: state,
			Current: []bot.Value{{File: "apps/web.yaml", Line: 3, Policy: "web", Field: "ref", Value: "ghcr.io/acme/web:1.4.2"}}}
	}
	st := bot.RepositoryStatus{URL: "https://git.example.com/acme/fleet.git", Policies: []bot.PolicyStatus{web(bot.StateUpToDate)}}
	first = bot.DashboardText(st, "imagebump dashboard")

	link := &bot.PullRequestLink{Number: 3, URL: "https://git.example.com/acme/fleet/pull/3"}
	st.Policies = nil
	add := func(name string, state bot.State, skip pullrequest.SkipReason, reason, err string, pr *bot.PullRequestLink, commit string) {
		p := web(state)
		p.Name, p.Skip, p.Reason, p.Error, p.PullRequest, p.Commit = name, skip, reason, err, pr, commit
		st.Policies = append(st.Policies, p)
	}
	add("open", bot.StatePROpen, "", "", "", link, "")
	add("pushed", bot.StatePushed, "", "", "", nil, "0123456789abcdef0123")
	add("pending", bot.StatePending, "", "dry run: would create", "", nil, "")
	add("deferred", bot.StateDeferred, pullrequest.SkipMaxOpen, "maxOpen 1 reached: 1 pull requests of imagebump are open", "", nil, "")
	add("downgrade", bot.StateSkipped, pullrequest.SkipDowngrade, "apps/web.yaml:3: policy downgrade selected 1.5.0, which it orders below 2.0.0 in the file; never downgraded", "", nil, "")
	add("declined", bot.StateSkipped, pullrequest.SkipDeclined, "pull request #2 proposing these versions was closed without merging", "", &bot.PullRequestLink{Number: 2, URL: "https://git.example.com/acme/fleet/pull/2"}, "")
	add("foreign", bot.StateSkipped, pullrequest.SkipForeignCommits, "branch has commits imagebump did not make; they are never overwritten", "", link, "")
	add("foreign-pr", bot.StateSkipped, pullrequest.SkipForeignPullRequest, "open pull request #4 on branch imagebump/web was not opened by imagebump", "", &bot.PullRequestLink{Number: 4}, "")
	add("held", bot.StateSkipped, pullrequest.SkipRegistryFailed, "policy api did not resolve (its registry failed); its pull request #3 is left exactly as it is", "", link, "")
	add("api", bot.StateFailing, pullrequest.SkipRegistryFailed, "policy api did not resolve (its registry failed); its pull request #3 is left exactly as it is", "listing tags of ghcr.io/acme/api: 503 Service Unavailable <html>", link, "")
	st.Problems = []bot.ProblemStatus{{File: "apps/broken.yaml", Line: 2, Message: "marker on a mapping | not applied"}}
	second = bot.DashboardText(st, "imagebump dashboard")
	return first, second
}

// TestDashboardDryRun says what it would do and writes nothing.
func TestDashboardDryRun(t *testing.T) {
	f := prForges[0]
	repo := forgefake.InitRepo(t, "main", map[string]string{"README.md": "fleet\n"})
	fake, client := f.start(t, repo)
	is := client.(bot.Issues)
	ctx := context.Background()
	body := "x\n" + bot.DashboardMarker + "\n"
	var got []string
	for _, enabled := range []bool{true, false} {
		res, err := bot.SyncDashboard(ctx, is, enabled, "t", body, true)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, res.Action)
	}
	if diff := cmp.Diff([]string{bot.DashboardCreated, bot.DashboardNone}, got); diff != "" {
		t.Errorf("dry run actions (-want +got):\n%s", diff)
	}
	if w := fake.Writes(); len(w) != 0 {
		t.Errorf("a dry run wrote: %v", w)
	}
}
