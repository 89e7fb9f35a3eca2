//go:build cwpowercut

package main

import (
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/cradlewatch/cradlewatch/gateway/spool"
	"github.com/cradlewatch/cradlewatch/gateway/spool/powercut"
)

// Exit status of a test build after a simulated power cut.
const exitPowerCut = 99

// spoolFS is, in the power-cut test build (go build -tags cwpowercut), the
// spool's file layer that simulates losing power (gateway/spool/powercut),
// with signals that cut it:
//
//	SIGUSR1  now: what the spool wrote and did not fsync is lost
//	SIGUSR2  during the next fsync with data: a torn tail for certain
//	         (CW_POWERCUT_USR2=after-sync: just after it instead, the
//	         moment between the fsync and the acknowledgements it allows)
//
// CW_POWERCUT_SEED (an integer) chooses which unsynced bytes survive, and
// CW_POWERCUT_TORN=1 keeps a random part of them at SIGUSR1 too. At the cut
// the process exits with status 99 at once, closing nothing: the spool's
// directory is then what a box finds when the power comes back.
func spoolFS(log *slog.Logger) spool.FS {
	seed, _ := strconv.ParseUint(os.Getenv("CW_POWERCUT_SEED"), 10, 64)
	p := powercut.New(powercut.Options{Seed: seed, Torn: os.Getenv("CW_POWERCUT_TORN") == "1"})
	after := os.Getenv("CW_POWERCUT_USR2") == "after-sync"
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGUSR1, syscall.SIGUSR2)
	go func() {
		for s := range sig {
			switch {
			case s == syscall.SIGUSR1:
				p.Cut()
			case after:
				p.CutAfterNextSync()
			default:
				p.CutAtNextSync()
			}
		}
	}()
	go func() {
		<-p.Done()
		log.Warn("simulated power cut: exiting", "cut", p.Report())
		os.Exit(exitPowerCut)
	}()
	log.Warn("test build: the spool writes through a power-cut simulation (SIGUSR1: cut now, SIGUSR2: cut at the next fsync)")
	return p
}
