package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/bot"
	"github.com/imagebump/imagebump/config"
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
