// Command influxproxy runs the InfluxQL region proxy between Grafana and
// InfluxDB. See regulator/influxproxy's package documentation,
// configs/influxproxy.example.yaml and docs/console.md.
//
// It is a service of its own, not a cwreport subcommand: it listens on the
// network, holds a service secret and runs for as long as Grafana does,
// while cwreport runs a batch job and exits.
package main

import (
	"context"
	"flag"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/internal/cli"
	"github.com/cradlewatch/cradlewatch/internal/config"
	"github.com/cradlewatch/cradlewatch/internal/obs"
	"github.com/cradlewatch/cradlewatch/regulator/influxproxy"
)

func main() {
	path := flag.String("config", "configs/influxproxy.example.yaml", "configuration file")
	check := flag.Bool("check-config", false, "validate the configuration and the users file (or reach the access database), and exit")
	flag.Parse()
	cfg := influxproxy.DefaultConfig()
	if err := config.Load(*path, &cfg); err != nil {
		cli.Exit("influxproxy", err, true)
	}
	log, err := obs.NewLogger(os.Stderr, cfg.Log.Format, cfg.Log.Level)
	if err != nil {
		cli.Exit("influxproxy", err, true)
	}
	if *check {
		// The users file is read, or the access database opened and asked.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		users, err := influxproxy.OpenUsers(ctx, cfg, log, prometheus.NewRegistry())
		if err == nil {
			err = users.Ping(ctx)
			users.Close()
		}
		cancel()
		cli.Exit("influxproxy", err, err != nil)
	}
	reg := obs.NewRegistry()
	p, err := influxproxy.New(influxproxy.Options{Config: cfg, Logger: log, Registerer: reg, Gatherer: reg})
	if err != nil {
		cli.Exit("influxproxy", err, true)
	}
	ctx, stop := cli.SignalContext()
	defer stop()
	cli.Exit("influxproxy", p.Run(ctx), false)
}
