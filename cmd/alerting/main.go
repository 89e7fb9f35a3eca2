// Command alerting runs the central alerting service. See alerting's
// package documentation and configs/alerting.example.yaml.
package main

import (
	"errors"
	"flag"
	"os"
	_ "time/tzdata" // facilities name their time zone; small boxes may lack zoneinfo

	"github.com/cradlewatch/cradlewatch/alerting"
	"github.com/cradlewatch/cradlewatch/internal/cli"
	"github.com/cradlewatch/cradlewatch/internal/config"
	"github.com/cradlewatch/cradlewatch/internal/obs"
)

func main() {
	path := flag.String("config", "configs/alerting.example.yaml", "configuration file")
	check := flag.Bool("check-config", false, "validate the configuration, the rules and the facility registry, then exit")
	flag.Parse()
	cfg := alerting.DefaultConfig()
	if err := config.Load(*path, &cfg); err != nil {
		cli.Exit("alerting", err, true)
	}
	log, err := obs.NewLogger(os.Stderr, cfg.Log.Format, cfg.Log.Level)
	if err != nil {
		cli.Exit("alerting", config.Errorf("log", "%v", err), true)
	}
	if *check {
		err := alerting.Check(cfg)
		var ce *config.Error
		if errors.As(err, &ce) && ce.File == "" {
			ce.File = *path // a check across the registry, of a key in this file
		}
		cli.Exit("alerting", err, true)
	}
	reg := obs.NewRegistry()
	s, err := alerting.New(alerting.Options{Config: cfg, Logger: log, Registerer: reg, Gatherer: reg})
	if err != nil {
		cli.Exit("alerting", err, true)
	}
	ctx, stop := cli.SignalContext()
	defer stop()
	cli.Exit("alerting", s.Run(ctx), false)
}
