package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"
)

// asPostgresUser makes cmd run as the "postgres" OS user when the tests
// run as root (initdb and postgres refuse root), and hands dir to that
// user. As another user it changes nothing: the server runs as the caller.
func asPostgresUser(cmd *exec.Cmd, dir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup(postgresUser)
	if err != nil {
		return fmt.Errorf("running as root needs the %q user of Debian's postgresql package: %w", postgresUser, err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("user %s: uid %q gid %q", postgresUser, u.Uid, u.Gid)
	}
	if dir != "" {
		return os.Chown(dir, uid, gid)
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	return nil
}
