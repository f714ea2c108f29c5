package bot

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/gitwriter"
	"github.com/imagebump/imagebump/gitwriter/github"
	"github.com/imagebump/imagebump/gitwriter/pullrequest"
	"github.com/imagebump/imagebump/test/githubfake"
	"github.com/imagebump/imagebump/test/gitserver"
)

// TestPassUsesOneForgeClient runs a pull request pass with the dashboard
// on against the GitHub fake, its clients on a test clock: the pass opens
// one forge client and hands it to the pull requests and the dashboard,
// so GitHub's second between writes holds from the pull request's last
// write to the dashboard's first. Runner.Forge opens a new client on each
// call, as OpenForge does: a pass that opened two would write the
// dashboard issue at once after the pull request.
func TestPassUsesOneForgeClient(t *testing.T) {
	for _, tc := range []struct {
		name string
		mode config.Mode
		// wantWrites are the forge writes of the pass, in order.
		wantWrites []string
	}{
		{"pull request mode", config.PullRequest, []string{"POST /api/v3/repos/acme/fleet/pulls", "POST /api/v3/repos/acme/fleet/issues/1/labels", "POST /api/v3/repos/acme/fleet/issues"}},
		{"push mode", config.Push, []string{"POST /api/v3/repos/acme/fleet/issues"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := gitserver.Start(t)
			s.NewRepo(t, "fleet", map[string]string{
				".imagebump.yaml": "dashboard:\n  enabled: true\npullRequests:\n  labels: [dependencies]\npolicies:\n  - name: web\n    image: ghcr.io/acme/web\n    semver: ^1\n",
				"web.yaml":        "image: ghcr.io/acme/web:1.4.2 # {\"$imagepolicy\": \"web\"}\n",
			})
			fake := githubfake.New(t, s.Dir("fleet"), "acme", "fleet", "main")
			clock := githubfake.NewClock(time.Unix(1_700_000_000, 0))
			fake.UseClock(clock.Now)
			kind := github.Kind(github.WithClock(clock.Now), github.WithSleep(clock.Sleep))

			token := writeTemp(t, s.Token)
			repo := config.Repository{URL: s.RepoURL("fleet"), Branch: "main", Mode: tc.mode}
			workDir := t.TempDir()
			opened := 0
			r := &Runner{
				Config: &config.Bot{Repositories: []config.Repository{repo}},
				Open: func(config.Repository) (WorkingCopy, error) {
					return gitwriter.New(gitwriter.Options{
						URL: repo.URL, Branch: "main", WorkDir: workDir,
						Auth:   gitwriter.Auth{TokenFile: token},
						Author: gitwriter.Signature{Name: "imagebump", Email: "bot@example.com"},
					})
				},
				Forge: func(config.Repository) (pullrequest.Forge, error) {
					opened++
					return kind.New(fake.URL, "acme/fleet", "tok", nil)
				},
			}
			res := r.pass(context.Background(), dedupe(newFake()), repo)
			if res.Err != nil {
				t.Fatalf("pass: %v", res.Err)
			}
			if res.Dashboard == nil || res.Dashboard.Action != DashboardCreated {
				t.Fatalf("dashboard: %+v, want created", res.Dashboard)
			}
			if opened != 1 {
				t.Errorf("the pass opened %d forge clients, want 1", opened)
			}
			writes := fake.WriteTimes()
			var got []string
			for i, w := range writes {
				got = append(got, w.Method+" "+w.Path)
				if i == 0 {
					continue
				}
				if gap := w.At.Sub(writes[i-1].At); gap < github.WriteGap {
					t.Errorf("%s %s came %s after %s %s, want at least %s", w.Method, w.Path, gap, writes[i-1].Method, writes[i-1].Path, github.WriteGap)
				}
			}
			if diff := cmp.Diff(tc.wantWrites, got); diff != "" {
				t.Errorf("forge writes (-want +got):\n%s", diff)
			}
		})
	}
}
