package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/access"
	"github.com/cradlewatch/cradlewatch/access/authn"
	"github.com/cradlewatch/cradlewatch/alerting/notify"
	"github.com/cradlewatch/cradlewatch/collector"
	"github.com/cradlewatch/cradlewatch/console"
	"github.com/cradlewatch/cradlewatch/internal/centrebroker"
	"github.com/cradlewatch/cradlewatch/internal/influxd"
	"github.com/cradlewatch/cradlewatch/internal/mqttx"
	"github.com/cradlewatch/cradlewatch/internal/testenv"
	"github.com/cradlewatch/cradlewatch/model"
)

// startCollectorAs runs a collector with the given broker connection in
// this process until the test ends, over the facility registry folder
// facilities (registryOf).
func startCollectorAs(t *testing.T, conn mqttx.Config, inf *influxd.Server, facilities string) {
	cfg := collector.DefaultConfig()
	cfg.MQTT = conn
	cfg.Registry.Dir = facilities
	cfg.Influx.URL = inf.URL()
	cfg.Influx.CreateDatabase = true
	cfg.Ingest.RetryMax = 2 * time.Second
	cfg.HTTP.Listen = ""
	c, err := collector.New(collector.Options{Config: cfg, Logger: testLogger(t), Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// TestCentreIdentitiesCarryTheData runs the centre's broker as deploy/
// configures it, with accounts written for the registry, and the real
// services on them: a gateway on its own account over TLS, the collector
// in its share group, alerting on alerting-0 and the console on console-0.
// Every reading reaches InfluxDB; the console's queries and commands reach
// the alerting instance over the control bus and its answers come back
// (an alert list from every shard, "not found" for an alert that does not
// exist, never "no answer"); and the broker refused nothing they did: the
// identities cost the services none of their work.
func TestCentreIdentitiesCarryTheData(t *testing.T) {
	const facility, gw = "110105001-0001", "gw-centre-a"
	passwords := map[string]string{centrebroker.CollectorUser: "col-pw", centrebroker.AlertingUser(0): "alert-pw",
		centrebroker.ConsoleUser(0): "console-pw", gw: "gw-pw"}
	central := testenv.Centre(t, []centrebroker.Facility{{ID: facility, Gateways: []string{gw}}}, passwords)
	local := testenv.Mosquitto(t)
	inf := testenv.Influx(t)
	dir := t.TempDir()

	facDir := filepath.Join(dir, "facilities")
	if err := os.MkdirAll(facDir, 0o750); err != nil {
		t.Fatal(err)
	}
	fac := writeFile(t, facDir, facility+".yaml", facilityYAML(facility, "110105001", gw, 2))
	startCollectorAs(t, mqttx.Config{Broker: central.PlainAddr, ClientID: "cw-collector-e2e", Username: centrebroker.CollectorUser, Password: passwords[centrebroker.CollectorUser]}, inf, facDir)
	operatorOnly := notify.Policy{Steps: []notify.Step{{Name: "operator", Targets: []notify.Target{notify.TargetOperator}}}}
	acfg := alertingConfig(central.PlainAddr, inf, facDir, filepath.Join("..", "configs", "rules.yaml"), filepath.Join(dir, "alerting"),
		notifyConfig(filepath.Join(dir, "notify"), map[string]notify.Policy{"info": operatorOnly, "warning": operatorOnly, "critical": operatorOnly}, nil))
	acfg.MQTT.ClientID = centrebroker.AlertingClientID(0)
	acfg.MQTT.Username, acfg.MQTT.Password = centrebroker.AlertingUser(0), passwords[centrebroker.AlertingUser(0)]
	d := newDeployment(t, dir, 1, nil)
	d.alerting(&acfg, 0)
	alert := startAlerting(t, acfg, &capture{}) // returns once /readyz says the broker is connected

	// The gateway's uplink: its own account, TLS, the centre's CA.
	conf := gatewayConf{id: gw, facilityFile: fac, local: local.Addr(), uplink: central.TLSAddr, spoolDir: filepath.Join(dir, "spool")}.yaml()
	anonymous := fmt.Sprintf("uplink:\n  mqtt: {broker: %s, username: ignored}", central.TLSAddr)
	if !strings.Contains(conf, anonymous) {
		t.Fatalf("gatewayConf no longer writes %q; update this test", anonymous)
	}
	conf = strings.Replace(conf, anonymous, fmt.Sprintf("uplink:\n  mqtt: {broker: %s, username: %s, password: %s, tls: {ca_file: %s}}", central.TLSAddr, gw, passwords[gw], central.CAFile), 1)
	inProcessGateway(t, writeFile(t, dir, "gateway.yaml", conf))

	s := newFastSensor(t, local.Addr(), "sensor-centre")
	base := time.Now().UnixMilli()
	// Warm-up on device 0 until a reading is stored: then the gateway is
	// subscribed locally and its uplink carries batches.
	warm := 0
	stored := fmt.Sprintf(`SELECT count(value) FROM temperature WHERE facility = '%s' AND device = 'dev-0'`, facility)
	if !poll(60*time.Second, func() bool {
		s.temperature(0, base+int64(warm), 20)
		s.flush()
		warm++
		n, err := inf.Count(context.Background(), db, stored)
		return err == nil && n > 0
	}) {
		t.Fatal("no reading reached InfluxDB through the centre's broker")
	}
	const n = 200
	for i := range n {
		s.temperature(1, base+int64(i), 21)
	}
	s.flush()
	q := fmt.Sprintf(`SELECT count(value) FROM temperature WHERE facility = '%s' AND device = 'dev-1'`, facility)
	if got := waitCount(t, inf, q, n, 60*time.Second); got != n {
		t.Fatalf("stored %d of %d readings sent through the centre's broker", got, n)
	}

	// The front door on its own account: a county's list gathers every
	// shard's answer over the query topic, and a command about one alert
	// goes to its owner's command topic and is answered.
	d.consoleLogin = &mqttx.Config{ClientID: centrebroker.ConsoleClientID(0), Username: centrebroker.ConsoleUser(0), Password: passwords[centrebroker.ConsoleUser(0)]}
	front := d.startFrontDoor(central.PlainAddr, inf.URL(), facDir, filepath.Join("..", "configs", "rules.yaml"))
	county := front.account("chaoyang-wjw", authn.Grant{Role: access.RoleCounty, Region: model.MustRegionCode("110105")}, true)
	county.waitAllShards()
	missing := "0123456789abcdef"
	if code, body := county.do("GET", "/api/v1/alerts/"+missing+"?facility="+facility, nil, nil); code != http.StatusNotFound {
		t.Errorf("the county asks for an alert that does not exist: %d %s, want 404 (answered by its owner)", code, body)
	}
	if code, body := county.do("POST", "/api/v1/alerts/"+missing+"/ack?facility="+facility, console.AckJSON{Comment: "核实"}, nil); code != http.StatusNotFound {
		t.Errorf("the county acknowledges an alert that does not exist: %d %s, want 404 (answered by its owner)", code, body)
	}
	for _, kind := range []string{"list_alerts", "get_alert", "ack"} {
		if got := metric(t, alert.url("/metrics"), "cw_ctl_commands_total", `kind="`+kind+`"`); got < 1 {
			t.Errorf("alerting-0 answered %v %s commands, want at least one", got, kind)
		}
	}
	for _, action := range []string{centrebroker.ActionPublish, centrebroker.ActionSubscribe, centrebroker.ActionConnect, centrebroker.ActionWill} {
		if got := testenv.Metric(t, central.Metrics, "cw_broker_denied_total", "action", action); got != 0 {
			t.Errorf("the broker refused %v %s(s) of the services and the gateway", got, action)
		}
	}
}
