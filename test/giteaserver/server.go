package giteaserver

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// AdminUser is the admin the server is made with; Token is its.
const AdminUser = "imagebump"

// Password is the password of every user the server makes.
const Password = "imagebump-test-password"

// PageSize is the server's largest page of a list (MAX_RESPONSE_ITEMS),
// smaller than Gitea's default of 50 and than what clients ask for: a
// scenario needs a few pull requests, not 51, to span two pages, and
// clients are held to follow the server's paging rather than assume the
// page size they asked for. (Each pull request costs Gitea a temporary
// clone to check mergeability when git is older than 2.40.)
const PageSize = 10

// Server is a running Gitea on 127.0.0.1, as one test sees it: the
// helpers fail that test. The process behind it is shared by every test of
// the test binary (Shared); For binds it to another test.
type Server struct {
	// URL is the server's root, "http://127.0.0.1:PORT", what the SDK is
	// given; the API is under URL+"/api/v1".
	URL string
	// Token is an access token of AdminUser with every scope.
	Token string

	t testing.TB
	*process
}

// process is the running gitea web and what every test shares of it.
type process struct {
	dir     string
	config  string
	build   Build
	http    *http.Client
	mu      sync.Mutex
	tokens  map[string]string // user → token
	orgs    atomic.Int64      // organizations made, for unique names
	logFile string
	pid     int // of gitea web, the leader of its process group
	stop    func()
}

// Users are the users the server is made with besides AdminUser, with
// password Password: the humans of the scenarios.
var Users = []string{"alice", "human"}

// shared is the test binary's server: Gitea boots (migrations, the admin
// user) take seconds of CPU, scenarios take a fresh organization instead.
var shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// Shared returns the test binary's Gitea, bound to t, starting it on first
// use: Gitea is built or the cached build reused, `gitea web` started on a
// free port of 127.0.0.1 with sqlite in a temporary directory, and the
// admin user and token made with Gitea's CLI and the Users with its API.
// Scenarios stay independent by working in an organization of their own
// (NewRepo, CreateOrg with a unique name). The process lives until
// StopShared, which the package's TestMain calls after m.Run; should the
// test binary die first (a -timeout panic), the kernel stops Gitea with
// it. When Gitea cannot be built or started, every test asking for it is
// skipped with the reason, or fails under CI=true.
func Shared(t testing.TB) *Server {
	t.Helper()
	unavailable := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	shared.once.Do(func() { shared.srv, shared.err = startShared() })
	if shared.err != nil {
		unavailable("%v", shared.err)
	}
	return shared.srv.For(t)
}

// StopShared stops the shared server, if a test started it, by the PID of
// its process group, and removes its directory. TestMain calls it after
// m.Run.
func StopShared() {
	// Taking the Once makes a later Shared fail instead of starting anew.
	shared.once.Do(func() { shared.err = errors.New("giteaserver: Shared after StopShared") })
	if shared.srv != nil {
		shared.srv.stop()
		shared.srv = nil
	}
}

// For is the same server bound to t: its helpers fail t.
func (s *Server) For(t testing.TB) *Server {
	c := *s
	c.t = t
	return &c
}

func startShared() (*Server, error) {
	if _, err := exec.LookPath("git"); err != nil {
		return nil, errors.New("git not found: Gitea needs it (apt-get install git)")
	}
	b, err := BuildOrReuse()
	if err != nil {
		return nil, fmt.Errorf("no Gitea to run: %v", err)
	}
	var lastErr error
	// A free port can be taken between the probe and Gitea's listen.
	for range 3 {
		s, err := start(b)
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return nil, fmt.Errorf("starting Gitea: %v", lastErr)
}

func start(b Build) (_ *Server, err error) {
	dir, err := os.MkdirTemp("", "giteaserver-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	u, err := user.Current()
	if err != nil {
		return nil, err
	}
	s := &Server{URL: fmt.Sprintf("http://127.0.0.1:%d", port), process: &process{
		dir: dir, build: b,
		config: filepath.Join(dir, "app.ini"), http: &http.Client{Timeout: 3 * time.Minute},
		tokens: map[string]string{}, logFile: filepath.Join(dir, "log", "gitea.log"),
	}}
	if err := os.WriteFile(s.config, []byte(appINI(dir, b.StaticRoot, u.Username, port)), 0o600); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	cmd := exec.Command(b.Binary, "web", "--config", s.config, "--work-path", dir)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, s.env(), &out, &out
	// Its own process group, so the hooks and git it spawns go with it;
	// killed by the kernel if the test binary dies before StopShared.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	exited := make(chan struct{})
	var waitErr error
	started := make(chan error)
	go func() {
		// Pdeathsig fires when the thread that started the child ends, not
		// the process: this goroutine keeps its thread until Gitea exits
		// (a goroutine that ends locked takes its thread with it).
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		waitErr = cmd.Wait()
		close(exited)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("starting %s: %w", b.Binary, err)
	}
	s.pid = cmd.Process.Pid
	stop := func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	}
	defer func() {
		if err != nil {
			stop()
		}
	}()
	if err := s.waitReady(exited, &waitErr); err != nil {
		return nil, fmt.Errorf("%w\n%s\n%s", err, tail(out.String()), tail(s.log()))
	}
	s.stop = func() { stop(); os.RemoveAll(dir) }
	if _, err := s.cli("admin", "user", "create", "--admin", "--username", AdminUser, "--password", Password,
		"--email", AdminUser+"@example.com", "--must-change-password=false"); err != nil {
		return nil, fmt.Errorf("creating the admin user: %w", err)
	}
	tok, err := s.cli("admin", "user", "generate-access-token", "--username", AdminUser, "--token-name", "tests", "--scopes", "all", "--raw")
	if err != nil {
		return nil, fmt.Errorf("creating the admin token: %w", err)
	}
	// The CLI may log before the token; the token is the last line.
	lines := strings.Split(strings.TrimSpace(tok), "\n")
	s.Token = strings.TrimSpace(lines[len(lines)-1])
	if len(s.Token) != 40 {
		return nil, fmt.Errorf("creating the admin token: unexpected output %q", tok)
	}
	s.tokens[AdminUser] = s.Token
	for _, name := range Users {
		if err := s.createUser(context.Background(), name); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *Server) env() []string {
	env := append(os.Environ(), "GITEA_WORK_DIR="+s.dir, "HOME="+s.dir, "GIT_CONFIG_NOSYSTEM=1")
	if os.Geteuid() == 0 {
		// Gitea refuses root unless told (app.ini's root key, or this).
		env = append(env, "GITEA_I_AM_BEING_UNSAFE_RUNNING_AS_ROOT=true")
	}
	return env
}

func (s *Server) log() string {
	b, _ := os.ReadFile(s.logFile)
	return string(b)
}

// cli runs a gitea subcommand on the server's config.
func (s *Server) cli(args ...string) (string, error) {
	cmd := exec.Command(s.build.Binary, append(args, "--config", s.config, "--work-path", s.dir)...)
	cmd.Dir, cmd.Env = s.dir, s.env()
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("gitea %s: %v: %s", strings.Join(args[:min(3, len(args))], " "), err, tail(stderr.String()+out.String()))
	}
	return out.String(), nil
}

// waitReady polls /api/v1/version until it answers, Gitea exits, or two
// minutes pass (the first start of a busy machine migrates the database).
func (s *Server) waitReady(exited <-chan struct{}, waitErr *error) error {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("gitea exited before answering: %v", *waitErr)
		default:
		}
		resp, err := s.http.Get(s.URL + "/api/v1/version")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return errors.New("gitea did not answer /api/v1/version within 2 minutes")
}

func appINI(dir, static, runUser string, port int) string {
	secret := func() string {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		return hex.EncodeToString(b)
	}
	// The queue is immediate so that work Gitea defers (a pull request's
	// mergeability, its head after a push) is done before the request or
	// hook returns: tests read the state right after. Lists are paged at
	// PageSize. Parallel scenarios
	// write to one sqlite database: a writer waits for the lock (busy
	// timeout, milliseconds) rather than failing after the default 500.
	return fmt.Sprintf(`APP_NAME = imagebump tests
RUN_USER = %[3]s
RUN_MODE = prod
WORK_PATH = %[1]s

[server]
PROTOCOL = http
HTTP_ADDR = 127.0.0.1
HTTP_PORT = %[4]d
DOMAIN = 127.0.0.1
ROOT_URL = http://127.0.0.1:%[4]d/
DISABLE_SSH = true
START_SSH_SERVER = false
OFFLINE_MODE = true
STATIC_ROOT_PATH = %[2]s
APP_DATA_PATH = %[1]s/data
LFS_START_SERVER = false

[database]
DB_TYPE = sqlite3
PATH = %[1]s/data/gitea.db
SQLITE_JOURNAL_MODE = WAL
SQLITE_TIMEOUT = 60000

[repository]
ROOT = %[1]s/repositories
DEFAULT_BRANCH = main

[security]
INSTALL_LOCK = true
SECRET_KEY = %[5]s
INTERNAL_TOKEN = %[6]s
PASSWORD_HASH_ALGO = pbkdf2_hi

[oauth2]
ENABLED = false

[service]
DISABLE_REGISTRATION = true
REQUIRE_SIGNIN_VIEW = false
DEFAULT_ALLOW_CREATE_ORGANIZATION = true

[mailer]
ENABLED = false

[api]
MAX_RESPONSE_ITEMS = %[7]d
DEFAULT_PAGING_NUM = %[7]d

[indexer]
ISSUE_INDEXER_TYPE = db
REPO_INDEXER_ENABLED = false

[queue]
TYPE = immediate

[cache]
ADAPTER = memory

[session]
PROVIDER = memory

[cron]
ENABLED = false

[cron.update_checker]
ENABLED = false

[log]
MODE = file
LEVEL = Warn
ROOT_PATH = %[1]s/log

[webhook]
ALLOWED_HOST_LIST = loopback
`, dir, static, runUser, port, secret(), secret(), PageSize)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Do sends an API request (path under /api/v1) as user, whose token is
// made on first use, and decodes a JSON answer into out (if not nil). A
// status of 300 or more is an error carrying the body.
func (s *Server) Do(ctx context.Context, as, method, path string, in, out any) error {
	tok, err := s.tokenOf(ctx, as)
	if err != nil {
		return err
	}
	return s.do(ctx, method, path, in, out, func(r *http.Request) { r.Header.Set("Authorization", "token "+tok) })
}

func (s *Server) do(ctx context.Context, method, path string, in, out any, auth func(*http.Request)) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.URL+"/api/v1"+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	auth(req)
	resp, err := s.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(b)))
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: decoding the answer: %w", method, path, err)
		}
	}
	return nil
}

// MustDo is Do failing the test on error.
func (s *Server) MustDo(as, method, path string, in, out any) {
	s.t.Helper()
	if err := s.Do(context.Background(), as, method, path, in, out); err != nil {
		s.t.Fatal(err)
	}
}

func (s *Server) tokenOf(ctx context.Context, name string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if tok, ok := s.tokens[name]; ok {
		return tok, nil
	}
	var tok struct {
		SHA1 string `json:"sha1"`
	}
	in := map[string]any{"name": "tests", "scopes": []string{"all"}}
	err := s.do(ctx, http.MethodPost, "/users/"+url.PathEscape(name)+"/tokens", in, &tok, func(r *http.Request) { r.SetBasicAuth(name, Password) })
	if err != nil {
		return "", fmt.Errorf("making a token for %s: %w", name, err)
	}
	s.tokens[name] = tok.SHA1
	return tok.SHA1, nil
}

// CreateUser makes a user (password Password, email NAME@example.com).
// Users are the server's, not a scenario's: a name is made once per test
// binary.
func (s *Server) CreateUser(name string) {
	s.t.Helper()
	if err := s.createUser(context.Background(), name); err != nil {
		s.t.Fatal(err)
	}
}

func (s *Server) createUser(ctx context.Context, name string) error {
	return s.Do(ctx, AdminUser, http.MethodPost, "/admin/users", map[string]any{
		"username": name, "email": name + "@example.com", "password": Password, "must_change_password": false,
	}, nil)
}

// CreateOrg makes an organization owned by the admin, named prefix and a
// number unique on the server, and returns its name: each scenario works
// in an organization of its own on the shared server.
func (s *Server) CreateOrg(prefix string) string {
	s.t.Helper()
	name := fmt.Sprintf("%s-%d", prefix, s.orgs.Add(1))
	s.MustDo(AdminUser, http.MethodPost, "/orgs", map[string]any{"username": name, "visibility": "public"}, nil)
	return name
}

// CreateTeam makes a team of org with write access to all its
// repositories, with members.
func (s *Server) CreateTeam(org, name string, members ...string) {
	s.t.Helper()
	var team struct {
		ID int64 `json:"id"`
	}
	s.MustDo(AdminUser, http.MethodPost, "/orgs/"+org+"/teams", map[string]any{
		"name": name, "permission": "write", "includes_all_repositories": true,
		"units": []string{"repo.code", "repo.pulls", "repo.issues"},
	}, &team)
	for _, m := range members {
		s.MustDo(AdminUser, http.MethodPut, fmt.Sprintf("/teams/%d/members/%s", team.ID, m), nil, nil)
	}
}

// AddCollaborator gives user write access to owner/repo.
func (s *Server) AddCollaborator(owner, repo, user string) {
	s.t.Helper()
	s.MustDo(AdminUser, http.MethodPut, fmt.Sprintf("/repos/%s/%s/collaborators/%s", owner, repo, user), map[string]any{"permission": "write"}, nil)
}

// CreateRepo makes the empty repository owner/repo (owner an organization
// or the admin) with default branch main; files, if any, are pushed as one
// commit on main by the admin over HTTP.
func (s *Server) CreateRepo(owner, repo string, files map[string]string) {
	s.t.Helper()
	path := "/orgs/" + owner + "/repos"
	if owner == AdminUser {
		path = "/user/repos"
	}
	s.MustDo(AdminUser, http.MethodPost, path, map[string]any{"name": repo, "default_branch": "main", "private": false}, nil)
	if len(files) == 0 {
		return
	}
	work := s.t.TempDir()
	s.Git(work, "init", "-q", "-b", "main")
	for name, content := range files {
		p := filepath.Join(work, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			s.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			s.t.Fatal(err)
		}
	}
	s.Git(work, "add", "-A")
	s.Git(work, "-c", "user.name=human", "-c", "user.email=human@example.com", "commit", "-q", "-m", "initial")
	s.Git(work, "push", "-q", s.GitURL(AdminUser, owner, repo), "main")
}

// GitURL is the HTTP clone URL of owner/repo with user's token in it.
func (s *Server) GitURL(as, owner, repo string) string {
	s.t.Helper()
	tok, err := s.tokenOf(context.Background(), as)
	if err != nil {
		s.t.Fatal(err)
	}
	u, _ := url.Parse(s.URL)
	u.User = url.UserPassword(as, tok)
	u.Path = "/" + owner + "/" + repo + ".git"
	return u.String()
}

// Git runs git in dir without the user's or system's config and returns
// its trimmed output, failing the test on error.
func (s *Server) Git(dir string, args ...string) string {
	s.t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "LC_ALL=C", "GIT_TERMINAL_PROMPT=0")
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		s.t.Fatalf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(strings.ReplaceAll(stderr.String(), s.URL, "GITEA")))
	}
	return strings.TrimSpace(out.String())
}

// CommitAs commits files (path → content) on branch of owner/repo as user
// (author USER@example.com) with the git CLI over HTTP: clone, commit,
// push. It returns the new commit.
func (s *Server) CommitAs(as, owner, repo, branch string, files map[string]string, message string) string {
	s.t.Helper()
	work := filepath.Join(s.t.TempDir(), "clone")
	s.Git(filepath.Dir(work), "clone", "-q", "--branch", branch, "--single-branch", s.GitURL(as, owner, repo), work)
	for name, content := range files {
		p := filepath.Join(work, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			s.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			s.t.Fatal(err)
		}
	}
	s.Git(work, "add", "-A")
	s.Git(work, "-c", "user.name="+as, "-c", "user.email="+as+"@example.com", "commit", "-q", "-m", message)
	s.Git(work, "push", "-q", "origin", branch)
	return s.Git(work, "rev-parse", "HEAD")
}

// ClosePull closes pull request n of owner/repo as user, unmerged.
func (s *Server) ClosePull(as, owner, repo string, n int) {
	s.t.Helper()
	s.MustDo(as, http.MethodPatch, fmt.Sprintf("/repos/%s/%s/pulls/%d", owner, repo, n), map[string]any{"state": "closed"}, nil)
}

// MergePull merges pull request n of owner/repo as user with a merge
// commit.
func (s *Server) MergePull(as, owner, repo string, n int) {
	s.t.Helper()
	s.MustDo(as, http.MethodPost, fmt.Sprintf("/repos/%s/%s/pulls/%d/merge", owner, repo, n), map[string]any{"Do": "merge"}, nil)
}

// RepoDir is the bare repository of owner/repo on the server's disk, for
// reading only: writes go through git over HTTP, so Gitea's hooks see them.
func (s *Server) RepoDir(owner, repo string) string {
	return filepath.Join(s.ReposRoot(), strings.ToLower(owner), strings.ToLower(repo)+".git")
}

// ReposRoot holds the server's bare repositories, one OWNER/REPO.git
// directory each (lower case), for reading only.
func (s *Server) ReposRoot() string { return filepath.Join(s.dir, "repositories") }

// list reads every page of the paged list at path (a GET under /api/v1
// without page or limit) as the admin, failing the test on error.
func list[T any](s *Server, path string) []T {
	s.t.Helper()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	var all []T
	for n := 1; ; n++ {
		var page []T
		s.MustDo(AdminUser, http.MethodGet, fmt.Sprintf("%s%spage=%d&limit=%d", path, sep, n, PageSize), nil, &page)
		if len(page) > PageSize {
			// Some lists (an issue's comments) ignore page and limit;
			// asking for page 2 would get everything again, forever.
			s.t.Fatalf("GET %s: %d items on a page of %d: the list is not paged", path, len(page), PageSize)
		}
		all = append(all, page...)
		if len(page) < PageSize {
			return all
		}
	}
}
