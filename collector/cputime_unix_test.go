//go:build unix

package collector

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user and system) the process used so far:
// benchmarks report it per reading, as it does not depend on how busy the
// machine's other processes keep its cores.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
