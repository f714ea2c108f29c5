package test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/imagebump/imagebump/bot"
	"github.com/imagebump/imagebump/gitwriter"
	"github.com/imagebump/imagebump/test/forgefake"
	"github.com/imagebump/imagebump/test/giteaserver"
	"github.com/imagebump/imagebump/test/githubfake"
	"github.com/imagebump/imagebump/test/gitlabfake"
	"github.com/imagebump/imagebump/test/gitserver"
	"github.com/imagebump/imagebump/test/registrytest"
)

// These tests build the imagebump binary and run `imagebump run` against a
// real registry (Debian's docker-registry), a real git server (git
// http-backend) and, in pull request mode, the GitHub fake whose branches
// are that server's refs.

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	giteaserver.StopShared()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// binary builds cmd/imagebump once per test process.
func binary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "imagebump-bin-")
		if binErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, "imagebump"), "../cmd/imagebump").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return filepath.Join(binDir, "imagebump")
}

const (
	runToken  = "s3cr3t-t0ken-for-tests"
	runRepo   = "acme/fleet"
	botAuthor = "imagebump@example.com"
)

// runWorld is a registry, a git server with one fleet repository, and the
// files of a bot config pointing at them.
type runWorld struct {
	t       *testing.T
	reg     *registrytest.Registry
	git     *gitserver.Server
	url     string
	dir     string // config, token and workDir live here
	workDir string
	github  *githubfake.Server // pull request mode only
	// forge is the forge line of the config's repositories when github is
	// nil, e.g. `gitlab: {apiURL: "…"}`.
	forge string
	// token is the token in the token file when it is not runToken (a
	// real Gitea makes its own).
	token string
}

func newRunWorld(t *testing.T, regOpts ...registrytest.Option) *runWorld {
	t.Helper()
	w := &runWorld{t: t, dir: t.TempDir()}
	w.reg = registrytest.Start(t, regOpts...)
	w.git = gitserver.Start(t, gitserver.WithToken(runToken))
	w.workDir = filepath.Join(w.dir, "work")
	if err := os.WriteFile(filepath.Join(w.dir, "token"), []byte(runToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return w
}

// deployment is a manifest whose image field is marked for policy web.
func deployment(image string) string {
	return `# The web frontend.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web   # keep in sync with the Service
spec:
  template:
    spec:
      containers:
        - name: web
          image: ` + image + ` # {"$imagepolicy": "web"}
          args: ["--port", "8080"]
`
}

func (w *runWorld) fleet(extra map[string]string) {
	files := map[string]string{
		".imagebump.yaml":          "policies:\n  - name: web\n    image: " + w.reg.Repo("acme/web") + "\n    semver: ^1\n",
		"apps/web/deployment.yaml": deployment(w.reg.Repo("acme/web") + ":1.4.2"),
	}
	for k, v := range extra {
		files[k] = v
	}
	w.url = w.git.NewRepo(w.t, runRepo, files)
}

// config writes a bot config with one repository per url.
func (w *runWorld) config(mode string, extra string, urls ...string) string {
	if len(urls) == 0 {
		urls = []string{w.url}
	}
	var repos strings.Builder
	for _, u := range urls {
		fmt.Fprintf(&repos, "  - url: %s\n    branch: main\n    mode: %s\n    auth: {tokenFile: %s}\n", u, mode, filepath.Join(w.dir, "token"))
		if w.github != nil {
			fmt.Fprintf(&repos, "    github: {apiURL: %q}\n", w.github.URL)
		} else if w.forge != "" {
			fmt.Fprintf(&repos, "    %s\n", w.forge)
		}
	}
	cfg := fmt.Sprintf(`schedule: "@every 1h"
workDir: %s
listen: 127.0.0.1:0
log: {format: json, level: debug}
repositories:
%scommit:
  author: {name: imagebump, email: %s}
  messageTemplate: |
    chore: bump {{len .Changes}} value(s)
    {{range .Changes}}
    * {{.Image}}: {{.Old}} -> {{.New}}{{end}}
%s`, w.workDir, repos.String(), botAuthor, extra)
	p := filepath.Join(w.dir, "imagebump.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		w.t.Fatal(err)
	}
	return p
}

type runOutput struct {
	stdout, stderr string
	code           int
}

// run runs the binary to completion.
func (w *runWorld) run(args ...string) runOutput {
	w.t.Helper()
	cmd := exec.Command(binary(w.t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+w.dir)
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		w.t.Fatal(err)
	}
	return runOutput{stdout.String(), stderr.String(), code}
}

func (w *runWorld) once(cfg string, extra ...string) runOutput {
	w.t.Helper()
	return w.run(append([]string{"run", "--config", cfg, "--once"}, extra...)...)
}

// botCommits are the commits of ref made by the bot.
func (w *runWorld) botCommits(ref string) []gitserver.Commit {
	var out []gitserver.Commit
	for _, c := range w.git.Log(w.t, runRepo, ref) {
		if c.Author.Email == botAuthor {
			out = append(out, c)
		}
	}
	return out
}

func TestRunPushMode(t *testing.T) {
	w := newRunWorld(t)
	w.reg.Seed(t, "acme/web", "1.4.2", "1.5.0", "2.0.0")
	w.fleet(nil)
	cfg := w.config("push", "")
	before := w.git.ReadFile(t, runRepo, "main", "apps/web/deployment.yaml")

	out := w.once(cfg)
	if out.code != 0 {
		t.Fatalf("first pass: exit %d\n%s", out.code, out.stderr)
	}
	got := w.git.ReadFile(t, runRepo, "main", "apps/web/deployment.yaml")
	want := strings.Replace(before, ":1.4.2 #", ":1.5.0 #", 1)
	if got != want {
		t.Errorf("deployment.yaml on main:\n%s\nwant only the tag changed:\n%s", got, want)
	}
	commits := w.botCommits("main")
	if len(commits) != 1 {
		t.Fatalf("%d bot commits on main, want 1", len(commits))
	}
	msg := commits[0].Subject + "\n" + commits[0].Body
	for _, s := range []string{"chore: bump 1 value(s)", w.reg.Repo("acme/web") + ":1.4.2 -> " + w.reg.Repo("acme/web") + ":1.5.0", "Imagebump-Bot: true"} {
		if !strings.Contains(msg, s) {
			t.Errorf("commit message lacks %q:\n%s", s, msg)
		}
	}
	tip := w.git.Ref(t, runRepo, "refs/heads/main")

	// Nothing new: no commit.
	if out := w.once(cfg); out.code != 0 {
		t.Fatalf("second pass: exit %d\n%s", out.code, out.stderr)
	}
	if now := w.git.Ref(t, runRepo, "refs/heads/main"); now != tip {
		t.Errorf("a pass with nothing new moved main from %s to %s", tip, now)
	}

	// Someone pushes between the bot's fetch and its push: the bot
	// re-plans on their tip and both changes are kept, with no force.
	w.reg.Seed(t, "acme/web", "1.6.0")
	var raced sync.Once
	w.git.SetHook(func(r gitserver.Request) {
		if r.Service == "git-receive-pack" && r.Advertise {
			raced.Do(func() {
				w.git.Commit(t, runRepo, "main", "docs: readme", map[string]string{"README.md": "fleet\n"})
			})
		}
	})
	if out := w.once(cfg); out.code != 0 {
		t.Fatalf("racing pass: exit %d\n%s", out.code, out.stderr)
	}
	w.git.SetHook(nil)
	log := w.git.Log(t, runRepo, "main")
	if len(log) < 4 || log[0].Author.Email != botAuthor || log[1].Subject != "docs: readme" || log[2].Hash != tip {
		t.Errorf("main history after the race, newest first: %+v\nwant the bot's commit on the other person's, on %s", log, tip)
	}
	if got := w.git.ReadFile(t, runRepo, "main", "README.md"); got != "fleet\n" {
		t.Errorf("the other person's change was lost: README.md = %q", got)
	}
	if got := w.git.ReadFile(t, runRepo, "main", "apps/web/deployment.yaml"); !strings.Contains(got, ":1.6.0 #") {
		t.Errorf("the bot's change was lost:\n%s", got)
	}
	w.assertNoToken(out)
}

// assertNoToken checks that the token appears in no output and not in the
// working copy's git config.
func (w *runWorld) assertNoToken(outs ...runOutput) {
	w.t.Helper()
	runToken := runToken
	if w.token != "" {
		runToken = w.token
	}
	for _, o := range outs {
		if strings.Contains(o.stdout+o.stderr, runToken) {
			w.t.Errorf("the token appears in the output:\n%s\n%s", o.stdout, o.stderr)
		}
	}
	err := filepath.WalkDir(w.workDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Base(p) != "config" {
			return err
		}
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, []byte(runToken)) {
			w.t.Errorf("the token is written in %s", p)
		}
		return err
	})
	if err != nil {
		w.t.Fatal(err)
	}
}

func TestRunPullRequestMode(t *testing.T) {
	w := newRunWorld(t)
	w.reg.Seed(t, "acme/web", "1.4.2")
	w.reg.SeedImage(t, "acme/web", registrytest.ImageSpec{Labels: map[string]string{"org.opencontainers.image.source": "https://github.com/acme/web"}}, "1.5.0")
	w.fleet(nil)
	w.github = githubfake.New(t, w.git.Dir(runRepo), "acme", "fleet", "main")
	w.github.RequireToken(runToken)
	cfg := w.config("pullRequest", "")
	before := w.git.ReadFile(t, runRepo, "main", "apps/web/deployment.yaml")
	mainTip := w.git.Ref(t, runRepo, "refs/heads/main")

	// A dry run decides but writes nothing.
	dry := w.once(cfg, "--dry-run")
	if dry.code != 0 {
		t.Fatalf("dry run: exit %d\n%s", dry.code, dry.stderr)
	}
	if !strings.Contains(dry.stdout, "create imagebump/web") || !strings.Contains(dry.stdout, "title: Update "+w.reg.Repo("acme/web")+" to 1.5.0") {
		t.Errorf("dry run output lacks the pull request it would open:\n%s", dry.stdout)
	}
	if n := len(w.github.Writes()); n != 0 {
		t.Errorf("dry run made %d API writes: %+v", n, w.github.Writes())
	}
	if len(w.github.PullRequests()) != 0 {
		t.Errorf("dry run opened a pull request")
	}

	first := w.once(cfg)
	if first.code != 0 {
		t.Fatalf("first pass: exit %d\n%s", first.code, first.stderr)
	}
	prs := w.github.PullRequests()
	if len(prs) != 1 || prs[0].State != "open" || prs[0].Head != "imagebump/web" {
		t.Fatalf("pull requests after the first pass: %+v; want one open on imagebump/web", prs)
	}
	if want := "Update " + w.reg.Repo("acme/web") + " to 1.5.0"; prs[0].Title != want {
		t.Errorf("title %q, want %q", prs[0].Title, want)
	}
	if got, want := w.git.ReadFile(t, runRepo, "imagebump/web", "apps/web/deployment.yaml"), strings.Replace(before, ":1.4.2 #", ":1.5.0 #", 1); got != want {
		t.Errorf("branch content:\n%s\nwant only the tag changed:\n%s", got, want)
	}
	if now := w.git.Ref(t, runRepo, "refs/heads/main"); now != mainTip {
		t.Errorf("pull request mode moved main")
	}
	// The new image names its source: the body links the comparison.
	if want := "https://github.com/acme/web/compare/1.4.2...1.5.0"; !strings.Contains(prs[0].Body, want) {
		t.Errorf("body lacks %s:\n%s", want, prs[0].Body)
	}

	// The same pass again: no push, no API write.
	writes := len(w.github.Writes())
	head := w.git.Ref(t, runRepo, "refs/heads/imagebump/web")
	second := w.once(cfg)
	if second.code != 0 {
		t.Fatalf("second pass: exit %d\n%s", second.code, second.stderr)
	}
	if got := w.github.Writes(); len(got) != writes {
		t.Errorf("second identical pass wrote to the API: %+v", got[writes:])
	}
	if now := w.git.Ref(t, runRepo, "refs/heads/imagebump/web"); now != head {
		t.Errorf("second identical pass pushed the branch: %s → %s", head, now)
	}

	// A newer tag updates the same pull request in place.
	w.reg.Seed(t, "acme/web", "1.6.0")
	third := w.once(cfg)
	if third.code != 0 {
		t.Fatalf("third pass: exit %d\n%s", third.code, third.stderr)
	}
	prs = w.github.PullRequests()
	if len(prs) != 1 || prs[0].Number != 1 || !strings.HasSuffix(prs[0].Title, " to 1.6.0") {
		t.Errorf("after a newer tag: %+v; want pull request #1 retitled to 1.6.0", prs)
	}
	if got := w.git.ReadFile(t, runRepo, "imagebump/web", "apps/web/deployment.yaml"); !strings.Contains(got, ":1.6.0 #") {
		t.Errorf("branch not rebuilt for 1.6.0:\n%s", got)
	}
	w.assertNoToken(dry, first, second, third)
	for _, pr := range w.github.PullRequests() {
		for _, s := range append([]string{pr.Title, pr.Body}, pr.Comments...) {
			if strings.Contains(s, runToken) {
				t.Errorf("the token appears in pull request #%d", pr.Number)
			}
		}
	}
}

// runForgeFake is what TestRunPullRequestModeForges needs of a GitLab or
// Gitea fake.
type runForgeFake interface {
	PullRequests() []forgefake.PullRequest
	Writes() []forgefake.Write
	HumanClose(n int)
}

// TestRunPullRequestModeForges runs pull request mode through the binary
// on GitLab (a project in nested groups; git must send the token with user
// oauth2) and on Gitea: the first pass opens one merge or pull request, an
// identical pass writes nothing, a newer tag updates it in place, and once
// a human closed it the same versions are left alone.
func TestRunPullRequestModeForges(t *testing.T) {
	tests := []struct {
		name string
		// start creates the repository holding files, starts the forge and
		// returns it with the config's forge line and the repository's
		// path on w.git.
		start func(t *testing.T, w *runWorld, files map[string]string) (fake runForgeFake, line, repo string)
	}{
		{"gitlab", func(t *testing.T, w *runWorld, files map[string]string) (runForgeFake, string, string) {
			w.git = gitserver.Start(t, gitserver.WithToken(runToken), gitserver.WithUser("oauth2"))
			f := gitlabfake.New(t, w.git.Dir("group/sub/fleet"), "group/sub/fleet", "main")
			f.RequireToken(runToken)
			w.url = w.git.NewRepo(t, "group/sub/fleet", files)
			return f, fmt.Sprintf("gitlab: {apiURL: %q}", f.URL), "group/sub/fleet"
		}},
		// A real Gitea, git and API, shared by the test binary: the bot
		// pushes to the repository of an organization of its own directly
		// and speaks to the API through a proxy that logs the writes.
		{"gitea", func(t *testing.T, w *runWorld, files map[string]string) (runForgeFake, string, string) {
			g := giteaserver.NewRepo(t, forgefake.InitRepo(t, "main", files), "acme", "fleet")
			w.token = g.Server.Token
			if err := os.WriteFile(filepath.Join(w.dir, "token"), []byte(w.token+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			w.url = g.Server.URL + "/" + g.FullName() + ".git"
			// The assertions read the server's repositories from disk,
			// where Gitea keeps them in lower case.
			w.git = &gitserver.Server{Root: g.Server.ReposRoot()}
			return g, fmt.Sprintf("gitea: {apiURL: %q}", g.Proxy.URL), strings.ToLower(g.FullName())
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newRunWorld(t)
			w.reg.Seed(t, "acme/web", "1.4.2", "1.5.0")
			fake, line, repo := tc.start(t, w, map[string]string{
				".imagebump.yaml":          "policies:\n  - name: web\n    image: " + w.reg.Repo("acme/web") + "\n    semver: ^1\n",
				"apps/web/deployment.yaml": deployment(w.reg.Repo("acme/web") + ":1.4.2"),
			})
			w.forge = line
			cfg := w.config("pullRequest", "")
			mainTip := w.git.Ref(t, repo, "refs/heads/main")

			first := w.once(cfg)
			if first.code != 0 {
				t.Fatalf("first pass: exit %d\n%s", first.code, first.stderr)
			}
			prs := fake.PullRequests()
			if len(prs) != 1 || prs[0].State != "open" || prs[0].Head != "imagebump/web" || prs[0].Title != "Update "+w.reg.Repo("acme/web")+" to 1.5.0" {
				t.Fatalf("after the first pass: %+v; want one open on imagebump/web for 1.5.0", prs)
			}
			if got := w.git.ReadFile(t, repo, "imagebump/web", "apps/web/deployment.yaml"); !strings.Contains(got, ":1.5.0 #") {
				t.Errorf("branch content:\n%s\nwant 1.5.0", got)
			}
			if now := w.git.Ref(t, repo, "refs/heads/main"); now != mainTip {
				t.Errorf("pull request mode moved main")
			}

			// The same pass again: no push, no API write.
			writes := len(fake.Writes())
			head := w.git.Ref(t, repo, "refs/heads/imagebump/web")
			second := w.once(cfg)
			if second.code != 0 {
				t.Fatalf("second pass: exit %d\n%s", second.code, second.stderr)
			}
			if got := fake.Writes(); len(got) != writes {
				t.Errorf("second identical pass wrote to the API: %+v", got[writes:])
			}
			if now := w.git.Ref(t, repo, "refs/heads/imagebump/web"); now != head {
				t.Errorf("second identical pass pushed the branch: %s → %s", head, now)
			}

			// A newer tag updates the same one in place.
			w.reg.Seed(t, "acme/web", "1.6.0")
			third := w.once(cfg)
			if third.code != 0 {
				t.Fatalf("third pass: exit %d\n%s", third.code, third.stderr)
			}
			prs = fake.PullRequests()
			if len(prs) != 1 || prs[0].Number != 1 || !strings.HasSuffix(prs[0].Title, " to 1.6.0") {
				t.Errorf("after a newer tag: %+v; want #1 retitled to 1.6.0", prs)
			}
			if got := w.git.ReadFile(t, repo, "imagebump/web", "apps/web/deployment.yaml"); !strings.Contains(got, ":1.6.0 #") {
				t.Errorf("branch not rebuilt for 1.6.0:\n%s", got)
			}

			// Declined by a human: the same versions are left alone.
			fake.HumanClose(1)
			writes = len(fake.Writes())
			head = w.git.Ref(t, repo, "refs/heads/imagebump/web")
			fourth := w.once(cfg)
			if fourth.code != 0 {
				t.Fatalf("fourth pass: exit %d\n%s", fourth.code, fourth.stderr)
			}
			if got := fake.Writes(); len(got) != writes {
				t.Errorf("a pass after a human close wrote to the API: %+v", got[writes:])
			}
			if now := w.git.Ref(t, repo, "refs/heads/imagebump/web"); now != head || len(fake.PullRequests()) != 1 {
				t.Errorf("a pass after a human close pushed or reopened: branch %s → %s, %+v", head, now, fake.PullRequests())
			}
			w.assertNoToken(first, second, third, fourth)
		})
	}
}

// TestRunGitLabRefusesTeamReviewers checks that teamReviewers, which GitLab
// lacks (its forge table entry says so), make the repository's policy
// files invalid (exit 2) with a problem naming the policy file instead of
// being dropped, found before any registry request, and that nothing is
// written.
func TestRunGitLabRefusesTeamReviewers(t *testing.T) {
	var listed atomic.Int32
	w := newRunWorld(t, registrytest.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/tags/list") {
				listed.Add(1)
			}
			next.ServeHTTP(rw, r)
		})
	}))
	w.reg.Seed(t, "acme/web", "1.4.2", "1.5.0")
	w.git = gitserver.Start(t, gitserver.WithToken(runToken), gitserver.WithUser("oauth2"))
	fake := gitlabfake.New(t, w.git.Dir("group/fleet"), "group/fleet", "main")
	fake.RequireToken(runToken)
	w.forge = fmt.Sprintf("gitlab: {apiURL: %q}", fake.URL)
	w.url = w.git.NewRepo(t, "group/fleet", map[string]string{
		".imagebump.yaml":          "policies:\n  - name: web\n    image: " + w.reg.Repo("acme/web") + "\n    semver: ^1\npullRequests:\n  teamReviewers: [platform]\n",
		"apps/web/deployment.yaml": deployment(w.reg.Repo("acme/web") + ":1.4.2"),
	})
	before := listed.Load()
	out := w.once(w.config("pullRequest", ""))
	if n := listed.Load() - before; n != 0 {
		t.Errorf("%d tag listings, want none: the forge's settings are checked before any registry is asked", n)
	}
	if out.code != 2 || !strings.Contains(out.stdout+out.stderr, ".imagebump.yaml: pullRequests.teamReviewers: GitLab has no team reviewers") {
		t.Errorf("exit %d, want 2 with a problem naming the policy file:\n%s\n%s", out.code, out.stdout, out.stderr)
	}
	if got := fake.Writes(); len(got) != 0 {
		t.Errorf("API writes %+v, want none", got)
	}
	if ref := w.git.Ref(t, "group/fleet", "refs/heads/imagebump/web"); ref != "" {
		t.Errorf("branch imagebump/web pushed (%s), want nothing pushed", ref)
	}
}

// TestRunFailuresStayLocal checks that a registry answering 429 once is
// retried, and that one that is down fails only its own policy: the other
// policies and repositories still update, and the exit status is 1.
func TestRunFailuresStayLocal(t *testing.T) {
	var limited sync.Once
	var answered429 atomic.Bool
	w := newRunWorld(t, registrytest.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/tags/list") {
				first := false
				limited.Do(func() { first = true })
				if first {
					answered429.Store(true)
					rw.Header().Set("Retry-After", "1")
					http.Error(rw, "slow down", http.StatusTooManyRequests)
					return
				}
			}
			next.ServeHTTP(rw, r)
		})
	}))
	w.reg.Seed(t, "acme/web", "1.4.2", "1.5.0")
	down := closedPort(t)
	w.fleet(map[string]string{
		"apps/down/.imagebump.yaml": "policies:\n  - name: down\n    image: " + down + "/acme/down\n    semver: ^1\n",
		"apps/down/deployment.yaml": "image: " + down + "/acme/down:1.0.0 # {\"$imagepolicy\": \"down\"}\n",
	})
	other := w.git.NewRepo(t, "acme/other", map[string]string{
		".imagebump.yaml": "policies:\n  - name: web\n    image: " + w.reg.Repo("acme/web") + "\n    semver: ^1\n",
		"web.yaml":        "image: " + w.reg.Repo("acme/web") + ":1.4.2 # {\"$imagepolicy\": \"web\"}\n",
	})
	cfg := w.config("push", "", w.url, other)
	out := w.once(cfg)
	if out.code != 1 {
		t.Fatalf("exit %d, want 1\n%s", out.code, out.stderr)
	}
	if !answered429.Load() {
		t.Error("the registry never answered 429: the retry was not exercised")
	}
	if !strings.Contains(out.stderr, "cannot connect to "+down) {
		t.Errorf("stderr does not say the registry is down:\n%s", out.stderr)
	}
	if got := w.git.ReadFile(t, runRepo, "main", "apps/web/deployment.yaml"); !strings.Contains(got, ":1.5.0 #") {
		t.Errorf("web was not updated in %s:\n%s", runRepo, got)
	}
	if got := w.git.ReadFile(t, "acme/other", "main", "web.yaml"); !strings.Contains(got, ":1.5.0 #") {
		t.Errorf("web was not updated in acme/other:\n%s", got)
	}
	if got := w.git.ReadFile(t, runRepo, "main", "apps/down/deployment.yaml"); !strings.Contains(got, ":1.0.0 #") {
		t.Errorf("the failing policy's field changed:\n%s", got)
	}
}

// TestRunRefusesLargeObject checks limits.maxObjectSize end to end: a
// repository whose tip holds a larger file fails its pass (exit 1) with a
// message naming the limit, and the other repositories are updated.
func TestRunRefusesLargeObject(t *testing.T) {
	w := newRunWorld(t)
	w.reg.Seed(t, "acme/web", "1.4.2", "1.5.0")
	w.fleet(nil)
	big := make([]byte, 2<<20)
	_, _ = rand.NewChaCha8([32]byte{3}).Read(big)
	large := w.git.NewRepo(t, "acme/large", map[string]string{
		".imagebump.yaml": "policies:\n  - name: web\n    image: " + w.reg.Repo("acme/web") + "\n    semver: ^1\n",
		"web.yaml":        "image: " + w.reg.Repo("acme/web") + ":1.4.2 # {\"$imagepolicy\": \"web\"}\n",
		"assets/blob.bin": string(big),
	})
	out := w.once(w.config("push", "limits: {maxObjectSize: 1MiB}\n", w.url, large))
	if out.code != 1 {
		t.Fatalf("exit %d, want 1\n%s", out.code, out.stderr)
	}
	if !strings.Contains(out.stderr, "of 2MiB, more than the 1MiB limits.maxObjectSize allows") {
		t.Errorf("stderr does not say the file is over limits.maxObjectSize:\n%s", out.stderr)
	}
	if got := w.git.ReadFile(t, runRepo, "main", "apps/web/deployment.yaml"); !strings.Contains(got, ":1.5.0 #") {
		t.Errorf("web was not updated in %s:\n%s", runRepo, got)
	}
	if got := w.git.ReadFile(t, "acme/large", "main", "web.yaml"); !strings.Contains(got, ":1.4.2 #") {
		t.Errorf("the refused repository changed:\n%s", got)
	}
}

// TestRunPrunesIdleCopies checks that run removes from workDir the
// working copy of a repository no longer in the config once no pass has
// used it for a week, and that a dry run removes nothing.
func TestRunPrunesIdleCopies(t *testing.T) {
	w := newRunWorld(t)
	w.reg.Seed(t, "acme/web", "1.4.2")
	w.fleet(nil)
	stale := filepath.Join(w.workDir, gitwriter.DirName("https://github.com/acme/removed.git", "main"))
	stamp := filepath.Join(stale, ".git", "imagebump-used")
	if err := os.MkdirAll(filepath.Dir(stamp), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stamp, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	longAgo := time.Now().Add(-bot.IdleCopyAge - time.Hour)
	if err := os.Chtimes(stamp, longAgo, longAgo); err != nil {
		t.Fatal(err)
	}
	cfg := w.config("push", "")
	if out := w.once(cfg, "--dry-run"); out.code != 0 {
		t.Fatalf("dry run: exit %d\n%s", out.code, out.stderr)
	}
	if _, err := os.Stat(stale); err != nil {
		t.Fatalf("a dry run removed the unused copy: %v", err)
	}
	out := w.once(cfg)
	if out.code != 0 {
		t.Fatalf("exit %d\n%s", out.code, out.stderr)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the unused copy is still there: %v", err)
	}
	if !strings.Contains(out.stderr, "removed a working copy no repository of the config has used for a week") {
		t.Errorf("the removal is not logged:\n%s", out.stderr)
	}
	if _, err := os.Stat(filepath.Join(w.workDir, gitwriter.DirName(w.url, "main"), ".git")); err != nil {
		t.Errorf("the configured repository's copy is gone: %v", err)
	}
}

// closedPort returns 127.0.0.1:PORT with nothing listening.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestRunInvalidConfig(t *testing.T) {
	w := newRunWorld(t)
	w.reg.Seed(t, "acme/web", "1.4.2", "1.5.0")
	w.fleet(nil)
	tip := w.git.Ref(t, runRepo, "refs/heads/main")
	valid := w.config("push", "")
	src, err := os.ReadFile(valid)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, old, new, want string
	}{
		{"bad cron spec", `schedule: "@every 1h"`, `schedule: "61 * * * *"`, "imagebump.yaml:1: schedule"},
		{"unknown field", "workDir:", "wrokDir:", `imagebump.yaml:2: unknown field "wrokDir"`},
		{"repository without url", "  - url: " + w.url + "\n", "  - nourl: true\n", "imagebump.yaml:6:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bad := strings.Replace(string(src), tc.old, tc.new, 1)
			p := filepath.Join(t.TempDir(), "imagebump.yaml")
			if err := os.WriteFile(p, []byte(bad), 0o600); err != nil {
				t.Fatal(err)
			}
			out := w.once(p)
			if out.code != 2 || !strings.Contains(out.stderr, tc.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and %q", out.code, out.stderr, tc.want)
			}
			if now := w.git.Ref(t, runRepo, "refs/heads/main"); now != tip {
				t.Errorf("an invalid config pushed to main")
			}
		})
	}
}

// TestRunKilledConverges kills `run --once` at several points of a pass
// and checks that the next pass ends where an uninterrupted one would: one
// bot commit carrying the change, one open pull request, nothing empty.
func TestRunKilledConverges(t *testing.T) {
	for _, mode := range []string{"push", "pullRequest"} {
		for _, delay := range []time.Duration{0, 30 * time.Millisecond, 80 * time.Millisecond, 150 * time.Millisecond, 300 * time.Millisecond, 600 * time.Millisecond} {
			t.Run(fmt.Sprintf("%s/%s", mode, delay), func(t *testing.T) {
				w := newRunWorld(t)
				w.reg.Seed(t, "acme/web", "1.4.2", "1.5.0")
				w.fleet(nil)
				if mode == "pullRequest" {
					w.github = githubfake.New(t, w.git.Dir(runRepo), "acme", "fleet", "main")
				}
				cfg := w.config(mode, "")
				cmd := exec.Command(binary(t), "run", "--config", cfg, "--once")
				cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+w.dir)
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				time.Sleep(delay)
				cmd.Process.Signal(syscall.SIGKILL)
				cmd.Wait()

				if out := w.once(cfg); out.code != 0 {
					t.Fatalf("pass after the kill: exit %d\n%s", out.code, out.stderr)
				}
				ref := "main"
				if mode == "pullRequest" {
					ref = "imagebump/web"
					var open int
					for _, pr := range w.github.PullRequests() {
						if pr.State == "open" {
							open++
						}
					}
					if open != 1 {
						t.Errorf("%d open pull requests, want 1: %+v", open, w.github.PullRequests())
					}
				}
				if got := w.git.ReadFile(t, runRepo, ref, "apps/web/deployment.yaml"); !strings.Contains(got, ":1.5.0 #") {
					t.Errorf("%s does not carry the change:\n%s", ref, got)
				}
				commits := w.botCommits(ref)
				if len(commits) != 1 {
					t.Errorf("%d bot commits on %s, want 1: %+v", len(commits), ref, commits)
				}
				for _, c := range commits {
					if strings.TrimSpace(w.git.Git(t, runRepo, "diff-tree", "--no-commit-id", "--name-only", "-r", c.Hash)) == "" {
						t.Errorf("bot commit %s is empty", c.Hash)
					}
				}
				// The working copy holds nothing the kill left behind.
				if out := w.once(cfg); out.code != 0 {
					t.Fatalf("third pass: exit %d\n%s", out.code, out.stderr)
				}
				if n := len(w.botCommits(ref)); n != 1 {
					t.Errorf("a pass after convergence made another commit: %d", n)
				}
			})
		}
	}
}

func TestRunServesMetricsAndReadiness(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	w := newRunWorld(t, registrytest.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/tags/list") {
				<-release // the first pass waits until the test has seen /readyz fail
			}
			next.ServeHTTP(rw, r)
		})
	}))
	w.reg.Seed(t, "acme/web", "1.4.2", "1.5.0")
	w.fleet(nil)
	addr := closedPort(t)
	cfg := w.config("push", "")
	withListen(t, cfg, addr)

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), "run", "--config", cfg)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+w.dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer once.Do(func() { close(release) })

	get := func(path string) (int, string) { return httpGet(addr, path) }
	waitFor := func(path string, status int) string {
		t.Helper()
		for ctx.Err() == nil {
			if code, body := get(path); code == status {
				return body
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("%s never answered %d\n%s", path, status, stderr.String())
		return ""
	}
	waitFor("/healthz", 200)
	waitFor("/readyz", 503)
	once.Do(func() { close(release) })
	waitFor("/readyz", 200)
	metrics := waitFor("/metrics", 200)
	for _, want := range []string{
		`imagebump_passes_total{repository="` + w.url + `",result="success"} 1`,
		`imagebump_changes_applied_total{repository="` + w.url + `"} 1`,
		`imagebump_registry_requests_total{code="200",host="` + w.reg.Host + `",kind="tags"} 1`,
		`imagebump_last_successful_pass_timestamp_seconds{repository="` + w.url + `"}`,
		`imagebump_pass_duration_seconds_count{repository="` + w.url + `"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(metrics, `imagebump_pass_duration_seconds_sum{repository="`+w.url+`"} 0`+"\n") {
		t.Error("the pass took no time by /metrics: its duration is not recorded")
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("run after SIGTERM: %v\n%s", err, stderr.String())
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", metrics)
	}
}

// TestRunPullRequestSettings checks that the policy files' pullRequests
// settings reach the forge through the binary: a branch prefix of their
// own, grouping all, labels, reviewers and draft.
func TestRunPullRequestSettings(t *testing.T) {
	w := newRunWorld(t)
	w.reg.Seed(t, "acme/web", "1.4.2", "1.5.0")
	w.reg.Seed(t, "acme/api", "2.0.0", "2.1.0")
	w.fleet(map[string]string{
		".imagebump.yaml": "policies:\n" +
			"  - name: web\n    image: " + w.reg.Repo("acme/web") + "\n    semver: ^1\n" +
			"  - name: api\n    image: " + w.reg.Repo("acme/api") + "\n    semver: ^2\n" +
			"pullRequests:\n  grouping: all\n  branchPrefix: deps/\n  labels: [dependencies]\n  reviewers: [alice]\n  draft: true\n",
		"apps/api/deployment.yaml": "image: " + w.reg.Repo("acme/api") + ":2.0.0 # {\"$imagepolicy\": \"api\"}\n",
	})
	w.github = githubfake.New(t, w.git.Dir(runRepo), "acme", "fleet", "main")
	cfg := w.config("pullRequest", "")
	if out := w.once(cfg); out.code != 0 {
		t.Fatalf("exit %d\n%s", out.code, out.stderr)
	}
	prs := w.github.PullRequests()
	if len(prs) != 1 {
		t.Fatalf("%d pull requests, want 1: %+v", len(prs), prs)
	}
	pr := prs[0]
	if pr.Head != "deps/all" || pr.Title != "Update 2 images" || !pr.Draft ||
		strings.Join(pr.Labels, ",") != "dependencies" || strings.Join(pr.Reviewers, ",") != "alice" {
		t.Errorf("pull request %+v; want head deps/all, title \"Update 2 images\", draft, label dependencies, reviewer alice", pr)
	}
	if got := w.git.ReadFile(t, runRepo, "deps/all", "apps/api/deployment.yaml"); !strings.Contains(got, ":2.1.0 #") {
		t.Errorf("deps/all lacks the api change:\n%s", got)
	}
	if got := w.git.Ref(t, runRepo, "refs/heads/imagebump/all"); got != "" {
		t.Errorf("a branch under the default prefix was pushed: %s", got)
	}
}
