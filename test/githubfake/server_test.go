package githubfake_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	gh "github.com/google/go-github/v60/github"

	"github.com/imagebump/imagebump/test/githubfake"
)

// setup starts a fake for acme/fleet on a repository with branches a and
// b each one commit ahead of main, and a go-github client for it.
func setup(t *testing.T, tb testing.TB) (*githubfake.Server, *gh.Client, string) {
	t.Helper()
	repo := githubfake.InitRepo(t, "main", map[string]string{"app.yaml": "image: web:1\n"})
	main := githubfake.Git(t, repo, "rev-parse", "main")
	for _, b := range []string{"a", "b"} {
		if _, err := githubfake.CommitFiles(repo, main, b, map[string]string{"app.yaml": "image: web:" + b + "\n"}, "bot@example.com", "bump"); err != nil {
			t.Fatal(err)
		}
	}
	s := githubfake.New(tb, repo, "acme", "fleet", "main")
	c, err := gh.NewClient(nil).WithEnterpriseURLs(s.URL, s.URL)
	if err != nil {
		t.Fatal(err)
	}
	return s, c, repo
}

func create(ctx context.Context, c *gh.Client, head string) (*gh.PullRequest, error) {
	pr, _, err := c.PullRequests.Create(ctx, "acme", "fleet", &gh.NewPullRequest{Title: gh.String("t " + head), Head: gh.String(head), Base: gh.String("main")})
	return pr, err
}

func status(err error) int {
	var er *gh.ErrorResponse
	if errors.As(err, &er) {
		return er.Response.StatusCode
	}
	return 0
}

func TestCreateValidation(t *testing.T) {
	ctx := context.Background()
	s, c, repo := setup(t, t)
	githubfake.Git(t, repo, "branch", "same", "main")
	if _, err := create(ctx, c, "a"); err != nil {
		t.Fatalf("first pull request on a: %v", err)
	}
	for _, tc := range []struct {
		name, head, msg string
	}{
		{"head missing", "nope", "head"},
		{"no commits between", "same", "No commits between main and same"},
		{"second open pull request on one head", "a", "A pull request already exists for acme:a."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := create(ctx, c, tc.head)
			if status(err) != http.StatusUnprocessableEntity || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("create(%s) = %v, want 422 mentioning %q", tc.head, err, tc.msg)
			}
		})
	}
	got := s.Writes()
	if len(got) != 4 || got[0].Status != http.StatusCreated || got[3].Status != http.StatusUnprocessableEntity {
		t.Errorf("write log %+v, want 4 POSTs, the first one 201", got)
	}
}

func TestBranchesDrivePullRequests(t *testing.T) {
	ctx := context.Background()
	s, c, repo := setup(t, t)
	pa, err := create(ctx, c, "a")
	if err != nil {
		t.Fatal(err)
	}
	pb, err := create(ctx, c, "b")
	if err != nil {
		t.Fatal(err)
	}
	// A human pushes to a: head.sha follows.
	pushed, err := githubfake.CommitFiles(repo, pa.GetHead().GetSHA(), "a", map[string]string{"x": "y"}, "human@example.com", "fixup")
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := c.PullRequests.Get(ctx, "acme", "fleet", pa.GetNumber())
	if err != nil || got.GetHead().GetSHA() != pushed {
		t.Fatalf("head.sha = %s, %v; want %s", got.GetHead().GetSHA(), err, pushed)
	}
	// Deleting b's ref through the API closes its pull request.
	if _, err := c.Git.DeleteRef(ctx, "acme", "fleet", "heads/b"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Git.DeleteRef(ctx, "acme", "fleet", "heads/b"); status(err) != http.StatusUnprocessableEntity {
		t.Errorf("deleting a missing ref = %v, want 422", err)
	}
	if pr := s.PullRequest(pb.GetNumber()); pr.State != "closed" || pr.Merged {
		t.Errorf("after deleting its head, #%d is %s merged=%v", pr.Number, pr.State, pr.Merged)
	}
	// Merging a fast-forwards main.
	s.Merge(pa.GetNumber())
	if main := githubfake.Git(t, repo, "rev-parse", "main"); main != pushed {
		t.Errorf("main = %s after merge, want %s", main, pushed)
	}
	list := func(state, head string) []int {
		var ns []int
		opts := &gh.PullRequestListOptions{State: state, Head: head, ListOptions: gh.ListOptions{PerPage: 1}}
		for {
			prs, resp, err := c.PullRequests.List(ctx, "acme", "fleet", opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, pr := range prs {
				ns = append(ns, pr.GetNumber())
				if pr.GetNumber() == pa.GetNumber() && pr.MergedAt == nil {
					t.Errorf("merged #%d listed without merged_at", pr.GetNumber())
				}
			}
			if resp.NextPage == 0 {
				return ns
			}
			opts.Page = resp.NextPage
		}
	}
	for _, tc := range []struct {
		state, head string
		want        []int
	}{
		{"all", "", []int{2, 1}},
		{"open", "", nil},
		{"closed", "acme:a", []int{1}},
		{"all", "other:a", nil},
	} {
		if diff := cmp.Diff(tc.want, list(tc.state, tc.head)); diff != "" {
			t.Errorf("list state=%s head=%s (-want +got):\n%s", tc.state, tc.head, diff)
		}
	}
}

func TestLabelsReviewersComments(t *testing.T) {
	ctx := context.Background()
	s, c, _ := setup(t, t)
	pr, err := create(ctx, c, "a")
	if err != nil {
		t.Fatal(err)
	}
	n := pr.GetNumber()
	if _, _, err := c.Issues.AddLabelsToIssue(ctx, "acme", "fleet", n, []string{"dependencies"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.PullRequests.RequestReviewers(ctx, "acme", "fleet", n, gh.ReviewersRequest{Reviewers: []string{"alice"}, TeamReviewers: []string{"platform"}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Issues.CreateComment(ctx, "acme", "fleet", n, &gh.IssueComment{Body: gh.String("hello")}); err != nil {
		t.Fatal(err)
	}
	cs, _, err := c.Issues.ListComments(ctx, "acme", "fleet", n, nil)
	if err != nil || len(cs) != 1 || cs[0].GetBody() != "hello" {
		t.Errorf("comments = %v, %v", cs, err)
	}
	got := s.PullRequest(n)
	want := githubfake.PullRequest{Labels: []string{"dependencies"}, Reviewers: []string{"alice"}, TeamReviewers: []string{"platform"}, Comments: []string{"hello"}}
	if diff := cmp.Diff(want, githubfake.PullRequest{Labels: got.Labels, Reviewers: got.Reviewers, TeamReviewers: got.TeamReviewers, Comments: got.Comments}); diff != "" {
		t.Errorf("pull request (-want +got):\n%s", diff)
	}
	var methods []string
	for _, w := range s.Writes() {
		methods = append(methods, w.Method+" "+w.Path)
	}
	wantWrites := []string{
		"POST /api/v3/repos/acme/fleet/pulls",
		"POST /api/v3/repos/acme/fleet/issues/1/labels",
		"POST /api/v3/repos/acme/fleet/pulls/1/requested_reviewers",
		"POST /api/v3/repos/acme/fleet/issues/1/comments",
	}
	if diff := cmp.Diff(wantWrites, methods); diff != "" {
		t.Errorf("write log (-want +got):\n%s", diff)
	}
}

func TestSecondaryRateLimit(t *testing.T) {
	ctx := context.Background()
	s, c, _ := setup(t, t)
	s.SecondaryRateLimit(1, 0)
	_, err := create(ctx, c, "a")
	var abuse *gh.AbuseRateLimitError
	if !errors.As(err, &abuse) || abuse.RetryAfter == nil {
		t.Fatalf("create = %v, want a secondary rate limit with Retry-After", err)
	}
	if len(s.Writes()) != 0 {
		t.Errorf("a rate-limited request was logged as a write: %v", s.Writes())
	}
	if _, err := create(ctx, c, "a"); err != nil {
		t.Errorf("create after the limit: %v", err)
	}
}

// recorder catches the test errors the fake reports.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestUnknownEndpointFailsTheTest(t *testing.T) {
	rec := &recorder{TB: t}
	_, c, _ := setup(t, rec)
	_, _, err := c.Repositories.ListCollaborators(context.Background(), "acme", "fleet", nil)
	if status(err) != http.StatusNotFound {
		t.Errorf("unknown endpoint answered %v, want 404", err)
	}
	if len(rec.errs) != 1 || !strings.Contains(rec.errs[0], "unknown endpoint GET /api/v3/repos/acme/fleet/collaborators") {
		t.Errorf("test errors %q, want one naming the endpoint", rec.errs)
	}
}

// TestStrictBehaviours checks the answers the fake gives as github.com
// does, each switched on as the test says (or always on).
func TestStrictBehaviours(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		// setup switches the behaviour on; call makes the request.
		setup      func(s *githubfake.Server)
		call       func(c *gh.Client) (*gh.Response, error)
		wantStatus int
		wantHeader map[string]string // "" = must be absent
		wantText   string
	}{
		{"rate-limit headers on every answer", nil,
			func(c *gh.Client) (*gh.Response, error) {
				_, r, err := c.PullRequests.List(ctx, "acme", "fleet", nil)
				return r, err
			}, http.StatusOK, map[string]string{"X-RateLimit-Limit": "5000", "X-RateLimit-Resource": "core"}, ""},
		{"429 with Retry-After", func(s *githubfake.Server) { s.TooManyRequests(1, 9) },
			func(c *gh.Client) (*gh.Response, error) {
				_, r, err := c.PullRequests.List(ctx, "acme", "fleet", nil)
				return r, err
			}, http.StatusTooManyRequests, map[string]string{"Retry-After": "9"}, "secondary rate limit"},
		{"secondary limit without Retry-After", func(s *githubfake.Server) { s.SecondaryRateLimit(1, -1) },
			func(c *gh.Client) (*gh.Response, error) {
				_, r, err := c.PullRequests.List(ctx, "acme", "fleet", nil)
				return r, err
			}, http.StatusForbidden, map[string]string{"Retry-After": ""}, "secondary rate limit"},
		{"a just-pushed head is not seen yet", func(s *githubfake.Server) { s.PushLag(1) },
			func(c *gh.Client) (*gh.Response, error) {
				_, r, err := c.PullRequests.Create(ctx, "acme", "fleet", &gh.NewPullRequest{Title: gh.String("t"), Head: gh.String("a"), Base: gh.String("main")})
				return r, err
			}, http.StatusUnprocessableEntity, nil, "No commits between main and a"},
		{"draft refused on a private Free repository", func(s *githubfake.Server) { s.PrivateFree() },
			func(c *gh.Client) (*gh.Response, error) {
				_, r, err := c.PullRequests.Create(ctx, "acme", "fleet", &gh.NewPullRequest{Title: gh.String("t"), Head: gh.String("a"), Base: gh.String("main"), Draft: gh.Bool(true)})
				return r, err
			}, http.StatusUnprocessableEntity, nil, "Draft pull requests are not supported in this repository."},
		{"body above the limit", nil,
			func(c *gh.Client) (*gh.Response, error) {
				_, r, err := c.PullRequests.Create(ctx, "acme", "fleet", &gh.NewPullRequest{Title: gh.String("t"), Head: gh.String("a"), Base: gh.String("main"), Body: gh.String(strings.Repeat("x", githubfake.MaxBody+1))})
				return r, err
			}, http.StatusUnprocessableEntity, nil, "body is too long (maximum is 65536 characters)"},
		{"body at the limit", nil,
			func(c *gh.Client) (*gh.Response, error) {
				_, r, err := c.PullRequests.Create(ctx, "acme", "fleet", &gh.NewPullRequest{Title: gh.String("t"), Head: gh.String("a"), Base: gh.String("main"), Body: gh.String(strings.Repeat("é", githubfake.MaxBody))})
				return r, err
			}, http.StatusCreated, nil, ""},
		{"review from the author refused", nil,
			func(c *gh.Client) (*gh.Response, error) {
				if _, err := create(ctx, c, "a"); err != nil {
					return nil, err
				}
				_, r, err := c.PullRequests.RequestReviewers(ctx, "acme", "fleet", 1, gh.ReviewersRequest{Reviewers: []string{"alice", githubfake.BotLogin}})
				return r, err
			}, http.StatusUnprocessableEntity, nil, "Review cannot be requested from pull request author."},
		{"review from a non-collaborator refused", func(s *githubfake.Server) { s.Collaborators("alice") },
			func(c *gh.Client) (*gh.Response, error) {
				if _, err := create(ctx, c, "a"); err != nil {
					return nil, err
				}
				_, r, err := c.PullRequests.RequestReviewers(ctx, "acme", "fleet", 1, gh.ReviewersRequest{Reviewers: []string{"alice", "bob"}})
				return r, err
			}, http.StatusUnprocessableEntity, nil, "Reviews may only be requested from collaborators"},
		{"team written ORG/TEAM refused", nil,
			func(c *gh.Client) (*gh.Response, error) {
				if _, err := create(ctx, c, "a"); err != nil {
					return nil, err
				}
				_, r, err := c.PullRequests.RequestReviewers(ctx, "acme", "fleet", 1, gh.ReviewersRequest{TeamReviewers: []string{"acme/platform"}})
				return r, err
			}, http.StatusUnprocessableEntity, nil, "teams you specified is not a collaborator"},
		{"the token's user", nil,
			func(c *gh.Client) (*gh.Response, error) {
				u, r, err := c.Users.Get(ctx, "")
				if err == nil && u.GetLogin() != githubfake.BotLogin {
					err = fmt.Errorf("login %q", u.GetLogin())
				}
				return r, err
			}, http.StatusOK, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, c, _ := setup(t, t)
			if tc.setup != nil {
				tc.setup(s)
			}
			resp, err := tc.call(c)
			if resp == nil {
				t.Fatalf("no response: %v", err)
			}
			if resp.StatusCode != tc.wantStatus {
				t.Errorf("status %d (%v), want %d", resp.StatusCode, err, tc.wantStatus)
			}
			if tc.wantText != "" && (err == nil || !strings.Contains(err.Error(), tc.wantText)) {
				t.Errorf("error %v, want one containing %q", err, tc.wantText)
			}
			if tc.wantText == "" && err != nil {
				t.Errorf("error %v", err)
			}
			for k, v := range tc.wantHeader {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if resp.Header.Get("X-RateLimit-Remaining") == "" || resp.Header.Get("X-RateLimit-Reset") == "" {
				t.Errorf("no X-RateLimit-Remaining/Reset on the answer: %v", resp.Header)
			}
			if tc.wantStatus >= 400 {
				for _, pr := range s.PullRequests() {
					if len(pr.Reviewers) > 0 || len(pr.TeamReviewers) > 0 {
						t.Errorf("a refused review request set reviewers: %+v", pr)
					}
				}
			}
		})
	}
}
