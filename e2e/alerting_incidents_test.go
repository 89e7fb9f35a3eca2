package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
	"github.com/cradlewatch/cradlewatch/internal/testenv"
	"github.com/cradlewatch/cradlewatch/simulator"
)

// incidentRegion is the street of the simulated facilities.
const incidentRegion = "110105001"

// incident is one scripted incident and the alert it must raise.
type incident struct {
	name     string
	facility string
	rule     string
}

// TestAlertingIncidents runs the simulator's scripted incidents through the
// whole system on real Mosquitto and influxd (simulator → gateway →
// Mosquitto → collector and alerting → SMS notifier and InfluxDB) and
// checks that each incident produces exactly one firing and exactly one
// resolved notification, and its alert_event points in InfluxDB.
//
// Zigbee2MQTT messages carry no time (the gateway stamps arrival), so the
// simulator runs in real time, and the test shortens the rules instead:
//
//   - Facility A (0001) gets a time zone in which it is 22:xx right now
//     (Etc/GMT±N chosen from the UTC hour), so its default opening hours
//     (mon-fri 07:30-18:00) are over. Its door opens at the next whole
//     minute there: door_open_after_hours (critical, no `for`) fires at
//     once. co2_early is made always-on with for 5s and resolve_hold 5s,
//     camera_offline gets for 5s and resolve_hold 5s; the camera "goes
//     dark" by reporting online false (mode offline), since a silent
//     camera is only noticed by device_silent after 10 minutes.
//   - Facility B (0002) keeps Asia/Shanghai with opening hours covering the
//     whole week, so it is open now. Its gateway runs as a child process
//     and is SIGKILLed: the broker publishes its last will, gateway_offline
//     fires (critical, as in opening hours) and resolves when the gateway
//     is restarted.
//
// No calendar directory is loaded, so a public holiday cannot close B.
func TestAlertingIncidents(t *testing.T) {
	broker := testenv.Mosquitto(t)
	inf := testenv.Influx(t)
	if err := inf.CreateDatabase(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	zone, loc := eveningZone(time.Now())
	specs := simulator.GenerateFacilities(2, incidentRegion)
	specs[0].Timezone = zone
	specs[0].Gateways, specs[1].Gateways = []string{"gw-a"}, []string{"gw-b"}
	for i := range specs {
		quicken(&specs[i])
	}
	a, b := specs[0].ID, specs[1].ID
	facDir := filepath.Join(dir, "facilities")
	if err := os.MkdirAll(facDir, 0o750); err != nil {
		t.Fatal(err)
	}
	facA := writeSimFacility(t, facDir, specs[0], "+8613800000001")
	facB := writeSimFacility(t, facDir, specs[1], "+8613800000002")
	rules := writeRulesOverlay(t, dir, fmt.Sprintf(`    %q:
      rules:
        co2_early: {when: always, for: 5s, resolve_hold: 5s, severity: warning}
        camera_offline: {for: 5s, resolve_hold: 5s}
    %q:
      hours: ["mon-sun 00:00-24:00"]
`, a, b))
	operatorOnly := notify.Policy{Steps: []notify.Step{{Name: "operator", Targets: []notify.Target{notify.TargetOperator}}}}
	sms := &capture{}
	ncfg := notifyConfig(filepath.Join(dir, "notify"), map[string]notify.Policy{
		"info": operatorOnly, "warning": operatorOnly, "critical": operatorOnly,
	}, nil)
	cfg := alertingConfig(broker.Addr(), inf, facDir, rules, filepath.Join(dir, "alerting"), ncfg)

	startCollector(t, broker.Addr(), inf, "collector-incidents", facDir)
	al := startAlerting(t, cfg, sms)
	startGateway(t, writeFile(t, dir, "gw-a.yaml", simGatewayYAML("gw-a", facA, broker.Addr(), filepath.Join(dir, "spool-a"), zone, "127.0.0.1:0")))
	// The child process serves no HTTP (it has no Gatherer): its readings
	// in InfluxDB show below that it runs.
	gwB := startGatewayProcess(t, writeFile(t, dir, "gw-b.yaml", simGatewayYAML("gw-b", facB, broker.Addr(), filepath.Join(dir, "spool-b"), "Asia/Shanghai", "")))

	doorAt := nextMinute(time.Now().In(loc))
	t.Logf("facility %s in %s (now %s there), door opens at %s; facility %s open all week", a, zone,
		time.Now().In(loc).Format("Mon 15:04:05"), doorAt, b)
	runSimulator(t, broker.Addr(), specs, []simulator.Incident{
		{Type: simulator.IncidentCO2Climb, Facility: a, Room: "infant-1", At: 5 * time.Second,
			Rise: 5 * time.Second, Hold: 20 * time.Second, Fall: 5 * time.Second, Peak: 1700},
		{Type: simulator.IncidentCameraDark, Facility: a, Device: "cam-toddler-1", At: 5 * time.Second,
			Duration: 20 * time.Second, Mode: simulator.CameraOffline},
		{Type: simulator.IncidentDoorNight, Facility: a, Device: "door-entrance-1", Clock: doorAt, Duration: 15 * time.Second},
	})

	// The gateway's last will exists only once it is connected to the
	// centre: its first reading in InfluxDB shows that.
	readingsB := fmt.Sprintf(`SELECT count(value) FROM temperature, co2, door, camera_online WHERE facility = '%s'`, b)
	if n := waitCount(t, inf, readingsB, 1, 60*time.Second); n < 1 {
		t.Fatalf("no reading of facility %s reached InfluxDB; gateway output:\n%s", b, gwB.output())
	}
	gwB.kill()
	if got := sms.waitFor(1, 30*time.Second, of(notify.KindFiring, b, "gateway_offline")); len(got) == 0 {
		t.Fatalf("no gateway_offline notification after SIGKILL; messages:\n%s", sms.dump())
	}
	gwB.start()

	incidents := []incident{
		{"CO2 climbing", a, "co2_early"},
		{"camera dark", a, "camera_offline"},
		{"door opened after hours", a, "door_open_after_hours"},
		{"gateway killed", b, "gateway_offline"},
	}
	for _, in := range incidents {
		if got := sms.waitFor(1, 150*time.Second, of(notify.KindResolved, in.facility, in.rule)); len(got) == 0 {
			t.Fatalf("%s: no resolved notification for %s; messages:\n%s", in.name, in.rule, sms.dump())
		}
	}
	// Every transition is an alert_event point; waiting for them also lets
	// any duplicate notification arrive before the count below.
	for _, in := range incidents {
		for _, state := range []string{"firing", "resolved"} {
			if n := waitCount(t, inf, eventQuery(in.facility, in.rule, state), 1, 30*time.Second); n != 1 {
				t.Errorf("%s: %d alert_event points with state %s in InfluxDB, want 1", in.name, n, state)
			}
		}
	}
	al.stop()

	expected := map[string]bool{}
	for _, in := range incidents {
		expected[in.facility+"/"+in.rule] = true
		op := in.facility + "/op0"
		for _, k := range []notify.Kind{notify.KindFiring, notify.KindResolved} {
			got := sms.matching(of(k, in.facility, in.rule))
			if len(got) != 1 {
				t.Errorf("%s: %d %s notifications, want exactly 1", in.name, len(got), k)
				continue
			}
			if got[0].Msg.To.ID != op {
				t.Errorf("%s: %s notification went to %q, want the operator %q", in.name, k, got[0].Msg.To.ID, op)
			}
		}
	}
	for _, s := range sms.all() {
		for _, x := range s.Msg.Alerts {
			if !expected[x.Facility+"/"+x.Rule] {
				t.Errorf("unexpected notification: %s", s)
			}
		}
	}
	t.Logf("messages:\n%s", sms.dump())
}

// eveningZone returns an Etc/GMT±N zone in which it is 22:xx at now. The
// IANA Etc zones have inverted signs: Etc/GMT+N is UTC−N.
func eveningZone(now time.Time) (string, *time.Location) {
	off := 22 - now.UTC().Hour() // hours east of UTC
	if off > 14 {
		off -= 24
	}
	name := "Etc/GMT"
	switch {
	case off > 0:
		name = fmt.Sprintf("Etc/GMT-%d", off)
	case off < 0:
		name = fmt.Sprintf("Etc/GMT+%d", -off)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		loc = time.FixedZone(name, off*3600)
	}
	return name, loc
}

// nextMinute is the next whole minute after local as "HH:MM", at least ten
// seconds away so that the simulator has started before it.
func nextMinute(local time.Time) string {
	next := local.Truncate(time.Minute).Add(time.Minute)
	if next.Sub(local) < 10*time.Second {
		next = next.Add(time.Minute)
	}
	return next.Format("15:04")
}

// quicken shortens the devices' reporting intervals so that every device is
// heard within seconds: the camera heartbeat carries the dark camera's
// state, the air sensor's periodic report the CO2.
func quicken(f *simulator.FacilitySpec) {
	for i := range f.Devices {
		d := &f.Devices[i]
		switch d.Model {
		case simulator.ModelCamera:
			d.Interval = 5 * time.Second
		case simulator.ModelAir, simulator.ModelTH:
			d.Interval = 10 * time.Second
		}
	}
}

// writeSimFacility writes a simulated facility's file with one operator.
func writeSimFacility(t *testing.T, dir string, f simulator.FacilitySpec, phone string) string {
	t.Helper()
	var b bytes.Buffer
	if err := simulator.WriteFacilityFile(&b, f); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "operators:\n  - {name: 值班老师, phone: %q, role: duty}\n", phone)
	return writeFile(t, dir, f.ID+".yaml", b.String())
}

// simGatewayYAML configures a gateway for the simulator's device families.
func simGatewayYAML(id, facilityFile, broker, spoolDir, zone, httpListen string) string {
	return fmt.Sprintf(`gateway_id: %s
facility_file: %s
local:
  mqtt: {broker: %s, client_id: %s-local}
uplink:
  mqtt: {broker: %s, username: ignored}
  ack_timeout: 2s
  max_ack_timeout: 4s
spool: {dir: %s, commit_interval: 50ms}
sources:
  - {family: zigbee2mqtt, base_topic: zigbee2mqtt}
  - {family: tasmota, prefix: tele, timezone: %s}
  - {family: nvr, topic: "cw/local/camera/+camera/heartbeat"}
status_interval: 2s
http: {listen: %q}
`, id, facilityFile, broker, id, broker, spoolDir, zone, httpListen)
}

// runSimulator publishes the facilities' traffic in real time until the
// test ends.
func runSimulator(t *testing.T, broker string, specs []simulator.FacilitySpec, incidents []simulator.Incident) {
	t.Helper()
	sim, err := simulator.New(simulator.Options{
		BrokerURL: broker, ClientID: "sim-e2e", Facilities: specs, Incidents: incidents, Seed: 1,
		Logger: testLogger(t), Registerer: prometheus.NewRegistry(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); sim.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}
