package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/bot"
	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/gitwriter/pullrequest"
)

// TestSkipsShown renders a pass's skips as run logs them and as --dry-run
// prints them: every skip of the result is one "skipped" log line with its
// reason from the vocabulary, and the dry run shows the same reasons, in
// push mode too.
func TestSkipsShown(t *testing.T) {
	downgrade := bot.Skip{Reason: pullrequest.SkipDowngrade, Policies: []string{"web"}, File: "apps/web.yaml", Line: 3, Current: "2.0.0", Selected: "1.9.0", Message: "apps/web.yaml:3: policy web selected 1.9.0, which it orders below 2.0.0 in the file; never downgraded"}
	held := pullrequest.Decision{Group: "db", Branch: "imagebump/db", Action: pullrequest.ActionSkip, Skip: pullrequest.SkipRegistryFailed, Reason: "policy db did not resolve"}
	deferred := pullrequest.Decision{Group: "api", Branch: "imagebump/api", Action: pullrequest.ActionDefer, Skip: pullrequest.SkipMaxOpen, Reason: "maxOpen 1 reached"}
	declined := pullrequest.Decision{Group: "ui", Branch: "imagebump/ui", Action: pullrequest.ActionSkip, Skip: pullrequest.SkipDeclined, Number: 4, Reason: "pull request #4 was closed without merging"}
	foreign := pullrequest.Decision{Group: "job", Branch: "imagebump/job", Action: pullrequest.ActionCommentForeign, Skip: pullrequest.SkipForeignCommits, Number: 5, Reason: "branch has commits imagebump did not make"}
	skipOf := func(d pullrequest.Decision) bot.Skip {
		return bot.Skip{Reason: d.Skip, Policies: []string{d.Group}, Group: d.Group, Branch: d.Branch, Number: d.Number, Message: d.Reason}
	}
	tests := []struct {
		name    string
		res     bot.Result
		wantLog []string // each skip line's reason
		wantOut []string
	}{{
		name:    "push mode: a refused downgrade",
		res:     bot.Result{Repository: "https://git.example/fleet.git", Mode: config.Push, DryRun: true, Skips: []bot.Skip{downgrade}},
		wantLog: []string{"refused-downgrade"},
		wantOut: []string{"  skipped [refused-downgrade] apps/web.yaml:3: policy web selected 1.9.0"},
	}, {
		name: "pull request mode: every group skip and a downgrade",
		res: bot.Result{
			Repository: "https://git.example/fleet.git", Mode: config.PullRequest, DryRun: true,
			PullRequests: []pullrequest.Result{{Decision: held}, {Decision: deferred}, {Decision: declined}, {Decision: foreign}},
			Skips:        []bot.Skip{downgrade, skipOf(held), skipOf(deferred), skipOf(declined), skipOf(foreign)},
		},
		wantLog: []string{"refused-downgrade", "registry-failed", "deferred-max-open", "closed-by-human", "foreign-commits"},
		wantOut: []string{
			"  skipped [refused-downgrade] apps/web.yaml:3:",
			"  skip imagebump/db [registry-failed]: policy db did not resolve\n",
			"  defer imagebump/api [deferred-max-open]: maxOpen 1 reached\n",
			"  skip imagebump/ui [closed-by-human]: pull request #4 was closed without merging (#4)\n",
			"  comment-foreign imagebump/job [foreign-commits]: branch has commits",
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			logResult(slog.New(slog.NewJSONHandler(&logs, nil)), tc.res)
			var got []string
			for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
				var line struct {
					Msg    string `json:"msg"`
					Reason string `json:"reason"`
				}
				if err := json.Unmarshal([]byte(l), &line); err != nil {
					t.Fatalf("log line %q: %v", l, err)
				}
				if line.Msg == "skipped" {
					got = append(got, line.Reason)
				}
			}
			if diff := cmp.Diff(tc.wantLog, got); diff != "" {
				t.Errorf("skip log lines' reasons (-want +got):\n%s", diff)
			}
			var out bytes.Buffer
			printDryRun(&out, tc.res)
			for _, w := range tc.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("dry run output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}

// TestPullRequestWarningsLogged checks that a pass's pull request
// warnings (reviewers the forge did not take) are logged by run, one
// warning line each, naming the pull request.
func TestPullRequestWarningsLogged(t *testing.T) {
	created := pullrequest.Decision{Group: "web", Branch: "imagebump/web", Action: pullrequest.ActionCreate}
	res := bot.Result{
		Repository: "https://git.example/fleet.git", Mode: config.PullRequest,
		PullRequests: []pullrequest.Result{{Decision: created, Number: 7, Warnings: []string{"pull request #7: reviewers not requested: `bob`: not a collaborator"}}},
	}
	var logs bytes.Buffer
	logResult(slog.New(slog.NewJSONHandler(&logs, nil)), res)
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var line struct {
			Level, Msg, Message, Branch string
			Number                      int
		}
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if line.Msg == "pull request warning" {
			got = append(got, fmt.Sprintf("%s %s #%d %s", line.Level, line.Branch, line.Number, line.Message))
		}
	}
	want := []string{"WARN imagebump/web #7 pull request #7: reviewers not requested: `bob`: not a collaborator"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("warning log lines (-want +got):\n%s", diff)
	}
}

// TestRunDryRunShowsDowngrade runs `run --once --dry-run` in push mode on
// the demo's registry and git server, with one more manifest whose web
// image is above what the policy selects: stdout shows the refused
// downgrade with its reason, and the log has its "skipped" line.
func TestRunDryRunShowsDowngrade(t *testing.T) {
	dir, host, _, url := startDemoFleet(t)
	checkout := filepath.Join(dir, "fleet")
	canary := "image: " + host + "/acme/web:1.9.0 # {\"$imagepolicy\": \"web\"}\n"
	if err := os.WriteFile(filepath.Join(checkout, "apps", "canary.yaml"), []byte(canary), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"add", "apps/canary.yaml"},
		{"-c", "user.name=Fleet", "-c", "user.email=fleet@example.com", "commit", "-q", "-m", "canary"},
		{"push", "-q", "origin", "main"},
	} {
		if out, err := exec.Command("git", append([]string{"-C", checkout}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v: %s", args[0], err, out)
		}
	}
	botConfig, err := writeDemoConfig(dir, url, config.Push)
	if err != nil {
		t.Fatal(err)
	}
	// The demo's config logs warnings only; skips are logged at info.
	cfg, err := os.ReadFile(botConfig)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(cfg, []byte("level: warn")) {
		t.Fatalf("the demo config sets no log level:\n%s", cfg)
	}
	if err := os.WriteFile(botConfig, bytes.Replace(cfg, []byte("level: warn"), []byte("level: info"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := runCLI(t, "run", "--config", botConfig, "--once", "--dry-run")
	if code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s\nstdout:\n%s", code, stderr, out)
	}
	if want := "  skipped [refused-downgrade] apps/canary.yaml:1: policy web selected 1.2.1, which it orders below 1.9.0 in the file; never downgraded\n"; !strings.Contains(out, want) {
		t.Errorf("stdout lacks %q:\n%s", want, out)
	}
	if !strings.Contains(stderr, "msg=skipped repository="+url+" reason=refused-downgrade policies=web file=apps/canary.yaml line=1 current=1.9.0 selected=1.2.1") {
		t.Errorf("the log lacks the skipped line:\n%s", stderr)
	}
}
