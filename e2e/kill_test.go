package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/cradlewatch/cradlewatch/internal/testenv"
)

// sensor publishes test readings to the local broker as a device would,
// QoS 1, and counts the ones the broker acknowledged.
type sensor struct {
	c     mqtt.Client
	acked atomic.Int64
	base  int64
}

func newSensor(t *testing.T, broker string) *sensor {
	o := mqtt.NewClientOptions().AddBroker(broker).SetClientID("sensor-sim").SetAutoReconnect(true)
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("sensor connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return &sensor{c: c, base: time.Now().Add(-10 * time.Minute).UnixMilli()}
}

// publish sends reading i of device i%devices; every i has its own timestamp.
func (s *sensor) publish(i, devices int) bool {
	payload := fmt.Sprintf(`{"v": %.1f, "ts": %d}`, float64(i%300)/10, s.base+int64(i))
	tok := s.c.Publish(fmt.Sprintf("test/d%d/state", i%devices), 1, false, payload)
	if tok.WaitTimeout(10*time.Second) && tok.Error() == nil {
		s.acked.Add(1)
		return true
	}
	return false
}

// TestGatewaySIGKILLLosesNoAcknowledgedReading kills the gateway with
// SIGKILL again and again while a sensor publishes, restarts it each time,
// and then finds in InfluxDB every reading the local broker acknowledged.
// The gateway acknowledges a message to the local broker only after the
// spool fsynced it, and its session there is persistent, so a reading is
// either queued at the broker or on the gateway's disk at every moment.
func TestGatewaySIGKILLLosesNoAcknowledgedReading(t *testing.T) {
	faultsUnderLoad(t, "gw-kill", 8000, 5, "gateway killed", func(_ *testenv.Broker, gw *gatewayProcess) {
		gw.kill()
		gw.start()
	})
}

// faultsUnderLoad runs a gateway process, a collector and a sensor on one
// broker, publishes total readings (20 devices, each reading its own device
// time) and applies fault `faults` times at even intervals meanwhile. It
// then waits for InfluxDB to hold every reading the broker acknowledged to
// the sensor, and fails on a loss or on more readings than were published.
func faultsUnderLoad(t *testing.T, gatewayID string, total, faults int, what string, fault func(*testenv.Broker, *gatewayProcess)) *gatewayProcess {
	t.Helper()
	broker := testenv.Mosquitto(t)
	inf := testenv.Influx(t)
	dir := t.TempDir()
	const facility, devices = "110105001-0001", 20
	fac := writeFile(t, dir, "facility.yaml", facilityYAML(facility, "110105001", gatewayID, devices))
	conf := writeFile(t, dir, "gateway.yaml", gatewayYAML(gatewayID, fac, broker.Addr(), filepath.Join(dir, "spool")))
	startCollector(t, broker.Addr(), inf, "collector-1", registryOf(t, fac))
	gw := startGatewayProcess(t, conf)
	s := newSensor(t, broker.Addr())
	warmup(t, s, inf, gw, facility)
	s.acked.Store(0)
	s.base += warmupSpan
	q := fmt.Sprintf(`SELECT count(value) FROM temperature WHERE facility = '%s' AND time >= %dms`, facility, s.base)

	var wg sync.WaitGroup
	var published atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < total; i++ {
			s.publish(i, devices)
			published.Add(1)
		}
	}()
	for k := 0; k < faults; k++ {
		for published.Load() < int64((k+1)*total/(faults+1)) {
			time.Sleep(5 * time.Millisecond)
		}
		fault(broker, gw)
	}
	wg.Wait()
	acked := s.acked.Load()
	n := waitCount(t, inf, q, acked, 120*time.Second)
	t.Logf("published %d, acknowledged by the broker %d, in InfluxDB %d, %s %d times", published.Load(), acked, n, what, faults)
	if n < acked {
		t.Fatalf("InfluxDB has %d readings, the broker acknowledged %d: %d lost\ngateway output:\n%s", n, acked, acked-n, gw.output())
	}
	if n > published.Load() {
		t.Fatalf("InfluxDB has %d readings, more than the %d published", n, published.Load())
	}
	return gw
}

// warmupSpan is the range of milliseconds warm-up readings use, before the
// readings a test counts.
const warmupSpan = 100000

// warmup publishes until a reading arrives in InfluxDB: only then has the
// gateway subscribed and its persistent session exists at the broker.
// Readings published before that had no subscriber and are not counted.
func warmup(t *testing.T, s *sensor, inf interface {
	Count(ctx context.Context, db, q string) (int64, error)
}, gw *gatewayProcess, facility string) {
	t.Helper()
	q := fmt.Sprintf(`SELECT count(value) FROM temperature WHERE facility = '%s'`, facility)
	for i := 0; i < 120; i++ {
		s.publish(i, 1)
		if n, err := inf.Count(context.Background(), db, q); err == nil && n > 0 {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("no reading arrived in InfluxDB within a minute; gateway output:\n%s", gw.output())
}
