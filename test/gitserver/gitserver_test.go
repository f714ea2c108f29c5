package gitserver

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// gitCLI runs the git command line as a client would, with no user
// configuration, and returns its combined output and error.
func gitCLI(t *testing.T, dir string, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	home := t.TempDir()
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0"}, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func withToken(url, token string) string {
	return strings.Replace(url, "http://", "http://"+TokenUser+":"+token+"@", 1)
}

func TestServer(t *testing.T) {
	s := Start(t)
	url := s.NewRepo(t, "fleet", map[string]string{"a.yaml": "a: 1\n", "dir/b.yaml": "b: 1\n"})
	first := s.Ref(t, "fleet", "refs/heads/main")

	t.Run("no token is 401", func(t *testing.T) {
		resp, err := http.Get(url + "/info/refs?service=git-upload-pack")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("status %d, WWW-Authenticate %q; want 401 with a challenge", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
		if out, err := gitCLI(t, t.TempDir(), nil, "clone", withToken(url, "wrong"), "c"); err == nil {
			t.Errorf("clone with a wrong token succeeded: %s", out)
		}
	})

	t.Run("clone, commit on the server, fetch, push", func(t *testing.T) {
		dir := t.TempDir()
		if out, err := gitCLI(t, dir, nil, "clone", withToken(url, s.Token), "c"); err != nil {
			t.Fatalf("clone: %v: %s", err, out)
		}
		c := filepath.Join(dir, "c")
		got, err := os.ReadFile(filepath.Join(c, "dir/b.yaml"))
		if err != nil || string(got) != "b: 1\n" {
			t.Fatalf("dir/b.yaml after clone = %q, %v", got, err)
		}
		second := s.Commit(t, "fleet", "main", "bump a", map[string]string{"a.yaml": "a: 2\n", "dir/b.yaml": ""})
		if out, err := gitCLI(t, c, nil, "pull", "--ff-only"); err != nil {
			t.Fatalf("pull: %v: %s", err, out)
		}
		if _, err := os.Stat(filepath.Join(c, "dir/b.yaml")); !os.IsNotExist(err) {
			t.Errorf("dir/b.yaml still there after a server-side commit deleted it: %v", err)
		}
		if err := os.WriteFile(filepath.Join(c, "new.yaml"), []byte("n: 1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		id := []string{"GIT_AUTHOR_NAME=Bot", "GIT_AUTHOR_EMAIL=bot@example.com", "GIT_COMMITTER_NAME=Bot", "GIT_COMMITTER_EMAIL=bot@example.com"}
		for _, args := range [][]string{{"add", "new.yaml"}, {"commit", "-q", "-m", "add new\n\nbody line"}, {"push", "-q", "origin", "main"}} {
			if out, err := gitCLI(t, c, id, args...); err != nil {
				t.Fatalf("git %v: %v: %s", args, err, out)
			}
		}
		if got := s.ReadFile(t, "fleet", "main", "new.yaml"); got != "n: 1\n" {
			t.Errorf("new.yaml on the server = %q", got)
		}
		log := s.Log(t, "fleet", "main")
		var got3 []Commit
		for _, c := range log {
			c.Hash = ""
			got3 = append(got3, c)
		}
		third := s.Ref(t, "fleet", "main")
		want := []Commit{
			{Parents: []string{second}, Author: Signature{"Bot", "bot@example.com"}, Subject: "add new", Body: "body line"},
			{Parents: []string{first}, Author: Another, Subject: "bump a"},
			{Author: Another, Subject: "initial"},
		}
		if diff := cmp.Diff(want, got3); diff != "" {
			t.Errorf("Log (-want +got):\n%s", diff)
		}
		if log[0].Hash != third || log[1].Hash != second || log[2].Hash != first {
			t.Errorf("Log hashes %s %s %s, want %s %s %s", log[0].Hash, log[1].Hash, log[2].Hash, third, second, first)
		}
		if tr := s.Traffic(); tr.ReceivePackPosts != 1 || tr.PushBytes == 0 || tr.UploadPackPosts < 2 || tr.PackBytes == 0 {
			t.Errorf("Traffic = %+v, want one push with bytes and two fetches with packs", tr)
		}
	})

	t.Run("Ref of a missing ref", func(t *testing.T) {
		if got := s.Ref(t, "fleet", "refs/heads/nope"); got != "" {
			t.Errorf("Ref = %q, want \"\"", got)
		}
	})

	t.Run("hook sees requests", func(t *testing.T) {
		var seen []Request
		s.SetHook(func(r Request) { seen = append(seen, r) })
		defer s.SetHook(nil)
		if out, err := gitCLI(t, t.TempDir(), nil, "ls-remote", withToken(url, s.Token)); err != nil {
			t.Fatalf("ls-remote: %v: %s", err, out)
		}
		// git 2.39 speaks protocol v2 and lists refs in a POST after the
		// GET; only the first request is the same for every client.
		want := Request{Repo: "fleet", Service: "git-upload-pack", Advertise: true}
		if len(seen) == 0 {
			t.Fatal("hook saw no request")
		}
		if diff := cmp.Diff(want, seen[0]); diff != "" {
			t.Errorf("hook saw (-want +got):\n%s", diff)
		}
	})
}

func TestSSH(t *testing.T) {
	s := Start(t)
	s.NewRepo(t, "fleet", map[string]string{"a.yaml": "a: 1\n"})
	x := s.StartSSH(t)
	sshCmd := func(knownHosts, key string) []string {
		return []string{fmt.Sprintf("GIT_SSH_COMMAND=ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=%s -o IdentitiesOnly=yes -i %s", knownHosts, key)}
	}
	if _, err := exec.LookPath("ssh"); err != nil {
		msg := "ssh not found: apt-get install openssh-client to test the SSH server with it"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Run("clone and push", func(t *testing.T) {
		dir := t.TempDir()
		if out, err := gitCLI(t, dir, sshCmd(x.KnownHostsFile, x.KeyFile), "clone", x.RepoURL("fleet"), "c"); err != nil {
			t.Fatalf("clone: %v: %s", err, out)
		}
		env := append(sshCmd(x.KnownHostsFile, x.KeyFile), "GIT_AUTHOR_NAME=B", "GIT_AUTHOR_EMAIL=b@x", "GIT_COMMITTER_NAME=B", "GIT_COMMITTER_EMAIL=b@x")
		c := filepath.Join(dir, "c")
		if err := os.WriteFile(filepath.Join(c, "a.yaml"), []byte("a: 2\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{"commit", "-qam", "a"}, {"push", "-q", "origin", "main"}} {
			if out, err := gitCLI(t, c, env, args...); err != nil {
				t.Fatalf("git %v: %v: %s", args, err, out)
			}
		}
		if got := s.ReadFile(t, "fleet", "main", "a.yaml"); got != "a: 2\n" {
			t.Errorf("a.yaml = %q after an SSH push", got)
		}
	})
	t.Run("other key refused", func(t *testing.T) {
		other := s.StartSSH(t) // its key is unknown to x
		if out, err := gitCLI(t, t.TempDir(), sshCmd(x.KnownHostsFile, other.KeyFile), "clone", x.RepoURL("fleet"), "c"); err == nil {
			t.Errorf("clone with another key succeeded: %s", out)
		}
	})
}

// recorder is a testing.TB whose Fatal and Skip are recorded and end the
// goroutine, as the real ones do.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatal(args ...any) {
	r.fatal = fmt.Sprint(args...)
	runtime.Goexit()
}
func (r *recorder) Skip(args ...any) {
	r.skip = fmt.Sprint(args...)
	runtime.Goexit()
}

func TestStartWithoutBackend(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "git-http-backend")
	msg := missing + " not found: apt-get install git to run tests against a real git server"
	for _, tc := range []struct{ ci, wantFatal, wantSkip string }{
		{ci: "true", wantFatal: msg},
		{ci: "", wantSkip: msg},
	} {
		t.Run("CI="+tc.ci, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			rec := &recorder{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				start(rec, missing)
				t.Error("start returned without a backend")
			}()
			<-done
			if rec.fatal != tc.wantFatal || rec.skip != tc.wantSkip {
				t.Errorf("Fatal(%q) Skip(%q), want Fatal(%q) Skip(%q)", rec.fatal, rec.skip, tc.wantFatal, tc.wantSkip)
			}
		})
	}
}
