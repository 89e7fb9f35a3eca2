//go:build !linux

package testenv

import (
	"os"
	"os/exec"
)

// asPostgresUser refuses root here: switching users is done on Linux only.
func asPostgresUser(_ *exec.Cmd, _ string) error {
	if os.Geteuid() == 0 {
		return errPostgresRoot
	}
	return nil
}
