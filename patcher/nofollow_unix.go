//go:build unix

package patcher

import "syscall"

// openNoFollow makes opening a file fail rather than follow a symbolic
// link that replaced it after the directory walk saw a regular file.
const openNoFollow = syscall.O_NOFOLLOW

// openNonBlock keeps opening a FIFO from blocking.
const openNonBlock = syscall.O_NONBLOCK
