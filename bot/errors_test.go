package bot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/gitwriter"
	"github.com/imagebump/imagebump/problem"
	"github.com/imagebump/imagebump/test/filetree"
)

// TestPassDeadline checks that a pass past limits.passTimeout stops and
// fails with an error that names the limit.
func TestPassDeadline(t *testing.T) {
	dir := filetree.Write(t, map[string]string{".imagebump.yaml": "policies: []\n"})
	wc := &fakeCopy{dir: dir, stall: true}
	r := runner(t, config.Push, wc, false)
	r.Config.Limits.PassTimeout = time.Millisecond
	res := r.pass(context.Background(), newFake(), r.Config.Repositories[0])
	var dl *DeadlineError
	if !errors.As(res.Err, &dl) || dl.Limit != time.Millisecond {
		t.Fatalf("Err = %v, want a DeadlineError of 1ms", res.Err)
	}
	const want = "the pass took longer than limits.passTimeout (1ms) and was stopped: syncing the working copy: context deadline exceeded"
	if got := res.Err.Error(); got != want {
		t.Errorf("Err = %q, want %q", got, want)
	}
}

// TestPassWithoutDeadline checks that a pass the deadline did not stop
// reports no DeadlineError, and that a cancelled pass is not blamed on it.
func TestPassWithoutDeadline(t *testing.T) {
	dir := filetree.Write(t, map[string]string{".imagebump.yaml": "policies: []\n"})
	r := runner(t, config.Push, &fakeCopy{dir: dir}, false)
	r.Config.Limits.PassTimeout = time.Hour
	if res := r.pass(context.Background(), newFake(), r.Config.Repositories[0]); res.Err != nil {
		t.Errorf("Err = %v, want none", res.Err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r = runner(t, config.Push, &fakeCopy{dir: dir, stall: true}, false)
	r.Config.Limits.PassTimeout = time.Hour
	res := r.pass(ctx, newFake(), r.Config.Repositories[0])
	if res.Err == nil || errors.As(res.Err, new(*DeadlineError)) {
		t.Errorf("Err = %v, want a cancellation, not the deadline", res.Err)
	}
}

// TestPassDebugLines checks that log.level debug has something to show
// and that no line shows the user information of the repository's URL.
func TestPassDebugLines(t *testing.T) {
	dir := filetree.Write(t, map[string]string{
		".imagebump.yaml": "policies:\n  - name: web\n    image: ghcr.io/acme/web\n    semver: ^1\n",
		"deploy.yaml":     "image: ghcr.io/acme/web:1.4.2 # {\"$imagepolicy\": \"web\"}\n",
	})
	r := runner(t, config.Push, &fakeCopy{dir: dir}, true)
	r.Config.Repositories[0].URL = "https://ghp_T0KEN@git.example/acme/fleet.git"
	var buf bytes.Buffer
	r.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	res := r.pass(context.Background(), newFake(), r.Config.Repositories[0])
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	out := buf.String()
	for _, want := range []string{`level=DEBUG msg="pass started"`, `level=DEBUG msg="working copy synced"`, `level=DEBUG msg="policy resolved" repository=https://REDACTED@git.example/acme/fleet.git policy=web image=ghcr.io/acme/web tag=1.5.0`, `level=DEBUG msg=planned`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "T0KEN") || strings.Contains(res.Repository, "T0KEN") {
		t.Errorf("the token shows in the result (%s) or the log:\n%s", res.Repository, out)
	}
}

func TestOneLine(t *testing.T) {
	gitea := errors.New("unknown API error: 500\nRequest: '/api/v1/repos/acme/fleet/pulls' with 'GET' method and '<html>\n<body>Oops</body>\n</html>' body")
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"one line", errors.New("a: b"), "a: b"},
		{"gitea SDK dump", fmt.Errorf("listing pull requests: %w", gitea), "listing pull requests: unknown API error: 500"},
		{"joined", errors.Join(errors.New("first"), fmt.Errorf("second: %w", gitea)), "first; second: unknown API error: 500"},
		{"multi-line message", errors.New("git says:\n  remote: denied\n"), "git says:; remote: denied"},
		{"user info", errors.New(`fetching "https://T0KEN@git.example/a/b.git": 401`), `fetching "https://REDACTED@git.example/a/b.git": 401`},
		{"long", errors.New(strings.Repeat("x", 5000)), strings.Repeat("x", maxErrorText) + "…"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := OneLine(tc.err); got != tc.want {
				t.Errorf("OneLine = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestPassMaxFileSize checks that limits.maxFileSize reaches the patcher:
// a marked manifest above it is a problem of the pass, and nothing of it
// is committed.
func TestPassMaxFileSize(t *testing.T) {
	big := "image: ghcr.io/acme/web:1.4.2 # {\"$imagepolicy\": \"web\"}\n# " + strings.Repeat("x", 2<<10) + "\n"
	dir := filetree.Write(t, map[string]string{
		".imagebump.yaml": "policies:\n  - name: web\n    image: ghcr.io/acme/web\n    semver: ^1\n",
		"big.yaml":        big,
	})
	wc := &fakeCopy{dir: dir}
	r := runner(t, config.Push, wc, false)
	r.Config.Limits.MaxFileSize = 1 << 10
	res := r.pass(context.Background(), newFake(), r.Config.Repositories[0])
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if res.Plan == nil || len(res.Plan.Problems) != 1 || res.Plan.Problems[0].File != "big.yaml" || !strings.Contains(res.Plan.Problems[0].Message, "more than the 1KiB bound") {
		t.Errorf("problems = %v, want big.yaml above the 1KiB bound", res.Plan.Problems)
	}
	if len(wc.pushes) != 0 {
		t.Errorf("pushed %d commits, want none", len(wc.pushes))
	}
}

// TestPassSkippedPaths checks that paths the sync did not check out are
// problems of their own, shown escaped, and the rest is still pushed.
func TestPassSkippedPaths(t *testing.T) {
	dir := filetree.Write(t, map[string]string{
		".imagebump.yaml": "policies:\n  - name: web\n    image: ghcr.io/acme/web\n    semver: ^1\n",
		"deploy.yaml":     "image: ghcr.io/acme/web:1.4.2 # {\"$imagepolicy\": \"web\"}\n",
	})
	wc := &fakeCopy{dir: dir, skipped: []gitwriter.SkippedPath{{Path: "apps/we\x01b.yaml", Why: "its name has a control character"}}}
	r := runner(t, config.Push, wc, false)
	res := r.pass(context.Background(), newFake(), r.Config.Repositories[0])
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	want := []problem.Problem{{File: `apps/we\x01b.yaml`, Message: "not checked out: its name has a control character"}}
	if diff := cmp.Diff(want, res.Plan.Problems); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	if len(wc.pushes) != 1 {
		t.Errorf("%d pushes, want 1: the rest of the tree is still updated", len(wc.pushes))
	}
}
