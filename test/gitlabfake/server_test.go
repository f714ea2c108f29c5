package gitlabfake_test

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imagebump/imagebump/test/forgefake"
	"github.com/imagebump/imagebump/test/gitlabfake"
)

// TestStrictBehaviours checks the answers the fake gives as GitLab.com
// does: RateLimit-* headers on every answer, 429s with and without
// Retry-After or any header, and the description length limit.
func TestStrictBehaviours(t *testing.T) {
	now := time.Date(2026, 1, 1, 10, 0, 15, 0, time.UTC)
	rateHeaders := []string{"RateLimit-Limit", "RateLimit-Observed", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-ResetTime"}
	mrs := "/projects/group%2Ffleet/merge_requests"
	create := func(description string) string {
		return `{"title":"t","source_branch":"imagebump/web","target_branch":"main","description":` + strconv.Quote(description) + `}`
	}
	for _, tc := range []struct {
		name         string
		setup        func(s *gitlabfake.Server)
		method, path string
		body         string
		wantStatus   int
		wantHeader   map[string]string // "" = must be absent
		rateHeaders  bool              // all RateLimit-* headers present
		wantText     string
	}{
		{name: "headers on a read", method: "GET", path: mrs, wantStatus: 200, rateHeaders: true,
			wantHeader: map[string]string{"RateLimit-Limit": "2000", "RateLimit-Reset": strconv.FormatInt(now.Truncate(time.Minute).Add(time.Minute).Unix(), 10), "RateLimit-ResetTime": "Thu, 01 Jan 2026 10:01:00 GMT"}},
		{name: "headers on a write", method: "POST", path: mrs, body: create("d"), wantStatus: 201, rateHeaders: true},
		{name: "headers on a 404", method: "GET", path: "/projects/other%2Fproject", wantStatus: 404, rateHeaders: true},
		{name: "429 with Retry-After", setup: func(s *gitlabfake.Server) { s.RateLimit(1, 9) }, method: "GET", path: mrs, wantStatus: 429, rateHeaders: true,
			wantHeader: map[string]string{"Retry-After": "9", "RateLimit-Remaining": "0"}, wantText: "Retry later"},
		{name: "429 without Retry-After", setup: func(s *gitlabfake.Server) { s.RateLimit(1, -1) }, method: "GET", path: mrs, wantStatus: 429, rateHeaders: true,
			wantHeader: map[string]string{"Retry-After": "", "RateLimit-Remaining": "0"}, wantText: "Retry later"},
		{name: "429 with no header at all", setup: func(s *gitlabfake.Server) { s.RateLimitBare(1) }, method: "GET", path: mrs, wantStatus: 429,
			wantHeader: map[string]string{"Retry-After": "", "RateLimit-Reset": "", "RateLimit-Remaining": ""}, wantText: "Retry later"},
		{name: "description above the limit", method: "POST", path: mrs, body: create(strings.Repeat("x", gitlabfake.MaxDescription+1)), wantStatus: 400, rateHeaders: true,
			wantText: "is too long (maximum is 1048576 characters)"},
		{name: "description at the limit", method: "POST", path: mrs, body: create(strings.Repeat("é", gitlabfake.MaxDescription)), wantStatus: 201, rateHeaders: true},
		{name: "edit above the limit", setup: func(s *gitlabfake.Server) {
			s.Add(&forgefake.PullRequest{Title: "t", State: "open", Head: "imagebump/web", Base: "main", User: forgefake.BotLogin})
		}, method: "PUT", path: mrs + "/1", body: `{"description":` + strconv.Quote(strings.Repeat("x", gitlabfake.MaxDescription+1)) + `}`, wantStatus: 400, rateHeaders: true,
			wantText: "is too long"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := forgefake.InitRepo(t, "main", map[string]string{"app.yaml": "image: web:1\n"})
			main := forgefake.Git(t, repo, "rev-parse", "main")
			if _, err := forgefake.CommitFiles(repo, main, "imagebump/web", map[string]string{"app.yaml": "image: web:2\n"}, "bot@example.com", "bump"); err != nil {
				t.Fatal(err)
			}
			s := gitlabfake.New(t, repo, "group/fleet", "main")
			s.UseClock(func() time.Time { return now })
			if tc.setup != nil {
				tc.setup(s)
			}
			req, err := http.NewRequest(tc.method, s.URL+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			text, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.wantStatus {
				t.Errorf("status %d (%s), want %d", resp.StatusCode, text, tc.wantStatus)
			}
			if !strings.Contains(string(text), tc.wantText) {
				t.Errorf("answer %.200s, want one containing %q", text, tc.wantText)
			}
			for k, v := range tc.wantHeader {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if tc.rateHeaders {
				for _, k := range rateHeaders {
					if resp.Header.Get(k) == "" {
						t.Errorf("no %s on the answer: %v", k, resp.Header)
					}
				}
			}
		})
	}
}
