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
	last := fs.Int("last", 0, "instead of -from/-to: the last N whole hours before now (an hourly timer runs -last 3, so late data is rolled up again)")
	_ = fs.Parse(args)
	var from, to time.Time
	var err error
	if *last > 0 {
		to = time.Now().Truncate(time.Hour)
		from = to.Add(-time.Duration(*last) * time.Hour)
	} else {
		if from, err = time.Parse(time.RFC3339, *fromS); err != nil {
			return fmt.Errorf("-from %q: %w", *fromS, err)
		}
		if to, err = time.Parse(time.RFC3339, *toS); err != nil {
			return fmt.Errorf("-to %q: %w", *toS, err)
		}
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
