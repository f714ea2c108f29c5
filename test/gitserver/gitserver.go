package gitserver

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
)

// Backend is where Debian's git package installs git http-backend.
const Backend = "/usr/lib/git-core/git-http-backend"

// TokenUser is the basic-auth user name git hosts expect with a token;
// the server checks it only when WithUser asks.
const TokenUser = "x-access-token"

// Server serves the bare repositories under one temp dir over smart HTTP on
// 127.0.0.1. Every request must carry basic auth whose password is Token,
// unless Token is empty.
type Server struct {
	// URL is "http://127.0.0.1:PORT"; a repository named n is at URL+"/"+n+".git".
	URL string
	// Token is the password basic auth must carry.
	Token string
	// User is the user name basic auth must carry; "" accepts any, as
	// GitHub and Gitea do.
	User string
	// Root holds the bare repositories, one "NAME.git" directory each.
	Root string

	home string // HOME and XDG_CONFIG_HOME of every git the server runs

	mu      sync.Mutex
	hook    func(Request)
	traffic Traffic
}

// Request is one smart-HTTP request as a hook sees it, after the token
// check and before git http-backend serves it.
type Request struct {
	Repo string // name without ".git"
	// Service is "git-upload-pack" (fetch, clone) or "git-receive-pack"
	// (push).
	Service string
	// Advertise is true for the GET of info/refs that lists the refs,
	// false for the POST that moves objects.
	Advertise bool
}

// Traffic counts what the server sent and received since Start or the last
// ResetTraffic.
type Traffic struct {
	Requests int
	// AdvertBytes is what the info/refs responses sent: the ref lists.
	AdvertBytes int64
	// UploadPackPosts and PackBytes count the POSTs to git-upload-pack and
	// the bytes they sent: the packs a clone or fetch receives.
	UploadPackPosts int
	PackBytes       int64
	// ReceivePackPosts and PushBytes count the POSTs to git-receive-pack
	// and the bytes their requests carried: the packs pushed.
	ReceivePackPosts int
	PushBytes        int64
	// Unauthorized counts requests answered 401.
	Unauthorized int
}

// Option configures Start.
type Option func(*Server)

// WithToken sets the token basic auth must carry; "" turns the check off.
// The default is a random token, in Server.Token.
func WithToken(token string) Option { return func(s *Server) { s.Token = token } }

// WithUser makes the server refuse basic auth whose user is not user, as
// GitLab refuses a token sent with a user other than oauth2.
func WithUser(user string) Option { return func(s *Server) { s.User = user } }

// Start serves git http-backend on 127.0.0.1 until the test ends. When the
// backend is missing the test is skipped, or fails if CI=true.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	return start(t, Backend, opts...)
}

func start(t testing.TB, backend string, opts ...Option) *Server {
	t.Helper()
	Require(t, backend)
	s := &Server{Token: randomHex(16), Root: t.TempDir(), home: t.TempDir()}
	for _, o := range opts {
		o(s)
	}
	cgiHandler := &cgi.Handler{
		Path: backend,
		Root: "/",
		Env: []string{
			"GIT_PROJECT_ROOT=" + s.Root,
			"GIT_HTTP_EXPORT_ALL=1",
			"HOME=" + s.home,
			"XDG_CONFIG_HOME=" + s.home,
			"GIT_CONFIG_NOSYSTEM=1",
		},
		InheritEnv: []string{"PATH"},
		// receive-pack's complaints about refused updates reach the client
		// in its report; here they would only clutter the test output.
		Stderr: io.Discard,
	}
	srv := httptest.NewServer(s.handler(cgiHandler))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Require skips the test when a binary the server runs is missing, or fails
// it when CI=true.
func Require(t testing.TB, binary string) {
	t.Helper()
	if _, err := os.Stat(binary); err != nil {
		msg := fmt.Sprintf("%s not found: apt-get install git to run tests against a real git server", binary)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// repoPath matches a repository's smart-HTTP paths; names may have several
// components (OWNER/REPO, as forges and the bot config want them).
var repoPath = regexp.MustCompile(`^/((?:[A-Za-z0-9_-][A-Za-z0-9._-]*/)*[A-Za-z0-9_-][A-Za-z0-9._-]*)\.git/(info/refs|git-upload-pack|git-receive-pack)$`)

func (s *Server) handler(backend http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.traffic.Requests++
		s.mu.Unlock()
		if s.Token != "" {
			u, p, ok := r.BasicAuth()
			if !ok || p != s.Token || (s.User != "" && u != s.User) {
				s.mu.Lock()
				s.traffic.Unauthorized++
				s.mu.Unlock()
				w.Header().Set("WWW-Authenticate", `Basic realm="gitserver"`)
				http.Error(w, "authentication required", http.StatusUnauthorized)
				return
			}
		}
		m := repoPath.FindStringSubmatch(r.URL.Path)
		if m == nil {
			http.NotFound(w, r)
			return
		}
		req := Request{Repo: m[1], Advertise: m[2] == "info/refs", Service: m[2]}
		if req.Advertise {
			req.Service = r.URL.Query().Get("service")
		}
		s.mu.Lock()
		hook := s.hook
		s.mu.Unlock()
		if hook != nil {
			hook(req)
		}
		var in *countingReader
		if r.Body != nil {
			in = &countingReader{r: r.Body}
			r.Body = in
		}
		cw := &countingWriter{ResponseWriter: w}
		backend.ServeHTTP(cw, r)
		s.mu.Lock()
		defer s.mu.Unlock()
		switch {
		case req.Advertise:
			s.traffic.AdvertBytes += cw.n
		case req.Service == "git-upload-pack":
			s.traffic.UploadPackPosts++
			s.traffic.PackBytes += cw.n
		case req.Service == "git-receive-pack":
			s.traffic.ReceivePackPosts++
			if in != nil {
				s.traffic.PushBytes += in.n
			}
		}
	})
}

// SetHook makes fn see every authorized request before it is served (nil:
// none). A test uses it to act between a client's steps, e.g. to commit on
// the server between a client's fetch and its push. fn runs on a server
// goroutine, where a failing helper's t.Fatal cannot stop the test.
func (s *Server) SetHook(fn func(Request)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hook = fn
}

// Traffic returns what was counted so far.
func (s *Server) Traffic() Traffic {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.traffic
}

// ResetTraffic sets the counters back to zero.
func (s *Server) ResetTraffic() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.traffic = Traffic{}
}

type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (w *countingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	return n, err
}

// Flush lets git http-backend's streamed responses through unbuffered.
func (w *countingWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

type countingReader struct {
	r io.ReadCloser
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingReader) Close() error { return c.r.Close() }

// RepoURL returns the HTTP URL of the repository name, without credentials.
func (s *Server) RepoURL(name string) string { return s.URL + "/" + name + ".git" }

// Dir returns the directory of the bare repository name.
func (s *Server) Dir(name string) string { return filepath.Join(s.Root, name+".git") }

// NewRepo creates the bare repository name with one commit on main holding
// files (path → content), made by Another, and returns its HTTP URL.
func (s *Server) NewRepo(t testing.TB, name string, files map[string]string) string {
	t.Helper()
	dir := s.Dir(name)
	s.run(t, "", nil, nil, "init", "--bare", "--quiet", "--initial-branch=main", dir)
	s.Git(t, name, "config", "http.receivepack", "true")
	// Like a hosted forge: a push that is not a fast-forward is taken, so a
	// test sees a forced push as lost history instead of as an error.
	s.Git(t, name, "config", "receive.denyNonFastForwards", "false")
	s.Commit(t, name, "main", "initial", files)
	return s.RepoURL(name)
}

// SetPreReceive installs script (a POSIX shell script body) as repo's
// pre-receive hook, as a forge's branch protection is one: git
// receive-pack runs it before it updates any ref, sends what it writes to
// the pushing client, and refuses every update when it exits non-zero.
// The hook reads "OLD NEW REF" lines on its standard input. An empty script
// removes the hook.
func (s *Server) SetPreReceive(t testing.TB, repo, script string) {
	t.Helper()
	hooks := filepath.Join(s.Dir(repo), "hooks")
	path := filepath.Join(hooks, "pre-receive")
	if script == "" {
		if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		return
	}
	if err := os.MkdirAll(hooks, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

// Signature names the author and committer of a server-side commit.
type Signature struct{ Name, Email string }

// Another is who Commit commits as: a person, not the bot.
var Another = Signature{Name: "Another Person", Email: "another@example.com"}

// Commit commits files (path → content; "" deletes the path) on branch as
// Another, on top of the branch's tip (or as a root commit when the branch
// does not exist), and returns the new commit's hash.
func (s *Server) Commit(t testing.TB, repo, branch, message string, files map[string]string) string {
	t.Helper()
	return s.CommitAs(t, repo, branch, Another, message, files)
}

// CommitAs is Commit with who as author and committer. It uses plumbing in
// the bare repository only: no clone, no push.
func (s *Server) CommitAs(t testing.TB, repo, branch string, who Signature, message string, files map[string]string) string {
	t.Helper()
	return s.CommitBy(t, repo, branch, who, who, message, files)
}

// CommitBy is Commit with an author and a different committer, as when
// someone amends or rebases another's commit.
func (s *Server) CommitBy(t testing.TB, repo, branch string, author, committer Signature, message string, files map[string]string) string {
	t.Helper()
	index := filepath.Join(t.TempDir(), "index")
	env := []string{"GIT_INDEX_FILE=" + index}
	parent := s.Ref(t, repo, "refs/heads/"+branch)
	if parent != "" {
		s.gitEnv(t, repo, env, nil, "read-tree", parent)
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	// Deletions first, so that a file can replace a directory and back.
	for _, p := range paths {
		if files[p] == "" {
			// Mode 0 removes the entry; --force-remove would want a work tree.
			s.gitEnv(t, repo, env, strings.NewReader("0 "+strings.Repeat("0", 40)+"\t"+p+"\n"), "update-index", "--index-info")
		}
	}
	for _, p := range paths {
		if files[p] == "" {
			continue
		}
		blob := s.gitEnv(t, repo, env, strings.NewReader(files[p]), "hash-object", "-w", "--stdin")
		s.gitEnv(t, repo, env, nil, "update-index", "--add", "--replace", "--cacheinfo", "100644,"+blob+","+p)
	}
	tree := s.gitEnv(t, repo, env, nil, "write-tree")
	args := []string{"commit-tree", tree, "-m", message}
	if parent != "" {
		args = append(args, "-p", parent)
	}
	env = append(env,
		"GIT_AUTHOR_NAME="+author.Name, "GIT_AUTHOR_EMAIL="+author.Email,
		"GIT_COMMITTER_NAME="+committer.Name, "GIT_COMMITTER_EMAIL="+committer.Email)
	hash := s.gitEnv(t, repo, env, nil, args...)
	old := parent
	if old == "" {
		old = strings.Repeat("0", 40)
	}
	s.Git(t, repo, "update-ref", "refs/heads/"+branch, hash, old)
	return hash
}

// Ref returns the hash ref points to in repo, or "" when there is no such
// ref.
func (s *Server) Ref(t testing.TB, repo, ref string) string {
	t.Helper()
	cmd := exec.Command("git", "-C", s.Dir(repo), "rev-parse", "--verify", "--quiet", ref+"^{commit}")
	cmd.Env = s.env(nil)
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 1 {
			return ""
		}
		t.Fatalf("git rev-parse %s in %s: %v", ref, repo, err)
	}
	return strings.TrimSpace(string(out))
}

// ReadFile returns the content of path at ref in repo.
func (s *Server) ReadFile(t testing.TB, repo, ref, path string) string {
	t.Helper()
	cmd := exec.Command("git", "-C", s.Dir(repo), "cat-file", "blob", ref+":"+path)
	cmd.Env = s.env(nil)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git cat-file blob %s:%s in %s: %v: %s", ref, path, repo, err, stderr.String())
	}
	return string(out)
}

// Commit is one commit of a Log.
type Commit struct {
	Hash    string
	Parents []string
	Author  Signature
	Subject string
	Body    string // the message after the subject line and blank line
}

// Log returns the commits reachable from ref in repo, newest first (git
// log order).
func (s *Server) Log(t testing.TB, repo, ref string) []Commit {
	t.Helper()
	out := s.Git(t, repo, "log", "--format=%H%x1f%P%x1f%an%x1f%ae%x1f%s%x1f%b%x1e", ref, "--")
	var log []Commit
	for rec := range strings.SplitSeq(out, "\x1e") {
		rec = strings.TrimLeft(rec, "\n")
		if rec == "" {
			continue
		}
		f := strings.Split(rec, "\x1f")
		if len(f) != 6 {
			t.Fatalf("git log in %s: unexpected record %q", repo, rec)
		}
		log = append(log, Commit{
			Hash: f[0], Parents: parents(f[1]), Author: Signature{Name: f[2], Email: f[3]},
			Subject: f[4], Body: strings.TrimRight(f[5], "\n"),
		})
	}
	return log
}

// Git runs git with args in the bare repository repo and returns its
// standard output, trimmed; it fails the test on error.
func (s *Server) Git(t testing.TB, repo string, args ...string) string {
	t.Helper()
	return s.gitEnv(t, repo, nil, nil, args...)
}

func (s *Server) gitEnv(t testing.TB, repo string, env []string, stdin io.Reader, args ...string) string {
	t.Helper()
	return s.run(t, s.Dir(repo), env, stdin, args...)
}

// run runs git in dir ("" = the current directory) and returns its
// standard output, trimmed.
func (s *Server) run(t testing.TB, dir string, env []string, stdin io.Reader, args ...string) string {
	t.Helper()
	if dir != "" {
		args = append([]string{"-C", dir}, args...)
	}
	cmd := exec.Command("git", args...)
	cmd.Env = s.env(env)
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("git %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(stdout.String())
}

// env is the environment of every git the helpers run: no user or system
// configuration leaks in.
func (s *Server) env(extra []string) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + s.home,
		"XDG_CONFIG_HOME=" + s.home,
		"GIT_CONFIG_NOSYSTEM=1",
		"GNUPGHOME=" + os.Getenv("GNUPGHOME"),
	}
	return append(env, extra...)
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}

// parents is nil for a root commit, so Logs compare with cmp.Diff as written.
func parents(field string) []string {
	if p := strings.Fields(field); len(p) > 0 {
		return p
	}
	return nil
}
