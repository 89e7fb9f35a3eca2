//go:build !(linux || darwin || freebsd)

package gateway

import "errors"

// diskFree is not available here: the room is not checked.
func diskFree(string) (int64, error) {
	return 0, errors.New("free disk space: not supported on this system")
}
