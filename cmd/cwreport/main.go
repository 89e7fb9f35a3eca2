// Command cwreport produces CradleWatch's regulator views: Grafana
// dashboards, hourly compliance rollups, monthly reports, and spot-check
// draws and their verification.
//
//	cwreport dashboards -out deploy/grafana/dashboards
//	cwreport rollup -from 2026-11-01T00:00:00+08:00 -to 2026-11-02T00:00:00+08:00
//	cwreport report -month 2026-11 -region 110105 -out dir
//	cwreport spotcheck draw -request request.json -out draw.json
//	cwreport spotcheck verify draw.json
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // facilities name their time zone; small boxes may lack zoneinfo
)

func main() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "dashboards":
		err = runDashboards(os.Args[2:], logger)
	case "rollup":
		err = runRollup(ctx, os.Args[2:], logger)
	case "report":
		err = runReport(ctx, os.Args[2:], logger)
	case "spotcheck":
		err = runSpotcheck(os.Args[2:], os.Stdout, logger)
	default:
		usage()
		os.Exit(2)
	}
	if err != nil {
		logger.Error("cwreport failed", "command", os.Args[1], "err", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: cwreport dashboards|rollup|report|spotcheck [flags]  (cwreport <command> -h for flags)")
}

// influxFlags are the connection flags shared by rollup and report.
type influxFlags struct {
	url, db, token, bucket string
}

func (f *influxFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.url, "influx", envOr("CW_INFLUX_URL", "http://127.0.0.1:8086"), "InfluxDB base URL (env CW_INFLUX_URL)")
	fs.StringVar(&f.db, "db", "cradlewatch", "database (1.x) or v1-mapped bucket")
	fs.StringVar(&f.bucket, "bucket", "cradlewatch/autogen", "write bucket: database/retention-policy on 1.8, bucket name on 2.x")
	f.token = os.Getenv("CW_INFLUX_TOKEN") // never on the command line: it would show in ps
}

// rulesFlags name the alerting rule set: limits, seasons, opening hours,
// the one source of them for every regulator view.
type rulesFlags struct{ rules, calendar string }

func (f *rulesFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.rules, "rules", "configs/rules.yaml", "alerting rules: limits, seasons, default opening hours")
	fs.StringVar(&f.calendar, "calendar", "configs/calendar", "yearly holiday files")
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
