package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/internal/influxd"
	"github.com/cradlewatch/cradlewatch/internal/testenv"
	"github.com/cradlewatch/cradlewatch/model"
)

// TestGatewaySpoolFullDropsByPolicy fills a small spool while the centre is
// down, with periodic temperatures and door changes, then brings the centre
// back. The drop policy must have held: every door change arrives, the
// temperatures missing are the oldest ones, and a gap in InfluxDB accounts
// for exactly the missing readings, as does the gateway's status.
func TestGatewaySpoolFullDropsByPolicy(t *testing.T) {
	local := testenv.Mosquitto(t)
	central := testenv.Mosquitto(t)
	inf := testenv.Influx(t)
	central.Stop()
	dir := t.TempDir()
	const (
		facility, gw   = "110105001-0002", "gw-full"
		sensors, doors = 20, 4
		// The smallest spool the gateway accepts (1 MiB, 16 segments of
		// 64 KiB) holds about 25,000 readings; 40,000 overflow it.
		periodic  = 40000
		doorEvery = 100
	)
	fac := writeFile(t, dir, "facility.yaml", facilityDoorsYAML(facility, "110105001", gw, sensors, doors))
	spoolDir := filepath.Join(dir, "spool")
	conf := writeFile(t, dir, "gateway.yaml", gatewayConf{id: gw, facilityFile: fac, local: local.Addr(),
		uplink: central.Addr(), spoolDir: spoolDir, maxBytes: 1 << 20, segment: 64 << 10}.yaml())
	g, reg := inProcessGateway(t, conf)
	s := newFastSensor(t, local.Addr(), "sensor-full")

	// Every message gets the next millisecond, so publish order is time
	// order and "oldest first" can be checked on times alone.
	base := time.Now().Add(-10 * time.Minute).UnixMilli()
	next := base
	var temps []int64 // times of the periodic readings, in publish order
	doorsSent := 0
	// Warm-up with door changes before base: the drop policy keeps them, so
	// they do not disturb the accounting of what was dropped.
	warm := 0
	if !poll(60*time.Second, func() bool {
		s.door(0, base-1000+int64(warm), warm%2)
		s.flush()
		warm++
		return metricSum(t, reg, "cw_gateway_readings_accepted_total") > 0
	}) {
		t.Fatal("no reading reached the gateway within a minute")
	}
	for i := 0; i < periodic; i++ {
		if i%doorEvery == doorEvery-1 {
			s.door(doorsSent%doors, next, doorsSent%2)
			doorsSent++
		} else {
			temps = append(temps, next)
			s.temperature(i%sensors, next, 18+float64(i%100)/10)
		}
		next++
	}
	published := periodic
	if acked := s.flush() - warm; acked != published {
		t.Fatalf("the local broker acknowledged %d of %d messages", acked, published)
	}

	// Settled: the gateway took every message, and what is not on disk was
	// dropped and recorded in gap entries.
	var onDisk spoolContents
	var dropped uint64
	settled := poll(60*time.Second, func() bool {
		dropped = g.Status(model.GatewayOnline, false).Dropped
		onDisk = inspectSpool(t, spoolDir, base)
		return onDisk.readings+int(dropped) == published && onDisk.gapCount == int(dropped)
	})
	if !settled {
		t.Fatalf("spool did not settle: %d readings on disk + %d dropped != %d published, gap entries on disk count %d",
			onDisk.readings, dropped, published, onDisk.gapCount)
	}
	if dropped == 0 {
		t.Fatalf("nothing was dropped: %d readings fit in the spool (%d bytes); the test needs more", onDisk.readings, onDisk.bytes)
	}
	t.Logf("centre down: %d published, %d on disk in %d bytes, %d dropped, %d gap entries", published, onDisk.readings, onDisk.bytes, dropped, onDisk.gaps)

	central.Start()
	startCollector(t, central.Addr(), inf, "collector-full", registryOf(t, fac))
	where := fmt.Sprintf(`facility = '%s' AND time >= %dms`, facility, base)
	// Every temperature ends stored or dropped. The count of dropped ones
	// is read again with the stored ones: the spool at its limit may drop
	// once more after the state above looked settled (seen on a fresh
	// clone: one more segment, after the ninth gap entry was written,
	// recorded by a tenth).
	var stored int64
	if !poll(120*time.Second, func() bool {
		dropped = g.Status(model.GatewayOnline, false).Dropped
		n, err := inf.Count(context.Background(), db, `SELECT count(value) FROM temperature WHERE `+where)
		stored = n
		return err == nil && n+int64(dropped) == int64(len(temps))
	}) {
		t.Fatalf("InfluxDB has %d temperatures, the gateway dropped %d: %d published", stored, dropped, len(temps))
	}
	if n := waitCount(t, inf, `SELECT count(value) FROM door WHERE `+where, int64(doorsSent), 30*time.Second); n != int64(doorsSent) {
		t.Errorf("InfluxDB has %d door changes, want all %d: state readings must outlive periodic ones", n, doorsSent)
	}

	// Oldest first: the missing temperatures are exactly the oldest ones.
	storedAt := pointTimes(t, inf, `SELECT value FROM temperature WHERE `+where)
	var missing []int64
	missingDevs := map[string]bool{}
	for _, ms := range temps {
		if _, ok := storedAt[ms]; !ok {
			missing = append(missing, ms)
			missingDevs[fmt.Sprintf("dev-%d", (ms-base)%sensors)] = true
		}
	}
	if len(missing) != int(dropped) {
		t.Errorf("%d temperatures missing, the gateway dropped %d", len(missing), dropped)
	}
	if len(missing) > 0 && missing[len(missing)-1] != temps[len(missing)-1] {
		t.Errorf("missing temperatures are not the oldest: %d missing, the newest missing is %d, the %dth oldest is %d",
			len(missing), missing[len(missing)-1], len(missing), temps[len(missing)-1])
	}

	// The gap: count, from, to and devices add up to what is missing.
	gapSum := `SELECT sum("count") FROM gap WHERE facility = '` + facility + `'`
	if n := waitCount(t, inf, gapSum, int64(len(missing)), 30*time.Second); n != int64(len(missing)) {
		t.Errorf("gap measurement counts %d dropped readings, %d are missing", n, len(missing))
	}
	checkGaps(t, inf, facility, missing, missingDevs)

	// The status the centre stores reports the same number.
	q := `SELECT last(dropped) FROM gateway_status WHERE facility = '` + facility + `'`
	if n := waitCount(t, inf, q, int64(len(missing)), 30*time.Second); n != int64(len(missing)) {
		t.Errorf("gateway_status.dropped is %d, %d readings are missing", n, len(missing))
	}
}

// checkGaps compares the gap points with the missing readings: the oldest
// from_ms and newest to_ms bound them, and the devices are those that lost
// readings.
func checkGaps(t *testing.T, inf *influxd.Server, facility string, missing []int64, devs map[string]bool) {
	t.Helper()
	if len(missing) == 0 {
		return
	}
	res, err := inf.Query(context.Background(), db, `SELECT from_ms, to_ms, devices FROM gap WHERE facility = '`+facility+`'`)
	if err != nil {
		t.Fatalf("query gaps: %v", err)
	}
	from, to := int64(math.MaxInt64), int64(math.MinInt64)
	got := map[string]bool{}
	points := 0
	for _, s := range res {
		cf, ct, cd := s.Column("from_ms"), s.Column("to_ms"), s.Column("devices")
		for _, row := range s.Values {
			points++
			f, _ := row[cf].(json.Number).Float64()
			tt, _ := row[ct].(json.Number).Float64()
			from, to = min(from, int64(f)), max(to, int64(tt))
			if d, ok := row[cd].(string); ok {
				for _, dev := range strings.Split(d, ",") {
					got[dev] = true
				}
			}
		}
	}
	if from != missing[0] || to != missing[len(missing)-1] {
		t.Errorf("gaps (%d points) span [%d, %d], the missing readings [%d, %d]", points, from, to, missing[0], missing[len(missing)-1])
	}
	if !maps.Equal(got, devs) {
		t.Errorf("gaps name devices %v, readings are missing from %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(devs)))
	}
}
