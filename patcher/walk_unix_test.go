//go:build unix

package patcher

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/problem"
	"github.com/imagebump/imagebump/test/filetree"
	"github.com/imagebump/imagebump/test/unprivileged"
)

// TestPlanDirSkipsFIFO checks that a FIFO named like a manifest is neither
// listed nor opened: reading it would block the pass.
func TestPlanDirSkipsFIFO(t *testing.T) {
	root := filetree.Write(t, map[string]string{"a.yaml": marked})
	if err := syscall.Mkfifo(filepath.Join(root, "fifo.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	plan, err := PlanDir(context.Background(), root, nil, testTargets())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a.yaml"}, planPaths(plan)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// Opening one that replaced a listed file does not block either.
	var w worker
	defer w.close()
	r, err := os.OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if b, _, err := w.read(r, "fifo.yaml", DefaultMaxFileSize); err != nil || len(b) != 0 {
		t.Errorf("reading a FIFO: %q, %v", b, err)
	}
}

// TestWalkUnreadableDirectory checks that a directory the walk cannot read
// is a Problem naming it, and that everything else is still planned,
// scanned and written. Permission bits do not stop root, so as root the
// test runs itself again as an unprivileged user (as the bot runs in a
// container), for whom they are real.
func TestWalkUnreadableDirectory(t *testing.T) {
	if unprivileged.Run(t) {
		return
	}
	root := filetree.Write(t, map[string]string{
		"a.yaml":              marked,
		"noread/b.yaml":       marked,
		"nolist/c.yaml":       marked,
		"z/deep/d.yaml":       marked,
		"z/noread/deep/e.yml": marked,
	})
	for dir, mode := range map[string]os.FileMode{"noread": 0, "nolist": 0o311, "z/noread": 0} {
		p := filepath.Join(root, filepath.FromSlash(dir))
		must(t, os.Chmod(p, mode))
		t.Cleanup(func() { os.Chmod(p, 0o755) })
	}
	const msg = "cannot read directory: permission denied"
	wantProblems := []problem.Problem{{File: "nolist", Message: msg}, {File: "noread", Message: msg}, {File: "z/noread", Message: msg}}
	wantFiles := []string{"a.yaml", "z/deep/d.yaml"}

	plan, err := PlanDir(context.Background(), root, nil, testTargets())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantProblems, plan.Problems); diff != "" {
		t.Errorf("PlanDir problems (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantFiles, planPaths(plan)); diff != "" {
		t.Errorf("PlanDir files (-want +got):\n%s", diff)
	}
	scan, err := ScanDir(context.Background(), root, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantProblems, scan.Problems); diff != "" {
		t.Errorf("ScanDir problems (-want +got):\n%s", diff)
	}
	if len(scan.Markers) != len(wantFiles) {
		t.Errorf("ScanDir markers: %v", scan.Markers)
	}
	refs, err := ReferencesDir(context.Background(), root, nil)
	if err != nil || len(refs) != len(wantFiles) {
		t.Errorf("ReferencesDir = %v, %v", refs, err)
	}
	if _, err := plan.Write(context.Background()); err != nil {
		t.Errorf("Write: %v", err)
	}
	// A path given to walk that cannot be read at all is an error.
	if _, err := PlanDir(context.Background(), root, []string{"noread"}, testTargets()); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("PlanDir of an unreadable path: %v, want an error", err)
	}
}
