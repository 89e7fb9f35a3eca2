// Command simulator publishes simulated device traffic (Zigbee2MQTT,
// Tasmota, NVR agent camera heartbeats) of one or more childcare facilities
// to their local MQTT broker, for demonstrations and load tests of the
// gateway.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
	_ "time/tzdata" // facilities name their time zone; small boxes may lack zoneinfo

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cradlewatch/cradlewatch/simulator"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run() error {
	var (
		configPath    = flag.String("config", "", "YAML configuration file (see configs/simulator.example.yaml)")
		broker        = flag.String("broker", "", "local broker URL, e.g. tcp://127.0.0.1:1883 (overrides the file)")
		facilities    = flag.Int("facilities", 0, "number of facilities to simulate (overrides the file)")
		speed         = flag.Float64("speed", 0, "simulated seconds per wall second (overrides the file)")
		start         = flag.String("start", "", "simulated start time, RFC 3339 (overrides the file)")
		seed          = flag.Uint64("seed", 0, "random seed (overrides the file when not 0)")
		printFacility = flag.Bool("print-facility", false, "print the gateway facility file(s) as YAML and exit")
		metricsAddr   = flag.String("metrics-addr", "", "serve Prometheus metrics on this address, e.g. 127.0.0.1:9310")
		logLevel      = flag.String("log-level", "info", "debug, info, warn or error")
	)
	flag.Parse()

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	cfg := simulator.Config{Facilities: 1}
	if *configPath != "" {
		var err error
		if cfg, err = simulator.LoadConfig(*configPath); err != nil {
			return err
		}
	}
	if *broker != "" {
		cfg.Broker = *broker
	}
	if *facilities > 0 {
		cfg.Facilities = *facilities
	}
	if *speed > 0 {
		cfg.Speed = *speed
	}
	if *start != "" {
		cfg.Start = *start
	}
	if *seed != 0 {
		cfg.Seed = *seed
	}
	if cfg.Broker == "" {
		cfg.Broker = "tcp://127.0.0.1:1883"
	}
	opts, err := cfg.Options()
	if err != nil {
		return err
	}

	if *printFacility {
		for i, f := range opts.Facilities {
			if i > 0 {
				fmt.Println("---")
			}
			if err := simulator.WriteFacilityFile(os.Stdout, f); err != nil {
				return err
			}
		}
		return nil
	}

	reg := prometheus.NewRegistry()
	opts.Logger = logger
	opts.Registerer = reg
	sim, err := simulator.New(opts)
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if *metricsAddr != "" {
		srv := &http.Server{Addr: *metricsAddr, Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
			ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error("metrics server", "err", err)
				stop()
			}
		}()
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
	}
	return sim.Run(ctx)
}
