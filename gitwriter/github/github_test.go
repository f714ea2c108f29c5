package github

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/gitwriter/pullrequest"
	"github.com/imagebump/imagebump/test/githubfake"
)

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name, apiURL, token  string
		wantBase, wantUpload string
		wantErr              string
	}{
		{name: "github.com", wantBase: "https://api.github.com/", wantUpload: "https://uploads.github.com/", token: "t"},
		{name: "enterprise API root", apiURL: "https://ghe.example.com/api/v3/", token: "t", wantBase: "https://ghe.example.com/api/v3/", wantUpload: "https://ghe.example.com/api/uploads/"},
		{name: "enterprise without slash", apiURL: "https://ghe.example.com/api/v3", token: "t", wantBase: "https://ghe.example.com/api/v3/", wantUpload: "https://ghe.example.com/api/uploads/"},
		{name: "enterprise host only", apiURL: "https://ghe.example.com", token: "t", wantBase: "https://ghe.example.com/api/v3/", wantUpload: "https://ghe.example.com/api/uploads/"},
		{name: "no token", wantErr: "no token"},
		{name: "credentials in apiURL are not echoed", apiURL: "https://user:s3cret@ghe.example.com:x/api/v3/", token: "t", wantErr: "REDACTED"},
		{name: "not http", apiURL: "ftp://ghe.example.com/", token: "t", wantErr: "not an http(s) URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.apiURL, "acme", "fleet", tc.token)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "s3cret") {
					t.Fatalf("New = %v, want an error containing %q and no password", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.gh.BaseURL.String(); got != tc.wantBase {
				t.Errorf("BaseURL = %s, want %s", got, tc.wantBase)
			}
			if got := c.gh.UploadURL.String(); got != tc.wantUpload {
				t.Errorf("UploadURL = %s, want %s", got, tc.wantUpload)
			}
		})
	}
}

// fixture is a fake for acme/fleet requiring token "tok", on a repository
// whose branch imagebump/web is one commit ahead of main.
func fixture(t *testing.T) (*githubfake.Server, *Client, string) {
	t.Helper()
	repo := githubfake.InitRepo(t, "main", map[string]string{"app.yaml": "image: web:1\n"})
	main := githubfake.Git(t, repo, "rev-parse", "main")
	if _, err := githubfake.CommitFiles(repo, main, "imagebump/web", map[string]string{"app.yaml": "image: web:2\n"}, "bot@example.com", "bump"); err != nil {
		t.Fatal(err)
	}
	s := githubfake.New(t, repo, "acme", "fleet", "main")
	s.RequireToken("tok")
	return s, newClient(t, s, nil), repo
}

// newClient is a client of the fake s on a clock of its own, which the
// fake times writes by, so spaced writes cost no real time. The client's
// waits (its retries and the spacing of its writes) are appended to slept
// when it is not nil.
func newClient(t *testing.T, s *githubfake.Server, slept *sleeps, opts ...Option) *Client {
	t.Helper()
	clock := githubfake.NewClock(time.Unix(1_700_000_000, 0))
	s.UseClock(clock.Now)
	sleep := func(ctx context.Context, d time.Duration) error {
		if slept != nil {
			*slept = append(*slept, d)
		}
		return clock.Sleep(ctx, d)
	}
	c, err := New(s.URL, "acme", "fleet", "tok", append([]Option{WithClock(clock.Now), WithSleep(sleep)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestForge(t *testing.T) {
	ctx := context.Background()
	s, c, repo := fixture(t)
	head := githubfake.Git(t, repo, "rev-parse", "imagebump/web")

	created, err := c.Create(ctx, pullrequest.NewPullRequest{Head: "imagebump/web", Title: "Update web to 2", Body: "body", Draft: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Label(ctx, created.Number, []string{"dependencies", "images"}); err != nil {
		t.Fatal(err)
	}
	if err := c.RequestReviews(ctx, created.Number, []string{"alice"}, []string{"platform"}); err != nil {
		t.Fatal(err)
	}
	got := s.PullRequest(created.Number)
	want := githubfake.PullRequest{
		Number: 1, Title: "Update web to 2", Body: "body", State: "open", Draft: true, Head: "imagebump/web", HeadSHA: head, Base: "main",
		Labels: []string{"dependencies", "images"}, Reviewers: []string{"alice"}, TeamReviewers: []string{"platform"}, User: githubfake.BotLogin,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("created pull request (-want +got):\n%s", diff)
	}

	if err := c.Edit(ctx, 1, "new title", "new body"); err != nil {
		t.Fatal(err)
	}
	if err := c.Comment(ctx, 1, "note"); err != nil {
		t.Fatal(err)
	}
	comments, err := c.Comments(ctx, 1)
	if err != nil || !cmp.Equal(comments, []string{"note"}) {
		t.Errorf("Comments = %q, %v", comments, err)
	}
	prs, err := c.PullRequests(ctx, "imagebump/web")
	if err != nil {
		t.Fatal(err)
	}
	wantPR := []pullrequest.PullRequest{{Number: 1, State: pullrequest.StateOpen, Head: "imagebump/web", HeadSHA: head, Title: "new title", Body: "new body", URL: "https://github.com/acme/fleet/pull/1"}}
	if diff := cmp.Diff(wantPR, prs); diff != "" {
		t.Errorf("PullRequests (-want +got):\n%s", diff)
	}

	if err := c.Close(ctx, 1, "closed body"); err != nil {
		t.Fatal(err)
	}
	prs, err = c.PullRequests(ctx, "imagebump/web")
	if err != nil || len(prs) != 1 || prs[0].State != pullrequest.StateClosed || prs[0].Body != "closed body" {
		t.Errorf("after Close: %+v, %v", prs, err)
	}
	if other, err := c.PullRequests(ctx, "imagebump/api"); err != nil || len(other) != 0 {
		t.Errorf("PullRequests of another branch = %+v, %v", other, err)
	}
}

func TestStates(t *testing.T) {
	ctx := context.Background()
	s, c, repo := fixture(t)
	main := githubfake.Git(t, repo, "rev-parse", "main")
	for _, b := range []string{"imagebump/closed", "imagebump/merged"} {
		if _, err := githubfake.CommitFiles(repo, main, b, map[string]string{"f": b}, "bot@example.com", "bump"); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range []string{"imagebump/web", "imagebump/closed", "imagebump/merged"} {
		if _, err := c.Create(ctx, pullrequest.NewPullRequest{Head: b, Base: "main", Title: b}); err != nil {
			t.Fatal(err)
		}
	}
	s.HumanClose(2)
	s.Merge(3)
	for branch, want := range map[string]pullrequest.State{"imagebump/web": pullrequest.StateOpen, "imagebump/closed": pullrequest.StateClosed, "imagebump/merged": pullrequest.StateMerged} {
		prs, err := c.PullRequests(ctx, branch)
		if err != nil || len(prs) != 1 || prs[0].State != want {
			t.Errorf("PullRequests(%s) = %+v, %v; want one %s", branch, prs, err, want)
		}
	}
}

func TestTokenIsSentAndNeverShown(t *testing.T) {
	s, _, _ := fixture(t)
	c, err := New(s.URL, "acme", "fleet", "wrong-token")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.PullRequests(context.Background(), "imagebump/web")
	if err == nil || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "wrong-token") {
		t.Errorf("with a bad token: %v; want a 401 that does not show the token", err)
	}
}

func TestRateLimitErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		limit    func(*githubfake.Server)
		min, max time.Duration
	}{
		{"secondary with Retry-After", func(s *githubfake.Server) { s.SecondaryRateLimit(1, 7) }, 7 * time.Second, 7 * time.Second},
		// GitHub's rule: without Retry-After and with requests left,
		// at least a minute, not the primary window's reset an hour away.
		{"secondary without Retry-After", func(s *githubfake.Server) { s.SecondaryRateLimit(1, -1) }, DefaultSecondaryWait, DefaultSecondaryWait},
		{"429 with Retry-After", func(s *githubfake.Server) { s.TooManyRequests(1, 7) }, 7 * time.Second, 7 * time.Second},
		{"429 without Retry-After", func(s *githubfake.Server) { s.TooManyRequests(1, -1) }, DefaultSecondaryWait, DefaultSecondaryWait},
		// The reset is a wall-clock time; the wait derived from it is
		// checked loosely, as the test may run slowly.
		{"primary until reset", func(s *githubfake.Server) { s.PrimaryRateLimit(1, time.Now().Add(30*time.Second)) }, 20 * time.Second, 32 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c, _ := fixture(t)
			tc.limit(s)
			_, err := c.PullRequests(ctx, "imagebump/web")
			var rl *pullrequest.RateLimitError
			if !errors.As(err, &rl) {
				t.Fatalf("PullRequests = %v, want a pullrequest.RateLimitError", err)
			}
			if rl.RetryAfter < tc.min || rl.RetryAfter > tc.max {
				t.Errorf("RetryAfter = %s, want within [%s, %s]", rl.RetryAfter, tc.min, tc.max)
			}
			if !strings.Contains(err.Error(), "listing pull requests of acme/fleet from imagebump/web") {
				t.Errorf("error %q does not say what was being done", err)
			}
			// No client-wide lock-out: the next request is sent, and
			// the fake, whose limit is over, answers it.
			if _, err := c.PullRequests(ctx, "imagebump/web"); err != nil {
				t.Errorf("the request after the limit: %v", err)
			}
		})
	}
}

// TestPermissionRefusalIsNoRateLimit checks that a 403 that is not a rate
// limit stays an error of its own.
func TestPermissionRefusalIsNoRateLimit(t *testing.T) {
	s, c, _ := fixture(t)
	s.FailOnce("GET", "/api/v3/repos/acme/fleet/pulls", http.StatusForbidden)
	_, err := c.PullRequests(context.Background(), "imagebump/web")
	var rl *pullrequest.RateLimitError
	if err == nil || errors.As(err, &rl) || !strings.Contains(err.Error(), "403") {
		t.Errorf("PullRequests = %v, want a 403 that is not a rate limit", err)
	}
}

// sleeps records the waits of a client instead of sleeping.
type sleeps []time.Duration

// TestCreateRetriedAfterPush checks that a creation refused with "No
// commits between" right after the push is tried again, briefly.
func TestCreateRetriedAfterPush(t *testing.T) {
	for _, tc := range []struct {
		name       string
		lag        int
		wantSleeps []time.Duration
		wantErr    string
	}{
		{"visible at once", 0, nil, ""},
		{"visible after two tries", 2, []time.Duration{time.Second, 2 * time.Second}, ""},
		{"never visible", 10, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}, "No commits between main and imagebump/web"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _, _ := fixture(t)
			s.PushLag(tc.lag)
			var slept sleeps
			c := newClient(t, s, &slept)
			_, err := c.Create(context.Background(), pullrequest.NewPullRequest{Head: "imagebump/web", Base: "main", Title: "t", Body: "b"})
			if got := errString(err); !strings.Contains(got, tc.wantErr) || (tc.wantErr == "") != (err == nil) {
				t.Errorf("Create = %v, want an error containing %q", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.wantSleeps, []time.Duration(slept)); diff != "" {
				t.Errorf("waits (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDraftRefused checks that on a repository without drafts (private, on
// GitHub Free) a normal pull request is opened, with one log line.
func TestDraftRefused(t *testing.T) {
	s, _, _ := fixture(t)
	s.PrivateFree()
	var logs bytes.Buffer
	c := newClient(t, s, nil, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	created, err := c.Create(context.Background(), pullrequest.NewPullRequest{Head: "imagebump/web", Base: "main", Title: "t", Body: "b", Draft: true})
	if err != nil {
		t.Fatal(err)
	}
	if pr := s.PullRequest(created.Number); pr.Draft || pr.State != "open" {
		t.Errorf("pull request %+v, want an open one, not a draft", pr)
	}
	if n := strings.Count(logs.String(), "\n"); n != 1 || !strings.Contains(logs.String(), "refused a draft") {
		t.Errorf("log %q, want one line about the refused draft", logs.String())
	}
}

// TestReviewers checks GitHub's reviewer rules: the token's own user is not
// asked, and reviewers GitHub refuses (not a collaborator, a team written
// ORG/TEAM) leave the others requested and are returned, with GitHub's
// reasons, in a *pullrequest.ReviewersError for the lifecycle to report.
func TestReviewers(t *testing.T) {
	ctx := context.Background()
	s, c, _ := fixture(t)
	s.Collaborators("alice", githubfake.BotLogin)
	created, err := c.Create(ctx, pullrequest.NewPullRequest{Head: "imagebump/web", Base: "main", Title: "t", Body: "b"})
	if err != nil {
		t.Fatal(err)
	}
	err = c.RequestReviews(ctx, created.Number, []string{"alice", "bob", githubfake.BotLogin}, []string{"platform", "acme/platform"})
	var refused *pullrequest.ReviewersError
	if !errors.As(err, &refused) {
		t.Fatalf("RequestReviews = %v, want a *pullrequest.ReviewersError: a reviewer never fails the pull request", err)
	}
	pr := s.PullRequest(created.Number)
	if diff := cmp.Diff([]string{"alice"}, pr.Reviewers); diff != "" {
		t.Errorf("reviewers (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"platform"}, pr.TeamReviewers); diff != "" {
		t.Errorf("team reviewers (-want +got):\n%s", diff)
	}
	if names := strings.Join(refused.Refused, "\n"); len(refused.Refused) != 2 || !strings.Contains(names, "`bob`: Reviews may only be requested from collaborators") || !strings.Contains(names, "team `acme/platform`") || strings.Contains(names, githubfake.BotLogin) {
		t.Errorf("refused %q, want bob and acme/platform only, with GitHub's reasons", refused.Refused)
	}
	if len(pr.Comments) != 0 {
		t.Errorf("comments %q: the client leaves commenting to the lifecycle", pr.Comments)
	}

	// All accepted: one request.
	before := len(s.Writes())
	if err := c.RequestReviews(ctx, created.Number, []string{"alice"}, nil); err != nil {
		t.Fatal(err)
	}
	if w := s.Writes()[before:]; len(w) != 1 {
		t.Errorf("writes %+v, want one review request", w)
	}
}

// TestBodyCapped checks that a body above GitHub's limit is cut to fit,
// keeping the hidden marker, and that editing with the same oversized body
// writes nothing once the pull request carries it.
func TestBodyCapped(t *testing.T) {
	ctx := context.Background()
	s, c, _ := fixture(t)
	marker := pullrequest.Marker{Group: "all", Versions: []pullrequest.Version{{Policy: "web", Image: "web", From: "1", To: "2"}}}.String()
	body := "imagebump updates the images of group `all`.\n\n" + strings.Repeat("| `web` | `1` | `2` | `app.yaml` | `web` |\n", 3000) + "\n" + marker + "\n"
	created, err := c.Create(ctx, pullrequest.NewPullRequest{Head: "imagebump/web", Base: "main", Title: "t", Body: body})
	if err != nil {
		t.Fatalf("Create with a %d-character body: %v", len(body), err)
	}
	got := s.PullRequest(created.Number).Body
	if n := utf8.RuneCountInString(got); n > githubfake.MaxBody {
		t.Errorf("body of %d characters, want at most %d", n, githubfake.MaxBody)
	}
	if m, ok := pullrequest.ParseMarker(got); !ok || m.Group != "all" {
		t.Errorf("marker lost from the cut body: %v", ok)
	}
	if !strings.Contains(got, "imagebump cut this description") {
		t.Error("the cut body does not say it was cut")
	}
	before := len(s.Writes())
	if err := c.Edit(ctx, created.Number, "t", body); err != nil {
		t.Fatal(err)
	}
	if w := s.Writes()[before:]; len(w) != 0 {
		t.Errorf("editing with the same oversized body wrote %+v", w)
	}
	if err := c.Edit(ctx, created.Number, "new title", body); err != nil {
		t.Fatal(err)
	}
	if pr := s.PullRequest(created.Number); pr.Title != "new title" || pr.Body != got {
		t.Errorf("after a title change: %q, body changed %v", pr.Title, pr.Body != got)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestWritesSpacedAcrossClients checks that the spacing is per token, as
// GitHub counts: the clients of two repositories on one token (two passes
// at once) space their writes against each other, serially, while a
// client on another token does not wait for theirs.
func TestWritesSpacedAcrossClients(t *testing.T) {
	ctx := context.Background()
	repo := githubfake.InitRepo(t, "main", map[string]string{"app.yaml": "image: web:1\n"})
	main := githubfake.Git(t, repo, "rev-parse", "main")
	if _, err := githubfake.CommitFiles(repo, main, "imagebump/web", map[string]string{"app.yaml": "image: web:2\n"}, "bot@example.com", "bump"); err != nil {
		t.Fatal(err)
	}
	s := githubfake.New(t, repo, "acme", "fleet", "main")
	clock := githubfake.NewClock(time.Unix(1_700_000_000, 0))
	s.UseClock(clock.Now)
	var mu sync.Mutex
	slept := map[string][]time.Duration{}
	client := func(name, token string) *Client {
		c, err := New(s.URL, "acme", "fleet", token, WithClock(clock.Now), WithSleep(func(ctx context.Context, d time.Duration) error {
			mu.Lock()
			slept[name] = append(slept[name], d)
			mu.Unlock()
			return clock.Sleep(ctx, d)
		}))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := client("a", "tok"), client("b", "tok")
	pr, err := a.Create(ctx, pullrequest.NewPullRequest{Head: "imagebump/web", Base: "main", Title: "t", Body: "b"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, c := range []*Client{a, b} {
		wg.Go(func() {
			for i := range 3 {
				if err := c.Comment(ctx, pr.Number, fmt.Sprintf("comment %d", i)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	writes := s.WriteTimes()
	if len(writes) != 7 {
		t.Fatalf("the fake timed %d writes, want 7", len(writes))
	}
	for i := 1; i < len(writes); i++ {
		if gap := writes[i].At.Sub(writes[i-1].At); gap < WriteGap {
			t.Errorf("write %d came %s after the one before on the same token, want at least %s", i, gap, WriteGap)
		}
	}
	if len(slept["b"]) == 0 {
		t.Error("the second client on the token never waited for the first's writes")
	}
	other := client("other", "another token")
	if err := other.Comment(ctx, pr.Number, "elsewhere"); err != nil {
		t.Fatal(err)
	}
	if len(slept["other"]) != 0 {
		t.Errorf("a client on another token waited %v after the first token's writes", slept["other"])
	}
}

// TestWritesSpaced checks GitHub's best practice for content-creating
// requests: each write reaches the fake at least WriteGap after the one
// before, by the fake's clock, while reads and writes the caller already
// spaced are not delayed.
func TestWritesSpaced(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		// pause is the time passing between the calls, on the clock.
		pause    time.Duration
		reads    bool // reads only
		wantWait bool
	}{
		{name: "writes back to back wait", wantWait: true},
		{name: "writes already a gap apart do not wait", pause: WriteGap},
		{name: "reads never wait", reads: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := githubfake.InitRepo(t, "main", map[string]string{"app.yaml": "image: web:1\n"})
			main := githubfake.Git(t, repo, "rev-parse", "main")
			if _, err := githubfake.CommitFiles(repo, main, "imagebump/web", map[string]string{"app.yaml": "image: web:2\n"}, "bot@example.com", "bump"); err != nil {
				t.Fatal(err)
			}
			s := githubfake.New(t, repo, "acme", "fleet", "main")
			clock := githubfake.NewClock(time.Unix(1_700_000_000, 0))
			s.UseClock(clock.Now)
			var slept sleeps
			c, err := New(s.URL, "acme", "fleet", "tok", WithClock(clock.Now), WithSleep(func(ctx context.Context, d time.Duration) error {
				slept = append(slept, d)
				return clock.Sleep(ctx, d)
			}))
			if err != nil {
				t.Fatal(err)
			}
			pr, err := c.Create(ctx, pullrequest.NewPullRequest{Head: "imagebump/web", Base: "main", Title: "t", Body: "b"})
			if err != nil {
				t.Fatal(err)
			}
			slept = nil
			var calls []func() error
			if tc.reads {
				calls = []func() error{
					func() error { _, err := c.PullRequests(ctx, "imagebump/web"); return err },
					func() error { _, err := c.Comments(ctx, pr.Number); return err },
					func() error { _, err := c.OpenPullRequests(ctx); return err },
				}
			} else {
				calls = []func() error{
					func() error { return c.Label(ctx, pr.Number, []string{"dependencies"}) },
					func() error { return c.RequestReviews(ctx, pr.Number, []string{"alice"}, nil) },
					func() error { _, err := c.PullRequests(ctx, "imagebump/web"); return err },
					func() error { return c.Comment(ctx, pr.Number, "hello") },
					func() error { return c.Edit(ctx, pr.Number, "t2", "b2") },
					func() error { return c.Close(ctx, pr.Number, "b3") },
				}
			}
			for _, call := range calls {
				clock.Advance(tc.pause)
				if err := call(); err != nil {
					t.Fatal(err)
				}
			}
			writes := s.WriteTimes()
			for i := 1; i < len(writes); i++ {
				if gap := writes[i].At.Sub(writes[i-1].At); gap < WriteGap {
					t.Errorf("%s %s came %s after %s %s, want at least %s", writes[i].Method, writes[i].Path, gap, writes[i-1].Method, writes[i-1].Path, WriteGap)
				}
			}
			if len(writes) < 2 && !tc.reads {
				t.Fatalf("the fake timed %d writes, want the whole sequence", len(writes))
			}
			if (len(slept) > 0) != tc.wantWait {
				t.Errorf("the client waited %v; want waits: %v", slept, tc.wantWait)
			}
		})
	}
}
