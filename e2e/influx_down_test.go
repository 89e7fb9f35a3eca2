package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/internal/testenv"
)

// Timeline of TestCollectorSurvivesInfluxDown.
const (
	influxDownAfter = 20 * time.Second // steady load before the kill
	influxDownFor   = 2 * time.Minute  // InfluxDB away
	influxDownTail  = 20 * time.Second // load after the restart
	influxDownRate  = 50               // readings per second
	influxDownTick  = 100 * time.Millisecond
	influxDownDevs  = 10
)

// TestCollectorSurvivesInfluxDown kills InfluxDB for two minutes while
// sensors publish steadily, then restarts it: every reading the local
// broker acknowledged is in InfluxDB exactly once.
//
// It takes about three minutes on purpose: two minutes is longer than the
// collector's retry back-off and the gateway's resend back-off reach, and
// longer than the InfluxDB client's own retry window (PITFALLS.md), so a
// component that gives up after a while is caught. It runs in the normal
// suite (skipped under -short like every test on real services).
func TestCollectorSurvivesInfluxDown(t *testing.T) {
	broker := testenv.Mosquitto(t)
	inf := testenv.Influx(t)
	dir := t.TempDir()
	const facility = "110105001-0003"
	fac := writeFile(t, dir, "facility.yaml", facilityYAML(facility, "110105001", "gw-influx", influxDownDevs))
	conf := writeFile(t, dir, "gateway.yaml", gatewayYAML("gw-influx", fac, broker.Addr(), filepath.Join(dir, "spool")))
	startCollector(t, broker.Addr(), inf, "collector-influx", registryOf(t, fac))
	gw := startGatewayProcess(t, conf)
	s := newSensor(t, broker.Addr())
	warmup(t, s, inf, gw, facility)
	s.base += warmupSpan // counted readings start after the warm-up's
	base := s.base

	// The publisher runs on this goroutine, paced by a ticker; the kill
	// and the restart happen between ticks at fixed offsets, and testenv
	// requires them on the test goroutine anyway.
	perTick := influxDownRate * int(influxDownTick) / int(time.Second)
	acked := make([]int64, influxDownDevs) // per device
	var published, total int64
	start := time.Now()
	killAt, restartAt, endAt := influxDownAfter, influxDownAfter+influxDownFor, influxDownAfter+influxDownFor+influxDownTail
	killed, restarted := false, false
	tick := time.NewTicker(influxDownTick)
	defer tick.Stop()
	for range tick.C {
		el := time.Since(start)
		switch {
		case el >= endAt:
		case !killed && el >= killAt:
			inf.Kill()
			killed = true
			t.Logf("influxd killed after %d readings", published)
		case !restarted && el >= restartAt:
			if err := inf.Restart(context.Background()); err != nil {
				t.Fatalf("restart influxd: %v", err)
			}
			restarted = true
			t.Logf("influxd restarted after %d readings", published)
		}
		if el >= endAt {
			break
		}
		for k := 0; k < perTick; k++ {
			i := int(published)
			if s.publish(i, influxDownDevs) {
				acked[i%influxDownDevs]++
				total++
			}
			published++
		}
	}
	q := fmt.Sprintf(`SELECT count(value) FROM temperature WHERE facility = '%s' AND time >= %dms`, facility, base)
	n := waitCount(t, inf, q, total, 60*time.Second)
	t.Logf("published %d, acknowledged by the broker %d, in InfluxDB %d", published, total, n)
	if n != total {
		t.Fatalf("InfluxDB has %d readings, the broker acknowledged %d\ngateway output:\n%s", n, total, gw.output())
	}
	// One point per acknowledged reading and device: every reading has its
	// own timestamp, so a duplicate would have merged and a loss shows.
	res, err := inf.Query(context.Background(), db, q+" GROUP BY device")
	if err != nil {
		t.Fatal(err)
	}
	for _, ser := range res {
		var dev int
		fmt.Sscanf(ser.Tags["device"], "dev-%d", &dev)
		got, _ := ser.Values[0][1].(interface{ Int64() (int64, error) }).Int64()
		if got != acked[dev] {
			t.Errorf("device %s: %d readings in InfluxDB, %d acknowledged", ser.Tags["device"], got, acked[dev])
		}
	}
}
