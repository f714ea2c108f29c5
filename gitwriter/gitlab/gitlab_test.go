package gitlab

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/gitwriter/pullrequest"
	"github.com/imagebump/imagebump/test/forgefake"
	"github.com/imagebump/imagebump/test/gitlabfake"
)

// fixture is a fake for group/sub/fleet requiring token "tok", on a
// repository whose branch imagebump/web is one commit ahead of main.
func fixture(t *testing.T) (*gitlabfake.Server, *Client) {
	t.Helper()
	repo := forgefake.InitRepo(t, "main", map[string]string{"app.yaml": "image: web:1\n"})
	main := forgefake.Git(t, repo, "rev-parse", "main")
	if _, err := forgefake.CommitFiles(repo, main, "imagebump/web", map[string]string{"app.yaml": "image: web:2\n"}, "bot@example.com", "bump"); err != nil {
		t.Fatal(err)
	}
	s := gitlabfake.New(t, repo, "group/sub/fleet", "main")
	s.RequireToken("tok")
	c, err := New(s.URL, "group/sub/fleet", "tok")
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name, apiURL, path, token string
		wantErr                   string
	}{
		{name: "no token", apiURL: "https://gitlab.com/api/v4", path: "a/b", wantErr: "no token"},
		{name: "no group", apiURL: "https://gitlab.com/api/v4", path: "b", token: "t", wantErr: "GROUP/…/PROJECT"},
		{name: "credentials in apiURL are not echoed", apiURL: "https://user:s3cret@gitlab.example.com:x/api/v4", path: "a/b", token: "t", wantErr: "REDACTED"},
		{name: "not http", apiURL: "ftp://gitlab.example.com/", path: "a/b", token: "t", wantErr: "not an http(s) URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.apiURL, tc.path, tc.token)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("New = %v, want an error containing %q and no password", err, tc.wantErr)
			}
		})
	}
}

// TestLifecycleCalls drives every Forge method against the fake and checks
// the merge request the fake ends up with.
func TestLifecycleCalls(t *testing.T) {
	s, c := fixture(t)
	ctx := context.Background()
	pr, err := c.Create(ctx, pullrequest.NewPullRequest{Head: "imagebump/web", Title: "Update web to 2", Body: "body", Draft: true})
	if err != nil {
		t.Fatal(err)
	}
	if pr.Number != 1 || pr.State != pullrequest.StateOpen || pr.Title != "Update web to 2" || !strings.Contains(pr.URL, "/group/sub/fleet/-/merge_requests/1") {
		t.Errorf("Create = %+v", pr)
	}
	if err := c.Label(ctx, 1, []string{"dependencies", "automated"}); err != nil {
		t.Fatal(err)
	}
	if err := c.RequestReviews(ctx, 1, []string{"alice", "bob"}, nil); err != nil {
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
		Number: 1, Title: "Draft: Update web to 3", Body: "new body", State: "open", Draft: true,
		Head: "imagebump/web", HeadSHA: got.HeadSHA, Base: "main", User: forgefake.BotLogin,
		Labels: []string{"dependencies", "automated"}, Reviewers: []string{"alice", "bob"}, Comments: []string{"hello"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("merge request (-want +got):\n%s", diff)
	}
	// System notes are GitLab's, not comments.
	comments, err := c.Comments(ctx, 1)
	if err != nil || !cmp.Equal(comments, []string{"hello"}) {
		t.Errorf("Comments = %q, %v; want [hello]", comments, err)
	}
	prs, err := c.PullRequests(ctx, "imagebump/web")
	if err != nil || len(prs) != 1 || prs[0].Title != "Update web to 3" || prs[0].HeadSHA != got.HeadSHA {
		t.Errorf("PullRequests = %+v, %v; want #1 with its draft prefix taken off", prs, err)
	}
	if err := c.Close(ctx, 1, "retired"); err != nil {
		t.Fatal(err)
	}
	if got := s.PullRequest(1); got.State != "closed" || got.Merged || got.Body != "retired" {
		t.Errorf("after Close: %+v", got)
	}
	if prs, _ := c.PullRequests(ctx, "imagebump/web"); len(prs) != 1 || prs[0].State != pullrequest.StateClosed {
		t.Errorf("PullRequests after Close = %+v, want closed", prs)
	}
	if prs, _ := c.PullRequests(ctx, "imagebump/other"); len(prs) != 0 {
		t.Errorf("PullRequests of another branch = %+v, want none", prs)
	}
}

func TestMergedToldApart(t *testing.T) {
	s, c := fixture(t)
	ctx := context.Background()
	if _, err := c.Create(ctx, pullrequest.NewPullRequest{Head: "imagebump/web", Base: "main", Title: "t", Body: "b"}); err != nil {
		t.Fatal(err)
	}
	s.Merge(1)
	prs, err := c.PullRequests(ctx, "imagebump/web")
	if err != nil || len(prs) != 1 || prs[0].State != pullrequest.StateMerged {
		t.Errorf("PullRequests = %+v, %v; want one merged", prs, err)
	}
}

func TestReviewers(t *testing.T) {
	s, c := fixture(t)
	ctx := context.Background()
	if _, err := c.Create(ctx, pullrequest.NewPullRequest{Head: "imagebump/web", Base: "main", Title: "t", Body: "b"}); err != nil {
		t.Fatal(err)
	}
	if err := c.RequestReviews(ctx, 1, nil, []string{"platform"}); err == nil || !strings.Contains(err.Error(), "GitLab has no team reviewers") {
		t.Errorf("team reviewers: %v, want a clear refusal", err)
	}
	if err := c.RequestReviews(ctx, 1, []string{"mallory"}, nil); err == nil || !strings.Contains(err.Error(), "no such user") {
		t.Errorf("unknown user: %v, want no such user", err)
	}
	// IDs are looked up once per client.
	before := len(c.users)
	for range 2 {
		if err := c.RequestReviews(ctx, 1, []string{"alice"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if len(c.users) != before+1 {
		t.Errorf("user cache holds %d entries, want %d", len(c.users), before+1)
	}
	if got := s.PullRequest(1).Reviewers; !cmp.Equal(got, []string{"alice"}) {
		t.Errorf("reviewers %q, want [alice]", got)
	}
}

func TestRateLimit(t *testing.T) {
	s, c := fixture(t)
	s.RateLimit(1, 7)
	_, err := c.PullRequests(context.Background(), "imagebump/web")
	var rl *pullrequest.RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter != 7*time.Second {
		t.Fatalf("err = %v, want a RateLimitError of 7s", err)
	}
	if len(s.Writes()) != 0 {
		t.Errorf("writes %v", s.Writes())
	}
	// The client's own retries are off: the next call is answered.
	if _, err := c.PullRequests(context.Background(), "imagebump/web"); err != nil {
		t.Errorf("after the limit: %v", err)
	}
}

func TestTokenNeverInErrors(t *testing.T) {
	s, _ := fixture(t)
	c, err := New(s.URL, "group/sub/fleet", "wr0ng-s3cret")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.PullRequests(context.Background(), "imagebump/web")
	if err == nil || strings.Contains(err.Error(), "wr0ng-s3cret") || !strings.Contains(err.Error(), "401") {
		t.Errorf("err = %v, want a 401 without the token", err)
	}
}

func TestUndraft(t *testing.T) {
	for in, want := range map[string]string{
		"Draft: Update x": "Update x", "[Draft] Update x": "Update x", "(draft) Update x": "Update x",
		"Update x": "Update x", "Update Draft: x": "Update Draft: x",
	} {
		if got := undraft(in); got != want {
			t.Errorf("undraft(%q) = %q, want %q", in, got, want)
		}
	}
}

// sleeps records the waits of a client's own retries instead of sleeping.
type sleeps []time.Duration

func (s *sleeps) sleep(_ context.Context, d time.Duration) error {
	*s = append(*s, d)
	return nil
}

// TestCreateRetriedAfterPush checks that a creation refused because the
// just-pushed source branch "does not exist" yet is tried again, briefly.
func TestCreateRetriedAfterPush(t *testing.T) {
	for _, tc := range []struct {
		name       string
		lag        int
		wantSleeps []time.Duration
		wantErr    string
	}{
		{"visible at once", 0, nil, ""},
		{"visible after two tries", 2, []time.Duration{time.Second, 2 * time.Second}, ""},
		{"never visible", 10, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}, "does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := fixture(t)
			s.PushLag(tc.lag)
			var slept sleeps
			c, err := New(s.URL, "group/sub/fleet", "tok", WithSleep(slept.sleep))
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Create(context.Background(), pullrequest.NewPullRequest{Head: "imagebump/web", Base: "main", Title: "t", Body: "b"})
			if (tc.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("Create = %v, want an error containing %q", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.wantSleeps, []time.Duration(slept)); diff != "" {
				t.Errorf("waits (-want +got):\n%s", diff)
			}
		})
	}
}

// TestForkMergeRequestsIgnored checks that a merge request from a fork
// whose branch has the bot's branch name is not taken for the bot's.
func TestForkMergeRequestsIgnored(t *testing.T) {
	s, c := fixture(t)
	ctx := context.Background()
	s.ForkMergeRequest("imagebump/web", "Update web to 9", "from a fork")
	if _, err := c.Create(ctx, pullrequest.NewPullRequest{Head: "imagebump/web", Base: "main", Title: "t", Body: "b"}); err != nil {
		t.Fatal(err)
	}
	prs, err := c.PullRequests(ctx, "imagebump/web")
	if err != nil {
		t.Fatal(err)
	}
	if len(prs) != 1 || prs[0].Number != 1 {
		t.Errorf("PullRequests = %+v, want only !1, not the fork's", prs)
	}
}

// TestDraftKeptOnGitLab13 checks that editing a draft keeps it a draft on
// GitLab 13.x, which has no draft field: the title's prefix is kept.
func TestDraftKeptOnGitLab13(t *testing.T) {
	s, c := fixture(t)
	s.Legacy13()
	ctx := context.Background()
	if _, err := c.Create(ctx, pullrequest.NewPullRequest{Head: "imagebump/web", Base: "main", Title: "t", Body: "b", Draft: true}); err != nil {
		t.Fatal(err)
	}
	if err := c.Edit(ctx, 1, "new title", "new body"); err != nil {
		t.Fatal(err)
	}
	if pr := s.PullRequest(1); !pr.Draft || pr.Title != DraftPrefix+"new title" {
		t.Errorf("after the edit: draft %v, title %q; want a draft titled %q", pr.Draft, pr.Title, DraftPrefix+"new title")
	}
}

// TestReviewersGitLabFree checks that reviewers GitLab silently dropped
// (Free keeps one) are reported to the lifecycle in a
// *pullrequest.ReviewersError.
func TestReviewersGitLabFree(t *testing.T) {
	s, c := fixture(t)
	s.Free()
	ctx := context.Background()
	if _, err := c.Create(ctx, pullrequest.NewPullRequest{Head: "imagebump/web", Base: "main", Title: "t", Body: "b"}); err != nil {
		t.Fatal(err)
	}
	err := c.RequestReviews(ctx, 1, []string{"alice", "bob"}, nil)
	var refused *pullrequest.ReviewersError
	if !errors.As(err, &refused) {
		t.Fatalf("RequestReviews = %v, want a *pullrequest.ReviewersError: a reviewer never fails the merge request", err)
	}
	pr := s.PullRequest(1)
	if !cmp.Equal(pr.Reviewers, []string{"alice"}) || !cmp.Equal(refused.Refused, []string{"`bob`"}) || len(pr.Comments) != 0 {
		t.Errorf("reviewers %q, refused %q, comments %q; want alice kept, bob reported, no comment from the client", pr.Reviewers, refused.Refused, pr.Comments)
	}
}

// TestRateLimitWaits checks the wait a GitLab 429 asks for: Retry-After,
// else RateLimit-Reset read on the client's clock, else
// DefaultRateLimitWait; and that Observe waits it out within the pass's
// budget, or fails the group when the budget is shorter.
func TestRateLimitWaits(t *testing.T) {
	now := time.Date(2026, 1, 1, 10, 0, 15, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		limit func(s *gitlabfake.Server)
		want  func(s *gitlabfake.Server) time.Duration
	}{
		{"Retry-After", func(s *gitlabfake.Server) { s.RateLimit(1, 7) }, func(*gitlabfake.Server) time.Duration { return 7 * time.Second }},
		{"no Retry-After: the reset", func(s *gitlabfake.Server) { s.RateLimit(1, -1) }, func(s *gitlabfake.Server) time.Duration { return s.Reset().Sub(now) + time.Second }},
		{"no header at all: the default", func(s *gitlabfake.Server) { s.RateLimitBare(1) }, func(*gitlabfake.Server) time.Duration { return DefaultRateLimitWait }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := fixture(t)
			s.UseClock(func() time.Time { return now })
			c, err := New(s.URL, "group/sub/fleet", "tok", WithClock(func() time.Time { return now }))
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want(s)
			tc.limit(s)
			_, err = c.PullRequests(context.Background(), "imagebump/web")
			var rl *pullrequest.RateLimitError
			if !errors.As(err, &rl) || rl.RetryAfter != want {
				t.Fatalf("err = %v, want a RateLimitError of %s", err, want)
			}

			// Within the budget the lifecycle waits and goes on.
			tc.limit(s)
			var slept []time.Duration
			sleep := func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }
			groups := []pullrequest.Group{{Name: "web", Branch: "imagebump/web"}}
			_, failed := pullrequest.Observe(context.Background(), c, groups, nil, pullrequest.WithSleep(sleep), pullrequest.WithMaxWait(want))
			if len(failed) != 0 || !cmp.Equal(slept, []time.Duration{want}) {
				t.Errorf("within a budget of %s: failed %v, slept %v, want one wait of %s", want, failed, slept, want)
			}
			// Beyond it the group fails without waiting.
			tc.limit(s)
			slept = nil
			_, failed = pullrequest.Observe(context.Background(), c, groups, nil, pullrequest.WithSleep(sleep), pullrequest.WithMaxWait(want-time.Second))
			if len(failed) != 1 || len(slept) != 0 {
				t.Errorf("beyond the budget: failed %v, slept %v, want the group failed and no wait", failed, slept)
			}
		})
	}
}

// TestIssueDescriptionCapped checks that an issue description above
// GitLab's limit (the dashboard's, were it ever that long) is cut to fit
// on create and edit, keeping its end's marker line.
func TestIssueDescriptionCapped(t *testing.T) {
	ctx := context.Background()
	s, c := fixture(t)
	const marker = "<!-- imagebump-dashboard -->"
	body := strings.Repeat("| `web` | `1` | `2` |\n", gitlabfake.MaxDescription/20+10) + marker + "\n"
	is, err := c.CreateIssue(ctx, "Dashboard", body)
	if err != nil {
		t.Fatalf("CreateIssue with a %d-character description: %v", len(body), err)
	}
	if err := c.EditIssue(ctx, is.Number, "Dashboard", "x"+body, false); err != nil {
		t.Fatalf("EditIssue with a %d-character description: %v", len(body)+1, err)
	}
	for _, got := range s.Issues() {
		if n := utf8.RuneCountInString(got.Body); n > gitlabfake.MaxDescription || !strings.Contains(got.Body, "GitLab takes at most 1,048,576 characters") || !strings.HasSuffix(got.Body, marker+"\n") {
			t.Errorf("issue description of %d characters, want at most %d, saying it was cut and ending with the marker", n, gitlabfake.MaxDescription)
		}
	}
}

// TestDescriptionCapped checks that a description above GitLab's limit is
// cut to fit on create, edit and close, keeping the hidden marker, and
// that editing with the same oversized description writes nothing.
func TestDescriptionCapped(t *testing.T) {
	ctx := context.Background()
	s, c := fixture(t)
	marker := pullrequest.Marker{Group: "all", Versions: []pullrequest.Version{{Policy: "web", Image: "web", From: "1", To: "2"}}}.String()
	row := "| `web` | `1` | `2` | `app.yaml` | `web` |\n"
	body := "imagebump updates the images of group `all`.\n\n" + strings.Repeat(row, gitlabfake.MaxDescription/len(row)+10) + "\n" + marker + "\n"
	created, err := c.Create(ctx, pullrequest.NewPullRequest{Head: "imagebump/web", Base: "main", Title: "t", Body: body})
	if err != nil {
		t.Fatalf("Create with a %d-character description: %v", len(body), err)
	}
	got := s.PullRequest(created.Number).Body
	if n := utf8.RuneCountInString(got); n > gitlabfake.MaxDescription {
		t.Errorf("description of %d characters, want at most %d", n, gitlabfake.MaxDescription)
	}
	if m, ok := pullrequest.ParseMarker(got); !ok || m.Group != "all" {
		t.Errorf("marker lost from the cut description: %v", ok)
	}
	if !strings.Contains(got, "imagebump cut this description: GitLab takes at most 1,048,576 characters") {
		t.Error("the cut description does not say it was cut")
	}
	before := len(s.Writes())
	if err := c.Edit(ctx, created.Number, "t", body); err != nil {
		t.Fatal(err)
	}
	if w := s.Writes()[before:]; len(w) != 0 {
		t.Errorf("editing with the same oversized description wrote %+v", w)
	}
	if err := c.Edit(ctx, created.Number, "new title", body+"x"); err != nil {
		t.Fatal(err)
	}
	if pr := s.PullRequest(created.Number); pr.Title != "new title" || utf8.RuneCountInString(pr.Body) > gitlabfake.MaxDescription {
		t.Errorf("after an edit: title %q, %d characters", pr.Title, utf8.RuneCountInString(pr.Body))
	}
	if err := c.Close(ctx, created.Number, body); err != nil {
		t.Fatalf("Close with an oversized description: %v", err)
	}
}
