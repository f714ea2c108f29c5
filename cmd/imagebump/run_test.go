package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/bot"
	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/gitwriter"
	"github.com/imagebump/imagebump/gitwriter/pullrequest"
)

// TestProgressLines checks that only the finished line of each phase is
// written, prefixed with the repository, and that a remote's control
// characters are escaped.
func TestProgressLines(t *testing.T) {
	var out bytes.Buffer
	p := &progressLines{w: &out, prefix: "https://git.example/acme/fleet.git"}
	for _, chunk := range []string{
		"Counting objects:  50% (1/2)\r",
		"Counting objects: 100% (2/2)\rCounting objects: 100% (2/2), done.\n",
		"Compressing obj", "ects: 100% (1/1), done.\n",
		"\x1b[31mred\n", "\n", "no newline yet",
	} {
		if _, err := p.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	want := "https://git.example/acme/fleet.git: Counting objects: 100% (2/2), done.\n" +
		"https://git.example/acme/fleet.git: Compressing objects: 100% (1/1), done.\n" +
		"https://git.example/acme/fleet.git: \"\\x1b[31mred\"\n"
	if out.String() != want {
		t.Errorf("got %q\nwant %q", out.String(), want)
	}
}

func TestBotLogger(t *testing.T) {
	tests := []struct {
		format string
		json   bool
	}{
		{"", true}, // a buffer is not a terminal
		{"json", true},
		{"text", false},
	}
	for _, tc := range tests {
		var out bytes.Buffer
		botLogger(&out, config.Log{Format: tc.format, Level: "info"}).Info("hello", "k", "v")
		botLogger(&out, config.Log{Format: tc.format, Level: "warn"}).Info("hidden")
		got := out.String()
		if isJSON := strings.HasPrefix(got, "{"); isJSON != tc.json {
			t.Errorf("format %q: %q, want JSON %v", tc.format, got, tc.json)
		}
		if strings.Contains(got, "hidden") {
			t.Errorf("format %q: a line below the level was logged: %q", tc.format, got)
		}
	}
}

// TestLogResultOneLine checks that errors reach the JSON log as one line
// each: a forge SDK's request dump and a URL's user information stay out.
func TestLogResultOneLine(t *testing.T) {
	dump := errors.New("unknown API error: 500\nRequest: '/api/v1/repos/acme/fleet/pulls' with 'GET' method and '<html>\n</html>' body")
	res := bot.Result{
		Repository: "https://git.example/acme/fleet.git",
		Mode:       config.PullRequest,
		PullRequests: []pullrequest.Result{{
			Decision: pullrequest.Decision{Group: "web", Branch: "imagebump/web", Action: pullrequest.ActionCreate},
			Err:      fmt.Errorf("opening the pull request: %w", dump),
		}},
		Err: errors.New(`syncing the working copy: fetching "https://T0KEN@git.example/acme/fleet.git": authentication required`),
	}
	var out bytes.Buffer
	logResult(botLogger(&out, config.Log{Format: "json", Level: "info"}), res)
	var errs []string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		if e, ok := rec["err"].(string); ok {
			errs = append(errs, e)
		}
	}
	want := []string{
		"opening the pull request: unknown API error: 500",
		`syncing the working copy: fetching "https://REDACTED@git.example/acme/fleet.git": authentication required`,
	}
	if diff := cmp.Diff(want, errs); diff != "" {
		t.Errorf("err fields (-want +got):\n%s", diff)
	}
}

// TestRunRefusesBeforeContacting checks that run finds, before any pass
// (exit 2, naming the line), the config problems issue 16 found only
// mid-pass or never: a token as a URL's user name, a schedule that never
// fires, a missing tokenFile.
func TestRunRefusesBeforeContacting(t *testing.T) {
	tests := []struct {
		name, repo, schedule, want string
	}{
		{"token as user name", "url: https://ghp_T0KEN@127.0.0.1:1/acme/fleet.git\n    mode: push", "@hourly",
			`:4: repositories[0].url: "https://REDACTED@127.0.0.1:1/acme/fleet.git" holds user information before the host`},
		{"schedule that never fires", "url: https://127.0.0.1:1/acme/fleet.git\n    mode: push", "0 0 30 2 *",
			`:2: schedule: "0 0 30 2 *": names no time that will come`},
		{"missing tokenFile", "url: https://127.0.0.1:1/acme/fleet.git\n    mode: push\n    auth: {tokenFile: /nonexistent/token}", "@hourly",
			`:6: repositories[0].auth.tokenFile: cannot read /nonexistent/token: no such file or directory`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "imagebump.yaml")
			content := fmt.Sprintf("workDir: %s\nschedule: %q\nrepositories:\n  - %s\n", t.TempDir(), tc.schedule, tc.repo)
			if err := os.WriteFile(cfg, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, stderr, code := runCLI(t, "run", "--config", cfg, "--once")
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and %q", code, stderr, tc.want)
			}
			if strings.Contains(stderr, "T0KEN") {
				t.Errorf("the token shows: %s", stderr)
			}
		})
	}
}

// TestBotLoggerRedacts checks that no log line shows a URL's user
// information, whoever logs it (gitwriter logs its URL as "url").
func TestBotLoggerRedacts(t *testing.T) {
	for _, format := range []string{"json", "text"} {
		var out bytes.Buffer
		log := botLogger(&out, config.Log{Format: format, Level: "info"}).With("repository", "https://T0KEN@git.example/a/b.git")
		log.Info("synced https://u:T0KEN@git.example/a/b.git", "url", "https://T0KEN@git.example/a/b.git",
			"err", errors.New(`fetching "https://T0KEN@git.example/a/b.git": 401`),
			slog.Group("g", "u", "http://T0KEN@h/x"))
		got := out.String()
		if strings.Contains(got, "T0KEN") || strings.Count(got, "REDACTED@") != 5 {
			t.Errorf("format %s: %s", format, got)
		}
	}
}

// TestPrintDryRunPush checks the dry-run lines of push mode: the image
// once, then the old and new versions (issue 16 item 5).
func TestPrintDryRunPush(t *testing.T) {
	res := bot.Result{Repository: "https://git.example/acme/fleet.git", Mode: config.Push, DryRun: true,
		Commit: &gitwriter.ChangeSet{
			Files: []gitwriter.File{{Path: "apps/web.yaml"}},
			Changes: []gitwriter.Change{
				{File: "apps/web.yaml", Image: "ghcr.io/acme/web", Field: "ref", Old: "ghcr.io/acme/web:1.4.2", New: "ghcr.io/acme/web:1.5.0"},
				{File: "apps/web.yaml", Image: "ghcr.io/acme/web", Field: "tag", Old: "1.4.2", New: "1.5.0"},
			},
		}}
	var out bytes.Buffer
	printDryRun(&out, res)
	want := "https://git.example/acme/fleet.git (push, dry run)\n" +
		"  would commit 1 file(s) and push:\n" +
		"    apps/web.yaml: ghcr.io/acme/web 1.4.2 → 1.5.0 (ref)\n" +
		"    apps/web.yaml: ghcr.io/acme/web 1.4.2 → 1.5.0 (tag)\n"
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("dry run (-want +got):\n%s", diff)
	}
}
