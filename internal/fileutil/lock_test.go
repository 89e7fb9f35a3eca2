//go:build unix

package fileutil

import (
	"errors"
	"testing"
)

// TestLockDir: a second lock on the same directory fails while the first
// is held, and succeeds once it is released; Release is idempotent.
func TestLockDir(t *testing.T) {
	dir := t.TempDir()
	a, err := LockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LockDir(dir); !errors.Is(err, ErrLocked) {
		t.Fatalf("second lock: %v, want ErrLocked", err)
	}
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
	if err := a.Release(); err != nil {
		t.Fatalf("second release: %v", err)
	}
	b, err := LockDir(dir)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	b.Release()
}
