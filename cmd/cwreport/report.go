package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/cradlewatch/cradlewatch/alerting/calendar"
	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/internal/influxql"
	"github.com/cradlewatch/cradlewatch/regulator/report"
)

func runReport(ctx context.Context, args []string, logger *slog.Logger) error {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	var inf influxFlags
	inf.register(fs)
	monthS := fs.String("month", "", "month, YYYY-MM")
	region := fs.String("region", "", "region code: 6 digits (province, city, county) or 9 (street)")
	out := fs.String("out", ".", "output directory")
	var rf rulesFlags
	rf.register(fs)
	_ = fs.Parse(args)
	rs, err := rules.LoadFile(rf.rules, rf.calendar)
	if err != nil {
		return err
	}
	loc, err := time.LoadLocation(calendar.DefaultZone)
	if err != nil {
		return fmt.Errorf("time zone: %w", err)
	}
	month, err := time.ParseInLocation("2006-01", *monthS, loc)
	if err != nil {
		return fmt.Errorf("-month %q: want YYYY-MM: %w", *monthS, err)
	}
	rep, err := report.Build(ctx, &influxql.Client{URL: inf.url, Database: inf.db, Token: inf.token}, rs, *region, month, loc)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	base := filepath.Join(*out, fmt.Sprintf("report-%s-%s", *region, month.Format("2006-01")))
	for ext, write := range map[string]func(*os.File) error{
		".csv":  func(f *os.File) error { return rep.WriteCSV(f) },
		".html": func(f *os.File) error { return rep.WriteHTML(f) },
	} {
		f, err := os.Create(base + ext)
		if err != nil {
			return err
		}
		werr := write(f)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return fmt.Errorf("write %s: %w", base+ext, werr)
		}
	}
	logger.Info("report written", "region", *region, "month", month.Format("2006-01"), "facilities", len(rep.Facilities), "files", base+".{csv,html}")
	return nil
}
