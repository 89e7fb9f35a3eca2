//go:build !cwpowercut

package main

import (
	"log/slog"

	"github.com/cradlewatch/cradlewatch/gateway/spool"
)

// spoolFS is the spool's file layer: the operating system's, except in the
// power-cut test build (powercut_on.go).
func spoolFS(*slog.Logger) spool.FS { return nil }
