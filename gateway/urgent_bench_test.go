package gateway_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/cradlewatch/cradlewatch/internal/testenv"
	"github.com/cradlewatch/cradlewatch/model"
)

// BenchmarkUrgentLatency measures how long a door opening (an urgent state
// change) takes from the sensor's publish on the local broker to its batch
// at the centre, while 100 other sensors send 5,000 readings a second
// (1,250 Zigbee2MQTT messages of 4 readings) and the spool keeps its
// default group commit (500 ms). One operation is one alarm: the door
// toggles every 20 ms, each toggle after the last arrived. The figures
// are the latency's p50, p99 and max; the end point is the batch's arrival
// at a subscriber of the centre's broker, one loopback hop after the
// uplink's publish. Layouts: the gateway's embedded broker, and an
// external Mosquitto (skipped without one):
//
//	go test -run '^$' -bench UrgentLatency -benchtime 200x -cpu 2 ./gateway/
func BenchmarkUrgentLatency(b *testing.B) {
	b.Run("embedded", func(b *testing.B) { urgentLatency(b, "") })
	b.Run("mosquitto", func(b *testing.B) {
		if os.Getenv(testenv.EnvMosquitto) == "" {
			if _, err := os.Stat("/usr/sbin/mosquitto"); err != nil {
				b.Skip("no mosquitto")
			}
		}
		urgentLatency(b, testenv.Mosquitto(b).Addr())
	})
}

func urgentLatency(b *testing.B, localBroker string) {
	localBroker, centre, received := benchGateway(b, localBroker,
		"  - {id: door-1, room: r1, source: zigbee2mqtt, address: door-1, kinds: [door]}\n")
	// The door's urgent batches, as they arrive at the centre.
	doors := make(chan time.Time, 16)
	watch := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(centre).SetClientID("watch"))
	if tok := watch.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		b.Fatal(tok.Error())
	}
	defer watch.Disconnect(100)
	watch.Subscribe(model.SubscriptionAll(model.SuffixBatch), 0, func(_ mqtt.Client, m mqtt.Message) {
		at := time.Now()
		var batch model.Batch
		if model.DecodeBatch(m.Payload(), &batch) == nil && batch.Lane == model.LaneUrgent {
			doors <- at
		}
	}).WaitTimeout(10 * time.Second)
	connect := func(id string) mqtt.Client {
		c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(localBroker).SetClientID(id).
			SetConnectRetry(true).SetConnectRetryInterval(50 * time.Millisecond))
		if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			b.Fatalf("connect %s: %v", id, tok.Error())
		}
		return c
	}
	load, door := connect("load"), connect("door")
	defer load.Disconnect(0)
	defer door.Disconnect(0)
	// Warm-up: readings reach the centre.
	for received.Load() == 0 {
		load.Publish("zigbee2mqtt/th-000", 1, false, z2mPayload).WaitTimeout(time.Second)
		time.Sleep(50 * time.Millisecond)
	}

	// Background: 1,250 messages a second, 10 every 8 ms.
	loadCtx, stopLoad := context.WithCancel(context.Background())
	loadDone := make(chan struct{})
	var sent atomic.Int64
	go func() {
		defer close(loadDone)
		tick := time.NewTicker(8 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; {
			select {
			case <-loadCtx.Done():
				return
			case <-tick.C:
			}
			for range 10 {
				load.Publish(fmt.Sprintf("zigbee2mqtt/th-%03d", i%benchDevices), 1, false, z2mPayload)
				i++
			}
			sent.Add(10)
		}
	}()
	time.Sleep(time.Second) // the load is steady

	lat := make([]time.Duration, 0, b.N)
	bgBase, bgStart := sent.Load(), time.Now()
	pace := time.NewTicker(20 * time.Millisecond) // alarms spread over the load, not back to back
	defer pace.Stop()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		<-pace.C
		payload := fmt.Sprintf(`{"contact":%v,"battery":97,"linkquality":110}`, i%2 == 1)
		start := time.Now()
		door.Publish("zigbee2mqtt/door-1", 1, false, payload)
		select {
		case at := <-doors:
			lat = append(lat, at.Sub(start))
		case <-time.After(30 * time.Second):
			b.Fatalf("alarm %d did not reach the centre", i)
		}
	}
	b.StopTimer()
	bg := float64(z2mReadingsPerMessage*(sent.Load()-bgBase)) / time.Since(bgStart).Seconds()
	stopLoad()
	<-loadDone
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / 1e6 }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1])/1e6, "max-ms")
	b.ReportMetric(bg, "background-readings/s")
	b.ReportMetric(0, "ns/op")
}
