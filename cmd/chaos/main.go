// Command chaos runs the whole system on real parts under a load of
// numbered readings and a seeded schedule of faults, then accounts for
// every reading and every scripted alert (package chaos). It exits 1 when
// anything accepted was lost, duplicated or re-dated, a scripted alert was
// not notified, an SMS was duplicated beyond the documented case, or a
// hostile act got through.
//
//	chaos -duration 30m -seed 7
//
// `make chaos CHAOS_DURATION=30m CHAOS_SEED=7` runs it. Everything it starts
// listens on loopback and stops when it ends, also on Ctrl-C.
package main

import (
	"flag"
	"os"
	"time"

	"github.com/cradlewatch/cradlewatch/chaos"
	"github.com/cradlewatch/cradlewatch/internal/cli"
	"github.com/cradlewatch/cradlewatch/internal/influxd"
	"github.com/cradlewatch/cradlewatch/internal/obs"
)

func main() {
	duration := flag.Duration("duration", chaos.DefaultDuration, "how long the load and the faults run")
	seed := flag.Int64("seed", 1, "chooses the fault schedule and the incidents")
	facilities := flag.Int("facilities", chaos.DefaultFacilities, "facilities carrying load (at least 4)")
	devices := flag.Int("devices", chaos.DefaultDevices, "CO2 sensors per facility")
	rate := flag.Int("rate", chaos.DefaultRate, "readings published per second, over all facilities")
	dir := flag.String("dir", "", "folder for everything the run writes; default a temporary folder, removed at the end unless -keep")
	keep := flag.Bool("keep", false, "keep the folder (logs, configurations, data) after the run")
	restart := flag.Duration("restart-sec", chaos.DefaultRestartSec, "pause before a service that exited is started again (systemd's RestartSec)")
	logLevel := flag.String("log-level", "warn", "the harness's own log: debug, info, warn, error")
	flag.Parse()

	root, err := influxd.RepoRoot()
	if err != nil {
		cli.Exit("chaos", err, false)
	}
	log, err := obs.NewLogger(os.Stderr, "text", *logLevel)
	if err != nil {
		cli.Exit("chaos", err, true)
	}
	c, err := chaos.New(chaos.Options{
		Root: root, Dir: *dir, Keep: *keep, Duration: *duration, Seed: *seed, Facilities: *facilities,
		Devices: *devices, Rate: *rate, RestartSec: *restart, Out: os.Stdout, Logger: log,
	})
	if err != nil {
		cli.Exit("chaos", err, true)
	}
	ctx, stop := cli.SignalContext()
	defer stop()
	start := time.Now()
	rep, err := c.Run(ctx)
	if err != nil {
		cli.Exit("chaos", err, false)
	}
	log.Info("run finished", "took", time.Since(start).Round(time.Second))
	cli.Exit("chaos", rep.Err(), false)
}
