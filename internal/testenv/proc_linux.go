package testenv

import "syscall"

// sysProcAttr makes the kernel kill the service when the test binary dies, so a
// crashed or timed-out test run does not leave services behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
