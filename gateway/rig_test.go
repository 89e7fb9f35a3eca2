package gateway

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/gateway/spool"
	"github.com/cradlewatch/cradlewatch/internal/embedbroker"
	"github.com/cradlewatch/cradlewatch/internal/mqttx"
	"github.com/cradlewatch/cradlewatch/model"
)

// rig builds gateways for the tests of this package: a facility with
// Zigbee2MQTT sensors th-0.. (temperature, no device time) and door
// contacts door-0.., a spool in a temporary directory, no HTTP server.
type rig struct {
	t      *testing.T
	dir    string
	cfg    Config
	centre *embedbroker.Broker // the uplink's broker; nobody acknowledges unless a test does
}

func newRig(t *testing.T, sensors, doors int) *rig {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("facility: {id: f-1, name: 测试园, region: \"110105001\"}\nrooms: [{id: r1, name: 乳儿班, type: infant}]\ndevices:\n")
	for i := range sensors {
		fmt.Fprintf(&b, "  - {id: th-%d, room: r1, source: zigbee2mqtt, address: \"th-%d\", kinds: [temperature]}\n", i, i)
	}
	for i := range doors {
		fmt.Fprintf(&b, "  - {id: door-%d, room: r1, source: zigbee2mqtt, address: \"door-%d\", kinds: [door]}\n", i, i)
	}
	fac := filepath.Join(dir, "facility.yaml")
	if err := os.WriteFile(fac, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Gateway, cfg.FacilityFile, cfg.HTTP.Listen = "gw-1", fac, ""
	cfg.Spool.Dir = filepath.Join(dir, "spool")
	cfg.Spool.CommitInterval = 5 * time.Millisecond
	cfg.Sources = []map[string]any{{"family": "zigbee2mqtt", "base_topic": "zigbee2mqtt"}}
	centre, err := embedbroker.Start(embedbroker.Config{Listen: "127.0.0.1:0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { centre.Close() }) // after the gateways (cleanups run last in, first out)
	cfg.Uplink.MQTT = mqttx.Config{Broker: centre.Addr(), Username: "f-1"}
	cfg.Uplink.AckTimeout = 2 * time.Second
	return &rig{t: t, dir: dir, cfg: cfg, centre: centre}
}

// embedded makes the gateway run its local broker on a free port.
func (r *rig) embedded() *rig {
	r.cfg.Local.Embedded = embedbroker.Config{Enabled: true, Listen: "127.0.0.1:0"}
	return r
}

// gateway builds a gateway; Options fields the test sets win.
func (r *rig) gateway(o Options) (*Gateway, *prometheus.Registry) {
	r.t.Helper()
	reg := prometheus.NewRegistry()
	if o.Config.Gateway == "" {
		o.Config = r.cfg
	}
	o.Logger, o.Registerer = testLogger(), reg
	g, err := New(o)
	if err != nil {
		r.t.Fatal(err)
	}
	return g, reg
}

// run runs g until the returned stop is called (or the test ends).
func run(t *testing.T, g *Gateway) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); g.Run(ctx) }()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	return stop
}

// z2m is a Zigbee2MQTT state message of sensor th-<dev> (no device time).
func z2m(dev int, temperature float64) (topic string, payload []byte) {
	return fmt.Sprintf("zigbee2mqtt/th-%d", dev), fmt.Appendf(nil, `{"temperature":%.2f,"linkquality":120}`, temperature)
}

// doorMsg is a Zigbee2MQTT contact sensor's state: contact true = closed.
func doorMsg(dev int, open bool) (topic string, payload []byte) {
	return fmt.Sprintf("zigbee2mqtt/door-%d", dev), fmt.Appendf(nil, `{"contact":%v,"battery":90}`, !open)
}

// spoolReadings opens the spool directory with the ordinary file layer, as
// a box does after a restart, and returns its readings and the registry
// of that spool's metrics.
func spoolReadings(t *testing.T, dir string) ([]model.Reading, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	sp, err := spool.Open(spool.Options{Dir: dir, Registerer: reg})
	if err != nil {
		t.Fatalf("spool does not open: %v", err)
	}
	defer sp.Close()
	recs, err := sp.Read(0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []model.Reading
	for _, rec := range recs {
		var r model.Reading
		if model.EntryType(rec.Data) == model.EntryReading && model.DecodeReadingEntry(rec.Data, &r) == nil {
			out = append(out, r)
		}
	}
	return out, reg
}
