package main

import (
	"flag"
	"log/slog"

	"github.com/cradlewatch/cradlewatch/regulator/dashboards"
)

func runDashboards(args []string, logger *slog.Logger) error {
	fs := flag.NewFlagSet("dashboards", flag.ExitOnError)
	out := fs.String("out", "deploy/grafana/dashboards", "directory for the dashboard JSON files")
	_ = fs.Parse(args)
	files, err := dashboards.Write(*out)
	if err != nil {
		return err
	}
	logger.Info("dashboards written", "dir", *out, "files", len(files))
	return nil
}
