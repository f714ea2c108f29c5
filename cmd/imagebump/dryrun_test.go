package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagebump/imagebump/config"
)

// startDemoFleet starts the demo's registry and git server, stopped when the
// test ends, and pushes the demo's fleet repository: dir holds the bare
// repository and the checkout (dir/fleet), host is the registry's, url the
// repository's.
func startDemoFleet(t *testing.T) (dir, host, bare, url string) {
	t.Helper()
	dir = t.TempDir()
	host, _, stopRegistry, err := startDemoRegistry(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopRegistry)
	bare = filepath.Join(dir, "fleet.git")
	url, stopGit, err := startGitServer(bare)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopGit)
	if err := createFleet(t.Context(), filepath.Join(dir, "fleet"), bare, url, host); err != nil {
		t.Fatal(err)
	}
	return dir, host, bare, url
}

// TestRunDryRunPushCommit runs `run --once --dry-run` in push mode against
// the demo's registry and git server and checks that it prints the commit
// it would push, per repository: the author, the message and the unified
// diff of every file; and that the remote does not move.
func TestRunDryRunPushCommit(t *testing.T) {
	dir, host, bare, url := startDemoFleet(t)
	before, err := pushedCommit(bare, "main")
	if err != nil {
		t.Fatal(err)
	}
	botConfig, err := writeDemoConfig(dir, url, config.Push)
	if err != nil {
		t.Fatal(err)
	}

	out, stderr, code := runCLI(t, "run", "--config", botConfig, "--once", "--dry-run")
	if code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s\nstdout:\n%s", code, stderr, out)
	}
	want := []string{
		url + " (push, dry run)\n  would commit 4 file(s) and push:\n",
		"\n  Author: imagebump <imagebump@users.noreply.github.com>\n\n      Update 3 images\n\n",
		"      - " + host + "/acme/web 1.0.0 → 1.2.1 (apps/web/deployment.yaml)\n",
		"\n\n      Imagebump-Bot: true\n",
	}
	for _, e := range demoEdits {
		want = append(want, "\n  --- a/"+e.file+"\n  +++ b/"+e.file+"\n  @@ ")
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q", w)
		}
	}
	// Each edit's line, removed and added, with the rest of its line.
	lines := strings.Split(out, "\n")
	for _, e := range demoEdits {
		var minus, plus bool
		for _, l := range lines {
			minus = minus || strings.HasPrefix(l, "  -") && strings.Contains(l, e.old)
			plus = plus || strings.HasPrefix(l, "  +") && strings.Contains(l, e.new)
		}
		if !minus || !plus {
			t.Errorf("the diff lacks %s: -%q (%v) +%q (%v)", e.file, e.old, minus, e.new, plus)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
	after, err := pushedCommit(bare, "main")
	if err != nil {
		t.Fatal(err)
	}
	if after.Hash != before.Hash {
		t.Errorf("a dry run moved main from %s to %s", before.Hash, after.Hash)
	}
}
