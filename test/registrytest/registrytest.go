package registrytest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/registry"
	"golang.org/x/crypto/bcrypt"
)

// Binary is where Debian's docker-registry package installs the registry.
const Binary = "/usr/bin/docker-registry"

// Registry is a running registry on 127.0.0.1, real or in-process.
type Registry struct {
	// Host is "127.0.0.1:PORT", the registry part of image references.
	// Loopback registries are spoken to over plain HTTP.
	Host string
	// Username and Password are the basic-auth credentials the registry
	// requires, empty unless WithBasicAuth was given.
	Username, Password string
}

// Option configures Start and StartInProcess.
type Option func(*config)

type config struct {
	user, password string
	middleware     func(http.Handler) http.Handler
	notify         string // notifications section of the real registry's config
}

// WithBasicAuth makes the registry require HTTP basic authentication with
// these credentials (an htpasswd file for the real registry).
func WithBasicAuth(username, password string) Option {
	return func(c *config) { c.user, c.password = username, password }
}

// WithMiddleware wraps the handler of the registry, for fault injection:
// the wrapper sees every request first. For the real registry, Start puts
// a reverse proxy with the wrapper on 127.0.0.1 in front of it, and Host
// is the proxy's.
func WithMiddleware(mw func(http.Handler) http.Handler) Option {
	return func(c *config) { c.middleware = mw }
}

// WithNotifications makes the real registry send its notification
// envelopes (notifications.endpoints) to url with the header
// "Authorization: Bearer token", retrying a failed delivery every 100ms.
// Blob events are left out, as a deployment would. StartInProcess ignores
// it.
func WithNotifications(url, token string) Option {
	return func(c *config) {
		c.notify = fmt.Sprintf(`notifications:
  endpoints:
    - name: test
      url: %s
      headers:
        Authorization: [%q]
      timeout: 5s
      threshold: 3
      backoff: 100ms
      ignoredmediatypes: [application/octet-stream]
`, url, "Bearer "+token)
	}
}

// Repo returns the reference of a repository on the registry,
// "127.0.0.1:PORT/repo".
func (r *Registry) Repo(repo string) string { return r.Host + "/" + repo }

// Auth returns the authenticator for the registry's credentials, or
// anonymous access.
func (r *Registry) Auth() authn.Authenticator {
	if r.Username == "" {
		return authn.Anonymous
	}
	return &authn.Basic{Username: r.Username, Password: r.Password}
}

// Start runs /usr/bin/docker-registry on 127.0.0.1 with its storage in a
// t.TempDir, waits until /v2/ answers, and stops it (by PID) in t.Cleanup.
// When the binary is missing the test is skipped, or fails if CI=true.
func Start(t testing.TB, opts ...Option) *Registry {
	t.Helper()
	return start(t, Binary, opts...)
}

func start(t testing.TB, binary string, opts ...Option) *Registry {
	t.Helper()
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	if _, err := os.Stat(binary); err != nil {
		msg := fmt.Sprintf("%s not found: apt-get install docker-registry to run tests against the real registry", binary)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	dir := t.TempDir()
	// A free port can be taken between our probe and the registry's
	// listen; try a few.
	var lastErr error
	for range 3 {
		r, err := startReal(t, binary, dir, cfg)
		if err == nil {
			return r
		}
		lastErr = err
	}
	t.Fatalf("starting docker-registry: %v", lastErr)
	return nil
}

func startReal(t testing.TB, binary, dir string, cfg config) (*Registry, error) {
	t.Helper()
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	host := fmt.Sprintf("127.0.0.1:%d", port)
	storage := filepath.Join(dir, fmt.Sprintf("storage-%d", port))
	var auth string
	if cfg.user != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(cfg.password), bcrypt.MinCost)
		if err != nil {
			return nil, err
		}
		htpasswd := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(htpasswd, []byte(cfg.user+":"+string(hash)+"\n"), 0o600); err != nil {
			return nil, err
		}
		auth = fmt.Sprintf("auth:\n  htpasswd:\n    realm: registrytest\n    path: %s\n", htpasswd)
	}
	yml := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
%s%s`, storage, host, auth, cfg.notify)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(yml), 0o600); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, fmt.Sprintf("registry-%d.log", port))
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command(binary, "serve", cfgPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none")
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}

	deadline := time.Now().Add(20 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for {
		select {
		case err := <-exited:
			out, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("docker-registry exited (%v): %s", err, tail(out))
		default:
		}
		if time.Now().After(deadline) {
			stop()
			out, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("docker-registry did not answer on %s within 20s: %s", host, tail(out))
		}
		resp, err := client.Get("http://" + host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(stop)
	if cfg.middleware != nil {
		// The proxy keeps the Host header clients send, so the URLs the
		// registry builds (uploads, pages) name the proxy.
		proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: host})
		srv := httptest.NewServer(cfg.middleware(proxy))
		t.Cleanup(srv.Close)
		host = strings.TrimPrefix(srv.URL, "http://")
	}
	return &Registry{Host: host, Username: cfg.user, Password: cfg.password}, nil
}

// StartInProcess runs go-containerregistry's in-memory registry
// (pkg/registry) on an httptest server on 127.0.0.1, closed in t.Cleanup.
// It is fast and always available, but does not paginate tag lists.
func StartInProcess(t testing.TB, opts ...Option) *Registry {
	t.Helper()
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	var h http.Handler = registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	if cfg.user != "" {
		h = basicAuth(h, cfg.user, cfg.password)
	}
	if cfg.middleware != nil {
		h = cfg.middleware(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &Registry{
		Host:     strings.TrimPrefix(srv.URL, "http://"),
		Username: cfg.user,
		Password: cfg.password,
	}
}

func basicAuth(next http.Handler, user, password string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != user || p != password {
			w.Header().Set("WWW-Authenticate", `Basic realm="registrytest"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	addr, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		return 0, errors.New("listener address is not TCP")
	}
	return addr.Port, nil
}

func tail(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
