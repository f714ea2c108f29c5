//go:build unix

package patcher

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/imagebump/imagebump/test/filetree"
	"github.com/imagebump/imagebump/test/unprivileged"
)

// TestTreeUnreadableDirectory runs the comparison on a tree with
// directories the walk cannot read or list, as an unprivileged user (see
// TestWalkUnreadableDirectory).
func TestTreeUnreadableDirectory(t *testing.T) {
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
	compareTree(t, root, testTargets())
}
