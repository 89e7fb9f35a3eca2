package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/internal/facilityfile"
	"github.com/cradlewatch/cradlewatch/internal/influxql"
	"github.com/cradlewatch/cradlewatch/regulator/compliance"
)

func runRollup(ctx context.Context, args []string, logger *slog.Logger) error {
	fs := flag.NewFlagSet("rollup", flag.ExitOnError)
	var inf influxFlags
	inf.register(fs)
	fromS := fs.String("from", "", "first hour, RFC3339 (e.g. 2026-11-01T00:00:00+08:00)")
	toS := fs.String("to", "", "end hour (exclusive), RFC3339")
	facDir := fs.String("facilities", "configs/facilities", "facility registry: opening hours per facility (missing: Mon-Fri 07:30-18:00 Asia/Shanghai)")
	rulesFile := fs.String("rules", "configs/rules.yaml", "rules file: default hours, holidays, seasons")
	calDir := fs.String("calendar", "configs/calendar", "yearly holiday files")
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
	hours, err := openingHours(*facDir, *rulesFile, *calDir, logger)
	if err != nil {
		return err
	}
	client := influxdb2.NewClient(inf.url, inf.token)
	defer client.Close()
	roller, err := compliance.New(compliance.Options{
		OpeningHours: hours,
		Query:        &influxql.Client{URL: inf.url, Database: inf.db, Token: inf.token},
		Writer:       client.WriteAPIBlocking("", inf.bucket),
		Logger:       logger,
		Registerer:   prometheus.NewRegistry(), // a one-shot command: nobody scrapes it
	})
	if err != nil {
		return err
	}
	n, err := roller.Run(ctx, from, to)
	logger.Info("rollup done", "from", from, "to", to, "facility_hours", n)
	return err
}

// openingHours is each registered facility's calendar (its hours, public
// holidays and make-up working days), as the alerting service uses it;
// facilities not in the registry get compliance's default.
func openingHours(facDir, rulesFile, calDir string, logger *slog.Logger) (compliance.OpeningHours, error) {
	if _, err := os.Stat(facDir); err != nil {
		logger.Warn("no facility registry; default opening hours for every facility", "dir", facDir)
		return compliance.DefaultOpeningHours, nil
	}
	facs, err := facilityfile.LoadDir(facDir)
	if err != nil {
		return nil, err
	}
	rs, err := rules.LoadFile(rulesFile, calDir)
	if err != nil {
		return nil, err
	}
	cals := map[string]func(time.Time) bool{}
	for _, f := range facs {
		cal, err := rs.Calendar(f.ID, f.Region, f.Location, f.OpeningHours)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Path, err)
		}
		cals[f.ID] = cal.IsOpen
	}
	return func(facility string) func(time.Time) bool {
		if open, ok := cals[facility]; ok {
			return open
		}
		return compliance.DefaultOpeningHours(facility)
	}, nil
}
