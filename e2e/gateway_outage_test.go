package e2e

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/internal/testenv"
	"github.com/cradlewatch/cradlewatch/model"
)

// TestGatewayCentreUnreachableForAnHour keeps the central broker down while
// the facility's sensors report an hour of readings, checks the backlog is
// on the gateway's disk, then brings the centre back: every reading reaches
// InfluxDB, and each device's backlog arrives in measurement order.
func TestGatewayCentreUnreachableForAnHour(t *testing.T) {
	local := testenv.Mosquitto(t)
	central := testenv.Mosquitto(t)
	inf := testenv.Influx(t)
	dir := t.TempDir()
	const (
		facility, gw     = "110105001-0001", "gw-outage"
		devices, perDev  = 20, 180 // one reading every 20 s per device for an hour
		step             = 20 * time.Second
		liveDev, liveOne = devices, 3 // live readings after the reconnect, per device
	)
	// The gateway replaces device times more than an hour from its clock,
	// so the hour ends a few minutes after now (the collector accepts up to
	// five minutes ahead) and the warm-up minute lies just before it.
	base := time.Now().Add(-57 * time.Minute).UnixMilli()
	warmBase := base - time.Minute.Milliseconds()
	liveBase := base + perDev*step.Milliseconds()

	// The observer's persistent session exists before the outage, so the
	// central broker queues every batch for it from the first one on.
	obs := newCentreObserver(t, central.Addr(), facility, gw)
	central.Stop()

	fac := writeFile(t, dir, "facility.yaml", facilityYAML(facility, "110105001", gw, devices))
	spoolDir := filepath.Join(dir, "spool")
	conf := writeFile(t, dir, "gateway.yaml", gatewayConf{id: gw, facilityFile: fac, local: local.Addr(),
		uplink: central.Addr(), spoolDir: spoolDir}.yaml())
	g := startGatewayProcess(t, conf)
	s := newFastSensor(t, local.Addr(), "sensor-outage")

	// Warm-up: only once a reading is on disk has the gateway subscribed at
	// the local broker; earlier messages had no session to queue them.
	warm := 0
	if !poll(60*time.Second, func() bool {
		s.temperature(0, warmBase+int64(warm), 20)
		s.flush()
		warm++
		return inspectSpool(t, spoolDir, warmBase).readings > 0
	}) {
		t.Fatalf("no reading reached the spool within a minute; gateway output:\n%s", g.output())
	}

	for j := 0; j < perDev; j++ {
		for d := 0; d < devices; d++ {
			s.temperature(d, base+int64(j)*step.Milliseconds()+int64(d)*10, 18+float64((j+d)%100)/10)
		}
	}
	if acked := s.flush() - warm; acked != devices*perDev {
		t.Fatalf("the local broker acknowledged %d of %d readings", acked, devices*perDev)
	}
	var onDisk spoolContents
	if !poll(60*time.Second, func() bool {
		onDisk = inspectSpool(t, spoolDir, base)
		return onDisk.readings >= devices*perDev
	}) {
		t.Fatalf("spool holds %d of %d readings while the centre is down; gateway output:\n%s", onDisk.readings, devices*perDev, g.output())
	}
	t.Logf("centre down: spool holds %d readings in %d bytes", onDisk.readings, onDisk.bytes)

	central.Start()
	startCollector(t, central.Addr(), inf, "collector-outage", registryOf(t, fac))
	for k := 0; k < liveOne; k++ {
		for d := 0; d < liveDev; d++ {
			s.temperature(d, liveBase+int64(k*devices+d), 25)
		}
	}
	s.flush()

	want := int64(devices*perDev + liveDev*liveOne)
	q := fmt.Sprintf(`SELECT count(value) FROM temperature WHERE facility = '%s' AND time >= %dms`, facility, base)
	if n := waitCount(t, inf, q, want, 120*time.Second); n != want {
		t.Fatalf("InfluxDB has %d readings after the outage, want %d; gateway output:\n%s", n, want, g.output())
	}

	arrivals, statuses := obs.snapshot()
	checkBacklogOrder(t, arrivals, base, liveBase, devices*perDev)
	var first *model.Status
	for i := range statuses {
		if statuses[i].State == model.GatewayOnline {
			first = &statuses[i]
			break
		}
	}
	if first == nil {
		t.Fatalf("no online status reached the centre (%d statuses)", len(statuses))
	}
	if first.SpoolDepth < uint64(devices*perDev) {
		t.Errorf("first status after the outage reports spool_depth %d, want at least the %d readings of the backlog", first.SpoolDepth, devices*perDev)
	}
	t.Logf("first status after reconnect: spool_depth %d, spool_bytes %d, oldest_unsent_ms %d (backlog starts %d)",
		first.SpoolDepth, first.SpoolBytes, first.OldestMs, warmBase)
}

// checkBacklogOrder checks that each device's backlog readings (times in
// [from, to)) first arrived at the centre in non-decreasing measurement
// time. Resends repeat earlier readings later, so only a reading's first
// arrival counts; live readings are outside [from, to) and may overtake the
// backlog by design.
func checkBacklogOrder(t *testing.T, arrivals []arrival, from, to int64, want int) {
	t.Helper()
	seen := map[arrival]bool{}
	last := map[string]int64{}
	n := 0
	for i, a := range arrivals {
		if a.ms < from || a.ms >= to || seen[a] {
			continue
		}
		seen[a] = true
		n++
		if prev, ok := last[a.device]; ok && a.ms < prev {
			t.Errorf("device %s: backlog reading of %d arrived (arrival %d) after one of %d", a.device, a.ms, i, prev)
		}
		last[a.device] = a.ms
	}
	if n != want {
		t.Errorf("the observer saw %d distinct backlog readings, want %d", n, want)
	}
}
