package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/alerting"
	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/internal/influxql"
	"github.com/cradlewatch/cradlewatch/registry"
	"github.com/cradlewatch/cradlewatch/regulator/compliance"
)

func runRollup(ctx context.Context, args []string, logger *slog.Logger) error {
	fs := flag.NewFlagSet("rollup", flag.ExitOnError)
	var inf influxFlags
	inf.register(fs)
	var rf rulesFlags
	rf.register(fs)
	fromS := fs.String("from", "", "first hour, RFC3339 (e.g. 2026-11-01T00:00:00+08:00)")
	toS := fs.String("to", "", "end hour (exclusive), RFC3339")
	facDir := fs.String("facilities", "configs/facilities", "facility registry: the facilities rolled up, with their registered region, hours and rooms")
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
	rs, reg, err := loadRegistry(ctx, *facDir, rf)
	if err != nil {
		return err
	}
	client := influxdb2.NewClient(inf.url, inf.token)
	defer client.Close()
	roller, err := compliance.New(compliance.Options{
		Rules:      rs,
		Registry:   reg,
		Query:      &influxql.Client{URL: inf.url, Database: inf.db, Token: inf.token},
		Writer:     client.WriteAPIBlocking("", inf.bucket),
		Logger:     logger,
		Registerer: prometheus.NewRegistry(), // a one-shot command: nobody scrapes it
	})
	if err != nil {
		return err
	}
	n, err := roller.Run(ctx, from, to)
	logger.Info("rollup done", "from", from, "to", to, "facilities", reg.Snapshot().Len(), "facility_hours", n)
	return err
}

// loadRegistry reads the rule set and the facility registry, checking each
// facility's opening hours as the alerting service does.
func loadRegistry(ctx context.Context, dir string, rf rulesFlags) (*rules.RuleSet, *registry.Registry, error) {
	rs, err := rules.LoadFile(rf.rules, rf.calendar)
	if err != nil {
		return nil, nil, err
	}
	reg, err := registry.OpenDir(ctx, dir, registry.Options{Check: alerting.CheckFacility(rs)})
	if err != nil {
		return nil, nil, err
	}
	return rs, reg, nil
}
