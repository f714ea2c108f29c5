package giteaserver

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/imagebump/imagebump/test/forgefake"
)

// TestServer drives the helpers against a real Gitea: a repository with
// files, a commit pushed by another user, a pull request opened by the
// admin through the proxy (logged) and closed by the other user directly
// (not logged), and the proxy's injected failures.
func TestServer(t *testing.T) {
	s := Start(t)
	var v struct{ Version string }
	s.MustDo(AdminUser, http.MethodGet, "/version", nil, &v)
	// Built without Gitea's -X ldflags, the server calls itself
	// "development"; the API answering is what counts here.
	if v.Version == "" {
		t.Errorf("no version from /api/v1/version")
	}
	s.CreateUser("human")
	s.CreateOrg("acme")
	s.CreateRepo("acme", "fleet", map[string]string{"a.txt": "a\n"})
	s.AddCollaborator("acme", "fleet", "human")
	c := s.CommitAs("human", "acme", "fleet", "main", map[string]string{"b/c.txt": "c\n"}, "by hand")
	if got := s.Git(s.RepoDir("acme", "fleet"), "log", "-1", "--format=%H %ae", "main"); got != c+" human@example.com" {
		t.Errorf("main is %q, want the human's commit %s", got, c)
	}
	work := t.TempDir()
	s.Git(work, "clone", "-q", s.GitURL(AdminUser, "acme", "fleet"), "w")
	s.Git(filepath.Join(work, "w"), "switch", "-q", "-c", "topic")
	if err := os.WriteFile(filepath.Join(work, "w", "a.txt"), []byte("b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.Git(filepath.Join(work, "w"), "-c", "user.name=bot", "-c", "user.email=bot@example.com", "commit", "-q", "-am", "change")
	s.Git(filepath.Join(work, "w"), "push", "-q", "origin", "topic")

	p := s.Proxy()
	via := &Server{URL: p.URL, t: t, http: s.http, tokens: s.tokens}
	p.FailOnce(http.MethodPost, "/api/v1/repos/acme/fleet/pulls", http.StatusBadGateway)
	in := map[string]any{"head": "topic", "base": "main", "title": "t"}
	if err := via.Do(context.Background(), AdminUser, http.MethodPost, "/repos/acme/fleet/pulls", in, nil); err == nil || !strings.Contains(err.Error(), "502") {
		t.Errorf("first create: %v, want the injected 502", err)
	}
	var pr struct {
		Number int `json:"number"`
	}
	via.MustDo(AdminUser, http.MethodPost, "/repos/acme/fleet/pulls", in, &pr)
	s.ClosePull("human", "acme", "fleet", pr.Number)
	var got struct{ State string }
	s.MustDo(AdminUser, http.MethodGet, "/repos/acme/fleet/pulls/1", nil, &got)
	if pr.Number != 1 || got.State != "closed" {
		t.Errorf("pull request #%d is %q, want #1 closed", pr.Number, got.State)
	}
	want := []forgefake.Write{
		{Method: http.MethodPost, Path: "/api/v1/repos/acme/fleet/pulls", Status: http.StatusBadGateway},
		{Method: http.MethodPost, Path: "/api/v1/repos/acme/fleet/pulls", Status: http.StatusCreated},
	}
	if diff := cmp.Diff(want, p.Writes()); diff != "" {
		t.Errorf("logged writes (-want +got):\n%s", diff)
	}
}
