package test

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pushgatewayBinary is where Debian's prometheus-pushgateway package
// installs the Pushgateway.
const pushgatewayBinary = "/usr/bin/prometheus-pushgateway"

// needBinary skips the test when path is missing, or fails it under
// CI=true, as the other prerequisites do.
func needBinary(t *testing.T, path, pkg string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		msg := fmt.Sprintf("%s not found: apt-get install %s (make packages)", path, pkg)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// startPushgateway runs Debian's Pushgateway on 127.0.0.1, in memory, and returns its base URL; it is stopped by PID in Cleanup.
func startPushgateway(t *testing.T) string {
	t.Helper()
	needBinary(t, pushgatewayBinary, "prometheus-pushgateway")
	addr := closedPort(t)
	// Debian's build persists to /var/lib/prometheus by default: an
	// empty file keeps the metrics in memory only, so no test sees
	// another's.
	cmd := exec.Command(pushgatewayBinary, "--web.listen-address="+addr, "--persistence.file=", "--log.level=warn")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	url := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return url
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Pushgateway did not become ready on %s: %s", addr, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return b.String()
}

// TestRunOncePushesMetrics runs run --once twice against Debian's
// Pushgateway: the first run's metrics are there, with build_info; after
// a policy is removed, the second run's push drops its series.
func TestRunOncePushesMetrics(t *testing.T) {
	pg := startPushgateway(t)
	w := newRunWorld(t)
	w.reg.Seed(t, "acme/web", "1.4.2", "1.5.0")
	w.fleet(map[string]string{
		".imagebump.yaml": "policies:\n" +
			"  - name: web\n    image: " + w.reg.Repo("acme/web") + "\n    semver: ^1\n" +
			"  - name: ghost\n    image: " + w.reg.Repo("acme/ghost") + "\n    semver: ^1\n",
		"apps/ghost.yaml": "image: " + w.reg.Repo("acme/ghost") + ":1.0.0 # {\"$imagepolicy\": \"ghost\"}\n",
	})
	cfg := w.config("push", "pushgateway:\n  url: "+pg+"\n  job: fleet-bot\n")

	out := w.once(cfg)
	if out.code != 1 {
		t.Fatalf("first run: exit %d, want 1 (policy ghost has no image)\n%s", out.code, out.stderr)
	}
	got := scrape(t, pg)
	lbl := `job="fleet-bot",repository="` + w.url + `"`
	for _, want := range []string{
		`imagebump_passes_total{instance="",` + lbl + `,result="failed"} 1`,
		`imagebump_passes_total{instance="",` + lbl + `,result="success"} 0`,
		`imagebump_policy_failing{instance="",job="fleet-bot",policy="ghost",repository="` + w.url + `"} 1`,
		`imagebump_policy_failing{instance="",job="fleet-bot",policy="web",repository="` + w.url + `"} 0`,
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("the Pushgateway lacks %s", want)
		}
	}
	if !regexp.MustCompile(`(?m)^imagebump_build_info\{commit="[^"]+",goversion="go[^"]+",instance="",job="fleet-bot",version="[^"]+"\} 1$`).MatchString(got) {
		t.Errorf("the Pushgateway lacks imagebump_build_info")
	}
	if strings.Contains(got, "imagebump_last_successful_pass_timestamp_seconds{") {
		t.Errorf("a run that failed pushed a last success")
	}
	if strings.Contains(got, `go_goroutines{instance="",job="fleet-bot"}`) {
		t.Errorf("run --once pushed the Go runtime's metrics of a process that has exited")
	}
	if t.Failed() {
		t.Fatalf("Pushgateway after the first run:\n%s\nrun:\n%s", got, out.stderr)
	}

	// The ghost policy goes: the second push replaces the family.
	w.git.Commit(t, runRepo, "main", "drop ghost", map[string]string{
		".imagebump.yaml": "policies:\n  - name: web\n    image: " + w.reg.Repo("acme/web") + "\n    semver: ^1\n",
		"apps/ghost.yaml": "image: x\n",
	})
	if out := w.once(cfg); out.code != 0 {
		t.Fatalf("second run: exit %d\n%s", out.code, out.stderr)
	}
	got = scrape(t, pg)
	if strings.Contains(got, `policy="ghost"`) {
		t.Errorf("the removed policy's series is still in the Pushgateway")
	}
	for _, want := range []string{
		`imagebump_passes_total{instance="",` + lbl + `,result="success"} 1`,
		`imagebump_last_successful_pass_timestamp_seconds{instance="",` + lbl + `}`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the Pushgateway lacks %s after a successful run", want)
		}
	}
	if !strings.Contains(out.stderr, `"msg":"metrics pushed"`) {
		t.Errorf("no log line of the push:\n%s", out.stderr)
	}
	if t.Failed() {
		t.Logf("Pushgateway:\n%s", got)
	}
}

// TestRunOncePushFailureExits1 checks that a Pushgateway that cannot be
// reached makes run --once exit 1 with the pass itself done.
func TestRunOncePushFailureExits1(t *testing.T) {
	w := newRunWorld(t)
	w.reg.Seed(t, "acme/web", "1.4.2", "1.5.0")
	w.fleet(nil)
	cfg := w.config("push", "pushgateway:\n  url: http://"+closedPort(t)+"\n")
	out := w.once(cfg)
	if out.code != 1 || !strings.Contains(out.stderr, "pushing metrics failed") {
		t.Errorf("exit %d, want 1 with the push failure logged\n%s", out.code, out.stderr)
	}
	if n := len(w.botCommits("main")); n != 1 {
		t.Errorf("%d bot commits, want the pass done despite the push failure", n)
	}
}
