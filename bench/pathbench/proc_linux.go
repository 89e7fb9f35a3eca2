package pathbench

import "syscall"

// sysProcAttr makes the kernel kill a child when the harness dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
