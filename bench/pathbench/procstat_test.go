package pathbench

import (
	"testing"
	"time"
)

func TestReadProc(t *testing.T) {
	tests := []struct {
		pid     int
		want    ProcSample
		wantErr bool
	}{
		// The command name holds spaces and ')', as a process may choose.
		{pid: 4242, want: ProcSample{CPU: 18010 * time.Millisecond, PeakRSS: 51234 << 10}},
		// A kernel thread has no VmHWM.
		{pid: 77, wantErr: true},
		{pid: 1, wantErr: true},
	}
	for _, tt := range tests {
		got, err := ReadProc("testdata/proc", tt.pid)
		if (err != nil) != tt.wantErr {
			t.Fatalf("pid %d: err = %v, wantErr %v", tt.pid, err, tt.wantErr)
		}
		if !tt.wantErr && got != tt.want {
			t.Errorf("pid %d: got %+v, want %+v", tt.pid, got, tt.want)
		}
	}
}

func TestParseStatCPU(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{in: "1 (init) S 0 1 1 0 -1 4194560 1 2 3 4 250 150 0 0 20 0 1 0", want: 4 * time.Second},
		{in: "1 (a) b) S 0 1 1 0 -1 4194560 1 2 3 4 1 2 0 0 20 0 1 0", want: 30 * time.Millisecond},
		{in: "1 init S 0 1", wantErr: true},
		{in: "1 (x) S 0 1 1", wantErr: true},
		{in: "1 (x) S 0 1 1 0 -1 4194560 1 2 3 4 -5 2 0", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseStatCPU([]byte(tt.in))
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseStatCPU(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseStatusHWM(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{in: "Name:\tx\nVmHWM:\t  100 kB\nVmRSS:\t 90 kB\n", want: 100 << 10},
		{in: "Name:\tx\n", wantErr: true},
		{in: "VmHWM:\t100 MB\n", wantErr: true},
		{in: "VmHWM:\tlots kB\n", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseStatusHWM([]byte(tt.in))
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseStatusHWM(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestFindPid(t *testing.T) {
	tests := []struct {
		arg     string
		want    int
		wantErr bool
	}{
		{arg: "/data/influxd.conf", want: 4242},
		{arg: "/data", wantErr: true}, // whole arguments only
		{arg: "nothing", wantErr: true},
	}
	for _, tt := range tests {
		got, err := FindPid("testdata/proc", tt.arg)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("FindPid(%q) = %d, %v; want %d, error %v", tt.arg, got, err, tt.want, tt.wantErr)
		}
	}
}
