package test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/bot"
	"github.com/imagebump/imagebump/gitwriter"
	"github.com/imagebump/imagebump/gitwriter/gitea"
	"github.com/imagebump/imagebump/gitwriter/github"
	"github.com/imagebump/imagebump/gitwriter/gitlab"
	"github.com/imagebump/imagebump/gitwriter/pullrequest"
	"github.com/imagebump/imagebump/test/forgefake"
	"github.com/imagebump/imagebump/test/giteaserver"
	"github.com/imagebump/imagebump/test/githubfake"
	"github.com/imagebump/imagebump/test/gitlabfake"
)

// These tests drive the pull-request lifecycle as the bot will: Observe,
// Decide and Execute, with the go-github Forge against the GitHub fake and
// branches written into the fake's real git repository.

const botEmail = "imagebump@example.com"

// prImages are the policies of the test repository: the image each one
// moves and the file that holds it.
var prImages = map[string]struct{ image, file string }{
	"api": {"ghcr.io/acme/api", "apps/api/deployment.yaml"},
	"db":  {"ghcr.io/acme/db", "infra/db.yaml"},
	"web": {"ghcr.io/acme/web", "apps/web/deployment.yaml"},
}

// prFake is what the scenarios need of a forge fake, whichever forge it
// fakes.
type prFake interface {
	PullRequests() []forgefake.PullRequest
	PullRequest(n int) forgefake.PullRequest
	Writes() []forgefake.Write
	HumanClose(n int)
	Merge(n int)
	FailOnce(method, path string, status int)
}

// prRemote is a forge whose repository lives on a real server: the
// scenarios read its repository directory and push their commits to it.
type prRemote interface {
	Dir() string
	Commit(as, parent, branch string, files map[string]string, email, message, lease string) (string, error)
	DeleteBranch(branch, lease string) error
	DeleteBranchAs(user, branch, lease string) error
}

// prForge is one forge the scenarios run on: its fake, its Forge client,
// and what differs between forges.
type prForge struct {
	name string
	// start starts the fake on the bare repository and returns a client
	// for it.
	start func(t *testing.T, repo string) (prFake, pullrequest.Forge)
	// rateLimit makes the fake refuse the next n requests for retryAfter
	// seconds.
	rateLimit func(f prFake, n, retryAfter int)
	// closeReq is the request that closes pull request n.
	closeReq func(f prFake, n int) (method, path string)
	// draftPrefix is what the forge's title carries for a draft.
	draftPrefix string
}

// prForges are the forges every lifecycle scenario runs on.
var prForges = []prForge{
	{
		name: "github",
		start: func(t *testing.T, repo string) (prFake, pullrequest.Forge) {
			fake := githubfake.New(t, repo, "acme", "fleet", "main")
			fake.RequireToken("tok")
			// The client spaces its writes on a clock of the test's own,
			// which the fake times them by: no real second is spent, and
			// every scenario checks the spacing.
			clock := githubfake.NewClock(time.Now())
			fake.UseClock(clock.Now)
			kind := github.Kind(github.WithClock(clock.Now), github.WithSleep(clock.Sleep))
			if kind.Name != forgeKind(t, "github").Name {
				t.Fatalf("github.Kind is %q, not the table's entry", kind.Name)
			}
			forge, err := kind.New(fake.URL, "acme/fleet", "tok", nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				writes := fake.WriteTimes()
				for i := 1; i < len(writes); i++ {
					if gap := writes[i].At.Sub(writes[i-1].At); gap < github.WriteGap {
						t.Errorf("%s %s came %s after the previous write, want at least %s", writes[i].Method, writes[i].Path, gap, github.WriteGap)
					}
				}
			})
			return fake, forge
		},
		rateLimit: func(f prFake, n, retryAfter int) { f.(*githubfake.Server).SecondaryRateLimit(n, retryAfter) },
		closeReq: func(_ prFake, n int) (string, string) {
			return http.MethodPatch, fmt.Sprintf("/api/v3/repos/acme/fleet/pulls/%d", n)
		},
	},
	{
		name: "gitlab",
		start: func(t *testing.T, repo string) (prFake, pullrequest.Forge) {
			fake := gitlabfake.New(t, repo, "acme/platform/fleet", "main")
			fake.RequireToken("tok")
			forge, err := forgeKind(t, "gitlab").New(fake.URL, "acme/platform/fleet", "tok", nil)
			if err != nil {
				t.Fatal(err)
			}
			return fake, forge
		},
		rateLimit:   func(f prFake, n, retryAfter int) { f.(*gitlabfake.Server).RateLimit(n, retryAfter) },
		closeReq:    func(f prFake, n int) (string, string) { return http.MethodPut, f.(*gitlabfake.Server).ClosePath(n) },
		draftPrefix: gitlab.DraftPrefix,
	},
	{
		// A real Gitea, shared by the test binary: each scenario has an
		// organization and a proxy of its own, and reads and pushes the
		// server's own repository.
		name: "gitea",
		start: func(t *testing.T, repo string) (prFake, pullrequest.Forge) {
			g := giteaserver.NewRepo(t, repo, "acme", "fleet")
			forge, err := gitea.New(g.Proxy.URL, g.Org(), g.Name(), g.Server.Token)
			if err != nil {
				t.Fatal(err)
			}
			return g, forge
		},
		rateLimit:   func(f prFake, n, retryAfter int) { f.(*giteaserver.Repo).Proxy.RateLimit(n, retryAfter) },
		closeReq:    func(f prFake, n int) (string, string) { return http.MethodPatch, f.(*giteaserver.Repo).ClosePath(n) },
		draftPrefix: gitea.DraftPrefix,
	},
}

// eachForge runs scenario once per forge, each on a fresh repository and
// fake.
func eachForge(t *testing.T, scenario func(t *testing.T, w *prWorld)) {
	t.Helper()
	t.Parallel()
	for _, f := range prForges {
		t.Run(f.name, func(t *testing.T) {
			scenario(t, newPRWorld(t, f))
		})
	}
}

type prWorld struct {
	t        *testing.T
	repo     string
	f        prForge
	fake     prFake
	forge    pullrequest.Forge
	settings pullrequest.Settings
	opts     []pullrequest.Option
	all      bool   // grouping: all
	prefix   string // the branch prefix; "" means imagebump/
}

func newPRWorld(t *testing.T, f prForge) *prWorld {
	t.Helper()
	// Each test has its own repository and fake; most of their time is
	// spent waiting for git processes.
	t.Parallel()
	repo := forgefake.InitRepo(t, "main", map[string]string{
		"apps/api/deployment.yaml": "kind: Deployment\nimage: ghcr.io/acme/api:2.0.0 # {\"$imagepolicy\": \"api\"}\n",
		"apps/web/deployment.yaml": "kind: Deployment\nreplicas: 2\nimage: ghcr.io/acme/web:1.4.2 # {\"$imagepolicy\": \"web\"}\n",
		"infra/db.yaml":            "image: ghcr.io/acme/db:16.2 # {\"$imagepolicy\": \"db\"}\n",
	})
	fake, forge := f.start(t, repo)
	if r, ok := fake.(prRemote); ok {
		repo = r.Dir()
	}
	return &prWorld{
		t: t, repo: repo, f: f, fake: fake, forge: forge,
		settings: pullrequest.Settings{Base: "main", Labels: []string{"dependencies"}},
		opts:     []pullrequest.Option{pullrequest.WithSleep(noSleep(t))},
	}
}

// noSleep fails the test if a wait is asked for.
func noSleep(t *testing.T) func(context.Context, time.Duration) error {
	return func(_ context.Context, d time.Duration) error {
		t.Errorf("unexpected rate-limit wait of %s", d)
		return nil
	}
}

// raw runs git in the test repository and returns its untrimmed output.
func (w *prWorld) raw(args ...string) (string, error) {
	out, err := exec.Command("git", append([]string{"-C", w.repo}, args...)...).Output()
	return string(out), err
}

func (w *prWorld) show(rev, path string) string {
	w.t.Helper()
	out, err := w.raw("show", rev+":"+path)
	if err != nil {
		w.t.Fatalf("git show %s:%s: %v", rev, path, err)
	}
	return out
}

func (w *prWorld) head(branch string) string {
	out, err := w.raw("rev-parse", "--verify", "--quiet", "refs/heads/"+branch)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(out)
}

var tagRe = regexp.MustCompile(`(image: [^:\s]+:)(\S+)`)

func (w *prWorld) branchPrefix() string {
	if w.prefix == "" {
		return "imagebump/"
	}
	return w.prefix
}

// groups is the plan for versions (policy → wanted tag) on the current
// base, grouped by policy or all in one.
func (w *prWorld) groups(versions map[string]string) []pullrequest.Group {
	w.t.Helper()
	var policies []string
	for p := range versions {
		policies = append(policies, p)
	}
	slices.Sort(policies)
	var out []pullrequest.Group
	for _, p := range policies {
		img := prImages[p]
		base := w.show("main", img.file)
		from := tagRe.FindStringSubmatch(base)[2]
		name := p
		if w.all {
			name = "all"
		}
		if len(out) == 0 || out[len(out)-1].Name != name {
			out = append(out, pullrequest.Group{Name: name, Branch: w.branchPrefix() + name})
		}
		g := &out[len(out)-1]
		if from == versions[p] {
			continue
		}
		g.Changes = append(g.Changes, pullrequest.Change{
			Policy: p, Image: img.image, From: from, To: versions[p], Files: []string{img.file},
			Digest: "sha256:" + strings.Repeat("0", 64), Source: "https://github.com/acme/" + p,
		})
		g.Files = append(g.Files, pullrequest.File{Path: img.file, Content: []byte(tagRe.ReplaceAllString(base, "${1}"+versions[p]))})
	}
	return out
}

// Branches, Branch and ReadFile make prWorld the bot's branch reader on
// the forge's repository, so the scenarios read branch states and find
// obsolete groups through the bot's own code (bot.WithObsolete, bot.BranchStates) from the
// raw git facts a working copy would report. A commit is the bot's when
// its author has the bot's email.
func (w *prWorld) Branches(_ context.Context, prefix string) (map[string]string, error) {
	out := map[string]string{}
	refs, err := w.raw("for-each-ref", "--format=%(refname:lstrip=2) %(objectname)", "refs/heads/"+prefix)
	for _, line := range strings.Split(strings.TrimSpace(refs), "\n") {
		if name, head, ok := strings.Cut(line, " "); ok {
			out[name] = head
		}
	}
	return out, err
}

func (w *prWorld) Branch(_ context.Context, name string) (gitwriter.BranchState, error) {
	st := gitwriter.BranchState{Name: name, Base: w.head("main"), Head: w.head(name)}
	if st.Head == "" {
		return st, nil
	}
	st.Exists = true
	st.MergeBase = strings.TrimSpace(forgefake.Git(w.t, w.repo, "merge-base", "main", st.Head))
	log := forgefake.Git(w.t, w.repo, "log", "--reverse", "--format=%H %ae", "main.."+st.Head)
	for _, line := range strings.Split(log, "\n") {
		if hash, email, ok := strings.Cut(line, " "); ok {
			st.Commits = append(st.Commits, gitwriter.BranchCommit{Hash: hash, ByBot: email == botEmail})
		}
	}
	st.Files = strings.Fields(forgefake.Git(w.t, w.repo, "diff", "--name-only", st.MergeBase, st.Head))
	return st, nil
}

func (w *prWorld) ReadFile(commit, path string) ([]byte, error) {
	if _, err := w.raw("cat-file", "-e", commit+":"+path); err != nil {
		if _, err := w.raw("cat-file", "-e", commit+"^{commit}"); err != nil {
			return nil, fmt.Errorf("reading commit %s: %w", commit, err)
		}
		return nil, fmt.Errorf("%s at %s: %w", path, commit, os.ErrNotExist)
	}
	out, err := w.raw("show", commit+":"+path)
	return []byte(out), err
}

// Publish and Delete make prWorld the git side, with the leases real pushes
// would have.
func (w *prWorld) Publish(_ context.Context, p pullrequest.Push) (string, error) {
	if got := w.head(p.Branch); got != p.Lease {
		return "", fmt.Errorf("stale lease on %s: at %q, expected %q", p.Branch, got, p.Lease)
	}
	files := map[string]string{}
	for _, f := range p.Files {
		files[f.Path] = string(f.Content)
	}
	if r, ok := w.fake.(prRemote); ok {
		return r.Commit(giteaserver.AdminUser, w.head("main"), p.Branch, files, botEmail, p.Message, p.Lease)
	}
	return forgefake.CommitFiles(w.repo, w.head("main"), p.Branch, files, botEmail, p.Message)
}

func (w *prWorld) Delete(_ context.Context, branch, lease string) error {
	if got := w.head(branch); got != lease {
		return fmt.Errorf("stale lease on %s: at %q, expected %q", branch, got, lease)
	}
	if r, ok := w.fake.(prRemote); ok {
		return r.DeleteBranch(branch, lease)
	}
	_, err := w.raw("update-ref", "-d", "refs/heads/"+branch, lease)
	return err
}

// decide observes and decides a pass for versions.
func (w *prWorld) decide(versions map[string]string) []pullrequest.Decision {
	w.t.Helper()
	ctx := context.Background()
	groups, err := bot.WithObsolete(ctx, w, w.branchPrefix(), w.groups(versions), nil)
	if err != nil {
		w.t.Fatal(err)
	}
	lister, ok := w.forge.(pullrequest.OpenLister)
	if !ok {
		w.t.Fatalf("the %s client cannot list open pull requests", w.f.name)
	}
	own, err := pullrequest.Own(ctx, lister, w.opts...)
	if err != nil {
		w.t.Fatal(err)
	}
	groups = bot.WithStray(own, groups, nil, w.branchPrefix())
	states, err := bot.BranchStates(ctx, w, groups)
	if err != nil {
		w.t.Fatal(err)
	}
	prs, failed := pullrequest.Observe(ctx, w.forge, groups, states, w.opts...)
	if len(failed) > 0 {
		w.t.Fatalf("Observe: %v", failed)
	}
	ds, err := pullrequest.Decide(groups, prs, states, w.settings)
	if err != nil {
		w.t.Fatal(err)
	}
	return ds
}

func (w *prWorld) execute(ds []pullrequest.Decision) []pullrequest.Result {
	return pullrequest.Execute(context.Background(), ds, w.forge, w, w.opts...)
}

// pass runs one whole pass and fails the test on any group error. It
// returns the actions per group.
func (w *prWorld) pass(versions map[string]string) map[string]pullrequest.Action {
	w.t.Helper()
	got := map[string]pullrequest.Action{}
	for _, r := range w.execute(w.decide(versions)) {
		if r.Err != nil {
			w.t.Errorf("pass: %v", r.Err)
		}
		got[r.Group] = r.Action
	}
	return got
}

// humanCommit commits files on branch as a human.
func (w *prWorld) humanCommit(branch string, files map[string]string) string {
	w.t.Helper()
	commit := func() (string, error) {
		return forgefake.CommitFiles(w.repo, w.head(branch), branch, files, "human@example.com", "by hand")
	}
	if r, ok := w.fake.(prRemote); ok {
		commit = func() (string, error) {
			return r.Commit("human", w.head(branch), branch, files, "human@example.com", "by hand", w.head(branch))
		}
	}
	c, err := commit()
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

// humanDelete deletes branch as a human.
func (w *prWorld) humanDelete(branch string) {
	w.t.Helper()
	var err error
	if r, ok := w.fake.(prRemote); ok {
		err = r.DeleteBranchAs("human", branch, w.head(branch))
	} else {
		_, err = w.raw("update-ref", "-d", "refs/heads/"+branch)
	}
	if err != nil {
		w.t.Fatal(err)
	}
}

// zeroWrites runs a pass and checks it writes nothing anywhere.
func (w *prWorld) zeroWrites(versions map[string]string) {
	w.t.Helper()
	writes := w.fake.Writes()
	heads := map[string]string{}
	for _, b := range []string{"main", "imagebump/web", "imagebump/api", "imagebump/db", "imagebump/all"} {
		heads[b] = w.head(b)
	}
	for g, a := range w.pass(versions) {
		if a != pullrequest.ActionSkip {
			w.t.Errorf("group %s: %s, want skip", g, a)
		}
	}
	if diff := cmp.Diff(writes, w.fake.Writes()); diff != "" {
		w.t.Errorf("API writes in a pass that should make none (-before +after):\n%s", diff)
	}
	for b, h := range heads {
		if got := w.head(b); got != h {
			w.t.Errorf("branch %s moved from %q to %q in a pass that should push nothing", b, h, got)
		}
	}
}

func TestPullRequestFirstPassThenZeroChurn(t *testing.T) {
	eachForge(t, func(t *testing.T, w *prWorld) {
		var teams []string
		if forgeKind(t, w.f.name).TeamReviewers {
			teams = []string{"platform"}
		}
		w.settings.Reviewers, w.settings.TeamReviewers, w.settings.Draft = []string{"alice"}, teams, true
		versions := map[string]string{"web": "1.5.0", "api": "2.1.0", "db": "16.2"}
		want := map[string]pullrequest.Action{"web": pullrequest.ActionCreate, "api": pullrequest.ActionCreate, "db": pullrequest.ActionSkip}
		if diff := cmp.Diff(want, w.pass(versions)); diff != "" {
			t.Fatalf("first pass (-want +got):\n%s", diff)
		}
		prs := w.fake.PullRequests()
		if len(prs) != 2 {
			t.Fatalf("%d pull requests, want 2", len(prs))
		}
		for _, pr := range prs {
			if pr.State != "open" || !pr.Draft || !cmp.Equal(pr.Labels, []string{"dependencies"}) || !cmp.Equal(pr.Reviewers, []string{"alice"}) || !cmp.Equal(pr.TeamReviewers, teams) {
				t.Errorf("pull request %+v: want open draft with label, reviewer and team", pr)
			}
		}
		if p := w.f.draftPrefix; prs[0].Title != p+"Update ghcr.io/acme/api to 2.1.0" || prs[1].Title != p+"Update ghcr.io/acme/web to 1.5.0" {
			t.Errorf("titles %q, %q", prs[0].Title, prs[1].Title)
		}
		// Only the value bytes changed.
		diff := forgefake.Git(t, w.repo, "diff", "-U0", "main", "imagebump/web")
		var changed []string
		for _, l := range strings.Split(diff, "\n") {
			if (strings.HasPrefix(l, "+") || strings.HasPrefix(l, "-")) && !strings.HasPrefix(l, "+++") && !strings.HasPrefix(l, "---") {
				changed = append(changed, l)
			}
		}
		wantChanged := []string{
			`-image: ghcr.io/acme/web:1.4.2 # {"$imagepolicy": "web"}`,
			`+image: ghcr.io/acme/web:1.5.0 # {"$imagepolicy": "web"}`,
		}
		if d := cmp.Diff(wantChanged, changed); d != "" {
			t.Errorf("branch diff (-want +got):\n%s", d)
		}

		w.zeroWrites(versions)
	})
}

func TestPullRequestSupersededInPlace(t *testing.T) {
	eachForge(t, func(t *testing.T, w *prWorld) {
		w.pass(map[string]string{"web": "1.5.0"})
		first := w.head("imagebump/web")
		if got := w.pass(map[string]string{"web": "1.6.0"}); got["web"] != pullrequest.ActionUpdate {
			t.Fatalf("second pass: %v, want update", got)
		}
		prs := w.fake.PullRequests()
		if len(prs) != 1 || prs[0].State != "open" || prs[0].Title != "Update ghcr.io/acme/web to 1.6.0" || !strings.Contains(prs[0].Body, "`1.6.0`") {
			t.Errorf("pull requests %+v, want #1 open and retitled", prs)
		}
		if h := w.head("imagebump/web"); h == first || !strings.Contains(w.show(h, "apps/web/deployment.yaml"), "web:1.6.0") {
			t.Errorf("branch not rebuilt with 1.6.0")
		}
		w.zeroWrites(map[string]string{"web": "1.6.0"})
	})
}

func TestPullRequestGroupingAll(t *testing.T) {
	eachForge(t, func(t *testing.T, w *prWorld) {
		w.all = true
		if got := w.pass(map[string]string{"web": "1.5.0", "api": "2.1.0", "db": "16.3"}); got["all"] != pullrequest.ActionCreate {
			t.Fatalf("pass: %v", got)
		}
		prs := w.fake.PullRequests()
		if len(prs) != 1 || prs[0].Title != "Update 3 images" || prs[0].Head != "imagebump/all" {
			t.Errorf("pull requests %+v, want one titled Update 3 images", prs)
		}
		files := strings.Fields(forgefake.Git(t, w.repo, "diff", "--name-only", "main", "imagebump/all"))
		if len(files) != 3 {
			t.Errorf("branch changes %v, want 3 files", files)
		}
		w.zeroWrites(map[string]string{"web": "1.5.0", "api": "2.1.0", "db": "16.3"})
	})
}

func TestPullRequestHumanClose(t *testing.T) {
	eachForge(t, func(t *testing.T, w *prWorld) {
		w.pass(map[string]string{"web": "1.5.0"})
		w.fake.HumanClose(1)
		w.zeroWrites(map[string]string{"web": "1.5.0"}) // declined: not proposed again, branch left alone
		if got := w.pass(map[string]string{"web": "1.6.0"}); got["web"] != pullrequest.ActionCreate {
			t.Fatalf("newer version: %v, want create", got)
		}
		prs := w.fake.PullRequests()
		if len(prs) != 2 || prs[0].State != "closed" || prs[1].State != "open" || !strings.Contains(prs[1].Body, "supersedes #1") {
			t.Errorf("pull requests %+v: want #1 closed and #2 open linking it", prs)
		}
		w.zeroWrites(map[string]string{"web": "1.6.0"})
	})
}

func TestPullRequestBaseUpdatedByHand(t *testing.T) {
	eachForge(t, func(t *testing.T, w *prWorld) {
		w.pass(map[string]string{"web": "1.5.0"})
		w.humanCommit("main", map[string]string{"apps/web/deployment.yaml": w.show("imagebump/web", "apps/web/deployment.yaml")})
		if got := w.pass(map[string]string{"web": "1.5.0"}); got["web"] != pullrequest.ActionClose {
			t.Fatalf("pass: %v, want close", got)
		}
		pr := w.fake.PullRequest(1)
		m, _ := pullrequest.ParseMarker(pr.Body)
		if pr.State != "closed" || pr.Merged || len(pr.Comments) != 1 || !m.Retired {
			t.Errorf("pull request %+v: want closed unmerged, one comment, retired marker", pr)
		}
		if h := w.head("imagebump/web"); h != "" {
			t.Errorf("branch still at %s, want deleted", h)
		}
		w.zeroWrites(map[string]string{"web": "1.5.0"})
	})
}

func TestPullRequestInterruptedCloseCommentsOnce(t *testing.T) {
	eachForge(t, func(t *testing.T, w *prWorld) {
		w.pass(map[string]string{"web": "1.5.0"})
		w.humanCommit("main", map[string]string{"apps/web/deployment.yaml": w.show("imagebump/web", "apps/web/deployment.yaml")})
		method, path := w.f.closeReq(w.fake, 1)
		w.fake.FailOnce(method, path, 502)
		results := w.execute(w.decide(map[string]string{"web": "1.5.0"}))
		if len(results) != 1 || results[0].Err == nil {
			t.Fatalf("results %+v, want the close to fail", results)
		}
		if got := w.pass(map[string]string{"web": "1.5.0"}); got["web"] != pullrequest.ActionClose {
			t.Fatalf("retry: %v, want close", got)
		}
		if pr := w.fake.PullRequest(1); pr.State != "closed" || len(pr.Comments) != 1 {
			t.Errorf("pull request %+v: want closed with one comment", pr)
		}
	})
}

func TestPullRequestMerged(t *testing.T) {
	eachForge(t, func(t *testing.T, w *prWorld) {
		w.pass(map[string]string{"web": "1.5.0"})
		w.fake.Merge(1)
		// The forge left the merged branch: the bot deletes it, once.
		if got := w.pass(map[string]string{"web": "1.5.0"}); got["web"] != pullrequest.ActionDeleteBranch || w.head("imagebump/web") != "" {
			t.Fatalf("after the merge: %v, branch at %q; want delete-branch and the branch gone", got, w.head("imagebump/web"))
		}
		w.zeroWrites(map[string]string{"web": "1.5.0"})
		// A merged pull request is no declined one: the next version's
		// pull request does not claim to supersede it.
		if got := w.pass(map[string]string{"web": "1.6.0"}); got["web"] != pullrequest.ActionCreate {
			t.Fatalf("newer version: %v, want create", got)
		}
		if prs := w.fake.PullRequests(); len(prs) != 2 || !prs[0].Merged || strings.Contains(prs[1].Body, "supersedes") {
			t.Errorf("pull requests %+v: want #1 merged and #2 not superseding it", prs)
		}
	})
}

func TestPullRequestForeignCommit(t *testing.T) {
	eachForge(t, func(t *testing.T, w *prWorld) {
		w.pass(map[string]string{"web": "1.5.0"})
		human := w.humanCommit("imagebump/web", map[string]string{"apps/web/deployment.yaml": "replicas: 3\n"})
		if got := w.pass(map[string]string{"web": "1.6.0"}); got["web"] != pullrequest.ActionCommentForeign {
			t.Fatalf("pass: %v, want comment-foreign", got)
		}
		w.zeroWrites(map[string]string{"web": "1.6.0"}) // one comment, not one per pass
		if pr := w.fake.PullRequest(1); len(pr.Comments) != 1 || pr.HeadSHA != human {
			t.Errorf("pull request %+v: want one comment and the human's head", pr)
		}
	})
}

func TestPullRequestMaxOpen(t *testing.T) {
	eachForge(t, func(t *testing.T, w *prWorld) {
		w.settings.MaxOpen = 2
		got := w.pass(map[string]string{"web": "1.5.0", "api": "2.1.0", "db": "16.3"})
		want := map[string]pullrequest.Action{"api": pullrequest.ActionCreate, "db": pullrequest.ActionCreate, "web": pullrequest.ActionDefer}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("pass (-want +got):\n%s", diff)
		}
		if n := len(w.fake.PullRequests()); n != 2 {
			t.Errorf("%d pull requests, want 2", n)
		}
		// Updates still happen at the cap.
		got = w.pass(map[string]string{"web": "1.5.0", "api": "2.2.0", "db": "16.3"})
		want = map[string]pullrequest.Action{"api": pullrequest.ActionUpdate, "db": pullrequest.ActionSkip, "web": pullrequest.ActionDefer}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("pass at the cap (-want +got):\n%s", diff)
		}
	})
}

func TestPullRequestRateLimitWaitedOut(t *testing.T) {
	eachForge(t, func(t *testing.T, w *prWorld) {
		var waits []time.Duration
		w.opts = []pullrequest.Option{pullrequest.WithSleep(func(ctx context.Context, d time.Duration) error {
			waits = append(waits, d)
			// go-github itself refuses requests until Retry-After has passed,
			// so this wait (1 s) is real.
			time.Sleep(d)
			return nil
		})}
		ds := w.decide(map[string]string{"web": "1.5.0"})
		w.f.rateLimit(w.fake, 1, 1)
		for _, r := range w.execute(ds) {
			if r.Err != nil {
				t.Errorf("%s: %v", r.Group, r.Err)
			}
		}
		if !cmp.Equal(waits, []time.Duration{time.Second}) {
			t.Errorf("waits %v, want one of 1s", waits)
		}
		if n := len(w.fake.PullRequests()); n != 1 {
			t.Errorf("%d pull requests, want 1", n)
		}
	})
}

func TestPullRequestRateLimitBeyondBound(t *testing.T) {
	eachForge(t, func(t *testing.T, w *prWorld) {
		w.pass(map[string]string{"web": "1.5.0", "api": "2.1.0"})
		// api wants a newer version (push, then an API edit); the base moved
		// in web's file (a push only).
		w.humanCommit("main", map[string]string{"apps/web/deployment.yaml": strings.Replace(w.show("main", "apps/web/deployment.yaml"), "replicas: 2", "replicas: 5", 1)})
		ds := w.decide(map[string]string{"web": "1.5.0", "api": "2.2.0"})
		w.opts = []pullrequest.Option{pullrequest.WithMaxWait(5 * time.Second), pullrequest.WithSleep(noSleep(t))}
		w.f.rateLimit(w.fake, 1, 60)
		results := w.execute(ds)
		if len(results) != 2 || results[0].Group != "api" || results[1].Group != "web" {
			t.Fatalf("results %+v", results)
		}
		if err := results[0].Err; err == nil || !strings.Contains(err.Error(), "group api (branch imagebump/api)") || !strings.Contains(err.Error(), "rate limited") {
			t.Errorf("api: %v, want a rate-limit error naming the group", err)
		}
		if err := results[1].Err; err != nil || results[1].Action != pullrequest.ActionUpdateBranch {
			t.Errorf("web: %s %v, want update-branch done", results[1].Action, err)
		}
		if !strings.Contains(w.show("imagebump/web", "apps/web/deployment.yaml"), "replicas: 5") {
			t.Errorf("web's branch not rebuilt on the moved base")
		}
	})
}

func TestPullRequestBranchCollision(t *testing.T) {
	eachForge(t, func(t *testing.T, w *prWorld) {
		groups := w.groups(map[string]string{"web": "1.5.0", "api": "2.1.0"})
		for i := range groups {
			groups[i].Branch = "imagebump/shared"
		}
		if _, err := pullrequest.Decide(groups, nil, nil, w.settings); err == nil || !strings.Contains(err.Error(), "imagebump/shared") {
			t.Errorf("Decide = %v, want an error naming the shared branch", err)
		}
	})
}

func TestPullRequestHumanCloseDeleteBranch(t *testing.T) {
	eachForge(t, func(t *testing.T, w *prWorld) {
		w.pass(map[string]string{"web": "1.5.0"})
		w.fake.HumanClose(1)
		w.humanDelete("imagebump/web")
		// Declined, and the branch deleted by the human as forges offer on
		// close: still declined.
		w.zeroWrites(map[string]string{"web": "1.5.0"})
		if prs := w.fake.PullRequests(); len(prs) != 1 || prs[0].State != "closed" {
			t.Errorf("pull requests %+v: want #1 closed, no other", prs)
		}
	})
}

// The base moved in the file the group changes (the same line bumped by
// hand): base plus change equals the branch's file, but the branch would
// conflict. It is rebuilt on the tip, in the same pull request; then zero
// churn.
func TestPullRequestRebasedWhenBaseMovedInItsFile(t *testing.T) {
	eachForge(t, func(t *testing.T, w *prWorld) {
		w.pass(map[string]string{"web": "1.5.0"})
		built := w.head("imagebump/web")
		file := prImages["web"].file
		w.humanCommit("main", map[string]string{file: strings.Replace(w.show("main", file), "1.4.2", "1.4.3", 1)})
		if got := w.pass(map[string]string{"web": "1.5.0"}); got["web"] != pullrequest.ActionUpdate {
			t.Fatalf("pass after the base moved under the branch: %v, want update (rebuilt, text from 1.4.3)", got)
		}
		if mb, tip := strings.TrimSpace(forgefake.Git(t, w.repo, "merge-base", "main", "imagebump/web")), w.head("main"); mb != tip || w.head("imagebump/web") == built {
			t.Errorf("branch built on %s, want the tip %s", mb, tip)
		}
		if prs := w.fake.PullRequests(); len(prs) != 1 || prs[0].State != "open" {
			t.Errorf("pull requests %+v: want the same one, open", prs)
		}
		w.zeroWrites(map[string]string{"web": "1.5.0"})
	})
}

// The base moved only in files the group does not change: nothing is
// pushed and nothing written.
func TestPullRequestBaseMovedElsewhere(t *testing.T) {
	eachForge(t, func(t *testing.T, w *prWorld) {
		w.pass(map[string]string{"web": "1.5.0"})
		w.humanCommit("main", map[string]string{"README.md": "fleet\n", prImages["api"].file: "kind: Deployment\n"})
		w.zeroWrites(map[string]string{"web": "1.5.0"})
	})
}

// A policy removed: its group no longer exists. Its open pull request is
// closed with one comment saying why and its branch deleted; the other
// group goes on untouched.
func TestPullRequestObsoleteClosed(t *testing.T) {
	eachForge(t, func(t *testing.T, w *prWorld) {
		w.pass(map[string]string{"web": "1.5.0", "api": "2.1.0"})
		want := map[string]pullrequest.Action{"web": pullrequest.ActionSkip, "api": pullrequest.ActionClose}
		if diff := cmp.Diff(want, w.pass(map[string]string{"web": "1.5.0"})); diff != "" {
			t.Fatalf("pass without policy api (-want +got):\n%s", diff)
		}
		api := w.fake.PullRequest(1)
		if api.State != "closed" || api.Merged || len(api.Comments) != 1 || !strings.Contains(api.Comments[0], `no policy in use maps to group "api"`) {
			t.Errorf("pull request %+v: want closed unmerged with one comment saying why", api)
		}
		if h := w.head("imagebump/api"); h != "" {
			t.Errorf("branch imagebump/api still at %s, want deleted", h)
		}
		if web := w.fake.PullRequest(2); web.State != "open" {
			t.Errorf("web's pull request %+v: want open", web)
		}
		w.zeroWrites(map[string]string{"web": "1.5.0"})
	})
}

// An obsolete pull request whose branch carries someone else's commits is
// left open with its branch, and said so once.
func TestPullRequestObsoleteWithHumanCommits(t *testing.T) {
	eachForge(t, func(t *testing.T, w *prWorld) {
		w.pass(map[string]string{"web": "1.5.0", "api": "2.1.0"})
		human := w.humanCommit("imagebump/api", map[string]string{"notes.txt": "keep\n"})
		if got := w.pass(map[string]string{"web": "1.5.0"}); got["api"] != pullrequest.ActionCommentForeign {
			t.Fatalf("pass without policy api: %v, want comment-foreign for api", got)
		}
		w.zeroWrites(map[string]string{"web": "1.5.0"}) // once, not once per pass
		api := w.fake.PullRequest(1)
		if api.State != "open" || len(api.Comments) != 1 || w.head("imagebump/api") != human {
			t.Errorf("pull request %+v, branch at %q: want open, one comment, the branch at the human's %s", api, w.head("imagebump/api"), human)
		}
	})
}

// An open pull request of the bot whose branch a human deleted is not
// under the prefix any more. GitHub and Gitea close a pull request whose
// head branch is deleted; GitLab keeps the merge request open, and the
// forge's list of open pull requests finds it by its marker: it is closed
// with one comment once its policy is gone.
func TestPullRequestObsoleteBranchDeleted(t *testing.T) {
	eachForge(t, func(t *testing.T, w *prWorld) {
		w.pass(map[string]string{"web": "1.5.0", "api": "2.1.0"})
		w.humanDelete("imagebump/api")
		closedByForge := w.f.name != "gitlab"
		// Gitea closes them as it processes the push, in the background:
		// wait (bounded) for it to happen.
		for i := 0; closedByForge && i < 100 && w.fake.PullRequest(1).State != "closed"; i++ {
			time.Sleep(100 * time.Millisecond)
		}
		if got := w.fake.PullRequest(1).State == "closed"; got != closedByForge {
			t.Fatalf("%s closed the pull request of a deleted branch: %v, want %v", w.f.name, got, closedByForge)
		}
		want := map[string]pullrequest.Action{"web": pullrequest.ActionSkip, "api": pullrequest.ActionClose}
		if closedByForge {
			want = map[string]pullrequest.Action{"web": pullrequest.ActionSkip}
		}
		writes := len(w.fake.Writes())
		if diff := cmp.Diff(want, w.pass(map[string]string{"web": "1.5.0"})); diff != "" {
			t.Fatalf("pass without policy api (-want +got):\n%s", diff)
		}
		api := w.fake.PullRequest(1)
		if wantComments := map[bool]int{true: 0, false: 1}[closedByForge]; api.State != "closed" || api.Merged || len(api.Comments) != wantComments {
			t.Errorf("pull request %+v: want closed unmerged with %d comment(s)", api, wantComments)
		}
		if closedByForge && len(w.fake.Writes()) != writes {
			t.Errorf("writes %v after #%d: want none", w.fake.Writes()[writes:], writes)
		}
		w.zeroWrites(map[string]string{"web": "1.5.0"})
	})
}

// The branch prefix changes: the group is proposed under the new prefix,
// and the bot's pull request under the former one, which no branch
// listing under the prefix finds, is found by its marker and closed with
// one comment; its branch, outside the prefix, is kept.
func TestPullRequestObsoleteFormerPrefix(t *testing.T) {
	eachForge(t, func(t *testing.T, w *prWorld) {
		w.pass(map[string]string{"web": "1.5.0"})
		old := w.head("imagebump/web")
		w.prefix = "bump/"
		got := map[string]pullrequest.Action{}
		for _, r := range w.execute(w.decide(map[string]string{"web": "1.5.0"})) {
			if r.Err != nil {
				t.Errorf("pass: %v", r.Err)
			}
			got[r.Branch] = r.Action
		}
		want := map[string]pullrequest.Action{"bump/web": pullrequest.ActionCreate, "imagebump/web": pullrequest.ActionClose}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("pass under the new prefix (-want +got):\n%s", diff)
		}
		if pr := w.fake.PullRequest(1); pr.State != "closed" || len(pr.Comments) != 1 || !strings.Contains(pr.Comments[0], "outside its branch prefix") {
			t.Errorf("former pull request %+v: want closed with one comment", pr)
		}
		if pr := w.fake.PullRequest(2); pr.State != "open" || pr.Head != "bump/web" {
			t.Errorf("new pull request %+v: want open from bump/web", pr)
		}
		if h := w.head("imagebump/web"); h != old {
			t.Errorf("branch imagebump/web at %q, want kept at %s", h, old)
		}
		w.zeroWrites(map[string]string{"web": "1.5.0"})
	})
}

// TestPullRequestReviewerRefused: a reviewer the forge will not take
// (GitHub: not a collaborator; GitLab and Gitea: no such user) never fails
// the pull request. It is opened, the refusal is named once in the
// result's warnings and once in a comment on it, and the next pass writes
// nothing: reviewers are asked only when a pull request is opened.
func TestPullRequestReviewerRefused(t *testing.T) {
	eachForge(t, func(t *testing.T, w *prWorld) {
		if gh, ok := w.fake.(*githubfake.Server); ok {
			gh.Collaborators("alice")
		}
		w.settings.Reviewers = []string{"alice", "ghost"}
		versions := map[string]string{"web": "1.5.0", "api": "2.0.0", "db": "16.2"}
		var created []pullrequest.Result
		for _, r := range w.execute(w.decide(versions)) {
			if r.Err != nil {
				t.Errorf("group %s: %v; a reviewer must not fail the pull request", r.Group, r.Err)
			}
			if r.Action == pullrequest.ActionCreate {
				created = append(created, r)
			}
		}
		if len(created) != 1 {
			t.Fatalf("%d pull requests opened, want web's", len(created))
		}
		r := created[0]
		if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "ghost") {
			t.Errorf("warnings %q, want one naming ghost", r.Warnings)
		}
		pr := w.fake.PullRequest(r.Number)
		var notes []string
		for _, c := range pr.Comments {
			if strings.Contains(c, "ghost") {
				notes = append(notes, c)
			}
		}
		if pr.State != "open" || len(notes) != 1 {
			t.Errorf("pull request %s with comments %q; want it open and one comment naming ghost", pr.State, pr.Comments)
		}
		w.zeroWrites(versions)
	})
}
