package main

import (
	"flag"
	"log/slog"

	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/regulator/dashboards"
)

func runDashboards(args []string, logger *slog.Logger) error {
	fs := flag.NewFlagSet("dashboards", flag.ExitOnError)
	out := fs.String("out", "deploy/grafana/dashboards", "directory for the dashboard JSON files")
	var rf rulesFlags
	rf.register(fs)
	_ = fs.Parse(args)
	rs, err := rules.LoadFile(rf.rules, rf.calendar)
	if err != nil {
		return err
	}
	files, err := dashboards.Write(*out, rs)
	if err != nil {
		return err
	}
	logger.Info("dashboards written", "dir", *out, "files", len(files))
	return nil
}
