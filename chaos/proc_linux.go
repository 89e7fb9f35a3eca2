package chaos

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/cradlewatch/cradlewatch/bench/pathbench"
)

// childAttr makes the kernel kill a child when the harness dies, so a
// crashed or interrupted run leaves no process behind.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// peakRSS is a process's largest resident set so far (VmHWM), in bytes.
func peakRSS(pid int) (int64, error) {
	s, err := pathbench.ReadProc("/proc", pid)
	return s.PeakRSS, err
}

// childOf is the first child process of pid, 0 for none.
func childOf(pid int) int {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(pid) + "/children")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(bytes.TrimSpace(b)))
	if len(f) == 0 {
		return 0
	}
	c, _ := strconv.Atoi(f[0])
	return c
}
