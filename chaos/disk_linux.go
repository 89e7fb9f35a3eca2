package chaos

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// disk is a small tmpfs of its own under a spool, which a fault fills: the
// spool then meets ENOSPC, as on a box whose card is full. Mounting needs
// root (CAP_SYS_ADMIN); without it the disk is the parent's file system
// and the fault cannot run (fallback says why).
type disk struct {
	dir      string // the mount point; the spool is dir/spool
	mounted  bool
	fallback string
	filler   string
}

// newDisk mounts a tmpfs of size bytes at dir (created if missing).
func newDisk(dir string, size int64) (*disk, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	d := &disk{dir: dir, filler: filepath.Join(dir, "filler")}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		d.fallback = fmt.Sprintf("mount tmpfs at %s: %v", dir, err)
		return d, nil
	}
	d.mounted = true
	return d, nil
}

// Fill writes a file until the file system has no space left.
func (d *disk) Fill() (int64, error) {
	if !d.mounted {
		return 0, errors.New(d.fallback)
	}
	f, err := os.OpenFile(d.filler, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	var n int64
	for {
		w, err := f.Write(buf)
		n += int64(w)
		if errors.Is(err, syscall.ENOSPC) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// Free removes what Fill wrote.
func (d *disk) Free() error {
	if err := os.Remove(d.filler); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Close unmounts the tmpfs (lazily, should a process still hold a file).
func (d *disk) Close() {
	if d.mounted {
		_ = syscall.Unmount(d.dir, syscall.MNT_DETACH)
		d.mounted = false
	}
}
