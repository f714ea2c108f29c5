package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/imagebump/imagebump/config"
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
