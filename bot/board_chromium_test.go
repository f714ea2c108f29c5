package bot

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/gitwriter"
	"github.com/imagebump/imagebump/gitwriter/pullrequest"
	"github.com/imagebump/imagebump/patcher"
)

// requireChromium returns the path of Debian's chromium, skipping the test
// when it is missing, or failing it when CI=true.
func requireChromium(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		msg := "chromium not found: apt-get install chromium to test the status page in a browser"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return path
}

// artifacts is the directory the test keeps its screenshots in:
// $TEST_ARTIFACTS when set, else a new temporary directory that is not
// removed. The test prints it.
func artifacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("TEST_ARTIFACTS")
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "imagebump-status-"); err != nil {
			t.Fatal(err)
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots are kept in %s", dir)
	return dir
}

// chromium runs headless Chromium on url with args (--dump-dom,
// --screenshot=…) and returns its standard output and the console
// messages the page produced (Chromium logs each as a CONSOLE line).
func chromium(t *testing.T, bin, url string, args ...string) (string, []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	all := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
		"--disable-background-networking", "--disable-sync", "--disable-component-update",
		"--enable-logging=stderr", "--v=0", "--user-data-dir=" + t.TempDir(),
		"--window-size=1280,1400", "--hide-scrollbars",
	}, args...)
	cmd := exec.CommandContext(ctx, bin, append(all, url)...)
	cmd.Dir = t.TempDir()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), consoleLine.FindAllString(stderr.String(), -1)
}

// consoleLine matches Chromium's log line of a console message, whatever
// its level: a CSP violation, an error, a log call.
var consoleLine = regexp.MustCompile(`(?m)^\[[^\]]*:CONSOLE[:(][^\]]*\].*$`)

// demoBoard is a board with a repository of every kind of policy state
// and some webhook events.
func demoBoard(t *testing.T) *Board {
	t.Helper()
	web, api, db, cache := statusPolicy(t, "web", "ghcr.io/acme/web"), statusPolicy(t, "api", "ghcr.io/acme/api"),
		statusPolicy(t, "db", "ghcr.io/acme/db"), statusPolicy(t, "cache", "docker.io/library/redis")
	legacy := statusPolicy(t, "legacy", "ghcr.io/acme/legacy")
	started := time.Date(2026, 12, 7, 3, 40, 0, 0, time.UTC)
	// api and cache form the group backend, held because api's registry
	// failed; its open pull request #38 is kept.
	backend := prPlan{Held: map[string]string{"imagebump/backend": "backend"}, Failed: map[string][]string{"imagebump/backend": {"api"}}}
	held := heldResults(backend)
	keptPullRequests(held, []pullrequest.PullRequest{{Number: 38, State: pullrequest.StateOpen, Head: "imagebump/backend", URL: "https://github.com/acme/fleet/pull/38"}}, backend)
	prRepo := Result{
		Repository: "https://github.com/acme/fleet.git", Mode: config.PullRequest,
		Started: started, Duration: 2345 * time.Millisecond,
		Policies: []Resolution{
			{Policy: api, Err: errors.New(`policy "api" (.imagebump.yaml:6): listing tags of ghcr.io/acme/api: GET https://ghcr.io/v2/acme/api/tags/list: 503 Service Unavailable`)},
			{Policy: cache, Tag: "7.4.1"},
			{Policy: db, Tag: "16.4"},
			{Policy: legacy, Tag: "2.9.4"},
			{Policy: web, Tag: "1.5.0"},
		},
		Current: []Value{
			{File: "apps/api/deployment.yaml", Line: 12, Policy: "api", Field: "ref", Value: "ghcr.io/acme/api:2.0.0"},
			{File: "charts/cache/values.yaml", Line: 4, Policy: "cache", Field: "tag", Value: "7.4.1"},
			{File: "infra/db.yaml", Line: 9, Policy: "db", Field: "ref", Value: "ghcr.io/acme/db:16.2"},
			{File: "apps/legacy/deployment.yaml", Line: 14, Policy: "legacy", Field: "ref", Value: "ghcr.io/acme/legacy:3.1.0"},
			{File: "apps/web/deployment.yaml", Line: 21, Policy: "web", Field: "ref", Value: "ghcr.io/acme/web:1.4.2"},
			{File: "clusters/prod/web.yaml", Line: 7, Policy: "web", Field: "tag", Value: "1.4.2"},
		},
		Plan: &patcher.Plan{
			Changes: []patcher.Change{
				{File: "infra/db.yaml", Line: 9, Policy: "db"},
				{File: "apps/web/deployment.yaml", Line: 21, Policy: "web"},
			},
			Skipped: []patcher.Skipped{{File: "apps/legacy/deployment.yaml", Line: 14, Policy: "legacy", Current: "3.1.0", Selected: "2.9.4", Reason: patcher.ReasonDowngrade}},
		},
		PullRequests: []pullrequest.Result{
			{Decision: pullrequest.Decision{Group: "web", Branch: "imagebump/web", Action: pullrequest.ActionCreate,
				Versions: []pullrequest.Version{{Policy: "web", Image: "ghcr.io/acme/web", From: "1.4.2", To: "1.5.0"}}},
				Number: 42, URL: "https://github.com/acme/fleet/pull/42"},
			{Decision: pullrequest.Decision{Group: "db", Branch: "imagebump/db", Action: pullrequest.ActionDefer, Skip: pullrequest.SkipMaxOpen,
				Reason:   "maxOpen 2 reached: 2 pull requests of imagebump are open",
				Versions: []pullrequest.Version{{Policy: "db", Image: "ghcr.io/acme/db", From: "16.2", To: "16.4"}}}},
			held[0],
		},
	}
	prRepo = reported(prRepo, map[string][]string{"imagebump/backend": {"api", "cache"}})
	pushRepo := Result{
		Repository: "https://git.example.com/acme/edge.git", Mode: config.Push,
		Started: started.Add(time.Second), Duration: 812 * time.Millisecond,
		Policies: []Resolution{{Policy: web, Tag: "1.5.0"}},
		Current:  []Value{{File: "edge/web.yaml", Line: 3, Policy: "web", Field: "ref", Value: "ghcr.io/acme/web:1.4.2"}},
		Plan:     &patcher.Plan{Changes: []patcher.Change{{File: "edge/web.yaml", Line: 3, Policy: "web"}}},
		Commit:   &gitwriter.ChangeSet{Changes: []gitwriter.Change{{File: "edge/web.yaml", Policy: "web"}}},
		Pushed:   &gitwriter.PushResult{Commit: "3f2a9c1d0b8e7f6a5d4c3b2a1f0e9d8c7b6a5f4e", Branch: "main", Attempts: 1},
	}
	b := NewBoard([]string{prRepo.Repository, pushRepo.Repository, "https://gitlab.example.com/acme/new.git"})
	b.Record(prRepo, started.Add(10*time.Minute))
	b.Record(pushRepo, started.Add(10*time.Minute))
	b.RecordEvent("distribution", "", "ghcr.io/acme/web", "scheduled 2 repositories", started.Add(-time.Minute))
	b.RecordEvent("github", "https://github.com/acme/fleet.git", "", "scheduled", started.Add(-30*time.Second))
	return b
}

// TestStatusPageInChromium renders the status page in headless Chromium:
// it must show the failing policy with its error and the open pull request
// with its link, log nothing to the console (a CSP violation would), and
// look right in the screenshot kept as an artifact.
func TestStatusPageInChromium(t *testing.T) {
	bin := requireChromium(t)
	b := demoBoard(t)
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", b.Page())
	mux.Handle("GET /api/v1/status", b.API())
	srv := httptest.NewServer(mux)
	defer srv.Close()

	dom, console := chromium(t, bin, srv.URL+"/", "--dump-dom")
	if len(console) > 0 {
		t.Errorf("the page logged to the console:\n%s", strings.Join(console, "\n"))
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`<code>api</code>[\s\S]*?<span class="state failing">failing</span>[\s\S]*?503 Service Unavailable`),
		regexp.MustCompile(`<code>web</code>[\s\S]*?<span class="state pr-open">pr-open</span>\s*<a href="https://github.com/acme/fleet/pull/42">#42</a>`),
		regexp.MustCompile(`<span class="state deferred">deferred</span>[\s\S]*?<span class="skip">deferred by maxOpen</span>[\s\S]*?maxOpen 2 reached`),
		// Both policies of the held group name the kept pull request.
		regexp.MustCompile(`<code>api</code>[\s\S]*?<span class="state failing">failing</span>\s*<a href="https://github.com/acme/fleet/pull/38">#38</a>[\s\S]*?<span class="skip">registry failed, pull request kept</span>[\s\S]*?503 Service Unavailable`),
		regexp.MustCompile(`<code>cache</code>[\s\S]*?<span class="state skipped">skipped</span>\s*<a href="https://github.com/acme/fleet/pull/38">#38</a>\s*<br><span class="skip">registry failed, pull request kept</span>`),
		regexp.MustCompile(`<code>legacy</code>[\s\S]*?<span class="state skipped">skipped</span>\s*<br><span class="skip">refused downgrade</span>\s*<br>apps/legacy/deployment.yaml:14: policy legacy selected 2.9.4`),
		regexp.MustCompile(`<span class="state pushed">pushed</span>\s*<code>3f2a9c1d0b8e</code>`),
		regexp.MustCompile(`<code>ghcr.io/acme/web:1.4.2</code> <span class="loc">apps/web/deployment.yaml:21</span>`),
		regexp.MustCompile(`No pass has finished yet`),
		regexp.MustCompile(`scheduled 2 repositories`),
	} {
		if !want.MatchString(dom) {
			t.Errorf("the rendered page does not match %s:\n%s", want, dom)
		}
	}
	dir := artifacts(t)
	shot := filepath.Join(dir, "status.png")
	if _, console := chromium(t, bin, srv.URL+"/", "--screenshot="+shot); len(console) > 0 {
		t.Errorf("the page logged to the console:\n%s", strings.Join(console, "\n"))
	}
	if st, err := os.Stat(shot); err != nil || st.Size() == 0 {
		t.Fatalf("no screenshot: %v", err)
	}
}

// TestStatusPageCSPInChromium checks what the no-console-message test
// stands on: under the page's Content-Security-Policy, Chromium blocks an
// inline script and an inline style attribute, and says so on the console
// that TestStatusPageInChromium reads.
func TestStatusPageCSPInChromium(t *testing.T) {
	bin := requireChromium(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", ContentSecurityPolicy)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<!DOCTYPE html><html><head><title>x</title></head><body><p id="p" style="color: red">x</p><script>document.title = "ran"</script></body></html>`))
	}))
	defer srv.Close()
	dom, console := chromium(t, bin, srv.URL+"/", "--dump-dom")
	if strings.Contains(dom, "<title>ran</title>") {
		t.Errorf("an inline script ran under the status page's CSP:\n%s", dom)
	}
	joined := strings.Join(console, "\n")
	for _, want := range []string{"Executing inline script violates", "Applying inline style violates"} {
		if !strings.Contains(joined, want) {
			t.Errorf("the console does not say %q; it has:\n%s", want, joined)
		}
	}
}
