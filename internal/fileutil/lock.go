package fileutil

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
)

// LockName is the file a directory lock holds (see LockDir).
const LockName = "lock"

// ErrLocked: another process holds the directory's lock.
var ErrLocked = errors.New("locked by another process")

// Lock is an exclusive lock on a state directory, held by one process.
type Lock struct {
	f    *os.File
	once sync.Once
	err  error
}

// LockDir takes the exclusive lock of dir (creating dir), so that two
// instances of a service never write the same state: the second one fails
// with ErrLocked. The lock is an advisory flock on dir/lock; the kernel
// drops it when the process dies, so a crash leaves nothing to clean.
func LockDir(dir string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, LockName), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := flock(f); err != nil {
		f.Close()
		return nil, err
	}
	return &Lock{f: f}, nil
}

// Release drops the lock. Idempotent.
func (l *Lock) Release() error {
	if l == nil {
		return nil
	}
	l.once.Do(func() { l.err = l.f.Close() })
	return l.err
}
