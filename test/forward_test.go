package test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/imagebump/imagebump/bot"
	"github.com/imagebump/imagebump/bot/webhook"
)

// TestForwardedWebhooks is issue 20 item 1's webhook fan-out: three
// StatefulSet-like daemons on 127.0.0.1, one shard each, whose peer URLs
// are a list of their addresses. A signed GitHub push event that reaches
// a replica for a repository it does not own is forwarded once, signed
// with the shared forwarding secret, to the owner, which passes the
// repository; the third replica hears nothing. A forwarded event is never
// forwarded again, even by a replica that does not own its repository;
// one with a bad signature or without the forwarded mark is refused.
func TestForwardedWebhooks(t *testing.T) {
	const shards = 3
	w := newRunWorld(t)
	w.reg.Seed(t, "acme/web", "1.4.2")
	// Repositories until every shard owns one.
	var urls []string
	owner := map[string]int{}
	byShard := map[int]string{}
	for i := 0; len(byShard) < shards && i < 40; i++ {
		name := fmt.Sprintf("acme/fleet%02d", i)
		u := w.git.NewRepo(t, name, map[string]string{
			".imagebump.yaml":          "policies:\n  - name: web\n    image: " + w.reg.Repo("acme/web") + "\n    semver: ^1\n",
			"apps/web/deployment.yaml": deployment(w.reg.Repo("acme/web") + ":1.4.2"),
		})
		urls = append(urls, u)
		owner[u] = bot.ShardOf(u, shards)
		if _, ok := byShard[owner[u]]; !ok {
			byShard[owner[u]] = u
		}
	}
	if len(byShard) < shards {
		t.Fatalf("no repository for every shard among %d", len(urls))
	}
	cfg := w.config("push", webhookConfig(t, w, "10ms", "github", "distribution"), urls...)
	src, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	secretFile := filepath.Join(w.dir, "forward-secret")
	forwardSecret := "f0rward-s3cret"
	if err := os.WriteFile(secretFile, []byte(forwardSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addrs := make([]string, shards)
	peers := make([]string, shards)
	for i := range shards {
		addrs[i] = closedPort(t)
		peers[i] = "http://" + addrs[i]
	}
	ds := make([]*daemon, shards)
	for i := range shards {
		c := filepath.Join(w.dir, fmt.Sprintf("shard-%d.yaml", i))
		body := bytes.Replace(src, []byte("listen: 127.0.0.1:0"), []byte("listen: "+addrs[i]), 1)
		body = bytes.Replace(body, []byte("workDir: "+w.workDir), []byte(fmt.Sprintf("workDir: %s-%d", w.workDir, i)), 1)
		if err := os.WriteFile(c, body, 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(binary(t), "run", "--config", c, "--peer-url", strings.Join(peers, ","))
		cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+w.dir, fmt.Sprintf("IMAGEBUMP_SHARDS=%d", shards), fmt.Sprintf("POD_NAME=imagebump-%d", i), "IMAGEBUMP_FORWARD_SECRET_FILE="+secretFile)
		d := &daemon{t: t, addr: addrs[i], stderr: &syncBuffer{}}
		cmd.Stderr = d.stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			if err := cmd.Wait(); err != nil {
				t.Errorf("shard %d after SIGTERM: %v", i, err)
			}
			if t.Failed() {
				t.Logf("shard %d stderr:\n%s", i, d.stderr)
			}
		})
		ds[i] = d
	}
	passes := func(i int, u string) float64 {
		return ds[i].metric(fmt.Sprintf(`imagebump_passes_total{repository=%q,result="success",shard="%d"}`, u, i))
	}
	forwarded := func(i int, result string) float64 {
		return max(0, ds[i].metric(fmt.Sprintf(`imagebump_webhook_events_total{result=%q,shard="%d",source="forwarded"}`, result, i)))
	}
	for i := range shards {
		u := byShard[i]
		ds[i].until(fmt.Sprintf("shard %d's first pass of %s", i, u), func() bool { return passes(i, u) == 1 })
	}

	push := func(u string) []byte {
		b, err := json.Marshal(map[string]any{"ref": "refs/heads/main", "repository": map[string]string{"clone_url": u, "html_url": strings.TrimSuffix(u, ".git")}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// Shard 0 receives an event for shard 1's repository.
	target := byShard[1]
	body := push(target)
	h := http.Header{"X-GitHub-Event": {"push"}, "X-Hub-Signature-256": {webhook.Sign(body, []byte(hookSecret))}, "Content-Type": {"application/json"}}
	if code := ds[0].post("/webhooks/github", h, body); code != http.StatusAccepted {
		t.Fatalf("github push event to shard 0: %d, want 202", code)
	}
	ds[1].until("the owner's pass of the forwarded event's repository", func() bool { return passes(1, target) == 2 })
	if got := forwarded(1, webhook.Accepted); got != 1 {
		t.Errorf("shard 1 accepted %v forwarded events, want 1", got)
	}
	if got := forwarded(2, webhook.Accepted); got != 0 {
		t.Errorf("shard 2, which does not own %s, accepted %v forwarded events, want 0", target, got)
	}
	if n := strings.Count(ds[0].stderr.String(), "webhook event forwarded"); n != 1 {
		t.Errorf("shard 0 logged %d forwardings, want 1", n)
	}

	// A forwarded event that reaches a replica not owning its repository
	// (shard 2 gets shard 0's) is handled there and never forwarded again.
	fwd := func(ev webhook.Event, secret string, mark bool) int {
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{"Content-Type": {"application/json"}, webhook.ForwardSignatureHeader: {webhook.Sign(b, []byte(secret))}}
		if mark {
			h.Set(webhook.ForwardedHeader, "1")
		}
		return ds[2].post(webhook.ForwardPath, h, b)
	}
	stray := webhook.Event{Source: webhook.GitHub, Kind: "push", Repositories: []string{byShard[0]}}
	if code := fwd(stray, forwardSecret, true); code != http.StatusAccepted {
		t.Errorf("signed forwarded event: %d, want 202", code)
	}
	if code := fwd(stray, "not-the-secret", true); code != http.StatusUnauthorized {
		t.Errorf("forwarded event signed with another secret: %d, want 401", code)
	}
	if code := fwd(stray, forwardSecret, false); code != http.StatusBadRequest {
		t.Errorf("signed event without %s: %d, want 400", webhook.ForwardedHeader, code)
	}
	// Shard 2 answered the accepted one before returning; give a
	// (wrongly) forwarded copy time to arrive at shard 0 by waiting on a
	// pass that comes after: an event for shard 2's own repository.
	own := byShard[2]
	body = push(own)
	h = http.Header{"X-GitHub-Event": {"push"}, "X-Hub-Signature-256": {webhook.Sign(body, []byte(hookSecret))}, "Content-Type": {"application/json"}}
	if code := ds[2].post("/webhooks/github", h, body); code != http.StatusAccepted {
		t.Fatalf("github push event to shard 2: %d", code)
	}
	ds[2].until("shard 2's pass of its own repository", func() bool { return passes(2, own) == 2 })
	if n := strings.Count(ds[2].stderr.String(), "webhook event forwarded"); n != 0 {
		t.Errorf("shard 2 forwarded %d events, want 0: forwarded events are never forwarded, and its own needs no forwarding", n)
	}
	if got := forwarded(0, webhook.Accepted); got != 0 {
		t.Errorf("shard 0 accepted %v forwarded events, want 0", got)
	}
	if got := passes(0, byShard[0]); got != 1 {
		t.Errorf("shard 0 passed %s %v times, want 1 (the forwarded copy must not reach it)", byShard[0], got)
	}

	// A registry notification reaching shard 2 goes to every other shard,
	// since only an owner knows which images its repositories use. Each
	// shard passes its repositories, which find nothing changed: the
	// triggered passes follow the incremental rule and do not plan.
	notification, err := json.Marshal(map[string]any{"events": []map[string]any{{
		"action":  "push",
		"target":  map[string]string{"repository": "acme/web", "tag": "1.4.2"},
		"request": map[string]string{"host": w.reg.Host},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	h = http.Header{"Authorization": {"Bearer " + hookSecret}, "Content-Type": {"application/json"}}
	before := make([]float64, shards)
	for i := range shards {
		before[i] = passes(i, byShard[i])
	}
	if code := ds[2].post("/webhooks/distribution", h, notification); code != http.StatusAccepted {
		t.Fatalf("registry notification to shard 2: %d", code)
	}
	for i := range shards {
		ds[i].until(fmt.Sprintf("shard %d's pass after the registry notification", i), func() bool { return passes(i, byShard[i]) > before[i] })
		if !strings.Contains(ds[i].stderr.String(), `"unchanged":true`) {
			t.Errorf("shard %d: no pass after the notification was unchanged", i)
		}
	}
	if got := forwarded(0, webhook.Accepted); got != 1 {
		t.Errorf("shard 0 accepted %v forwarded events after the registry notification, want 1", got)
	}
	if got := forwarded(1, webhook.Accepted); got != 2 {
		t.Errorf("shard 1 accepted %v forwarded events in all, want 2", got)
	}
}
