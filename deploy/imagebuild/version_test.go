//go:build imagecheck

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestVersionFromBuildInfo is `imagebump version` of a binary nothing
// stamped (go install, go build): it must report the module version and
// the commit the Go toolchain records from git. The binary is built from
// a clone of HEAD, as a user's checkout would be: a linked worktree's .git
// file hides git from the toolchain. Part of make image-check (the tag
// imagecheck): it shares the build cache of make binaries (CGO_ENABLED=0,
// -trimpath).
func TestVersionFromBuildInfo(t *testing.T) {
	root := repoRoot(t)
	clone := filepath.Join(t.TempDir(), "clone")
	if out, err := exec.Command("git", "clone", "-q", root, clone).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	head, err := exec.Command("git", "-C", clone, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(t.TempDir(), "imagebump")
	build := exec.Command("go", "build", "-trimpath", "-o", exe, "./cmd/imagebump")
	build.Dir = clone
	// -buildvcs=true: a machine's go env may turn it off.
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=true")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(exe, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(out), "\n")
	wantCommit := "commit: " + strings.TrimSpace(string(head))
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "imagebump v") || lines[1] != wantCommit {
		t.Errorf("version printed %q; want a module version (imagebump v...) and %q", out, wantCommit)
	}
}
