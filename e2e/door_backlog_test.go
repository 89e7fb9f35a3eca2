package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/internal/testenv"
)

// TestDoorDuringUplinkOutageSendsNothing is issue 11's door, with the real
// gateway: the gateway's path to the centre is cut at night while a door
// opens and closes among a few hundred other readings; when the path is
// mended, the gateway sends live readings first and the outage's readings
// as a backlog in many small batches. The alerting service records the
// door's alert (it fired and resolved, in event time) and notifies nobody:
// the door was opened and closed again before anybody could have been
// told, and the operator must not be paged about it afterwards, nor the
// street office ten minutes later.
func TestDoorDuringUplinkOutageSendsNothing(t *testing.T) {
	local := testenv.Mosquitto(t)
	central := testenv.Mosquitto(t)
	inf := testenv.Influx(t)
	dir := t.TempDir()
	const (
		facility, gw = "110105001-0501", "gw-0501"
		sensors      = 20
	)
	facDir := filepath.Join(dir, "facilities")
	if err := os.MkdirAll(facDir, 0o750); err != nil {
		t.Fatal(err)
	}
	fac := writeFile(t, facDir, facility+".yaml", facilityDoorsYAML(facility, "110105001", gw, sensors, 1))
	// It is 22:xx in the facility's zone: closed, so an opened door is the
	// critical door_open_after_hours at once.
	zone, _ := eveningZone(time.Now())
	rulesFile := writeRulesOverlay(t, dir, fmt.Sprintf("    %q:\n      time_zone: %s\n", facility, zone))

	startCollector(t, central.Addr(), inf, "collector-door", facDir)
	sms := &capture{}
	everyone := notify.Policy{Steps: []notify.Step{
		{Name: "operator", Targets: []notify.Target{notify.TargetOperator}},
		{Name: "street", After: 10 * time.Second, Targets: []notify.Target{notify.TargetStreet}},
	}}
	street := map[string][]notify.Contact{"110105001": {{ID: "street", Name: "街道", Phone: "13900000501"}}}
	acfg := alertingConfig(central.Addr(), inf, facDir, rulesFile, filepath.Join(dir, "alerting"),
		notifyConfig(filepath.Join(dir, "notify"), map[string]notify.Policy{"info": everyone, "warning": everyone, "critical": everyone}, street))
	al := startAlerting(t, acfg, sms)

	// The gateway reaches the centre through a path the test can cut; small
	// batches and a low lane threshold, so the outage's readings become a
	// backlog of many batches.
	path := newCuttablePath(t, central.Addr())
	conf := gatewayConf{id: gw, facilityFile: fac, local: local.Addr(), uplink: path.Addr(), spoolDir: filepath.Join(dir, "spool")}.yaml()
	conf = strings.Replace(conf, "  ack_timeout: 2s\n", "  ack_timeout: 2s\n  max_batch: 20\n  lanes: {backlog_batches: 2}\n", 1)
	g := startGatewayProcess(t, writeFile(t, dir, "gateway.yaml", conf))
	s := newFastSensor(t, local.Addr(), "sensor-door")

	// Warm-up: the door is closed and the path to InfluxDB works.
	q := fmt.Sprintf(`SELECT count(value) FROM door WHERE facility = '%s'`, facility)
	if !poll(60*time.Second, func() bool {
		s.door(0, time.Now().UnixMilli(), 0)
		s.flush()
		n, err := inf.Count(t.Context(), db, q)
		return err == nil && n > 0
	}) {
		t.Fatalf("no door reading reached InfluxDB; gateway output:\n%s", g.output())
	}

	path.cut()
	start := time.Now()
	ms := func() int64 { return time.Now().UnixMilli() }
	for i := 0; i < 10; i++ {
		for d := 0; d < sensors; d++ {
			s.temperature(d, ms()+int64(d), 21)
		}
	}
	s.door(0, ms(), 1)
	for i := 0; i < 10; i++ {
		for d := 0; d < sensors; d++ {
			s.temperature(d, ms()+int64(d), 21.5)
		}
	}
	s.door(0, ms(), 0)
	for i := 0; i < 5; i++ {
		for d := 0; d < sensors; d++ {
			s.temperature(d, ms()+int64(d), 22)
		}
	}
	s.flush()
	// A few seconds of outage: the gateway's lost link is held
	// (gateway_offline's hold, 10 s) rather than paged.
	time.Sleep(3*time.Second - time.Since(start))
	path.mend()

	// Everything reaches InfluxDB, and the door's alert is in the alerting
	// service's history: it fired and resolved, in event time.
	want := int64(1 + 2) // the warm-up's closed reading(s) counted below
	if n := waitCount(t, inf, q, want, 120*time.Second); n < want {
		t.Fatalf("door readings in InfluxDB: %d, want at least %d; gateway output:\n%s", n, want, g.output())
	}
	stateDir := filepath.Join(dir, "alerting")
	var hist []rules.Transition
	if !poll(60*time.Second, func() bool {
		hist = alertHistory(t, stateDir, "door_open_after_hours", facility, "room-1", "door-0")
		return len(hist) > 0 && hist[len(hist)-1].To == rules.Resolved
	}) {
		t.Fatalf("the door's alert did not fire and resolve in the service's history: %+v", hist)
	}
	fired := false
	for _, tr := range hist {
		fired = fired || tr.To == rules.Firing
		if tr.Notify {
			t.Errorf("a transition of the outage's door was to be announced: %+v", tr)
		}
	}
	if !fired {
		t.Errorf("the door's alert never fired: %+v", hist)
	}
	if n := metric(t, al.url("/metrics"), "cw_alerting_batches_total", `lane="backlog"`); n < 2 {
		t.Errorf("%v backlog batches reached the alerting service: the test did not exercise a backlog in several batches", n)
	}
	// Past the street step's 10 s: nobody was told, then or later.
	quietFor(sms, 12*time.Second)
	if got := sms.matching(func(m sent) bool { return m.covers(facility, "door_open_after_hours") }); len(got) != 0 {
		t.Fatalf("the outage's door was announced:\n%s", sms.dump())
	}
}
