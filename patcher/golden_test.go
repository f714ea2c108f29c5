package patcher

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/test/filetree"
)

var update = flag.Bool("update", false, "rewrite the expected output of the golden tests")

const (
	webDigest    = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	workerDigest = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
)

// testTargets is the fixed set of resolved policies the golden tests apply.
func testTargets() Targets {
	return Targets{
		"web":             {Image: "ghcr.io/acme/web", Tag: "1.5.0", Digest: webDigest, Higher: higherThan("1.5.0")},
		"flux-system:web": {Image: "ghcr.io/acme/web", Tag: "1.5.0", Digest: webDigest},
		"api":             {Image: "ghcr.io/acme/api", Tag: "2.1.0"},
		"worker":          {Image: "localhost:5000/team/worker", Tag: "3.2.1", Digest: workerDigest, PinDigest: true},
		"legacy":          {Image: "docker.io/library/legacy", Tag: "1.10"},
		"nightly":         {Image: "ghcr.io/acme/nightly", Tag: "20240501"},
		"broken":          nil,
	}
}

// higherThan orders dotted numeric versions (an optional leading v) the way
// a semver policy would; anything else is never higher.
func higherThan(selected string) func(string) bool {
	parse := func(s string) ([]int, bool) {
		var out []int
		for p := range strings.SplitSeq(strings.TrimPrefix(s, "v"), ".") {
			n, err := strconv.Atoi(p)
			if err != nil {
				return nil, false
			}
			out = append(out, n)
		}
		return out, true
	}
	sel, _ := parse(selected)
	return func(current string) bool {
		cur, ok := parse(current)
		if !ok {
			return false
		}
		for i := range min(len(cur), len(sel)) {
			if cur[i] != sel[i] {
				return cur[i] > sel[i]
			}
		}
		return len(cur) > len(sel)
	}
}

func TestHigherThan(t *testing.T) {
	h := higherThan("1.5.0")
	for cur, want := range map[string]bool{"2.0.0": true, "1.10.0": true, "1.5.1": true, "1.5.0": false, "1.4.9": false, "v0.9": false, "latest": false} {
		if got := h(cur); got != want {
			t.Errorf("higherThan(1.5.0)(%q) = %v, want %v", cur, got, want)
		}
	}
}

// TestGolden applies testTargets to each testdata/golden/<case>/input tree
// and compares the tree with <case>/expected and the reported results with
// <case>/report.txt. Run with -update to regenerate both.
func TestGolden(t *testing.T) {
	cases, err := os.ReadDir("testdata/golden")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		if !c.IsDir() {
			continue
		}
		t.Run(c.Name(), func(t *testing.T) {
			dir := filepath.Join("testdata/golden", c.Name())
			work := t.TempDir()
			if err := os.CopyFS(work, os.DirFS(filepath.Join(dir, "input"))); err != nil {
				t.Fatal(err)
			}
			plan, err := ApplyDir(context.Background(), work, nil, testTargets())
			if err != nil {
				t.Fatal(err)
			}
			got := filetree.Read(t, work)
			report := formatPlan(plan)
			if *update {
				exp := filepath.Join(dir, "expected")
				if err := os.RemoveAll(exp); err != nil {
					t.Fatal(err)
				}
				if err := os.CopyFS(exp, os.DirFS(work)); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "report.txt"), []byte(report), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if diff := cmp.Diff(filetree.Read(t, filepath.Join(dir, "expected")), got); diff != "" {
				t.Errorf("tree mismatch (-want +got):\n%s", diff)
			}
			want, err := os.ReadFile(filepath.Join(dir, "report.txt"))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), report); diff != "" {
				t.Errorf("report mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func formatPlan(p *Plan) string {
	var b strings.Builder
	for _, f := range p.Files {
		fmt.Fprintf(&b, "file %s\n", f.Path)
	}
	for _, c := range p.Changes {
		fmt.Fprintf(&b, "change %s:%d:%d %s %s %q -> %q\n", c.File, c.Line, c.Column, c.Policy, c.Field, c.Old, c.New)
	}
	for _, s := range p.Skipped {
		fmt.Fprintf(&b, "skipped %s:%d %s current=%s selected=%s: %s\n", s.File, s.Line, s.Policy, s.Current, s.Selected, s.Reason)
	}
	for _, pr := range p.Problems {
		fmt.Fprintf(&b, "problem %s\n", pr)
	}
	for _, w := range p.Warnings {
		fmt.Fprintf(&b, "%s\n", w)
	}
	return b.String()
}
