//go:build !linux

package testenv

import "syscall"

// sysProcAttr has no parent-death signal outside Linux; Stop in a cleanup
// is the only guard there.
func sysProcAttr() *syscall.SysProcAttr { return nil }
