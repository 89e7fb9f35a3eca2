// Package demo runs the whole system on one machine with embedded
// defaults: an embedded MQTT broker, a local influxd, the simulator, a
// gateway, the collector and the alerting service, all on loopback. It is
// what `go run ./cmd/demo` does.
package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/alerting"
	"github.com/cradlewatch/cradlewatch/collector"
	"github.com/cradlewatch/cradlewatch/gateway"
	"github.com/cradlewatch/cradlewatch/internal/config"
	"github.com/cradlewatch/cradlewatch/internal/embedbroker"
	"github.com/cradlewatch/cradlewatch/internal/influxd"
	"github.com/cradlewatch/cradlewatch/internal/mqttx"
	"github.com/cradlewatch/cradlewatch/internal/obs"
	"github.com/cradlewatch/cradlewatch/simulator"
)

// Options of a demo run.
type Options struct {
	Root     string        // repository root (configs/ and .cache/ live there)
	Dir      string        // data folder; "" is <Root>/.cache/demo, emptied at start
	Duration time.Duration // 0: until ctx ends
	Out      io.Writer     // the banner and the closing summary
	Logger   *slog.Logger  // the services' logs (the SMS lines among them)
}

// The demo's facility, and the operator phone its SMS go to (a test number).
const (
	startGap      = 300 * time.Millisecond
	region        = "110105001"
	operatorPhone = "+8613800001234"
)

// Run starts everything, prints what to look at, and stops everything when
// ctx ends or Duration passes.
func Run(ctx context.Context, o Options) error {
	if o.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
	}
	dir := o.Dir
	if dir == "" {
		dir = filepath.Join(o.Root, ".cache", "demo")
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	for _, d := range []string{"facilities", "influxd", "spool", "alerting", "notify"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o750); err != nil {
			return err
		}
	}
	log := o.Logger

	bin, err := influxd.Binary(ctx, o.Root)
	if err != nil {
		return fmt.Errorf("demo: influxd: %w", err)
	}
	inf, err := influxd.Start(ctx, influxd.Options{Binary: bin, DataDir: filepath.Join(dir, "influxd"), Logger: log})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer inf.Stop()
	if err := inf.CreateDatabase(ctx, "cradlewatch"); err != nil {
		return err
	}

	// Two brokers, as in production: the facility's local one (sensors and
	// gateway) and the centre's (gateway uplink, collector, alerting).
	local, err := embedbroker.Start(embedbroker.Config{Listen: "127.0.0.1:0"}, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer local.Close()
	broker, err := embedbroker.Start(embedbroker.Config{Listen: "127.0.0.1:0"}, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer broker.Close()

	simCfg, err := simulator.LoadConfig(filepath.Join(o.Root, "configs", "simulator.example.yaml"))
	if err != nil {
		return err
	}
	simOpts, err := simCfg.Options()
	if err != nil {
		return err
	}
	simOpts.BrokerURL = local.Addr()
	simOpts.Logger = log
	simOpts.Registerer = prometheus.NewRegistry()
	fac := simOpts.Facilities[0]
	facFile := filepath.Join(dir, "facilities", fac.ID+".yaml")
	if err := writeFacility(facFile, fac); err != nil {
		return err
	}
	rulesFile := filepath.Join(dir, "rules.yaml")
	if err := writeDemoRules(filepath.Join(o.Root, "configs", "rules.yaml"), rulesFile, fac.ID); err != nil {
		return err
	}

	reg := obs.NewRegistry()
	gcfg := gateway.DefaultConfig()
	if err := config.Load(filepath.Join(o.Root, "configs", "gateway.example.yaml"), &gcfg); err != nil {
		return err
	}
	gcfg.Gateway = "gw-" + fac.ID
	gcfg.FacilityFile = facFile
	gcfg.Local.MQTT.Broker = local.Addr()
	gcfg.Uplink.MQTT = mqttx.Config{Broker: broker.Addr(), ClientID: gcfg.Gateway, Username: fac.ID}
	gcfg.Spool.Dir = filepath.Join(dir, "spool")
	gcfg.StatusInterval = 10 * time.Second
	gcfg.HTTP.Listen = "127.0.0.1:0"
	gw, err := gateway.New(gateway.Options{Config: gcfg, Logger: log, Registerer: reg, Gatherer: reg, Version: "demo"})
	if err != nil {
		return err
	}

	ccfg := collector.DefaultConfig()
	ccfg.MQTT.Broker = broker.Addr()
	ccfg.Registry.Dir = filepath.Join(dir, "facilities")
	ccfg.Influx.URL = inf.URL()
	ccfg.HTTP.Listen = "127.0.0.1:0"
	creg := obs.NewRegistry()
	col, err := collector.New(collector.Options{Config: ccfg, Logger: log, Registerer: creg, Gatherer: creg})
	if err != nil {
		return err
	}
	defer col.Close() // its port, if a later start fails

	sim, err := simulator.New(simOpts)
	if err != nil {
		return err
	}
	con, err := startConsole(ctx, o.Root, dir, broker.Addr(), inf.URL(), rulesFile, fac.ID, fac.Region, log)
	if err != nil {
		return fmt.Errorf("demo: console: %w", err)
	}
	defer con.c.Close()
	acfg := alerting.DefaultConfig()
	if err := config.Load(filepath.Join(o.Root, "configs", "alerting.example.yaml"), &acfg); err != nil {
		return err
	}
	acfg.MQTT.Broker = broker.Addr()
	acfg.Facilities = filepath.Join(dir, "facilities")
	acfg.Rules = rulesFile
	acfg.CalendarDir = filepath.Join(o.Root, "configs", "calendar")
	acfg.StateDir = filepath.Join(dir, "alerting")
	acfg.Notify.StateDir = filepath.Join(dir, "notify")
	acfg.Notify.GroupWait = 2 * time.Second
	acfg.Events.Influx.URL = inf.URL()
	acfg.HTTP.Listen = "127.0.0.1:0"
	con.alerting(&acfg, dir) // commands from the console, the audit trail, links in messages
	areg := obs.NewRegistry()
	al, err := alerting.New(alerting.Options{Config: acfg, Logger: log, Registerer: areg, Gatherer: areg})
	if err != nil {
		return err
	}

	// Start one service at a time: mochi-mqtt can lose one of two
	// subscriptions with a common topic prefix made at the same instant by
	// different clients (mochi-mqtt/server issue 185), and the centre's
	// services all subscribe under cw/.
	g := obs.NewGroup(ctx)
	for _, svc := range []struct {
		name string
		run  func(context.Context) error
	}{{"collector", col.Run}, {"alerting", al.Run}, {"gateway", gw.Run}, {"simulator", sim.Run}, {"console", con.c.Run}} {
		g.Go(svc.name, svc.run)
		select {
		case <-time.After(startGap):
		case <-ctx.Done():
		}
	}
	banner(o.Out, inf.URL(), local.Addr()+" (facility), "+broker.Addr()+" (centre)", fac.ID, gw.HTTPAddr(), col.HTTPAddr(), al.HTTPAddr(), dir,
		con.banner(fac.ID))
	err = g.Wait()
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		err = nil
	}
	summary(o.Out, inf, fac.ID)
	return err
}

// writeFacility writes the simulator's facility file with an operator, so
// the alerts have someone to go to.
func writeFacility(path string, fac simulator.FacilitySpec) error {
	var b bytes.Buffer
	if err := simulator.WriteFacilityFile(&b, fac); err != nil {
		return err
	}
	fmt.Fprintf(&b, "operators:\n  - {name: 值班老师, phone: %q, role: duty}\n", operatorPhone)
	return os.WriteFile(path, b.Bytes(), 0o600)
}

// writeDemoRules copies the shipped rules and, for the demo facility only,
// makes the CO2 early warning fast and always on, so the scripted incident
// becomes an SMS within a minute at any hour of the day.
func writeDemoRules(src, dst, facility string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	const anchor = "  facilities: {}"
	if !bytes.Contains(b, []byte(anchor)) {
		return fmt.Errorf("demo: %s has no %q line to add the demo override to", src, anchor)
	}
	override := fmt.Sprintf(`  facilities:
    %q:
      rules:
        co2_early: {when: always, for: 10s, resolve_hold: 20s, severity: warning}`, facility)
	return os.WriteFile(dst, bytes.Replace(b, []byte(anchor), []byte(override), 1), 0o600)
}

func banner(w io.Writer, influx, broker, facility, gwHTTP, colHTTP, alHTTP, dir, console string) {
	q := "SELECT count(value) FROM temperature, humidity, co2, door, camera_online WHERE facility = '" + facility + "'"
	fmt.Fprintf(w, `
CradleWatch demo running. Everything listens on loopback only.

  MQTT brokers (embedded)  %s
  InfluxDB 1.8             %s   (database cradlewatch)
  gateway  /metrics        http://%s/metrics
  collector /metrics       http://%s/metrics
  alerting /metrics        http://%s/metrics   (loopback only, with /debug/pprof)
%s  data folder              %s

What to look at:
  - In about 30 s the scripted CO2 incident in 乳儿班 (infant-1) becomes an SMS to the duty operator:
    watch the log for the line msg=SMS (the number is masked).
  - Readings of every kind in InfluxDB:
      curl -sG '%s/query' --data-urlencode 'db=cradlewatch' --data-urlencode "q=%s"
  - Alert events:
      curl -sG '%s/query' --data-urlencode 'db=cradlewatch' --data-urlencode "q=SELECT * FROM alert_event"
  - The console: log in as the operator (its facility now, the alert, acknowledge) or the county
    (its facilities, alerts, monthly report, spot checks); the public page needs no login. The
    SMS line carries the alert's link to the console.
  - The JSON API (docs/api/alerting.yaml) with the county's token above; acknowledging is the
    operator's (log in, or a token of its own: cwadmin token issue).

Stop with Ctrl-C.
`, broker, influx, gwHTTP, colHTTP, alHTTP, console, dir, influx, q, influx)
}

// summary prints how many readings of each kind reached InfluxDB.
func summary(w io.Writer, inf *influxd.Server, facility string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var parts []string
	for _, m := range []string{"temperature", "humidity", "co2", "door", "camera_online", "alert_event"} {
		n, err := inf.Count(ctx, "cradlewatch", fmt.Sprintf("SELECT count(*) FROM %s WHERE facility = '%s'", m, facility))
		if err != nil {
			n = -1
		}
		parts = append(parts, fmt.Sprintf("%s=%d", m, n))
	}
	fmt.Fprintf(w, "\nIn InfluxDB for %s: %s\n", facility, strings.Join(parts, " "))
}
