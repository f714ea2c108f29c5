//go:build unix

package patcher

import "syscall"

// syscallNoFollow makes opening a file fail rather than follow a symbolic
// link that replaced it after the directory walk saw a regular file.
const syscallNoFollow = syscall.O_NOFOLLOW
