// Command alerting runs the central alerting service. See alerting's
// package documentation and configs/alerting.example.yaml. Subcommands:
//
//	alerting [run] [-config file]         run
//	alerting check-config [-config file]  validate the configuration, the rules, the holiday
//	                                      calendars and the facility registry, then exit
//
// The flag -check-config is the same as the check-config subcommand.
// Configuration errors name the file, the key and the reason, and exit 2.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	_ "time/tzdata" // facilities name their time zone; small boxes may lack zoneinfo

	"github.com/cradlewatch/cradlewatch/alerting"
	"github.com/cradlewatch/cradlewatch/internal/cli"
	"github.com/cradlewatch/cradlewatch/internal/config"
	"github.com/cradlewatch/cradlewatch/internal/obs"
)

func main() {
	cmd := "run"
	args := os.Args[1:]
	if len(args) > 0 && (args[0] == "check-config" || args[0] == "run") {
		cmd, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("alerting "+cmd, flag.ExitOnError)
	path := fs.String("config", "configs/alerting.example.yaml", "configuration file")
	check := fs.Bool("check-config", false, "validate the configuration, the rules and the facility registry, then exit")
	fs.Parse(args)
	if *check {
		cmd = "check-config"
	}
	cfg := alerting.DefaultConfig()
	if err := config.Load(*path, &cfg); err != nil {
		cli.Exit("alerting", err, true)
	}
	log, err := obs.NewLogger(os.Stderr, cfg.Log.Format, cfg.Log.Level)
	if err != nil {
		cli.Exit("alerting", config.Errorf("log", "%v", err), true)
	}
	if cmd == "check-config" {
		if err := alerting.Check(cfg); err != nil {
			var ce *config.Error
			if errors.As(err, &ce) && ce.File == "" {
				ce.File = *path // a check across the registry, of a key in this file
			}
			cli.Exit("alerting", err, true)
		}
		fmt.Printf("%s: ok (rules %s, facilities %s, platform contacts %d)\n", *path, cfg.Rules, cfg.Facilities, len(cfg.Platform.Contacts))
		cli.Exit("alerting", nil, false)
	}
	reg := obs.NewRegistry()
	s, err := alerting.New(alerting.Options{Config: cfg, Logger: log, Registerer: reg, Gatherer: reg})
	if err != nil {
		var ce *config.Error
		cli.Exit("alerting", err, errors.As(err, &ce))
	}
	ctx, stop := cli.SignalContext()
	defer stop()
	cli.Exit("alerting", s.Run(ctx), false)
}
