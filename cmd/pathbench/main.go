// Command pathbench runs the side-by-side benchmark of the ingest path
// (CradleWatch gateway + collector against Telegraf) and writes the result
// table into docs/performance.md. `make bench` runs it; see package
// bench/pathbench for what is measured and how.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/cradlewatch/cradlewatch/bench/pathbench"
	"github.com/cradlewatch/cradlewatch/internal/influxd"
)

func main() {
	readings := flag.Int("readings", envInt("BENCH_READINGS", pathbench.DefaultReadings), "readings to publish (4 per message); $BENCH_READINGS")
	devices := flag.Int("devices", pathbench.DefaultDevices, "Zigbee2MQTT devices")
	publishers := flag.Int("publishers", pathbench.DefaultPublishers, "MQTT publisher connections")
	window := flag.Int("window", pathbench.DefaultWindow, "unacknowledged messages per publisher")
	timeout := flag.Duration("timeout", 0, "wait for the sinks after publishing (0: 60s + 1s per 5000 readings)")
	pipelines := flag.String("pipelines", "cradlewatch,telegraf", "pipelines to run")
	out := flag.String("out", "docs/performance.md", "markdown file whose section is replaced; empty: stdout only")
	command := flag.String("command", "", "command line to print in the report (default: this one)")
	keep := flag.Bool("keep", false, "keep the work directory (logs, configs, spool, databases)")
	tune := pathbench.DefaultTuning
	flag.IntVar(&tune.MaxProcs, "gateway-max-procs", -1, "the gateway's max_procs (-1: its default)")
	flag.DurationVar(&tune.ReadCoalesce, "gateway-read-coalesce", -1, "the gateway's local.read_coalesce (-1: its default)")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := run(log, *readings, *devices, *publishers, *window, *timeout, *pipelines, *out, *command, *keep, tune); err != nil {
		log.Error("pathbench failed", "err", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger, readings, devices, publishers, window int, timeout time.Duration, pipelines, out, command string, keep bool, tune pathbench.GatewayTuning) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root, err := influxd.RepoRoot()
	if err != nil {
		return err
	}
	base := filepath.Join(root, ".cache", "bench")
	if err := os.MkdirAll(base, 0o755); err != nil {
		return err
	}
	work, err := os.MkdirTemp(base, "pathbench-")
	if err != nil {
		return err
	}
	if keep {
		log.Info("work directory kept", "dir", work)
	} else {
		defer os.RemoveAll(work)
	}
	if command == "" {
		command = strings.Join(append([]string{"go run ./cmd/pathbench"}, os.Args[1:]...), " ")
	}
	machine := pathbench.ReadMachine("/proc")
	res, runErr := pathbench.Run(ctx, pathbench.Options{
		Root: root, WorkDir: work, Readings: readings, Devices: devices, Publishers: publishers, Window: window,
		Timeout: timeout, Pipelines: strings.Split(pipelines, ","), Gateway: tune, Logger: log,
	})
	if runErr != nil && len(res.Pipelines) == 0 {
		if !keep {
			log.Info("rerun with -keep to inspect the logs")
		}
		return runErr
	}
	section := pathbench.Report(res, machine, command)
	fmt.Println(section)
	if runErr != nil {
		return fmt.Errorf("%w (report not written to %s)", runErr, out)
	}
	if out == "" {
		return nil
	}
	path := out
	if !filepath.IsAbs(path) {
		path = filepath.Join(root, out) // relative to the repository, wherever it runs from
	}
	doc, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path, []byte(pathbench.UpdateSection(string(doc), section)), 0o644); err != nil {
		return err
	}
	log.Info("report written", "file", out)
	return nil
}

// envInt reads a positive integer from the environment, or returns def.
func envInt(name string, def int) int {
	var n int
	if v := os.Getenv(name); v != "" {
		if _, err := fmt.Sscan(strings.ReplaceAll(v, "_", ""), &n); err == nil && n > 0 {
			return n
		}
	}
	return def
}
