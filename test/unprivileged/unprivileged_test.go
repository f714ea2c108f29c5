package unprivileged_test

import (
	"os"
	"testing"

	"github.com/imagebump/imagebump/test/unprivileged"
)

// TestRun checks that the test body runs without root's privileges: it
// cannot read a directory of mode 0.
func TestRun(t *testing.T) {
	if unprivileged.Run(t) {
		return
	}
	if os.Geteuid() == 0 {
		t.Fatal("still root")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o700) })
	if _, err := os.ReadDir(dir); !os.IsPermission(err) {
		t.Errorf("ReadDir of a mode 0 directory: %v, want permission denied", err)
	}
	t.Run("sub test", func(t *testing.T) {
		if unprivileged.Run(t) {
			return
		}
		if os.Geteuid() == 0 {
			t.Fatal("still root")
		}
	})
}
