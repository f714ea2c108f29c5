package bot

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/gitwriter/pullrequest"
)

// TestMemo: what a Memo remembers of a pass, and what makes the next pass
// of the repository plan again. Each row changes one thing after a
// remembered pass.
func TestMemo(t *testing.T) {
	const head = "1111111111111111111111111111111111111111"
	policies := "policies:\n  - name: web\n    image: ghcr.io/acme/web\n    semver: ^1\n  - name: pinned\n    image: ghcr.io/acme/web\n    semver: ^1\n    pinDigest: true\n"
	manifest := "a: ghcr.io/acme/web:1.5.0 # {\"$imagepolicy\": \"web\"}\nb: ghcr.io/acme/web:1.5.0@" + dWeb150 + " # {\"$imagepolicy\": \"pinned\"}\n"
	repo := config.Repository{URL: "https://git.example/acme/fleet.git", Branch: "main", Mode: config.PullRequest}
	tests := []struct {
		name string
		// result changes the remembered pass's result; change the world
		// after it was remembered.
		result func(*Result)
		change func(root string, reg *fakeRegistry, m *Memo, now *time.Time) (head string)
		want   bool
	}{
		{name: "nothing changed", want: true},
		{name: "the tip moved", change: func(string, *fakeRegistry, *Memo, *time.Time) string {
			return "2222222222222222222222222222222222222222"
		}},
		{name: "a policy file changed under the same tip", change: func(root string, _ *fakeRegistry, _ *Memo, _ *time.Time) string {
			if err := os.WriteFile(filepath.Join(root, ".imagebump.yaml"), []byte(policies+"# edited\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			return head
		}},
		{name: "a new tag", change: func(_ string, reg *fakeRegistry, _ *Memo, _ *time.Time) string {
			reg.tags["ghcr.io/acme/web"] = append(reg.tags["ghcr.io/acme/web"], "1.6.0")
			reg.digests["ghcr.io/acme/web:1.6.0"] = dLatest
			return head
		}},
		{name: "a new digest of the selected tag", change: func(_ string, reg *fakeRegistry, _ *Memo, _ *time.Time) string {
			reg.digests["ghcr.io/acme/web:1.5.0"] = dLatest
			return head
		}},
		{name: "the registry fails", change: func(_ string, reg *fakeRegistry, _ *Memo, _ *time.Time) string {
			reg.fail["ghcr.io/acme/web"] = errors.New("503")
			return head
		}},
		{name: "a git event forgets (web page URL)", change: func(_ string, _ *fakeRegistry, m *Memo, _ *time.Time) string {
			m.Forget("https://GIT.example/acme/fleet")
			return head
		}},
		{name: "a git event for another repository", want: true, change: func(_ string, _ *fakeRegistry, m *Memo, _ *time.Time) string {
			m.Forget("https://git.example/acme/other.git")
			return head
		}},
		{name: "pull request mode: older than Refresh", change: func(_ string, _ *fakeRegistry, _ *Memo, now *time.Time) string {
			*now = now.Add(time.Hour)
			return head
		}},
		{name: "failed pass not remembered", result: func(r *Result) { r.Err = errors.New("push failed") }},
		{name: "a group deferred by maxOpen is not settled", result: func(r *Result) {
			r.PullRequests = []pullrequest.Result{{Decision: pullrequest.Decision{Action: pullrequest.ActionDefer, Skip: pullrequest.SkipMaxOpen}}}
		}},
		{name: "a group held by foreign commits is not settled", result: func(r *Result) {
			r.PullRequests = []pullrequest.Result{{Decision: pullrequest.Decision{Action: pullrequest.ActionSkip, Skip: pullrequest.SkipForeignCommits}}}
		}},
		{name: "a pull request just opened is not settled", result: func(r *Result) {
			r.PullRequests = []pullrequest.Result{{Decision: pullrequest.Decision{Action: pullrequest.ActionCreate}}}
		}},
		{name: "a declined group is settled", want: true, result: func(r *Result) {
			r.PullRequests = []pullrequest.Result{{Decision: pullrequest.Decision{Action: pullrequest.ActionSkip, Skip: pullrequest.SkipDeclined}}}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for name, body := range map[string]string{".imagebump.yaml": policies, "apps/a.yaml": manifest} {
				p := filepath.Join(root, filepath.FromSlash(name))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			reg := newFake()
			var rv Resolver
			o, err := rv.Plan(context.Background(), reg, root, nil)
			if err != nil {
				t.Fatal(err)
			}
			res := Result{Policies: o.Policies, Plan: o.Patch}
			if res.Failed() || len(o.Patch.Changes) != 0 {
				t.Fatalf("the remembered pass: failed %v, changes %+v", res.Failed(), o.Patch.Changes)
			}
			if tc.result != nil {
				tc.result(&res)
			}
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			m := &Memo{Now: func() time.Time { return now }}
			m.remember(repo, root, head, o, &res)
			at := head
			if tc.change != nil {
				at = tc.change(root, reg, m, &now)
			}
			var got Result
			if ok := m.unchanged(context.Background(), &rv, reg, repo, root, at, &got); ok != tc.want || got.Unchanged != tc.want {
				t.Errorf("unchanged %v (Result.Unchanged %v), want %v", ok, got.Unchanged, tc.want)
			}
			if tc.want && (got.Plan == nil || len(got.Policies) != 2) {
				t.Errorf("an unchanged pass reports plan %v and %d policies, want the remembered plan and 2", got.Plan, len(got.Policies))
			}
		})
	}
}
