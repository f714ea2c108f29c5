//go:build !linux

package patcher

import (
	"io/fs"
	"os"
)

// recycleInodes is whether writeFile keeps the inode it replaced for its
// next write: only on Linux, where reusable can tell that an inode carries
// nothing of its former file.
const recycleInodes = false

func reusable(*os.File, fs.FileInfo) bool { return false }
