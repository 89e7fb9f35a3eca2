// Command collector runs the central ingest service. See collector's
// package documentation and configs/collector.example.yaml.
package main

import (
	"context"
	"flag"
	"os"
	_ "time/tzdata" // facilities name their time zone; small boxes may lack zoneinfo

	"github.com/cradlewatch/cradlewatch/collector"
	"github.com/cradlewatch/cradlewatch/internal/cli"
	"github.com/cradlewatch/cradlewatch/internal/config"
	"github.com/cradlewatch/cradlewatch/internal/obs"
	"github.com/cradlewatch/cradlewatch/registry"
)

func main() {
	path := flag.String("config", "configs/collector.example.yaml", "configuration file")
	check := flag.Bool("check-config", false, "validate the configuration and exit")
	flag.Parse()
	cfg := collector.DefaultConfig()
	if err := config.Load(*path, &cfg); err != nil {
		cli.Exit("collector", err, true)
	}
	if *check {
		// The registry too: an invalid facility file stops the start.
		_, err := registry.OpenDir(context.Background(), cfg.Registry.Dir, registry.Options{})
		cli.Exit("collector", err, err != nil)
	}
	log, err := obs.NewLogger(os.Stderr, cfg.Log.Format, cfg.Log.Level)
	if err != nil {
		cli.Exit("collector", err, true)
	}
	reg := obs.NewRegistry()
	c, err := collector.New(collector.Options{Config: cfg, Logger: log, Registerer: reg, Gatherer: reg})
	if err != nil {
		cli.Exit("collector", err, true)
	}
	ctx, stop := cli.SignalContext()
	defer stop()
	cli.Exit("collector", c.Run(ctx), false)
}
