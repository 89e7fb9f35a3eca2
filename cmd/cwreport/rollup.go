package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/regulator/compliance"
	"github.com/cradlewatch/cradlewatch/regulator/influxql"
)

func runRollup(ctx context.Context, args []string, logger *slog.Logger) error {
	fs := flag.NewFlagSet("rollup", flag.ExitOnError)
	var inf influxFlags
	inf.register(fs)
	fromS := fs.String("from", "", "first hour, RFC3339 (e.g. 2026-11-01T00:00:00+08:00)")
	toS := fs.String("to", "", "end hour (exclusive), RFC3339")
	_ = fs.Parse(args)
	from, err := time.Parse(time.RFC3339, *fromS)
	if err != nil {
		return fmt.Errorf("-from %q: %w", *fromS, err)
	}
	to, err := time.Parse(time.RFC3339, *toS)
	if err != nil {
		return fmt.Errorf("-to %q: %w", *toS, err)
	}
	client := influxdb2.NewClient(inf.url, inf.token)
	defer client.Close()
	roller, err := compliance.New(compliance.Options{
		Query:      &influxql.Client{URL: inf.url, Database: inf.db, Token: inf.token},
		Writer:     client.WriteAPIBlocking("", inf.bucket),
		Logger:     logger,
		Registerer: prometheus.NewRegistry(), // a one-shot command: nobody scrapes it
	})
	if err != nil {
		return err
	}
	n, err := roller.Run(ctx, from, to)
	logger.Info("rollup done", "from", from, "to", to, "facility_hours", n)
	return err
}
