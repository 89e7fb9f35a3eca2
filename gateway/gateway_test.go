package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/internal/config"
	"github.com/cradlewatch/cradlewatch/internal/embedbroker"
	"github.com/cradlewatch/cradlewatch/internal/mqttx"
	"github.com/cradlewatch/cradlewatch/model"
)

const testFacility = `facility: {id: f-1, name: 测试园, region: "110105001"}
rooms: [{id: r1, name: 乳儿班, type: infant}]
devices:
  - {id: th-1, room: r1, source: zigbee2mqtt, address: "r1/th", kinds: [temperature, humidity]}
  - {id: cam-1, room: r1, source: nvr, address: cam-1, kinds: [camera_online]}
  - {id: th-2, room: r1, source: tasmota, address: th-2, kinds: [temperature]}
  - {id: cam-2, room: r1, source: rtsp, address: "%s", kinds: [camera_online, camera_latency]}
`

// fakeCamera answers RTSP OPTIONS like a camera does, on a loopback port.
func fakeCamera(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 512)
				c.Read(buf)
				c.Write([]byte("RTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: OPTIONS, DESCRIBE\r\n\r\n"))
			}()
		}
	}()
	return ln.Addr().String()
}

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// centre subscribes to the gateway's batches, decodes them and acks them
// as a collector would.
type centre struct {
	mu       sync.Mutex
	readings []model.Reading
	statuses []model.Status
	batches  []model.Batch // every batch received, resends included
}

func startCentre(t *testing.T, broker string) *centre {
	c := &centre{}
	var cl mqtt.Client
	cl, err := mqttx.New(mqttx.Options{Config: mqttx.Config{Broker: broker, ClientID: "centre"}, CleanSession: true, AutoAck: true, OrderMatters: true,
		OnConnect: func(cl mqtt.Client) {
			mqttx.Subscribe(cl, model.SubscriptionAll(model.SuffixBatch), 1, func(_ mqtt.Client, m mqtt.Message) {
				var b model.Batch
				if err := model.DecodeBatch(m.Payload(), &b); err != nil {
					t.Errorf("batch: %v", err)
					return
				}
				c.mu.Lock()
				c.readings = append(c.readings, b.Readings...)
				c.batches = append(c.batches, b)
				c.mu.Unlock()
				cl.Publish(model.Topic(b.Facility, b.Gateway, model.SuffixAck), 1, false,
					model.EncodeAck(model.Ack{First: b.First, Count: b.Covers(), Status: model.AckStored}))
			})
			mqttx.Subscribe(cl, model.SubscriptionAll(model.SuffixStatus), 1, func(_ mqtt.Client, m mqtt.Message) {
				st, err := model.DecodeStatus(m.Payload())
				if err != nil {
					t.Errorf("status: %v", err)
					return
				}
				c.mu.Lock()
				c.statuses = append(c.statuses, st)
				c.mu.Unlock()
			})
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := mqttx.Connect(context.Background(), cl); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Disconnect(100) })
	return c
}

func (c *centre) kinds() map[string]model.Kind {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]model.Kind{}
	for _, r := range c.readings {
		out[r.Device+"/"+r.Kind.String()] = r.Kind
	}
	return out
}

func TestGatewayForwardsEveryFamily(t *testing.T) {
	b, err := embedbroker.Start(embedbroker.Config{Listen: "127.0.0.1:0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() }) // after the centre's client (cleanups run last in, first out)
	dir := t.TempDir()
	facFile := filepath.Join(dir, "facility.yaml")
	os.WriteFile(facFile, []byte(fmt.Sprintf(testFacility, fakeCamera(t))), 0o600)
	cfg := DefaultConfig()
	if err := config.Load("../configs/gateway.example.yaml", &cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Gateway, cfg.FacilityFile, cfg.Spool.Dir, cfg.HTTP.Listen = "gw-1", facFile, filepath.Join(dir, "spool"), ""
	cfg.Local.MQTT.Broker = b.Addr()
	cfg.Uplink.MQTT = mqttx.Config{Broker: b.Addr(), Username: "f-1"}
	cfg.Spool.CommitInterval = 20 * time.Millisecond
	cfg.Probe.Interval, cfg.Probe.Timeout = 200*time.Millisecond, 100*time.Millisecond
	c := startCentre(t, b.Addr())
	g, err := New(Options{Config: cfg, Logger: testLogger(), Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	defer func() { cancel(); <-done }()

	pub, _ := mqttx.New(mqttx.Options{Config: mqttx.Config{Broker: b.Addr(), ClientID: "sensors"}, AutoAck: true})
	if err := mqttx.Connect(ctx, pub); err != nil {
		t.Fatal(err)
	}
	defer pub.Disconnect(100)
	msgs := map[string]string{
		"zigbee2mqtt/r1/th":               `{"temperature":23.4,"humidity":45,"linkquality":120}`,
		"cw/local/camera/cam-1/heartbeat": `{"online":true,"recording":true,"retention_days":92}`,
		"tele/th-2/SENSOR":                `{"Time":"2026-11-26T09:00:00","AM2301":{"Temperature":22.1,"Humidity":40},"TempUnit":"C"}`,
		"zigbee2mqtt/unknown-sensor":      `{"temperature":20}`,
	}
	want := []string{"th-1/temperature", "th-1/humidity", "cam-1/camera_online", "th-2/temperature", "cam-2/camera_online", "cam-2/camera_latency"}
	deadline := time.Now().Add(20 * time.Second)
	for {
		for topic, p := range msgs {
			pub.Publish(topic, 1, false, p).WaitTimeout(5 * time.Second)
		}
		got := c.kinds()
		missing := 0
		for _, w := range want {
			if _, ok := got[w]; !ok {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readings at the centre: %v; want at least %v", got, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if u := g.Status(model.GatewayOnline, false).Unregistered; len(u) != 1 || u[0] != "zigbee2mqtt:unknown-sensor" {
		t.Fatalf("unregistered %v, want [zigbee2mqtt:unknown-sensor]", u)
	}
}
