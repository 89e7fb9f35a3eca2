//go:build linux || darwin || freebsd

package gateway

import "syscall"

// diskFree is the bytes of the filesystem of path an unprivileged writer
// may still use (statfs f_bavail).
func diskFree(path string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, err
	}
	return int64(uint64(st.Bavail) * uint64(st.Bsize)), nil // the field types differ by OS
}
