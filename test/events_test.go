package test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/crane"

	"github.com/imagebump/imagebump/test/githubfake"
	"github.com/imagebump/imagebump/test/registrytest"
)

// These tests run `imagebump run` as a daemon with an hourly schedule and
// webhooks configured: every pass after the start-up one can only come
// from an event.

const hookSecret = "w3bh00k-s3cret"

// daemon is a running `imagebump run` on addr.
type daemon struct {
	t      *testing.T
	addr   string
	stderr *syncBuffer
}

// syncBuffer is a bytes.Buffer the process writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startDaemon runs the bot with cfg, whose listen is addr, and stops it
// with SIGTERM at the end of the test.
func startDaemon(t *testing.T, w *runWorld, cfg, addr string) *daemon {
	t.Helper()
	cmd := exec.Command(binary(t), "run", "--config", cfg)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+w.dir)
	d := &daemon{t: t, addr: addr, stderr: &syncBuffer{}}
	cmd.Stderr = d.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("run after SIGTERM: %v", err)
		}
		if t.Failed() {
			t.Logf("imagebump run stderr:\n%s", d.stderr)
		}
	})
	return d
}

// webhookConfig writes the secret file and returns the webhooks section.
func webhookConfig(t *testing.T, w *runWorld, debounce string, sources ...string) string {
	t.Helper()
	secret := filepath.Join(w.dir, "webhook-secret")
	if err := os.WriteFile(secret, []byte(hookSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "webhooks:\n  debounce: %s\n  maxBodyBytes: 4096\n  sources:\n", debounce)
	for _, s := range sources {
		fmt.Fprintf(&b, "    %s: {secretFile: %s}\n", s, secret)
	}
	return b.String()
}

func withListen(t *testing.T, cfg, addr string) {
	t.Helper()
	src, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, bytes.Replace(src, []byte("listen: 127.0.0.1:0"), []byte("listen: "+addr), 1), 0o600); err != nil {
		t.Fatal(err)
	}
}

// httpGet is the status and body of GET http://addr+path; a request that
// fails gives status 0 and its error as the body.
func httpGet(addr, path string) (int, string) {
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

// until polls cond every 50ms until it holds, and fails the test after a
// generous bound (this is a timeout, not a timing assertion).
func (d *daemon) until(what string, cond func() bool) {
	d.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			d.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (d *daemon) post(path string, header http.Header, body []byte) int {
	d.t.Helper()
	req, err := http.NewRequest("POST", "http://"+d.addr+path, bytes.NewReader(body))
	if err != nil {
		d.t.Fatal(err)
	}
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// metric is the value of the series of /metrics whose name and labels are
// exactly series, or -1 when there is none (or no answer yet).
func (d *daemon) metric(series string) float64 {
	resp, err := http.Get("http://" + d.addr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(b.String())
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		d.t.Fatalf("%s: %v", series, err)
	}
	return v
}

// passes is the number of finished passes of url, whatever their result.
func (d *daemon) passes(url string) float64 {
	n := 0.0
	for _, r := range []string{"success", "failed", "invalid"} {
		v := d.metric(`imagebump_passes_total{repository="` + url + `",result="` + r + `"}`)
		if v < 0 {
			return -1
		}
		n += v
	}
	return n
}

// TestRunRegistryNotificationTriggersPass is the end-to-end case:
// Debian's docker-registry notifies the bot of a push made with crane, and
// the push mode commit, or the pull request (GitHub fake over the real git
// server), appears while the schedule is hourly.
func TestRunRegistryNotificationTriggersPass(t *testing.T) {
	for _, mode := range []string{"push", "pullRequest"} {
		t.Run(mode, func(t *testing.T) {
			addr := closedPort(t)
			w := newRunWorld(t, registrytest.WithNotifications("http://"+addr+"/webhooks/distribution", hookSecret))
			w.reg.Seed(t, "acme/web", "1.4.2", "1.5.0")
			w.fleet(nil)
			if mode == "pullRequest" {
				w.github = githubfake.New(t, w.git.Dir(runRepo), "acme", "fleet", "main")
			}
			cfg := w.config(mode, webhookConfig(t, w, "200ms", "distribution"))
			withListen(t, cfg, addr)
			d := startDaemon(t, w, cfg, addr)

			// has reports whether the change to tag is where mode puts it.
			has := func(tag string) bool {
				if mode == "push" {
					return strings.Contains(w.git.ReadFile(t, runRepo, "main", "apps/web/deployment.yaml"), ":"+tag+" #")
				}
				for _, pr := range w.github.PullRequests() {
					if pr.State == "open" && pr.Title == "Update "+w.reg.Repo("acme/web")+" to "+tag {
						return true
					}
				}
				return false
			}
			d.until("the start-up pass to propose 1.5.0", func() bool { return has("1.5.0") })

			img, err := crane.Image(map[string][]byte{"app": []byte("1.6.0")})
			if err != nil {
				t.Fatal(err)
			}
			pushed := time.Now()
			if err := crane.Push(img, w.reg.Repo("acme/web:1.6.0"), crane.Insecure); err != nil {
				t.Fatal(err)
			}
			d.until("the pass the notification triggered to propose 1.6.0", func() bool { return has("1.6.0") })
			// Reported, not asserted: the schedule being hourly is the proof.
			t.Logf("%s: 1.6.0 was proposed %s after crane's push returned", mode, time.Since(pushed).Round(10*time.Millisecond))
			if mode == "push" {
				if n := len(w.botCommits("main")); n != 2 {
					t.Errorf("%d bot commits on main, want 2 (start-up, then the notified tag)", n)
				}
			} else if prs := w.github.PullRequests(); len(prs) != 1 {
				t.Errorf("%d pull requests, want the one, updated to 1.6.0: %+v", len(prs), prs)
			}
			if v := d.metric(`imagebump_webhook_events_total{result="accepted",source="distribution"}`); v < 1 {
				t.Errorf("accepted distribution events = %v, want at least 1", v)
			}
			if !strings.Contains(d.stderr.String(), `"msg":"webhook event","source":"distribution"`) {
				t.Errorf("no log line of the webhook event")
			}
		})
	}
}

// TestRunWebhookRefusesAndBounds sends what a forger or a flood would: bad
// secrets, oversized and unreadable bodies start no pass, and a flood of
// valid events starts at most a pass and its follow-up.
func TestRunWebhookRefusesAndBounds(t *testing.T) {
	addr := closedPort(t)
	w := newRunWorld(t)
	w.reg.Seed(t, "acme/web", "1.4.2")
	w.fleet(nil)
	cfg := w.config("push", webhookConfig(t, w, "1s", "distribution", "gitea", "dockerhub"))
	withListen(t, cfg, addr)
	d := startDaemon(t, w, cfg, addr)
	d.until("the start-up pass", func() bool { return d.passes(w.url) == 1 })

	push := []byte(`{"events":[{"action":"push","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","repository":"acme/web","tag":"9.9.9"},"request":{"host":"` + w.reg.Host + `"}}]}`)
	bearer := func(s string) http.Header { return http.Header{"Authorization": {"Bearer " + s}} }
	for _, tc := range []struct {
		name   string
		path   string
		header http.Header
		body   []byte
		want   int
	}{
		{"wrong bearer", "/webhooks/distribution", bearer("guess"), push, 401},
		{"no header", "/webhooks/distribution", http.Header{}, push, 401},
		{"gitea forged signature", "/webhooks/gitea", http.Header{"X-Gitea-Event": {"push"}, "X-Gitea-Signature": {strings.Repeat("0", 64)}}, []byte(`{"repository":{"clone_url":"` + w.url + `"}}`), 401},
		{"dockerhub wrong path", "/webhooks/dockerhub/guess", http.Header{}, []byte(`{"repository":{"repo_name":"acme/web"}}`), 401},
		{"oversized", "/webhooks/distribution", bearer(hookSecret), append(push, bytes.Repeat([]byte(" "), 5000)...), 413},
		{"unreadable", "/webhooks/distribution", bearer(hookSecret), []byte("not json"), 400},
		{"source not configured", "/webhooks/harbor", bearer(hookSecret), push, 404},
	} {
		if got := d.post(tc.path, tc.header, tc.body); got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.want)
		}
	}
	// A flood of forged events: each is refused, none starts a pass.
	var wg sync.WaitGroup
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.post("/webhooks/distribution", bearer("guess"), push)
		}()
	}
	wg.Wait()
	if v := d.metric(`imagebump_webhook_events_total{result="unauthorized",source="distribution"}`); v != 202 {
		t.Errorf("unauthorized distribution events = %v, want 202", v)
	}
	for _, s := range []string{"too_large", "bad_request"} {
		if v := d.metric(`imagebump_webhook_events_total{result="` + s + `",source="distribution"}`); v != 1 {
			t.Errorf("%s distribution events = %v, want 1", s, v)
		}
	}

	// A flood of valid events within the debounce: one pass, at most one
	// follow-up.
	codes := make(chan int, 200)
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes <- d.post("/webhooks/distribution", bearer(hookSecret), push)
		}()
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 202 {
			t.Fatalf("a valid event got %d, want 202", c)
		}
	}
	d.until("the triggered pass", func() bool { return d.passes(w.url) >= 2 })
	// Room for any extra pass to show itself (a grace period, not a
	// timing assertion): three debounces.
	time.Sleep(3 * time.Second)
	if n := d.passes(w.url); n > 3 {
		t.Errorf("%v passes after a flood of 200 events, want the start-up pass, one triggered pass and at most one follow-up", n)
	}

	// A git event of the watched repository, signed as Gitea signs.
	before := d.passes(w.url)
	body := []byte(`{"ref":"refs/heads/main","repository":{"clone_url":"` + w.url + `"}}`)
	h := http.Header{"X-Gitea-Event": {"push"}, "X-Gitea-Signature": {giteaSign(body, hookSecret)}}
	if got := d.post("/webhooks/gitea", h, body); got != 202 {
		t.Fatalf("signed gitea push: status %d, want 202", got)
	}
	d.until("the pass the gitea push triggered", func() bool { return d.passes(w.url) > before })
}

func giteaSign(body []byte, secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}
