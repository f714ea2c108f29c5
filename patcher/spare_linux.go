package patcher

import (
	"io/fs"
	"os"
	"syscall"
)

// recycleInodes is whether writeFile keeps the inode it replaced for its
// next write (see reusable).
const recycleInodes = true

// euid is the process's effective user, the owner of the files it
// creates.
var euid = uint32(os.Geteuid())

// reusable reports whether f, the inode a write replaced, may become
// another file of its directory, target: only when it carries nothing of
// its former file but bytes (which the write replaces) and a mode (which
// it sets). That is, it is a regular file with this one link (no other
// name sees what is written to it), owned by this process's user and by
// target's user and group, as a new file would be and as target is, and
// it has no extended attributes (no ACL, no security label of the other
// file). On hosts that label every file (SELinux) every write thus
// creates a new file.
func reusable(f *os.File, target fs.FileInfo) bool {
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	want, ok2 := target.Sys().(*syscall.Stat_t)
	if !ok || !ok2 || st.Nlink != 1 || st.Uid != euid || st.Uid != want.Uid || st.Gid != want.Gid {
		return false
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	// flistxattr(fd, NULL, 0) answers the size of the list of names.
	var size uintptr
	var errno syscall.Errno
	if err := rc.Control(func(fd uintptr) {
		size, _, errno = syscall.Syscall(syscall.SYS_FLISTXATTR, fd, 0, 0)
	}); err != nil || errno != 0 {
		return false
	}
	return size == 0
}
