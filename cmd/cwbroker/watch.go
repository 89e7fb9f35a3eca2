package main

import (
	"context"
	"errors"
	"flag"
	"os"
	"os/signal"
	"syscall"

	"github.com/cradlewatch/cradlewatch/internal/centrebroker"
	"github.com/cradlewatch/cradlewatch/internal/cli"
	"github.com/cradlewatch/cradlewatch/internal/obs"
)

func runWatch(args []string) error {
	fl := flag.NewFlagSet("cwbroker watch", flag.ExitOnError)
	listen := fl.String("listen", "127.0.0.1:9103", "address of /metrics, /healthz and /readyz; empty disables")
	identities := fl.String("identities", "", "the broker's dynamic-security file, to count last wills on other accounts' topics")
	logFormat := fl.String("log-format", "text", "text or json")
	_ = fl.Parse(args)
	command := fl.Args()
	if len(command) == 0 {
		return errors.New("give the broker's command after --, e.g. -- /usr/sbin/mosquitto -c /etc/mosquitto/mosquitto.conf")
	}
	logger, err := obs.NewLogger(os.Stderr, *logFormat, "info")
	if err != nil {
		return err
	}
	logger = logger.With("component", "broker-watch")
	var wills centrebroker.WillCheck
	if *identities != "" {
		data, err := os.ReadFile(*identities)
		if err != nil {
			return err
		}
		if wills, err = centrebroker.DynsecWillCheck(data); err != nil {
			return err
		}
	}
	reg := obs.NewRegistry()
	watcher := centrebroker.NewWatcher(centrebroker.WatcherOptions{Forward: os.Stderr, Logger: logger, Registerer: reg, Wills: wills})
	srv := &obs.Server{Addr: *listen, Gatherer: reg, Logger: logger}
	if err := srv.Listen(); err != nil {
		return err
	}
	// SIGTERM and SIGINT stop the broker through the context; the rest is
	// passed on (SIGHUP: reload).
	ctx, stop := cli.SignalContext()
	defer stop()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(sigs)
	g := obs.NewGroup(ctx)
	g.Go("http", srv.Run)
	g.Go("broker", func(ctx context.Context) error {
		err := centrebroker.Supervise(ctx, centrebroker.SuperviseOptions{Command: command, Watcher: watcher, Signals: sigs, Logger: logger})
		stop() // the broker is gone: stop serving too
		return err
	})
	return g.Wait()
}
