package pathbench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat.
// The kernel fixes it at 100 for user space on every architecture Linux
// supports today, whatever CONFIG_HZ is.
const clockTicks = 100

// ProcSample is what /proc says about one process at one moment.
type ProcSample struct {
	// CPU is user plus system time of every thread of the process.
	CPU time.Duration
	// PeakRSS is VmHWM, the largest resident set since the process started,
	// in bytes.
	PeakRSS int64
}

// ReadProc samples process pid from procRoot (normally "/proc").
func ReadProc(procRoot string, pid int) (ProcSample, error) {
	dir := filepath.Join(procRoot, strconv.Itoa(pid))
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return ProcSample{}, fmt.Errorf("pathbench: read stat of %d: %w", pid, err)
	}
	cpu, err := parseStatCPU(stat)
	if err != nil {
		return ProcSample{}, fmt.Errorf("pathbench: stat of %d: %w", pid, err)
	}
	status, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return ProcSample{}, fmt.Errorf("pathbench: read status of %d: %w", pid, err)
	}
	hwm, err := parseStatusHWM(status)
	if err != nil {
		return ProcSample{}, fmt.Errorf("pathbench: status of %d: %w", pid, err)
	}
	return ProcSample{CPU: cpu, PeakRSS: hwm}, nil
}

// parseStatCPU returns utime+stime of a /proc/<pid>/stat line. The command
// name (field 2) may contain spaces and parentheses, so fields are counted
// from the last ')'.
func parseStatCPU(stat []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("no ')' after the command name")
	}
	// After ") " come field 3 (state) onwards; utime and stime are fields
	// 14 and 15, so indexes 11 and 12 here.
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("%d fields after the command name, want at least 13", len(f))
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("bad tick count %q", s)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// parseStatusHWM returns VmHWM of /proc/<pid>/status in bytes.
func parseStatusHWM(status []byte) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("VmHWM line %q: want <n> kB", sc.Text())
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("VmHWM %q: %w", f[0], err)
		}
		return kb << 10, nil
	}
	return 0, errors.New("no VmHWM line (kernel thread or zombie?)")
}

// FindPid returns the pid of the one process under procRoot whose command
// line contains arg; for children started by others (influxd, which
// internal/influxd starts without telling its pid).
func FindPid(procRoot, arg string) (int, error) {
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return 0, fmt.Errorf("pathbench: find process: %w", err)
	}
	found := 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join(procRoot, e.Name(), "cmdline"))
		if err != nil {
			continue // gone meanwhile, or not ours to read
		}
		for _, a := range bytes.Split(cmdline, []byte{0}) {
			if string(a) == arg {
				if found != 0 {
					return 0, fmt.Errorf("pathbench: processes %d and %d both have argument %q", found, pid, arg)
				}
				found = pid
				break
			}
		}
	}
	if found == 0 {
		return 0, fmt.Errorf("pathbench: no process with argument %q", arg)
	}
	return found, nil
}
