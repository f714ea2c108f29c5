package test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/imagebump/imagebump/bot"
	"github.com/imagebump/imagebump/gitwriter/pullrequest"
	"github.com/imagebump/imagebump/test/githubfake"
)

// TestRunStatusAndDashboard drives the binary in pull request mode with
// the dashboard on: its issue shows a failing policy and the open pull
// request, a second pass writes nothing at all to the forge, and the
// daemon's status API and page show the same, with the page's CSP.
func TestRunStatusAndDashboard(t *testing.T) {
	w := newRunWorld(t)
	w.reg.Seed(t, "acme/web", "1.4.2", "1.5.0")
	w.fleet(map[string]string{
		".imagebump.yaml": "policies:\n" +
			"  - name: web\n    image: " + w.reg.Repo("acme/web") + "\n    semver: ^1\n" +
			"  - name: api\n    image: " + w.reg.Repo("acme/missing") + "\n    semver: ^2\n" +
			"  - name: old\n    image: " + w.reg.Repo("acme/web") + "\n    semver: ^1\n" +
			"dashboard:\n  enabled: true\n  title: Fleet dashboard\n",
		"apps/api/deployment.yaml": "image: " + w.reg.Repo("acme/missing") + ":2.0.0 # {\"$imagepolicy\": \"api\"}\n",
		// 1.9.0 is above what the registry has: a refused downgrade.
		"apps/old/deployment.yaml": "image: " + w.reg.Repo("acme/web") + ":1.9.0 # {\"$imagepolicy\": \"old\"}\n",
	})
	w.github = githubfake.New(t, w.git.Dir(runRepo), "acme", "fleet", "main")
	w.github.RequireToken(runToken)
	cfg := w.config("pullRequest", "")

	if out := w.once(cfg); out.code != 1 {
		t.Fatalf("first pass: exit %d, want 1 (the api policy fails)\n%s", out.code, out.stderr)
	}
	issues := w.github.Issues()
	if len(issues) != 1 || issues[0].Title != "Fleet dashboard" || issues[0].State != "open" {
		t.Fatalf("issues after the first pass: %+v; want the open dashboard", issues)
	}
	body := issues[0].Body
	if testing.Verbose() {
		t.Logf("the dashboard issue:\n%s", body)
	}
	for _, want := range []string{
		bot.DashboardMarker,
		"| `api` | `" + w.reg.Repo("acme/missing") + "` | `" + w.reg.Repo("acme/missing") + ":2.0.0` (apps/api/deployment.yaml:1) | none | failing: ",
		"| `web` | `" + w.reg.Repo("acme/web") + "` | `" + w.reg.Repo("acme/web") + ":1.4.2` (apps/web/deployment.yaml:",
		"| `1.5.0` | pr-open [#1](http",
		"| `old` | `" + w.reg.Repo("acme/web") + "` | `" + w.reg.Repo("acme/web") + ":1.9.0` (apps/old/deployment.yaml:1) | `1.5.0` | skipped: **refused downgrade**: apps/old/deployment.yaml:1: ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the dashboard lacks %q:\n%s", want, body)
		}
	}

	// Nothing changed: no write to the forge at all.
	before := len(w.github.Writes())
	if out := w.once(cfg); out.code != 1 {
		t.Fatalf("second pass: exit %d\n%s", out.code, out.stderr)
	}
	if writes := w.github.Writes()[before:]; len(writes) != 0 {
		t.Errorf("the second pass wrote to the forge: %v", writes)
	}

	// The daemon's status.
	addr, stderr := w.daemon(cfg)
	get := func(path string) (*http.Response, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return nil, err.Error()
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp, b.String()
	}
	resp, raw := get("/api/v1/status")
	if resp == nil || resp.StatusCode != 200 {
		t.Fatalf("GET /api/v1/status: %s\n%s", raw, stderr.String())
	}
	var o bot.Overview
	if err := json.Unmarshal([]byte(raw), &o); err != nil {
		t.Fatalf("decoding the status: %v\n%s", err, raw)
	}
	if len(o.Repositories) != 1 || o.Repositories[0].LastPass == nil || o.Repositories[0].NextDue.IsZero() {
		t.Fatalf("status: %s", raw)
	}
	repo := o.Repositories[0]
	states := map[string]bot.PolicyStatus{}
	for _, p := range repo.Policies {
		states[p.Name] = p
	}
	if api := states["api"]; api.State != bot.StateFailing || !strings.Contains(api.Error, "acme/missing") ||
		len(api.Current) != 1 || api.Current[0].File != "apps/api/deployment.yaml" || api.Current[0].Line != 1 {
		t.Errorf("api: %+v; want failing with its error and its value at apps/api/deployment.yaml:1", api)
	}
	if web := states["web"]; web.State != bot.StatePROpen || web.Selected != "1.5.0" || web.PullRequest == nil ||
		web.PullRequest.Number != 1 || web.PullRequest.URL == "" {
		t.Errorf("web: %+v; want pr-open #1 with its link, 1.5.0 selected", web)
	}
	if old := states["old"]; old.State != bot.StateSkipped || old.Skip != pullrequest.SkipDowngrade || !strings.Contains(old.Reason, "1.9.0") {
		t.Errorf("old: %+v; want skipped, refused-downgrade, its reason naming 1.9.0", old)
	}
	if !strings.Contains(raw, `"skip": "refused-downgrade"`) {
		t.Errorf("the status JSON does not carry the skip's identifier:\n%s", raw)
	}
	if d := repo.Dashboard; d == nil || d.Action != bot.DashboardUnchanged || d.Number != issues[0].Number {
		t.Errorf("dashboard: %+v; want issue #%d unchanged", d, issues[0].Number)
	}
	if strings.Contains(raw, runToken) {
		t.Errorf("the status shows the token:\n%s", raw)
	}
	resp, page := get("/")
	if resp == nil || resp.StatusCode != 200 || resp.Header.Get("Content-Security-Policy") != bot.ContentSecurityPolicy {
		t.Fatalf("GET /: %v %v", resp, page)
	}
	if strings.Contains(page, "<script") || !strings.Contains(page, "failing") {
		t.Errorf("the page has a script or lacks the failing policy:\n%s", page)
	}
	if writes := w.github.Writes()[before:]; len(writes) != 0 {
		t.Errorf("the daemon's pass wrote to the forge: %v", writes)
	}
}

// TestRunStatusShowsValuesWithoutDashboard checks that the daemon's status
// shows the values the markers hold for a repository without a dashboard
// issue (run --once does not gather them: nothing shows them there).
func TestRunStatusShowsValuesWithoutDashboard(t *testing.T) {
	w := newRunWorld(t)
	w.reg.Seed(t, "acme/web", "1.4.2")
	w.fleet(nil)
	addr, stderr := w.daemon(w.config("push", ""))
	resp, err := http.Get("http://" + addr + "/api/v1/status")
	if err != nil {
		t.Fatalf("GET /api/v1/status: %v\n%s", err, stderr.String())
	}
	defer resp.Body.Close()
	var o bot.Overview
	if err := json.NewDecoder(resp.Body).Decode(&o); err != nil {
		t.Fatal(err)
	}
	if len(o.Repositories) != 1 || len(o.Repositories[0].Policies) != 1 {
		t.Fatalf("status: %+v", o)
	}
	web := o.Repositories[0].Policies[0]
	if len(web.Current) != 1 || web.Current[0].File != "apps/web/deployment.yaml" || !strings.HasSuffix(web.Current[0].Value, ":1.4.2") {
		t.Errorf("web's values in the manifests: %+v; want apps/web/deployment.yaml's 1.4.2", web.Current)
	}
}

// daemon starts run (no --once) on cfg, listening on a free port of
// 127.0.0.1, stops it when the test ends, and returns once /readyz says
// every repository has had its first pass: the address, and what the
// daemon writes to stderr.
func (w *runWorld) daemon(cfg string) (string, *bytes.Buffer) {
	t := w.t
	t.Helper()
	addr := closedPort(t)
	withListen(t, cfg, addr)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	cmd := exec.CommandContext(ctx, binary(t), "run", "--config", cfg)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+w.dir)
	stderr := &bytes.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		cancel()
	})
	for ctx.Err() == nil {
		if code, _ := httpGet(addr, "/readyz"); code == 200 {
			return addr, stderr
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the daemon was not ready in time\n%s", stderr.String())
	return "", nil
}
