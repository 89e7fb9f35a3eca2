//go:build !linux

package pathbench

import "syscall"

// sysProcAttr: only Linux can tie a child's life to its parent's, and only
// Linux has the /proc figures the harness reports.
func sysProcAttr() *syscall.SysProcAttr { return nil }
