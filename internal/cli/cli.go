// Package cli is the little that every CradleWatch main shares: turning
// SIGINT/SIGTERM into a cancelled context and reporting a fatal error with
// a non-zero exit status.
package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// Version is set at build time with -ldflags "-X .../internal/cli.Version=...".
var Version = "dev"

// SignalContext is cancelled by SIGINT or SIGTERM.
func SignalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// Exit prints err (if any) for the named program and exits: 0 without an
// error, 2 for a usage or configuration error, 1 otherwise.
func Exit(prog string, err error, usage bool) {
	if err == nil {
		os.Exit(0)
	}
	fmt.Fprintf(os.Stderr, "%s: %v\n", prog, err)
	if usage {
		os.Exit(2)
	}
	os.Exit(1)
}
