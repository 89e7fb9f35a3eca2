// Command console runs the web console, CradleWatch's front door for people:
// operators and regulators act on alerts, the public reads each
// facility's record, counties draw spot checks. See package console and
// configs/console.example.yaml.
//
//	console [-config configs/console.example.yaml]
//	console check-config [-config ...]   validate and exit
package main

import (
	"flag"
	"fmt"
	"os"
	_ "time/tzdata" // facilities name their time zone; small boxes may lack zoneinfo

	"github.com/cradlewatch/cradlewatch/console"
	"github.com/cradlewatch/cradlewatch/internal/cli"
	"github.com/cradlewatch/cradlewatch/internal/config"
	"github.com/cradlewatch/cradlewatch/internal/obs"
)

func main() {
	args := os.Args[1:]
	check := len(args) > 0 && args[0] == "check-config"
	if check {
		args = args[1:]
	}
	fs := flag.NewFlagSet("console", flag.ExitOnError)
	path := fs.String("config", "configs/console.example.yaml", "configuration file")
	fs.Parse(args)
	cfg := console.DefaultConfig()
	if err := config.Load(*path, &cfg); err != nil {
		cli.Exit("console", err, true)
	}
	if check {
		if err := console.Check(cfg); err != nil {
			cli.Exit("console", err, true)
		}
		fmt.Printf("%s: configuration valid\n", *path)
		return
	}
	log, err := obs.NewLogger(os.Stderr, cfg.Log.Format, cfg.Log.Level)
	if err != nil {
		cli.Exit("console", config.Errorf("log", "%v", err), true)
	}
	reg := obs.NewRegistry()
	ctx, stop := cli.SignalContext()
	defer stop()
	c, err := console.New(ctx, console.Options{Config: cfg, DataDirs: []string{cfg.Access.Audit.SpoolDir}, Logger: log,
		Registerer: reg, Gatherer: reg})
	if err != nil {
		cli.Exit("console", err, true)
	}
	err = c.Run(ctx)
	if cerr := c.Close(); err == nil {
		err = cerr
	}
	cli.Exit("console", err, false)
}
