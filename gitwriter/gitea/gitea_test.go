package gitea

import (
	"context"
	"errors"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/gitwriter/pullrequest"
	"github.com/imagebump/imagebump/test/forgefake"
	"github.com/imagebump/imagebump/test/giteaserver"
)

// TestMain stops the Gitea the tests share.
func TestMain(m *testing.M) {
	code := m.Run()
	giteaserver.StopShared()
	os.Exit(code)
}

// fixture is ORG/fleet, in an organization of its own on the test binary's
// Gitea, with the client under test speaking to it through a proxy of its
// own with the admin's token; its branches imagebump/web and imagebump/api
// are one commit ahead of main.
func fixture(t *testing.T) (*giteaserver.Repo, *Client) {
	t.Helper()
	// Scenarios share only the server; most of their time is spent
	// waiting for Gitea and git.
	t.Parallel()
	seed := forgefake.InitRepo(t, "main", map[string]string{"app.yaml": "image: web:1\n"})
	r := giteaserver.NewRepo(t, seed, "acme", "fleet")
	main := forgefake.Git(t, r.Dir(), "rev-parse", "main")
	for _, b := range []string{"imagebump/web", "imagebump/api"} {
		if _, err := r.Commit(giteaserver.AdminUser, main, b, map[string]string{"app.yaml": "image: " + b + "\n"}, "bot@example.com", "bump", ""); err != nil {
			t.Fatal(err)
		}
	}
	c, err := New(r.Proxy.URL, r.Org(), r.Name(), r.Server.Token)
	if err != nil {
		t.Fatal(err)
	}
	return r, c
}

// labels are the names of the repository's (or, with org, the
// organization's) labels.
func labels(t *testing.T, r *giteaserver.Repo, path string) []string {
	t.Helper()
	var ls []struct{ Name string }
	r.Server.MustDo(giteaserver.AdminUser, http.MethodGet, path, nil, &ls)
	var out []string
	for _, l := range ls {
		out = append(out, l.Name)
	}
	slices.Sort(out)
	return out
}

func createLabel(t *testing.T, r *giteaserver.Repo, path, name string) {
	t.Helper()
	r.Server.MustDo(giteaserver.AdminUser, http.MethodPost, path, map[string]string{"name": name, "color": "#00aabb"}, nil)
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name, apiURL, token string
		wantErr             string
	}{
		{name: "no token", apiURL: "https://gitea.example.com", wantErr: "no token"},
		{name: "credentials in apiURL are not echoed", apiURL: "https://user:s3cret@gitea.example.com:x/", token: "t", wantErr: "REDACTED"},
		{name: "not http", apiURL: "ftp://gitea.example.com/", token: "t", wantErr: "not an http(s) URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.apiURL, "acme", "fleet", tc.token)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("New = %v, want an error containing %q and no password", err, tc.wantErr)
			}
		})
	}
}

// TestLifecycleCalls drives every Forge method against the fake and checks
// the pull request the fake ends up with.
func TestLifecycleCalls(t *testing.T) {
	s, c := fixture(t)
	createLabel(t, s, "/repos/"+s.FullName()+"/labels", "dependencies")
	ctx := context.Background()
	pr, err := c.Create(ctx, pullrequest.NewPullRequest{Head: "imagebump/web", Title: "Update web to 2", Body: "body", Draft: true})
	if err != nil {
		t.Fatal(err)
	}
	if pr.Number != 1 || pr.State != pullrequest.StateOpen || pr.Title != "Update web to 2" || pr.URL == "" {
		t.Errorf("Create = %+v", pr)
	}
	// One label exists, one is created.
	if err := c.Label(ctx, 1, []string{"dependencies", "automated"}); err != nil {
		t.Fatal(err)
	}
	if got := labels(t, s, "/repos/"+s.FullName()+"/labels"); !cmp.Equal(got, []string{"automated", "dependencies"}) {
		t.Errorf("repository labels %v: want automated created next to dependencies", got)
	}
	if err := c.RequestReviews(ctx, 1, []string{"alice"}, []string{"platform"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Edit(ctx, 1, "Update web to 3", "new body"); err != nil {
		t.Fatal(err)
	}
	if err := c.Comment(ctx, 1, "hello"); err != nil {
		t.Fatal(err)
	}
	got := s.PullRequest(1)
	want := forgefake.PullRequest{
		Number: 1, Title: "WIP: Update web to 3", Body: "new body", State: "open", Draft: true,
		Head: "imagebump/web", HeadSHA: got.HeadSHA, Base: "main", User: giteaserver.AdminUser,
		Labels: []string{"automated", "dependencies"}, Reviewers: []string{"alice"}, TeamReviewers: []string{"platform"}, Comments: []string{"hello"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pull request (-want +got):\n%s", diff)
	}
	if comments, err := c.Comments(ctx, 1); err != nil || !cmp.Equal(comments, []string{"hello"}) {
		t.Errorf("Comments = %q, %v; want [hello]", comments, err)
	}
	prs, err := c.PullRequests(ctx, "imagebump/web")
	if err != nil || len(prs) != 1 || prs[0].Title != "Update web to 3" || prs[0].HeadSHA != got.HeadSHA {
		t.Errorf("PullRequests = %+v, %v; want #1 with its WIP prefix taken off", prs, err)
	}
	if err := c.Close(ctx, 1, "retired"); err != nil {
		t.Fatal(err)
	}
	if got := s.PullRequest(1); got.State != "closed" || got.Merged || got.Body != "retired" || got.Title != "WIP: Update web to 3" {
		t.Errorf("after Close: %+v", got)
	}
}

// TestPullRequestsFilteredAndPaged checks that a branch's pull requests are
// found among many, over several pages, in every state. The server pages
// at giteaserver.PageSize, fewer than the client asks for: the client must
// follow the server's paging.
func TestPullRequestsFilteredAndPaged(t *testing.T) {
	s, c := fixture(t)
	ctx := context.Background()
	// PageSize+1 pull requests on imagebump/api: two of the server's pages.
	n := giteaserver.PageSize + 1
	for i := range n {
		if _, err := c.Create(ctx, pullrequest.NewPullRequest{Head: "imagebump/api", Base: "main", Title: "t", Body: "b"}); err != nil {
			t.Fatal(err)
		}
		if i < n-1 {
			s.HumanClose(i + 1)
		}
	}
	// The premise: asked for a page larger than PageSize, the server
	// answers PageSize.
	var page []struct{ Number int }
	s.Server.MustDo(giteaserver.AdminUser, http.MethodGet, "/repos/"+s.FullName()+"/pulls?state=all&limit=50", nil, &page)
	if len(page) != giteaserver.PageSize {
		t.Fatalf("a page of %d pull requests, want the server's %d: the scenario would not span pages", len(page), giteaserver.PageSize)
	}
	if _, err := c.Create(ctx, pullrequest.NewPullRequest{Head: "imagebump/web", Base: "main", Title: "web", Body: "b"}); err != nil {
		t.Fatal(err)
	}
	s.Merge(n + 1)
	web, err := c.PullRequests(ctx, "imagebump/web")
	if err != nil || len(web) != 1 || web[0].Number != n+1 || web[0].State != pullrequest.StateMerged {
		t.Errorf("web: %+v, %v; want #%d merged", web, err, n+1)
	}
	api, err := c.PullRequests(ctx, "imagebump/api")
	if err != nil || len(api) != n {
		t.Fatalf("api: %d pull requests, %v; want %d", len(api), err, n)
	}
	open := 0
	for _, pr := range api {
		if pr.State == pullrequest.StateOpen {
			open++
		}
	}
	if open != 1 {
		t.Errorf("%d open, want 1", open)
	}
}

func TestOrgLabels(t *testing.T) {
	s, c := fixture(t)
	createLabel(t, s, "/orgs/"+s.Org()+"/labels", "dependencies")
	ctx := context.Background()
	if _, err := c.Create(ctx, pullrequest.NewPullRequest{Head: "imagebump/web", Base: "main", Title: "t", Body: "b"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Label(ctx, 1, []string{"dependencies"}); err != nil {
		t.Fatal(err)
	}
	if got := labels(t, s, "/repos/"+s.FullName()+"/labels"); len(got) != 0 || !cmp.Equal(s.PullRequest(1).Labels, []string{"dependencies"}) {
		t.Errorf("repository labels %v, pull request labels %v; want the organization's label used", got, s.PullRequest(1).Labels)
	}
}

func TestRateLimit(t *testing.T) {
	s, c := fixture(t)
	s.Proxy.RateLimit(1, 7)
	_, err := c.PullRequests(context.Background(), "imagebump/web")
	var rl *pullrequest.RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter != 7*time.Second {
		t.Fatalf("err = %v, want a RateLimitError of 7s", err)
	}
	if _, err := c.PullRequests(context.Background(), "imagebump/web"); err != nil {
		t.Errorf("after the limit: %v", err)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	for _, tc := range []struct {
		name   string
		header http.Header
		want   time.Duration
	}{
		{"seconds", http.Header{"Retry-After": {"30"}}, 30 * time.Second},
		{"http date", http.Header{"Retry-After": {now.Add(90 * time.Second).UTC().Format(http.TimeFormat)}}, 90 * time.Second},
		{"nothing", http.Header{}, DefaultRateLimitWait},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := retryAfter(tc.header, now); got != tc.want {
				t.Errorf("retryAfter = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestTokenNeverInErrors(t *testing.T) {
	s, _ := fixture(t)
	c, err := New(s.Proxy.URL, s.Org(), s.Name(), "wr0ng-s3cret")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.PullRequests(context.Background(), "imagebump/web")
	if err == nil || strings.Contains(err.Error(), "wr0ng-s3cret") {
		t.Errorf("err = %v, want an error without the token", err)
	}
}
