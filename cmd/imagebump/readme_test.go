package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeCommands checks that every imagebump command line in the
// README's shell blocks names a command, flags and arguments the CLI
// accepts, so the README cannot drift from the binary. What the commands
// do is tested elsewhere (the command tests, test/run_test.go, .ci/run's
// demo).
func TestReadmeCommands(t *testing.T) {
	src, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(string(src), -1)
	var lines []string
	for _, b := range blocks {
		for _, l := range strings.Split(b[1], "\n") {
			l = strings.TrimSpace(l)
			if i := strings.Index(l, " #"); i >= 0 {
				l = strings.TrimSpace(l[:i])
			}
			switch {
			case strings.HasPrefix(l, "imagebump "):
				lines = append(lines, strings.TrimPrefix(l, "imagebump "))
			case strings.HasPrefix(l, "go run ./cmd/imagebump "):
				lines = append(lines, strings.TrimPrefix(l, "go run ./cmd/imagebump "))
			}
		}
	}
	if len(lines) < 5 {
		t.Fatalf("found only %d imagebump command lines in the README: %q", len(lines), lines)
	}
	for _, l := range lines {
		t.Run(l, func(t *testing.T) {
			root := newRootCommand()
			args := strings.Fields(strings.NewReplacer("'", "", `"`, "").Replace(l))
			cmd, rest, err := root.Find(args)
			if err != nil || cmd == root {
				t.Fatalf("no command: %v", err)
			}
			if err := cmd.ParseFlags(rest); err != nil {
				t.Fatalf("flags: %v", err)
			}
			if cmd.Args != nil {
				if err := cmd.Args(cmd, cmd.Flags().Args()); err != nil {
					t.Fatalf("arguments: %v", err)
				}
			}
		})
	}
}
