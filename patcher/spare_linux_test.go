package patcher

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestWriteRecyclesInodes checks the rules of writeFile's inode
// recycling, one worker writing a.yaml then b.yaml (in dir, or b.yaml in
// another directory): the inode a.yaml had is given to b.yaml only when it
// carries nothing of a.yaml but bytes and a mode. Whatever happens, every
// file ends with its new content and its own mode, a name that shared
// a.yaml's inode keeps a.yaml's old content, and no temporary file is
// left behind.
func TestWriteRecyclesInodes(t *testing.T) {
	const newA, newB = "a: 2\n", "b: 2 # a longer line than before\n"
	cases := []struct {
		name    string
		otherB  bool                            // b.yaml in another directory
		prepare func(t *testing.T, root string) // before the writes
		reuse   bool                            // b.yaml gets a.yaml's old inode
	}{
		{name: "same directory", reuse: true},
		{name: "another directory", otherB: true, reuse: true},
		{name: "modes differ", reuse: true, prepare: func(t *testing.T, root string) {
			must(t, os.Chmod(filepath.Join(root, "a.yaml"), 0o600))
		}},
		{name: "hard link elsewhere", reuse: false, prepare: func(t *testing.T, root string) {
			must(t, os.Link(filepath.Join(root, "a.yaml"), filepath.Join(root, "a.link")))
		}},
		{name: "extended attribute", reuse: false, prepare: func(t *testing.T, root string) {
			err := syscall.Setxattr(filepath.Join(root, "a.yaml"), "user.imagebump-test", []byte("x"), 0)
			if err == syscall.ENOTSUP {
				t.Fatalf("the file system of %s has no user extended attributes; set TMPDIR to one that has", root)
			}
			must(t, err)
		}},
		{name: "another owner", reuse: false, prepare: func(t *testing.T, root string) {
			chown(t, filepath.Join(root, "a.yaml"), 65534, os.Getegid())
		}},
		{name: "another group", reuse: false, prepare: func(t *testing.T, root string) {
			chown(t, filepath.Join(root, "a.yaml"), os.Geteuid(), 65534)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			bDir := "."
			if tc.otherB {
				bDir = "sub"
				must(t, os.Mkdir(filepath.Join(root, bDir), 0o755))
			}
			const oldA, oldB = "a: 1 # the old content of a\n", "b: 1\n"
			must(t, os.WriteFile(filepath.Join(root, "a.yaml"), []byte(oldA), 0o644))
			must(t, os.WriteFile(filepath.Join(root, bDir, "b.yaml"), []byte(oldB), 0o644))
			if tc.prepare != nil {
				tc.prepare(t, root)
			}
			inodeA := inode(t, filepath.Join(root, "a.yaml"))
			modeA := mode(t, filepath.Join(root, "a.yaml"))
			// Held open, a.yaml's old inode is not freed when no name
			// is left to it, so its number cannot be given to a new
			// file: b.yaml has it only when it was recycled.
			held, err := os.Open(filepath.Join(root, "a.yaml"))
			must(t, err)
			defer held.Close()

			r, err := os.OpenRoot(root)
			must(t, err)
			defer r.Close()
			w := worker{root: r}
			for _, f := range []struct{ dir, name, old, new string }{{".", "a.yaml", oldA, newA}, {bDir, "b.yaml", oldB, newB}} {
				dir, err := w.dir(r, f.dir)
				must(t, err)
				if err := w.writeFile(dir, f.dir, f.name, &FileChange{Old: []byte(f.old), New: []byte(f.new)}); err != nil {
					t.Fatalf("writing %s: %v", f.name, err)
				}
			}
			w.close()

			for name, want := range map[string]string{"a.yaml": newA, filepath.Join(bDir, "b.yaml"): newB} {
				if b, err := os.ReadFile(filepath.Join(root, name)); err != nil || string(b) != want {
					t.Errorf("%s = %q, %v; want %q", name, b, err, want)
				}
			}
			if got := mode(t, filepath.Join(root, "a.yaml")); got != modeA {
				t.Errorf("a.yaml's mode is %v, want %v", got, modeA)
			}
			if got := mode(t, filepath.Join(root, bDir, "b.yaml")); got != 0o644 {
				t.Errorf("b.yaml's mode is %v, want 0644", got)
			}
			if b, err := os.ReadFile(filepath.Join(root, "a.link")); err == nil && string(b) != oldA {
				t.Errorf("a.link, a hard link to the old a.yaml, = %q; want it untouched", b)
			}
			if got := inode(t, filepath.Join(root, bDir, "b.yaml")) == inodeA; got != tc.reuse {
				t.Errorf("b.yaml has a.yaml's old inode: %v, want %v", got, tc.reuse)
			}
			if st := stat(t, filepath.Join(root, bDir, "b.yaml")); int(st.Uid) != os.Geteuid() || int(st.Gid) != os.Getegid() {
				t.Errorf("b.yaml is owned by %d:%d, want %d:%d, as it was", st.Uid, st.Gid, os.Geteuid(), os.Getegid())
			}
			assertNoTemporary(t, root)
		})
	}
}

// chown changes the owner of name, which needs root.
func chown(t *testing.T, name string, uid, gid int) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("changing a file's owner needs root")
	}
	must(t, os.Chown(name, uid, gid))
}

func stat(t *testing.T, name string) *syscall.Stat_t {
	t.Helper()
	fi, err := os.Lstat(name)
	must(t, err)
	return fi.Sys().(*syscall.Stat_t)
}

func inode(t *testing.T, name string) uint64 { return stat(t, name).Ino }

func mode(t *testing.T, name string) os.FileMode {
	t.Helper()
	fi, err := os.Lstat(name)
	must(t, err)
	return fi.Mode().Perm()
}
