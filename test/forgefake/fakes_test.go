package forgefake_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/test/forgefake"
	"github.com/imagebump/imagebump/test/githubfake"
	"github.com/imagebump/imagebump/test/gitlabfake"
)

// recorder catches the test errors a fake reports.
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

// fake is one forge fake as these tests drive it with plain HTTP.
type fake struct {
	name string
	// start returns the fake, its API root, the header that carries the
	// token, a path it does not serve, a write it serves (comment on
	// pull request 1), and its rate-limit switch.
	start func(tb testing.TB, repo string) (s *forgefake.Store, api string, auth http.Header, write string, limit func(n, after int))
}

var fakes = []fake{
	{"github", func(tb testing.TB, repo string) (*forgefake.Store, string, http.Header, string, func(int, int)) {
		s := githubfake.New(tb, repo, "acme", "fleet", "main")
		s.RequireToken("tok")
		return s.Store, strings.TrimSuffix(s.URL, "/"), http.Header{"Authorization": {"Bearer tok"}}, "/repos/acme/fleet/issues/1/comments", s.SecondaryRateLimit
	}},
	{"gitlab", func(tb testing.TB, repo string) (*forgefake.Store, string, http.Header, string, func(int, int)) {
		s := gitlabfake.New(tb, repo, "group/sub/fleet", "main")
		s.RequireToken("tok")
		return s.Store, s.URL, http.Header{"Private-Token": {"tok"}}, "/projects/group%2Fsub%2Ffleet/merge_requests/1/notes", s.RateLimit
	}},
}

func do(t *testing.T, method, url string, h http.Header, body string) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestFakes checks what every fake promises: 401 without the token, 404
// and a test failure for an endpoint it does not serve, rate-limited
// answers left out of the write log, and writes logged with their status.
func TestFakes(t *testing.T) {
	for _, f := range fakes {
		t.Run(f.name, func(t *testing.T) {
			repo := forgefake.InitRepo(t, "main", map[string]string{"a": "1\n"})
			main := forgefake.Git(t, repo, "rev-parse", "main")
			if _, err := forgefake.CommitFiles(repo, main, "imagebump/web", map[string]string{"a": "2\n"}, "bot@example.com", "bump"); err != nil {
				t.Fatal(err)
			}
			rec := &recorder{TB: t}
			s, api, auth, write, limit := f.start(rec, repo)
			n := s.HumanOpen("imagebump/web", "by hand", "")

			if got := do(t, http.MethodGet, api+"/nothing/here", nil, ""); got != http.StatusUnauthorized {
				t.Errorf("without the token: %d, want 401", got)
			}
			if got := do(t, http.MethodGet, api+"/nothing/here", auth, ""); got != http.StatusNotFound {
				t.Errorf("unknown endpoint: %d, want 404", got)
			}
			if len(rec.errs) != 1 || !strings.Contains(rec.errs[0], "unknown endpoint GET") || !strings.Contains(rec.errs[0], "/nothing/here") {
				t.Errorf("test errors %q, want one naming the endpoint", rec.errs)
			}
			limit(1, 3)
			if got := do(t, http.MethodPost, api+write, auth, `{"body":"hi"}`); got != http.StatusTooManyRequests && got != http.StatusForbidden {
				t.Errorf("rate-limited write: %d, want 429 or 403", got)
			}
			if got := do(t, http.MethodPost, api+write, auth, `{"body":"hi"}`); got != http.StatusCreated {
				t.Errorf("write: %d, want 201", got)
			}
			writes := s.Writes()
			if len(writes) != 1 || writes[0].Method != http.MethodPost || writes[0].Status != http.StatusCreated || !strings.HasSuffix(writes[0].Path, write) {
				t.Errorf("write log %+v, want the one answered write", writes)
			}
			if diff := cmp.Diff([]string{"hi"}, s.PullRequest(n).Comments); diff != "" {
				t.Errorf("comments (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSync checks that pull requests follow the branches: the head sha
// follows a push, and a head that reached the base is merged.
func TestSync(t *testing.T) {
	repo := forgefake.InitRepo(t, "main", map[string]string{"a": "1\n"})
	main := forgefake.Git(t, repo, "rev-parse", "main")
	head, err := forgefake.CommitFiles(repo, main, "b", map[string]string{"a": "2\n"}, "bot@example.com", "bump")
	if err != nil {
		t.Fatal(err)
	}
	s := forgefake.NewStore(t, "test", repo, "main")
	n := s.HumanOpen("b", "t", "")
	pushed, err := forgefake.CommitFiles(repo, head, "b", map[string]string{"a": "3\n"}, "human@example.com", "more")
	if err != nil {
		t.Fatal(err)
	}
	if pr := s.PullRequest(n); pr.HeadSHA != pushed || pr.State != "open" {
		t.Errorf("after a push: %+v, want open at %s", pr, pushed)
	}
	forgefake.Git(t, repo, "update-ref", "refs/heads/main", pushed)
	if pr := s.PullRequest(n); pr.State != "closed" || !pr.Merged {
		t.Errorf("after the base reached the head: %+v, want merged", pr)
	}
}
