package chaos

import (
	"os"
	"os/exec"
	"testing"
)

// childOf finds a child whichever thread of the process forked it.
func TestChildOf(t *testing.T) {
	cmd := exec.Command("sleep", "10")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep here:", err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if got := childOf(os.Getpid()); got != cmd.Process.Pid {
		t.Fatalf("childOf = %d, want %d", got, cmd.Process.Pid)
	}
}
