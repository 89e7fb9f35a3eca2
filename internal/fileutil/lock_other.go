//go:build !unix

package fileutil

import "os"

// flock is not available here: the lock only marks the directory.
func flock(*os.File) error { return nil }
