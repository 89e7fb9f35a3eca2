//go:build !unix

package spool

// dirLock is a no-op where flock does not exist; the gateway runs on Linux.
type dirLock struct{}

const lockName = "LOCK"

func lockDir(string) (*dirLock, error) { return &dirLock{}, nil }

func (l *dirLock) release() error { return nil }
