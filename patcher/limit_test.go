package patcher

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/problem"
	"github.com/imagebump/imagebump/test/filetree"
)

// TestMaxFileSize checks the size bound: a file above it that mentions
// imagepolicy is a problem naming it and is not planned; one that does not
// is passed over; one at the bound is planned as usual.
func TestMaxFileSize(t *testing.T) {
	const limit = 1 << 10
	marked := "image: ghcr.io/acme/web:1.4.2 # {\"$imagepolicy\": \"web\"}\n"
	filler := func(n int) string { return "# " + strings.Repeat("x", n-3) + "\n" }
	atLimit := marked + filler(limit-len(marked))
	// The marker after 64KiB, across the boundary of scanLarge's pieces.
	split := filler(64<<10-6) + marked
	files := map[string]string{
		"at-limit.yaml":      atLimit,
		"above/marked.yaml":  atLimit + "#\n",
		"above/plain.yaml":   filler(10 * limit),
		"above/split.yaml":   split,
		"above/nearmiss.yml": filler(2*limit) + "# ImagePolicy: web\n",
	}
	root := filetree.Write(t, files)
	tooLarge := func(name string) problem.Problem {
		return problem.Problem{File: name, Message: fmt.Sprintf("the file is %d bytes, more than the 1KiB bound on manifests: it was not read, so its markers are not applied", len(files[name]))}
	}
	targets := Targets{"web": {Image: "ghcr.io/acme/web", Tag: "1.5.0"}}
	plan, err := PlanDir(context.Background(), root, nil, targets, WithMaxFileSize(limit))
	if err != nil {
		t.Fatal(err)
	}
	wantProblems := []problem.Problem{tooLarge("above/marked.yaml"), tooLarge("above/nearmiss.yml"), tooLarge("above/split.yaml")}
	if diff := cmp.Diff(wantProblems, plan.Problems); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"at-limit.yaml"}, planPaths(plan)); diff != "" {
		t.Errorf("planned files (-want +got):\n%s", diff)
	}
	// Without the option, the default bound lets them all be read.
	plan, err = PlanDir(context.Background(), root, nil, targets)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Problems) != 0 || len(plan.Files) != 3 {
		t.Errorf("default bound: %d problems, %d files, want 0 and 3: %v", len(plan.Problems), len(plan.Files), plan.Problems)
	}
}

func TestScanLarge(t *testing.T) {
	for _, tc := range []struct {
		name     string
		src      string
		mentions bool
	}{
		{"empty", "", false},
		{"plain", strings.Repeat("a", 200<<10), false},
		{"at the start", "imagepolicy" + strings.Repeat("a", 100<<10), true},
		{"at the end", strings.Repeat("a", 100<<10) + "IMAGEPOLICY", true},
		{"split at every place", strings.Repeat("a", 64<<10-5) + "ImagePolicy", true},
		{"not UTF-8 around it", strings.Repeat("\xff\xfe", 40<<10) + "imagePOLICY\xc3", true},
		{"one letter off", strings.Repeat("b", 1000) + "imagepolicx IMAGEPOLIC" + "\x89MAGEPOLICY", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// One byte a read, and the default pieces.
			for _, r := range []func() *bytes.Reader{func() *bytes.Reader { return bytes.NewReader([]byte(tc.src)) }} {
				for _, rd := range []interface{ Read([]byte) (int, error) }{r(), iotest.OneByteReader(r()), iotest.HalfReader(r())} {
					got, err := scanLarge(rd, nil)
					if err != nil {
						t.Fatal(err)
					}
					if got.size != int64(len(tc.src)) || got.mentions != tc.mentions {
						t.Errorf("scanLarge = %+v, want size %d, mentions %v", *got, len(tc.src), tc.mentions)
					}
				}
			}
		})
	}
}

// TestScanLargeAllocates checks that scanning a large file costs a buffer,
// not memory in proportion to the file: a file of random bytes (not
// UTF-8) once cost three times its size in garbage, which a pass's peak
// memory followed.
func TestScanLargeAllocates(t *testing.T) {
	src := make([]byte, 4<<20)
	_, _ = rand.NewChaCha8([32]byte{}).Read(src)
	buf := make([]byte, 64<<10)
	allocs := testing.AllocsPerRun(5, func() {
		if _, err := scanLarge(bytes.NewReader(src), buf); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 2 {
		t.Errorf("scanning 4 MiB allocates %.0f times, want at most 2 (the result)", allocs)
	}
}

// TestControlCharacterPaths checks that a file or directory whose name has
// a control character is a problem of its own, shown escaped, and that
// the rest of the tree is planned.
func TestControlCharacterPaths(t *testing.T) {
	marked := "image: ghcr.io/acme/web:1.4.2 # {\"$imagepolicy\": \"web\"}\n"
	root := filetree.Write(t, map[string]string{
		"apps/web.yaml":           marked,
		"apps/we\x01b\nx.yaml":    marked,
		"apps/\x1b[31mred/a.yaml": marked,
		"apps/notes\x07.txt":      "not YAML: not looked at\n",
	})
	plan, err := PlanDir(context.Background(), root, nil, Targets{"web": {Image: "ghcr.io/acme/web", Tag: "1.5.0"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []problem.Problem{
		{File: `apps/\x1b[31mred`, Message: "the directory's name has a control character; it is not read"},
		{File: `apps/we\x01b\nx.yaml`, Message: "the file's name has a control character; it is not read"},
	}
	if diff := cmp.Diff(want, plan.Problems); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"apps/web.yaml"}, planPaths(plan)); diff != "" {
		t.Errorf("planned files (-want +got):\n%s", diff)
	}
}
