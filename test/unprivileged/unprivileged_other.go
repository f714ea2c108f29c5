//go:build !unix

package unprivileged

import "syscall"

// sysProcAttr is never called where there are no Unix users: os.Geteuid
// is -1 there, so Run returns before.
func sysProcAttr() *syscall.SysProcAttr { return nil }
