//go:build unix

package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// dirLock is an exclusive advisory lock (flock) on the spool directory's
// LOCK file, held from Open to Close: two processes writing one spool (a
// second gateway started by mistake, a service manager that did not wait
// for the old one) would corrupt it. The kernel releases the lock when the
// process dies, so a crash never leaves a stale lock behind. It is taken on
// the operating system directly, not through Options.FS: it concerns
// processes, not what survives a power cut.
type dirLock struct{ f *os.File }

const lockName = "LOCK"

func lockDir(dir string) (*dirLock, error) {
	path := filepath.Join(dir, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("spool: lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, dir)
		}
		return nil, fmt.Errorf("spool: lock %s: %w", path, err)
	}
	return &dirLock{f: f}, nil
}

// release drops the lock; nil-safe.
func (l *dirLock) release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the descriptor releases the flock
	l.f = nil
	return err
}
