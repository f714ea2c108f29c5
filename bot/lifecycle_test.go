package bot

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/gitwriter"
	"github.com/imagebump/imagebump/gitwriter/pullrequest"
	"github.com/imagebump/imagebump/test/filetree"
	"github.com/imagebump/imagebump/test/gitserver"
)

// memForge is a hand-written pullrequest.Forge in memory: pull requests by
// number, with their comments. It is enough for the bot's side of the
// lifecycle; the forge clients are tested against real or faked APIs in
// their own packages.
type memForge struct {
	mu       sync.Mutex
	prs      []pullrequest.PullRequest
	comments map[int][]string
	heads    func(branch string) string // the branch's head on the git server
}

func (f *memForge) PullRequests(_ context.Context, branch string) ([]pullrequest.PullRequest, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []pullrequest.PullRequest
	for _, pr := range f.prs {
		if pr.Head == branch {
			out = append(out, pr)
		}
	}
	return out, nil
}

func (f *memForge) OpenPullRequests(context.Context) ([]pullrequest.PullRequest, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []pullrequest.PullRequest
	for _, pr := range f.prs {
		if pr.State == pullrequest.StateOpen {
			out = append(out, pr)
		}
	}
	return out, nil
}

func (f *memForge) Comments(_ context.Context, n int) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.comments[n]), nil
}

func (f *memForge) Create(_ context.Context, p pullrequest.NewPullRequest) (pullrequest.PullRequest, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	pr := pullrequest.PullRequest{Number: len(f.prs) + 1, State: pullrequest.StateOpen, Head: p.Head, HeadSHA: f.heads(p.Head), Title: p.Title, Body: p.Body}
	f.prs = append(f.prs, pr)
	return pr, nil
}

func (f *memForge) Label(context.Context, int, []string) error { return nil }

func (f *memForge) RequestReviews(context.Context, int, []string, []string) error { return nil }

func (f *memForge) pr(n int) (*pullrequest.PullRequest, error) {
	if n < 1 || n > len(f.prs) {
		return nil, errors.New("no such pull request")
	}
	return &f.prs[n-1], nil
}

func (f *memForge) Edit(_ context.Context, n int, title, body string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	pr, err := f.pr(n)
	if err != nil {
		return err
	}
	pr.Title, pr.Body = title, body
	return nil
}

func (f *memForge) Close(_ context.Context, n int, body string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	pr, err := f.pr(n)
	if err != nil {
		return err
	}
	pr.State, pr.Body = pullrequest.StateClosed, body
	return nil
}

func (f *memForge) Comment(_ context.Context, n int, body string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.comments == nil {
		f.comments = map[int][]string{}
	}
	f.comments[n] = append(f.comments[n], body)
	return nil
}

// states is each pull request's head branch and state.
func (f *memForge) states() map[string]pullrequest.State {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]pullrequest.State{}
	for _, pr := range f.prs {
		out[pr.Head] = pr.State
	}
	return out
}

// TestObsoletePullRequests runs pull request passes on git http-backend: a
// pull request whose policy is removed from the policy files is closed
// with a comment saying why and its branch deleted; one whose registry
// fails is not taken for obsolete and stays as it is.
func TestObsoletePullRequests(t *testing.T) {
	const policies = `policies:
  - name: web
    image: ghcr.io/acme/web
    semver: ^1
  - name: other
    image: ghcr.io/acme/unused
    semver: "*"
`
	s, forge, reg, pass := prPasses(t, map[string]string{
		".imagebump.yaml": policies,
		"web.yaml":        "image: ghcr.io/acme/web:1.4.2 # {\"$imagepolicy\": \"web\"}\n",
		"other.yaml":      "image: ghcr.io/acme/unused:1.0.0 # {\"$imagepolicy\": \"other\"}\n",
	})

	if diff := cmp.Diff(map[string]pullrequest.Action{"imagebump/web": pullrequest.ActionCreate, "imagebump/other": pullrequest.ActionCreate}, pass()); diff != "" {
		t.Fatalf("first pass (-want +got):\n%s", diff)
	}

	// The registry of web fails: its group is held, not obsolete.
	reg.fail["ghcr.io/acme/web"] = errors.New("503 Service Unavailable")
	webHead := s.Ref(t, "fleet", "refs/heads/imagebump/web")
	if diff := cmp.Diff(map[string]pullrequest.Action{"imagebump/other": pullrequest.ActionSkip, "imagebump/web": pullrequest.ActionSkip}, pass()); diff != "" {
		t.Errorf("pass with web's registry down (-want +got):\n%s", diff)
	}
	if got := s.Ref(t, "fleet", "refs/heads/imagebump/web"); got != webHead || forge.states()["imagebump/web"] != pullrequest.StateOpen {
		t.Errorf("web's branch at %q (was %q), pull request %s: want both untouched", got, webHead, forge.states()["imagebump/web"])
	}
	delete(reg.fail, "ghcr.io/acme/web")

	// Someone removes the policy other and its marker.
	s.Commit(t, "fleet", "main", "drop other", map[string]string{
		".imagebump.yaml": strings.Replace(policies, "  - name: other\n    image: ghcr.io/acme/unused\n    semver: \"*\"\n", "", 1),
		"other.yaml":      "image: ghcr.io/acme/unused:1.0.0\n",
	})
	if diff := cmp.Diff(map[string]pullrequest.Action{"imagebump/web": pullrequest.ActionSkip, "imagebump/other": pullrequest.ActionClose}, pass()); diff != "" {
		t.Errorf("pass after the policy was removed (-want +got):\n%s", diff)
	}
	if got := forge.states(); got["imagebump/other"] != pullrequest.StateClosed || got["imagebump/web"] != pullrequest.StateOpen {
		t.Errorf("pull requests %v: want other's closed and web's open", got)
	}
	if got := s.Ref(t, "fleet", "refs/heads/imagebump/other"); got != "" {
		t.Errorf("branch imagebump/other still at %s", got)
	}
	other, _ := forge.PullRequests(context.Background(), "imagebump/other")
	if c := forge.comments[other[0].Number]; len(c) != 1 || !strings.Contains(c[0], `no policy in use maps to group "other"`) {
		t.Errorf("comments on the obsolete pull request: %q, want one saying why", c)
	}
	// Nothing is left to do.
	if diff := cmp.Diff(map[string]pullrequest.Action{"imagebump/web": pullrequest.ActionSkip}, pass()); diff != "" {
		t.Errorf("last pass (-want +got):\n%s", diff)
	}
}

// prPasses serves a repository of files on git http-backend and returns a
// function that runs one pull request pass over it (through a real working
// copy, the fake registry and forge), failing the test on any error, with
// the action per branch.
func prPasses(t *testing.T, files map[string]string) (*gitserver.Server, *memForge, *fakeRegistry, func() map[string]pullrequest.Action) {
	t.Helper()
	s, forge, reg, pass := prPassResults(t, files)
	return s, forge, reg, func() map[string]pullrequest.Action {
		t.Helper()
		got := map[string]pullrequest.Action{}
		for _, pr := range pass().PullRequests {
			got[pr.Branch] = pr.Action
		}
		return got
	}
}

// prPassResults is prPasses returning each pass's whole Result.
func prPassResults(t *testing.T, files map[string]string) (*gitserver.Server, *memForge, *fakeRegistry, func() Result) {
	t.Helper()
	s := gitserver.Start(t)
	s.NewRepo(t, "fleet", files)
	token := writeTemp(t, s.Token)
	repo := config.Repository{URL: s.RepoURL("fleet"), Branch: "main", Mode: config.PullRequest}
	workDir := t.TempDir()
	forge := &memForge{heads: func(b string) string { return s.Ref(t, "fleet", "refs/heads/"+b) }}
	r := &Runner{
		Config: &config.Bot{Repositories: []config.Repository{repo}},
		Open: func(config.Repository) (WorkingCopy, error) {
			return gitwriter.New(gitwriter.Options{
				URL: repo.URL, Branch: "main", WorkDir: workDir,
				Auth:   gitwriter.Auth{TokenFile: token},
				Author: gitwriter.Signature{Name: "imagebump", Email: "bot@example.com"},
			})
		},
		Forge: func(config.Repository) (pullrequest.Forge, error) { return forge, nil },
	}
	reg := newFake()
	return s, forge, reg, func() Result {
		t.Helper()
		res := r.pass(context.Background(), dedupe(reg), repo)
		if res.Err != nil {
			t.Fatalf("pass: %v", res.Err)
		}
		for _, pr := range res.PullRequests {
			if pr.Err != nil {
				t.Errorf("group %s: %v", pr.Group, pr.Err)
			}
		}
		return res
	}
}

// TestRebaseWhenBaseMoved runs pull request passes on git http-backend
// while people edit the base: the branch is rebuilt on the tip, in the
// same pull request, only when the base moved in the file it changes.
func TestRebaseWhenBaseMoved(t *testing.T) {
	const web = "image: ghcr.io/acme/web:1.4.2 # {\"$imagepolicy\": \"web\"}\n"
	s, forge, _, pass := prPasses(t, map[string]string{
		".imagebump.yaml": "policies:\n  - name: web\n    image: ghcr.io/acme/web\n    semver: ^1\n",
		"web.yaml":        web,
		"other.yaml":      "a: 1\n",
	})
	const branch = "imagebump/web"
	want := func(a pullrequest.Action) map[string]pullrequest.Action {
		return map[string]pullrequest.Action{branch: a}
	}
	if diff := cmp.Diff(want(pullrequest.ActionCreate), pass()); diff != "" {
		t.Fatalf("first pass (-want +got):\n%s", diff)
	}
	built := s.Ref(t, "fleet", "refs/heads/"+branch)

	// The base moves elsewhere: nothing is pushed.
	s.Commit(t, "fleet", "main", "elsewhere", map[string]string{"other.yaml": "a: 2\n"})
	if diff := cmp.Diff(want(pullrequest.ActionSkip), pass()); diff != "" {
		t.Errorf("pass after the base moved elsewhere (-want +got):\n%s", diff)
	}
	if got := s.Ref(t, "fleet", "refs/heads/"+branch); got != built {
		t.Errorf("branch moved from %s to %s", built, got)
	}

	// Someone bumps the same line by hand: base + change equals the
	// branch's file, but the branch would conflict. The text changes too
	// (from 1.4.3 now); before, only the text was rewritten.
	s.Commit(t, "fleet", "main", "by hand", map[string]string{"web.yaml": strings.Replace(web, "1.4.2", "1.4.3", 1)})
	if diff := cmp.Diff(want(pullrequest.ActionUpdate), pass()); diff != "" {
		t.Errorf("pass after the base changed the same line (-want +got):\n%s", diff)
	}
	tip := s.Ref(t, "fleet", "refs/heads/main")
	if got := s.Git(t, "fleet", "merge-base", "main", branch); got != tip {
		t.Errorf("the branch is built on %s, want the tip %s", got, tip)
	}
	if n := len(forge.prs); n != 1 {
		t.Errorf("%d pull requests, want the same one", n)
	}
	if got := s.ReadFile(t, "fleet", branch, "web.yaml"); got != strings.Replace(web, "1.4.2", "1.5.0", 1) {
		t.Errorf("web.yaml on the branch = %q", got)
	}
	// And it stays put.
	rebuilt := s.Ref(t, "fleet", "refs/heads/"+branch)
	if diff := cmp.Diff(want(pullrequest.ActionSkip), pass()); diff != "" {
		t.Errorf("pass after the rebuild (-want +got):\n%s", diff)
	}
	if got := s.Ref(t, "fleet", "refs/heads/"+branch); got != rebuilt {
		t.Errorf("branch moved from %s to %s after the rebuild", rebuilt, got)
	}
}

// A base branch under the bot's branch prefix would look like one of the
// bot's obsolete branches: the pass refuses before reading any branch or
// asking the forge anything.
func TestBaseUnderBranchPrefixRefused(t *testing.T) {
	const opened = "the forge was opened"
	for _, tc := range []struct {
		name               string
		branch, pushBranch string
		wantErr            string
	}{
		{"base under the prefix", "imagebump/main", "", `the branch "imagebump/main" lies under pullRequests.branchPrefix "imagebump/"`},
		{"push branch under the prefix", "main", "imagebump/auto", `the branch "imagebump/auto" lies under pullRequests.branchPrefix "imagebump/"`},
		// The control: the same pass goes on to the forge.
		{"base outside the prefix", "main", "", opened},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filetree.Write(t, map[string]string{
				".imagebump.yaml": "policies:\n  - name: web\n    image: ghcr.io/acme/web\n    semver: ^1\n",
				"deploy.yaml":     "image: ghcr.io/acme/web:1.4.2 # {\"$imagepolicy\": \"web\"}\n",
			})
			wc := &fakeCopy{dir: dir}
			repo := config.Repository{URL: "https://git.example/acme/fleet.git", Branch: tc.branch, PushBranch: tc.pushBranch, Mode: config.PullRequest}
			r := &Runner{
				Config: &config.Bot{Repositories: []config.Repository{repo}},
				Open:   func(config.Repository) (WorkingCopy, error) { return wc, nil },
				Forge: func(config.Repository) (pullrequest.Forge, error) {
					return nil, errors.New(opened)
				},
			}
			res := r.pass(context.Background(), dedupe(newFake()), repo)
			if res.Err == nil || !strings.Contains(res.Err.Error(), tc.wantErr) {
				t.Errorf("pass: %v, want %q", res.Err, tc.wantErr)
			}
		})
	}
}

// TestStrayPullRequests runs pull request passes on git http-backend: an
// open pull request of the bot whose branch someone deleted, or which lies
// under a former branch prefix, is not found by listing the branches under
// the prefix; the forge's list of open pull requests finds it by its
// marker. The first is closed once its policy is gone; the second is
// closed and its branch, outside the prefix, kept.
func TestStrayPullRequests(t *testing.T) {
	const policies = `policies:
  - name: web
    image: ghcr.io/acme/web
    semver: ^1
  - name: other
    image: ghcr.io/acme/unused
    semver: "*"
`
	s, forge, _, pass := prPasses(t, map[string]string{
		".imagebump.yaml": policies,
		"web.yaml":        "image: ghcr.io/acme/web:1.4.2 # {\"$imagepolicy\": \"web\"}\n",
		"other.yaml":      "image: ghcr.io/acme/unused:1.0.0 # {\"$imagepolicy\": \"other\"}\n",
	})
	if diff := cmp.Diff(map[string]pullrequest.Action{"imagebump/web": pullrequest.ActionCreate, "imagebump/other": pullrequest.ActionCreate}, pass()); diff != "" {
		t.Fatalf("first pass (-want +got):\n%s", diff)
	}

	// Someone deletes other's branch, then removes its policy and marker.
	s.Git(t, "fleet", "update-ref", "-d", "refs/heads/imagebump/other")
	withoutOther := strings.Replace(policies, "  - name: other\n    image: ghcr.io/acme/unused\n    semver: \"*\"\n", "", 1)
	s.Commit(t, "fleet", "main", "drop other", map[string]string{".imagebump.yaml": withoutOther, "other.yaml": "image: ghcr.io/acme/unused:1.0.0\n"})
	if diff := cmp.Diff(map[string]pullrequest.Action{"imagebump/web": pullrequest.ActionSkip, "imagebump/other": pullrequest.ActionClose}, pass()); diff != "" {
		t.Errorf("pass after other's branch and policy went (-want +got):\n%s", diff)
	}
	other, _ := forge.PullRequests(context.Background(), "imagebump/other")
	if len(other) != 1 || other[0].State != pullrequest.StateClosed || len(forge.comments[other[0].Number]) != 1 || !strings.Contains(forge.comments[other[0].Number][0], "is gone already") {
		t.Errorf("other's pull request %+v, comments %q: want closed with one comment", other, forge.comments[other[0].Number])
	}

	// The branch prefix changes: web is proposed under the new one, its
	// pull request under the former one closed, that branch kept.
	webHead := s.Ref(t, "fleet", "refs/heads/imagebump/web")
	s.Commit(t, "fleet", "main", "new prefix", map[string]string{".imagebump.yaml": "pullRequests:\n  branchPrefix: bump/\n" + withoutOther})
	if diff := cmp.Diff(map[string]pullrequest.Action{"bump/web": pullrequest.ActionCreate, "imagebump/web": pullrequest.ActionClose}, pass()); diff != "" {
		t.Errorf("pass after the prefix changed (-want +got):\n%s", diff)
	}
	if got := forge.states(); got["imagebump/web"] != pullrequest.StateClosed || got["bump/web"] != pullrequest.StateOpen {
		t.Errorf("pull requests %v: want imagebump/web's closed, bump/web's open", got)
	}
	if got := s.Ref(t, "fleet", "refs/heads/imagebump/web"); got != webHead {
		t.Errorf("branch imagebump/web at %q, want kept at %s", got, webHead)
	}
	// Nothing is left to do.
	if diff := cmp.Diff(map[string]pullrequest.Action{"bump/web": pullrequest.ActionSkip}, pass()); diff != "" {
		t.Errorf("last pass (-want +got):\n%s", diff)
	}
}
