package test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/bot"
	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/gitwriter/forges"
	"github.com/imagebump/imagebump/gitwriter/pullrequest"
	"github.com/imagebump/imagebump/registry"
	"github.com/imagebump/imagebump/test/githubfake"
)

// memoRunner is the runner of a daemon over cfg, in this process, with a
// memory of passes (nil: none, as run --once).
func memoRunner(t *testing.T, w *runWorld, cfg string, memo *bot.Memo) *bot.Runner {
	t.Helper()
	t.Setenv("DOCKER_CONFIG", w.dir)
	b, err := config.LoadBot(cfg, forges.All())
	if err != nil {
		t.Fatalf("loading %s: %v", cfg, err)
	}
	client, err := registry.New(bot.RegistryOptions(b.Registries)...)
	if err != nil {
		t.Fatal(err)
	}
	return &bot.Runner{Config: b, Registry: client, Memo: memo, ForgeOptions: []pullrequest.Option{pullrequest.WithSleep(func(context.Context, time.Duration) error { return nil })}}
}

// tick runs one pass of r's one repository and fails the test if it failed.
func tick(t *testing.T, r *bot.Runner) bot.Result {
	t.Helper()
	res := r.Once(t.Context())[0]
	if res.Failed() {
		t.Fatalf("pass failed: err %v, policies %+v, plan problems %+v, pull requests %+v", res.Err, res.Policies, planProblems(res), res.PullRequests)
	}
	return res
}

func planProblems(res bot.Result) any {
	if res.Plan == nil {
		return nil
	}
	return res.Plan.Problems
}

// TestIncrementalTickPush is issue 20 item 2 in push mode on git
// http-backend and docker-registry: a daemon's pass that finds the remote
// tip, the policy files and every selected tag and digest as its last
// successful pass left them does not plan (Result.Unchanged); a new tag, a
// new digest of the same tag, a moved base and a changed policy file each
// make it plan again; a runner without memory (run --once) always plans.
func TestIncrementalTickPush(t *testing.T) {
	w := newRunWorld(t)
	w.reg.Seed(t, "acme/web", "1.4.2")
	w.reg.Seed(t, "acme/api", "2.0.0")
	api := w.reg.Repo("acme/api")
	policies := "policies:\n  - name: web\n    image: " + w.reg.Repo("acme/web") + "\n    semver: ^1\n  - name: api\n    image: " + api + "\n    semver: ^2\n    pinDigest: true\n"
	w.fleet(map[string]string{
		".imagebump.yaml":   policies,
		"apps/api/api.yaml": "image: " + api + ":2.0.0 # {\"$imagepolicy\": \"api\"}\n",
	})
	cfg := w.config("push", "")
	memo := &bot.Memo{}
	r := memoRunner(t, w, cfg, memo)
	once := memoRunner(t, w, cfg, nil)

	type step struct {
		name string
		// before changes the world before the pass.
		before func()
		// unchanged is whether the pass may skip planning; pushed whether
		// it pushes a commit.
		unchanged, pushed bool
	}
	steps := []step{
		{name: "first pass: no memory, pins the digest", pushed: true},
		{name: "the tip moved by the bot's own push"},
		{name: "nothing changed", unchanged: true},
		{name: "nothing changed again", unchanged: true},
		{name: "a new tag", before: func() { w.reg.Seed(t, "acme/web", "1.5.0") }, pushed: true},
		{name: "after the push", unchanged: false},
		{name: "quiet", unchanged: true},
		{name: "a new digest of the same tag", before: func() { w.reg.Seed(t, "acme/api", "2.0.0") }, pushed: true},
		{name: "after the digest push"},
		{name: "quiet after the digest", unchanged: true},
		{name: "the base moved elsewhere", before: func() {
			w.git.Commit(t, runRepo, "main", "docs", map[string]string{"README.md": "hello\n"})
		}},
		{name: "quiet after the base moved", unchanged: true},
		{name: "a policy file changed", before: func() {
			w.git.Commit(t, runRepo, "main", "policy", map[string]string{".imagebump.yaml": policies + "# reviewed\n"})
		}},
		{name: "quiet after the policy change", unchanged: true},
	}
	for _, s := range steps {
		if s.before != nil {
			s.before()
		}
		tip := w.git.Ref(t, runRepo, "refs/heads/main")
		res := tick(t, r)
		got := [2]bool{res.Unchanged, res.Pushed != nil && res.Pushed.Commit != ""}
		if diff := cmp.Diff([2]bool{s.unchanged, s.pushed}, got); diff != "" {
			t.Errorf("%s: [unchanged, pushed] (-want +got):\n%s", s.name, diff)
		}
		if res.Unchanged {
			if res.Plan == nil || len(res.Policies) != 2 {
				t.Errorf("%s: an unchanged pass reports plan %v and %d policies; want the last plan and both policies", s.name, res.Plan, len(res.Policies))
			}
			if now := w.git.Ref(t, runRepo, "refs/heads/main"); now != tip {
				t.Errorf("%s: an unchanged pass moved main", s.name)
			}
		}
		// A process without memory plans every time.
		if s.unchanged {
			if res := tick(t, once); res.Unchanged {
				t.Errorf("%s: a runner without a Memo skipped planning", s.name)
			}
		}
	}
	if got := w.git.ReadFile(t, runRepo, "main", "apps/web/deployment.yaml"); !strings.Contains(got, ":1.5.0 #") {
		t.Errorf("web not bumped to 1.5.0:\n%s", got)
	}
}

// TestIncrementalTickPullRequests is the incremental tick's rule in pull
// request mode (GitHub fake over the real git server): a pass is
// remembered only when every group's pull request already carries its
// change (or was declined); a group deferred by maxOpen keeps every pass
// planning, so that the slot a human frees is used at once; a git event
// for the repository (Memo.Forget) and a memory older than Refresh make
// the next pass plan and observe the forge.
func TestIncrementalTickPullRequests(t *testing.T) {
	w := newRunWorld(t)
	w.reg.Seed(t, "acme/web", "1.4.2", "1.5.0")
	w.reg.Seed(t, "acme/api", "2.0.0", "2.1.0")
	api := w.reg.Repo("acme/api")
	w.fleet(map[string]string{
		".imagebump.yaml":   "policies:\n  - name: web\n    image: " + w.reg.Repo("acme/web") + "\n    semver: ^1\n  - name: api\n    image: " + api + "\n    semver: ^2\npullRequests:\n  maxOpen: 1\n",
		"apps/api/api.yaml": "image: " + api + ":2.0.0 # {\"$imagepolicy\": \"api\"}\n",
	})
	w.github = githubfake.New(t, w.git.Dir(runRepo), "acme", "fleet", "main")
	w.github.RequireToken(runToken)
	cfg := w.config("pullRequest", "")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	memo := &bot.Memo{Refresh: time.Hour, Now: func() time.Time { return now }}
	r := memoRunner(t, w, cfg, memo)

	openPRs := func() []string {
		var out []string
		for _, pr := range w.github.PullRequests() {
			if pr.State == "open" {
				out = append(out, pr.Head)
			}
		}
		return out
	}
	type step struct {
		name      string
		before    func()
		unchanged bool
		open      []string
	}
	steps := []step{
		{name: "first pass opens one, defers the other", open: []string{"imagebump/api"}},
		{name: "a deferred group keeps the pass planning", open: []string{"imagebump/api"}},
		{name: "still deferred", open: []string{"imagebump/api"}},
		{name: "a human closes the open pull request: the deferred group opens", before: func() {
			w.github.HumanClose(w.github.PullRequests()[0].Number)
		}, open: []string{"imagebump/web"}},
		{name: "settled: remembered", open: []string{"imagebump/web"}},
		{name: "settled: not planned", unchanged: true, open: []string{"imagebump/web"}},
		{name: "a git event forgets", before: func() { memo.Forget(w.url) }, open: []string{"imagebump/web"}},
		{name: "not planned after the event's pass", unchanged: true, open: []string{"imagebump/web"}},
		{name: "the memory is older than Refresh", before: func() { now = now.Add(time.Hour) }, open: []string{"imagebump/web"}},
		{name: "fresh memory again", unchanged: true, open: []string{"imagebump/web"}},
		{name: "a new tag", before: func() { w.reg.Seed(t, "acme/web", "1.6.0") }, open: []string{"imagebump/web"}},
	}
	for _, s := range steps {
		if s.before != nil {
			s.before()
		}
		writes := len(w.github.Writes())
		res := tick(t, r)
		if res.Unchanged != s.unchanged {
			t.Errorf("%s: unchanged %v, want %v (pull requests %+v)", s.name, res.Unchanged, s.unchanged, res.PullRequests)
		}
		if diff := cmp.Diff(s.open, openPRs()); diff != "" {
			t.Errorf("%s: open pull requests (-want +got):\n%s", s.name, diff)
		}
		if res.Unchanged {
			if got := w.github.Writes(); len(got) != writes {
				t.Errorf("%s: an unchanged pass wrote to the API: %+v", s.name, got[writes:])
			}
			if len(res.Skips) == 0 {
				t.Errorf("%s: an unchanged pass lost the skips of the last one (the declined api group)", s.name)
			}
		}
	}
	if got := w.git.ReadFile(t, runRepo, "imagebump/web", "apps/web/deployment.yaml"); !strings.Contains(got, ":1.6.0 #") {
		t.Errorf("the web pull request was not moved to 1.6.0:\n%s", got)
	}
}
