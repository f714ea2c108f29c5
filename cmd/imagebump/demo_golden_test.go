package main

import (
	"bytes"
	"flag"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/config"
)

var update = flag.Bool("update", false, "rewrite the demo's golden output under testdata")

// goldenPortLen is the length of the ports in the golden files: Linux
// hands out ephemeral ports from 32768 up.
const goldenPortLen = 5

// TestDemoGolden compares the demo's whole output, in both modes, with
// testdata/demo-MODE.golden, what changes from run to run masked: the
// ports of the registry (R) and the git server (G), the temporary
// directory, the pushed commit and its date. The images are the same on
// every run, so digests are not masked. `go test ./cmd/imagebump -run
// TestDemoGolden -update` rewrites the files.
func TestDemoGolden(t *testing.T) {
	for _, mode := range []config.Mode{config.Push, config.PullRequest} {
		t.Run(string(mode), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			d, err := demo(t.Context(), &stdout, &stderr, demoConfig{mode: string(mode)})
			if err != nil {
				t.Fatalf("demo: %v\nstdout:\n%s\nstderr:\n%s", err, &stdout, &stderr)
			}
			if stderr.Len() > 0 {
				t.Errorf("the demo logged:\n%s", &stderr)
			}
			got, exact := maskDemo(t, stdout.String(), d)
			golden := filepath.Join("testdata", "demo-"+string(mode)+".golden")
			if *update {
				if !exact {
					t.Fatalf("ports of other than %d digits: rerun -update", goldenPortLen)
				}
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			b, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			want := string(b)
			if !exact {
				// The columns are as wide as the masked ports: compare
				// with the padding squashed.
				want, got = squash(want), squash(got)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("demo output (-%s +got):\n%s", golden, diff)
			}
		})
	}
}

// maskDemo masks what changes from one demo run to the next in out. exact
// is false when a port's length differs from the golden files', which
// moves the columns.
func maskDemo(t *testing.T, out string, d demoResult) (masked string, exact bool) {
	t.Helper()
	exact = true
	port := func(hostport, mask string) {
		_, p, err := net.SplitHostPort(hostport)
		if err != nil {
			t.Fatal(err)
		}
		exact = exact && len(p) == goldenPortLen
		out = regexp.MustCompile(regexp.QuoteMeta(hostport)+`\b`).ReplaceAllLiteralString(out, "127.0.0.1:"+strings.Repeat(mask, len(p)))
	}
	port(d.registry, "R")
	gitHost := strings.TrimPrefix(strings.TrimSuffix(d.url, demoRepoPath), "http://")
	port(gitHost, "G")
	out = strings.ReplaceAll(out, d.dir, "$TMPDIR/imagebump-demo-N")
	if d.result.Pushed != nil && d.result.Pushed.Commit != "" {
		out = strings.ReplaceAll(out, d.result.Pushed.Commit, strings.Repeat("c", len(d.result.Pushed.Commit)))
	}
	out = regexp.MustCompile(`(?m)^Date:   .*$`).ReplaceAllString(out, "Date:   (the time of the run)")
	return out, exact
}

// TestDemoNextSteps checks that the commands the demo ends with are
// commands the CLI accepts, as TestReadmeCommands does for the README's.
func TestDemoNextSteps(t *testing.T) {
	if len(nextSteps) < 2 || len(nextSteps) > 3 {
		t.Errorf("the demo ends with %d commands, want two or three", len(nextSteps))
	}
	for _, s := range nextSteps {
		t.Run(s.command, func(t *testing.T) {
			args, ok := strings.CutPrefix(s.command, "imagebump ")
			if !ok {
				t.Fatalf("%q does not start with imagebump", s.command)
			}
			root := newRootCommand()
			cmd, rest, err := root.Find(strings.Fields(args))
			if err != nil || cmd == root {
				t.Fatalf("no command: %v", err)
			}
			if err := cmd.ParseFlags(rest); err != nil {
				t.Fatalf("flags: %v", err)
			}
			if err := cmd.Args(cmd, cmd.Flags().Args()); err != nil {
				t.Fatalf("arguments: %v", err)
			}
		})
	}
}
