package giteaserver

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/imagebump/imagebump/test/forgefake"
)

// TestServer drives the helpers against a real Gitea: a repository with
// files, a commit pushed by another user, a pull request opened by the
// admin through the proxy (logged) and closed by the other user directly
// (not logged), and the proxy's injected failures.
func TestServer(t *testing.T) {
	s := Shared(t)
	var v struct{ Version string }
	s.MustDo(AdminUser, http.MethodGet, "/version", nil, &v)
	// Built without Gitea's -X ldflags, the server calls itself
	// "development"; the API answering is what counts here.
	if v.Version == "" {
		t.Errorf("no version from /api/v1/version")
	}
	org := s.CreateOrg("acme")
	if other := s.CreateOrg("acme"); other == org {
		t.Errorf("CreateOrg made %s twice, want a fresh organization each time", org)
	}
	s.CreateRepo(org, "fleet", map[string]string{"a.txt": "a\n"})
	s.AddCollaborator(org, "fleet", "human")
	c := s.CommitAs("human", org, "fleet", "main", map[string]string{"b/c.txt": "c\n"}, "by hand")
	if got := s.Git(s.RepoDir(org, "fleet"), "log", "-1", "--format=%H %ae", "main"); got != c+" human@example.com" {
		t.Errorf("main is %q, want the human's commit %s", got, c)
	}
	work := t.TempDir()
	s.Git(work, "clone", "-q", s.GitURL(AdminUser, org, "fleet"), "w")
	s.Git(filepath.Join(work, "w"), "switch", "-q", "-c", "topic")
	if err := os.WriteFile(filepath.Join(work, "w", "a.txt"), []byte("b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.Git(filepath.Join(work, "w"), "-c", "user.name=bot", "-c", "user.email=bot@example.com", "commit", "-q", "-am", "change")
	s.Git(filepath.Join(work, "w"), "push", "-q", "origin", "topic")

	p := s.Proxy()
	via := *s
	via.URL = p.URL
	pulls := "/repos/" + org + "/fleet/pulls"
	p.FailOnce(http.MethodPost, "/api/v1"+pulls, http.StatusBadGateway)
	in := map[string]any{"head": "topic", "base": "main", "title": "t"}
	if err := via.Do(context.Background(), AdminUser, http.MethodPost, pulls, in, nil); err == nil || !strings.Contains(err.Error(), "502") {
		t.Errorf("first create: %v, want the injected 502", err)
	}
	var pr struct {
		Number int `json:"number"`
	}
	via.MustDo(AdminUser, http.MethodPost, pulls, in, &pr)
	// Lists are read page by page: one more label than a page holds.
	var labels []string
	for i := range PageSize + 1 {
		labels = append(labels, fmt.Sprintf("l%02d", i))
		s.MustDo(AdminUser, http.MethodPost, "/repos/"+org+"/fleet/labels", map[string]string{"name": labels[i], "color": "#00aabb"}, nil)
	}
	var names []string
	for _, l := range list[struct{ Name string }](s, "/repos/"+org+"/fleet/labels") {
		names = append(names, l.Name)
	}
	slices.Sort(names)
	if diff := cmp.Diff(labels, names); diff != "" {
		t.Errorf("labels read (-want +got):\n%s", diff)
	}
	s.ClosePull("human", org, "fleet", pr.Number)
	var got struct{ State string }
	s.MustDo(AdminUser, http.MethodGet, pulls+"/1", nil, &got)
	if pr.Number != 1 || got.State != "closed" {
		t.Errorf("pull request #%d is %q, want #1 closed", pr.Number, got.State)
	}
	want := []forgefake.Write{
		{Method: http.MethodPost, Path: "/api/v1" + pulls, Status: http.StatusBadGateway},
		{Method: http.MethodPost, Path: "/api/v1" + pulls, Status: http.StatusCreated},
	}
	if diff := cmp.Diff(want, p.Writes()); diff != "" {
		t.Errorf("logged writes (-want +got):\n%s", diff)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	StopShared()
	os.Exit(code)
}

// childEnv tells the test binary, run again by TestSharedLifetime, to be
// the child: TestSharedChild starts the shared server, prints it, and
// ends as the value says.
const childEnv = "GITEASERVER_TEST_CHILD"

// TestSharedChild is the child of TestSharedLifetime; in a normal run it
// does nothing.
func TestSharedChild(t *testing.T) {
	mode := os.Getenv(childEnv)
	if mode == "" {
		return
	}
	s := Shared(t)
	fmt.Printf("child-server %s %s %d\n", s.URL, s.dir, s.pid)
	if mode == "die" {
		// As a -timeout panic ends the binary: no TestMain after m.Run.
		os.Exit(3)
	}
}

// TestSharedLifetime checks that the shared server does not outlive its
// test binary: TestMain's StopShared stops Gitea and removes its
// directory, and a binary that dies before (a -timeout panic, a crash)
// takes Gitea with it.
func TestSharedLifetime(t *testing.T) {
	Shared(t) // skipped or failed here when there is no Gitea
	for _, tc := range []struct {
		mode    string
		dirGone bool
	}{
		{mode: "stop", dirGone: true},
		{mode: "die", dirGone: false},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestSharedChild$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), childEnv+"="+tc.mode)
			out, _ := cmd.CombinedOutput()
			var url, dir string
			var pid int
			for _, line := range strings.Split(string(out), "\n") {
				if _, err := fmt.Sscanf(line, "child-server %s %s %d", &url, &dir, &pid); err == nil {
					break
				}
			}
			if pid == 0 {
				t.Fatalf("the child printed no server:\n%s", out)
			}
			if !tc.dirGone {
				t.Cleanup(func() { os.RemoveAll(dir) })
			}
			// The kernel delivers the parent-death signal as the child
			// exits; the process may take a moment to go.
			for deadline := time.Now().Add(time.Minute); running(pid) && time.Now().Before(deadline); {
				time.Sleep(50 * time.Millisecond)
			}
			if running(pid) {
				t.Errorf("gitea (pid %d) still runs after its test binary ended (%s)", pid, tc.mode)
			}
			if resp, err := http.Get(url + "/api/v1/version"); err == nil {
				resp.Body.Close()
				t.Errorf("%s still answers after its test binary ended (%s)", url, tc.mode)
			}
			if _, err := os.Stat(dir); os.IsNotExist(err) != tc.dirGone {
				t.Errorf("directory %s: stat %v, want removed %v", dir, err, tc.dirGone)
			}
		})
	}
}

// running reports whether pid is a live process: not gone, and not a
// zombie nobody reaped (an orphan in a container whose init does not
// reap).
func running(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || !strings.HasPrefix(s[i+1:], " Z")
}
