//go:build unix

package patcher

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/test/filetree"
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
	if b, err := w.read(r, "fifo.yaml"); err != nil || len(b) != 0 {
		t.Errorf("reading a FIFO: %q, %v", b, err)
	}
}
