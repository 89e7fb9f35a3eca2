// Command gateway runs a facility's gateway. Subcommands:
//
//	gateway [-config file]               run
//	gateway check-config [-config file]  validate the configuration and the facility file, then exit
//	gateway discover [-config file] [-for 60s]  list the devices publishing on the local broker as facility-file YAML
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"time"
	_ "time/tzdata" // facilities name their time zone; small boxes may lack zoneinfo

	"github.com/cradlewatch/cradlewatch/gateway"
	"github.com/cradlewatch/cradlewatch/internal/cli"
	"github.com/cradlewatch/cradlewatch/internal/config"
	"github.com/cradlewatch/cradlewatch/internal/obs"
	"github.com/cradlewatch/cradlewatch/registry"
)

func main() {
	cmd := "run"
	args := os.Args[1:]
	if len(args) > 0 && (args[0] == "check-config" || args[0] == "discover" || args[0] == "run") {
		cmd, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("gateway "+cmd, flag.ExitOnError)
	path := fs.String("config", "configs/gateway.example.yaml", "configuration file")
	listen := fs.Duration("for", time.Minute, "discover: how long to listen")
	fs.Parse(args)

	cfg := gateway.DefaultConfig()
	if err := config.Load(*path, &cfg); err != nil {
		cli.Exit("gateway", err, true)
	}
	fac, err := registry.Load(cfg.FacilityFile)
	if err != nil {
		cli.Exit("gateway", err, true)
	}
	log, err := obs.NewLogger(os.Stderr, cfg.Log.Format, cfg.Log.Level)
	if err != nil {
		cli.Exit("gateway", config.Errorf("log", "%v", err), true)
	}
	ctx, stop := cli.SignalContext()
	defer stop()
	switch cmd {
	case "check-config":
		for _, w := range cfg.Warnings() {
			fmt.Fprintf(os.Stderr, "%s: warning: %s\n", *path, w)
		}
		if w := cfg.SpoolRoomWarning(); w != "" {
			fmt.Fprintf(os.Stderr, "%s: warning: %s\n", *path, w)
		}
		fmt.Printf("%s: ok (facility %s, %d rooms, %d devices)\n", *path, fac.ID, len(fac.Rooms), len(fac.Devices))
		cli.Exit("gateway", nil, false)
	case "discover":
		cli.Exit("gateway", gateway.Discover(ctx, cfg, *listen, os.Stdout, log), false)
	}
	if cfg.MaxProcs > 0 {
		// Before anything runs: see max_procs in configs/gateway.example.yaml.
		runtime.GOMAXPROCS(cfg.MaxProcs)
	}
	reg := obs.NewRegistry()
	g, err := gateway.New(gateway.Options{Config: cfg, Facility: fac, Logger: log, Registerer: reg, Gatherer: reg, Version: cli.Version,
		SpoolFS: spoolFS(log)})
	if err != nil {
		cli.Exit("gateway", err, true)
	}
	cli.Exit("gateway", g.Run(ctx), false)
}
