// Command demo runs the whole CradleWatch system on this machine with
// embedded defaults (see internal/demo):
//
//	go run ./cmd/demo            until Ctrl-C
//	go run ./cmd/demo -for 60s   for a minute
package main

import (
	"flag"
	"os"
	_ "time/tzdata" // facilities name their time zone; small boxes may lack zoneinfo

	"github.com/cradlewatch/cradlewatch/internal/cli"
	"github.com/cradlewatch/cradlewatch/internal/demo"
	"github.com/cradlewatch/cradlewatch/internal/influxd"
	"github.com/cradlewatch/cradlewatch/internal/obs"
)

func main() {
	dur := flag.Duration("for", 0, "stop after this long (0: run until interrupted)")
	level := flag.String("log-level", "info", "log level: debug, info, warn, error")
	flag.Parse()
	log, err := obs.NewLogger(os.Stderr, "text", *level)
	if err != nil {
		cli.Exit("demo", err, true)
	}
	root, err := influxd.RepoRoot()
	if err != nil {
		cli.Exit("demo", err, true)
	}
	ctx, stop := cli.SignalContext()
	defer stop()
	cli.Exit("demo", demo.Run(ctx, demo.Options{Root: root, Duration: *dur, Out: os.Stdout, Logger: log}), false)
}
