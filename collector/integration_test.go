package collector_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/collector"
	"github.com/cradlewatch/cradlewatch/internal/fileutil"
	"github.com/cradlewatch/cradlewatch/internal/influxd"
	"github.com/cradlewatch/cradlewatch/internal/mqttx"
	"github.com/cradlewatch/cradlewatch/internal/testenv"
	"github.com/cradlewatch/cradlewatch/model"
)

const db = "cradlewatch"

// fakeGateway publishes hand-made batches and records the acks, as a
// gateway would; it lets a test send what no honest gateway sends.
type fakeGateway struct {
	t        *testing.T
	c        mqtt.Client
	facility string
	gateway  string
	mu       sync.Mutex
	acks     map[uint64]model.Ack
}

func newFakeGateway(t *testing.T, broker, facility, gateway string) *fakeGateway {
	g := &fakeGateway{t: t, facility: facility, gateway: gateway, acks: map[uint64]model.Ack{}}
	// The username is the facility and the client ID the gateway, as the
	// broker's ACL pattern binds them; any password passes a broker
	// without a password file.
	o := mqtt.NewClientOptions().AddBroker(broker).SetClientID(gateway).SetUsername(facility).SetPassword(testPassword)
	o.SetOnConnectHandler(func(c mqtt.Client) {
		c.Subscribe(model.Topic(facility, gateway, model.SuffixAck), 1, func(_ mqtt.Client, m mqtt.Message) {
			a, err := model.DecodeAck(m.Payload())
			if err != nil {
				t.Errorf("bad ack: %v", err)
				return
			}
			g.mu.Lock()
			g.acks[a.First] = a
			g.mu.Unlock()
		}).WaitTimeout(5 * time.Second)
	})
	g.c = mqtt.NewClient(o)
	if tok := g.c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	t.Cleanup(func() { g.c.Disconnect(100) })
	return g
}

// send publishes b on the topic of topicFacility.
func (g *fakeGateway) send(topicFacility string, b *model.Batch) {
	tok := g.c.Publish(model.Topic(topicFacility, g.gateway, model.SuffixBatch), 1, false, model.EncodeBatch(nil, b))
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		g.t.Fatalf("publish: %v", tok.Error())
	}
}

// sendUntilAck publishes b and, like a real gateway, publishes it again
// every second until its ack arrives (the collector may still be
// subscribing when the test starts).
func (g *fakeGateway) sendUntilAck(topicFacility string, b *model.Batch, within time.Duration) (model.Ack, bool) {
	end := time.Now().Add(within)
	for time.Now().Before(end) {
		g.send(topicFacility, b)
		for i := 0; i < 50; i++ {
			g.mu.Lock()
			a, ok := g.acks[b.First]
			g.mu.Unlock()
			if ok {
				return a, true
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return model.Ack{}, false
}

// testPassword is every test client's password.
const testPassword = "pw"

// startCollector runs a collector over the registry folder facilities until
// the test ends.
func startCollector(t *testing.T, broker string, inf *influxd.Server, facilities string) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	cfg := collector.DefaultConfig()
	cfg.MQTT = mqttx.Config{Broker: broker, ClientID: "collector-test", Username: "collector", Password: testPassword}
	cfg.Registry.Dir = facilities
	cfg.Registry.PollInterval = 20 * time.Millisecond
	cfg.Influx.URL = inf.URL()
	cfg.Influx.CreateDatabase = true
	cfg.Ingest.RetryMax = time.Second
	cfg.HTTP.Listen = ""
	c, err := collector.New(collector.Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; c.Close() })
	return reg
}

// writeRegistry writes facility files (name → YAML) into a fresh folder,
// each atomically, and returns the folder.
func writeRegistry(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		writeAtomic(t, filepath.Join(dir, name), body)
	}
	return dir
}

func writeAtomic(t *testing.T, path, body string) {
	t.Helper()
	if err := fileutil.WriteFileAtomic(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func counter(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// TestTenantSafety: a gateway publishing readings for another facility
// gets all of them rejected and counted; identifiers that try to inject
// tags, fields or points are rejected; string fields are stored literally.
func TestTenantSafety(t *testing.T) {
	broker := testenv.Mosquitto(t)
	inf := testenv.Influx(t)
	reg := startCollector(t, broker.Addr(), inf, writeRegistry(t, map[string]string{
		"0001.yaml": `facility: {id: "110105001-0001", name: 园, region: "110105001"}
gateways: [gw-1]
rooms: [{id: r1, name: 乳儿班, type: infant}]
devices:
  - {id: ok-1, room: r1, source: s, address: a1}
  - {id: ok-2, room: r1, source: s, address: a2}
  - {id: ok-dev, room: r1, source: s, address: a3}
`,
		"0002.yaml": `facility: {id: "110105001-0002", name: 园2, region: "110105001"}
gateways: [gw-2]
rooms: [{id: r1, name: 乳儿班, type: infant}]
devices: [{id: th-1, room: r1, source: s, address: a1}]
`}))
	g := newFakeGateway(t, broker.Addr(), "110105001-0001", "gw-1")
	now := time.Now()

	// Readings of facility 0002 sent on facility 0001's topic.
	foreign := &model.Batch{Gateway: "gw-1", Facility: "110105001-0002", Region: "110105001", First: 1, Sent: now}
	for i := 0; i < 50; i++ {
		foreign.Readings = append(foreign.Readings, model.Reading{Device: "th-1", Room: "r1", Kind: model.KindTemperature,
			Time: now.Add(time.Duration(i) * time.Millisecond), Value: 22})
	}
	a, ok := g.sendUntilAck("110105001-0001", foreign, 30*time.Second)
	if !ok || a.Status != model.AckRejected || a.Rejected != 50 {
		t.Fatalf("ack %+v (received %v), want rejected 50", a, ok)
	}
	if n := counter(t, reg, "cw_collector_readings_rejected_total", map[string]string{"reason": "facility_mismatch"}); n < 50 || int(n)%50 != 0 {
		t.Fatalf("facility_mismatch rejections %v, want 50 per send", n)
	}

	// Injection attempts: identifiers with separators are refused; the gap's
	// device list is a string field and is stored literally.
	hostile := []string{`x,facility=110105001-0002`, "x value=1 1\nco2,facility=other value=9", `x" value=1`, "x y", `x=y`}
	evil := &model.Batch{Gateway: "gw-1", Facility: "110105001-0001", Region: "110105001", First: 100, Sent: now,
		Readings: []model.Reading{{Device: "ok-1", Room: "r1", Kind: model.KindCO2, Time: now, Value: 800}},
		Gaps:     []model.Gap{{From: now.Add(-time.Hour), To: now, Count: 3, Devices: []string{`a"b`, "ok-dev", "c\nd", `e,f=g h`}}}}
	for i, h := range hostile {
		evil.Readings = append(evil.Readings,
			model.Reading{Device: h, Room: "r1", Kind: model.KindCO2, Time: now.Add(time.Duration(i+1) * time.Millisecond), Value: 900},
			model.Reading{Device: "ok-2", Room: h, Kind: model.KindCO2, Time: now.Add(time.Duration(i+1) * time.Millisecond), Value: 900})
	}
	a, ok = g.sendUntilAck("110105001-0001", evil, 30*time.Second)
	if !ok || a.Status != model.AckStored || a.Rejected != uint64(2*len(hostile)) {
		t.Fatalf("ack %+v (received %v), want stored with %d rejected", a, ok, 2*len(hostile))
	}
	ctx := context.Background()
	res, err := inf.Query(ctx, db, "SHOW SERIES")
	if err != nil {
		t.Fatal(err)
	}
	var series []string
	for _, s := range res {
		for _, v := range s.Values {
			series = append(series, fmt.Sprint(v[0]))
		}
	}
	joined := strings.Join(series, "\n")
	if strings.Contains(joined, "110105001-0002") || strings.Contains(joined, "other") || len(series) != 2 {
		t.Fatalf("series after hostile input:\n%s\nwant exactly the co2 of ok-1 and the gap", joined)
	}
	res, err = inf.Query(ctx, db, "SELECT devices FROM gap")
	if err != nil || len(res) != 1 || res[0].Values[0][1] != "ok-dev" {
		t.Fatalf("gap devices: want only the valid device ok-dev: %+v %v", res, err)
	}
	if n, _ := inf.Count(ctx, db, "SELECT count(value) FROM co2"); n != 1 {
		t.Fatalf("co2 points %d, want 1", n)
	}
}
