package influxd

import "syscall"

// sysProcAttr makes the kernel kill influxd when the test binary dies, so a
// crashed or timed-out test run does not leave servers behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
