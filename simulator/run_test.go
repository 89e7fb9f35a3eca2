package simulator

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// published is what OnPublished reported, with the step it happened in.
type published struct {
	step    int
	topic   string
	payload []byte
	acked   bool
}

// checkFormat parses a payload the way the gateway's decoder for its topic
// would and fails the test when it does not match the device format.
func checkFormat(t *testing.T, topic string, payload []byte) {
	t.Helper()
	strict := func(v any) {
		t.Helper()
		dec := json.NewDecoder(strings.NewReader(string(payload)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			t.Errorf("%s: %s: %v", topic, payload, err)
		}
	}
	switch {
	case strings.HasPrefix(topic, "zigbee2mqtt/") && strings.HasSuffix(topic, "/availability"):
		var v struct {
			State string `json:"state"`
		}
		if strict(&v); v.State != "online" {
			t.Errorf("%s: state %q", topic, v.State)
		}
	case strings.HasPrefix(topic, "zigbee2mqtt/") && strings.HasSuffix(topic, "/th"):
		var v struct {
			Temperature *float64 `json:"temperature"`
			Humidity    *float64 `json:"humidity"`
			Battery     *int     `json:"battery"`
			LinkQuality *int     `json:"linkquality"`
		}
		strict(&v)
		if v.Temperature == nil || v.Humidity == nil || v.Battery == nil || v.LinkQuality == nil {
			t.Errorf("%s: missing key in %s", topic, payload)
		} else if *v.Temperature < 10 || *v.Temperature > 30 || *v.Humidity < 20 || *v.Humidity > 70 {
			t.Errorf("%s: implausible %s", topic, payload)
		}
	case strings.HasPrefix(topic, "zigbee2mqtt/") && strings.HasSuffix(topic, "/air"):
		var v struct {
			CO2         *int     `json:"co2"`
			PM25        *int     `json:"pm25"`
			Formaldehyd *float64 `json:"formaldehyd"`
			VOC         *int     `json:"voc"`
			Temperature *float64 `json:"temperature"`
			Humidity    *float64 `json:"humidity"`
			LinkQuality *int     `json:"linkquality"`
		}
		strict(&v)
		if v.CO2 == nil || v.PM25 == nil || v.Formaldehyd == nil || v.VOC == nil || v.Temperature == nil || v.Humidity == nil {
			t.Errorf("%s: missing key in %s", topic, payload)
		}
	case strings.HasPrefix(topic, "zigbee2mqtt/") && strings.HasSuffix(topic, "/door"):
		var v struct {
			Contact     *bool `json:"contact"`
			Battery     int   `json:"battery"`
			BatteryLow  bool  `json:"battery_low"`
			LinkQuality int   `json:"linkquality"`
			Tamper      bool  `json:"tamper"`
		}
		if strict(&v); v.Contact == nil {
			t.Errorf("%s: no contact in %s", topic, payload)
		}
	case strings.HasPrefix(topic, "tele/") && strings.HasSuffix(topic, "/LWT"):
		if string(payload) != "Online" {
			t.Errorf("%s: %q", topic, payload)
		}
	case strings.HasPrefix(topic, "tele/") && strings.HasSuffix(topic, "/SENSOR"):
		var v struct {
			Time   string `json:"Time"`
			AM2301 struct {
				Temperature float64 `json:"Temperature"`
				Humidity    float64 `json:"Humidity"`
				DewPoint    float64 `json:"DewPoint"`
			} `json:"AM2301"`
			TempUnit string `json:"TempUnit"`
		}
		strict(&v)
		if _, err := time.Parse(tasmotaTime, v.Time); err != nil || v.TempUnit != "C" || v.AM2301.DewPoint >= v.AM2301.Temperature {
			t.Errorf("%s: %s", topic, payload)
		}
	case strings.HasPrefix(topic, "cw/local/camera/") && strings.HasSuffix(topic, "/heartbeat"):
		var v struct {
			Online        *bool  `json:"online"`
			Recording     *bool  `json:"recording"`
			RetentionDays int    `json:"retention_days"`
			Time          string `json:"time"`
		}
		strict(&v)
		if _, err := time.Parse(time.RFC3339, v.Time); err != nil || v.Online == nil || v.Recording == nil || v.RetentionDays != cameraRetentionDays {
			t.Errorf("%s: %s", topic, payload)
		}
	default:
		t.Errorf("unexpected topic %q", topic)
	}
}

// TestRunAgainstBroker runs the demo script against a real broker: a CO2
// climb starting 5 s after start that reaches 1600 ppm 20 s after start.
func TestRunAgainstBroker(t *testing.T) {
	url, rec := startBroker(t)
	start := mustTime(t, "2026-11-26T03:00:00+08:00") // a Thursday night: empty rooms, ~450 ppm
	clk := newStepClock(time.Unix(1_000_000, 0))
	reg := prometheus.NewRegistry()
	var (
		mu   sync.Mutex
		got  []published
		step int
	)
	sim, err := New(Options{
		BrokerURL:  url,
		ClientID:   "test",
		Facilities: GenerateFacilities(2, ""),
		Incidents: []Incident{{Type: IncidentCO2Climb, Facility: "110105001-0001", Room: "infant-1",
			At: 5 * time.Second, Rise: 15 * time.Second, Hold: time.Minute, Fall: time.Minute}},
		Start:      start,
		Seed:       7,
		Registerer: reg,
		Clock:      clk,
		OnPublished: func(topic string, payload []byte, acked bool) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, published{step: step, topic: topic, payload: payload, acked: acked})
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sim.Run(ctx) }()
	const steps = 40
	for i := 1; i <= steps; i++ {
		ch := clk.wait()
		mu.Lock()
		step = i
		mu.Unlock()
		clk.release(ch, time.Second)
	}
	clk.wait() // the last step has finished
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	brokerSaw := map[string]int{}
	for _, r := range rec.records() {
		brokerSaw[r.topic+"\x00"+string(r.payload)]++
	}
	var firstOver1000, firstOver1500 = -1, -1
	for _, p := range got {
		if !p.acked {
			t.Errorf("step %d: %s not acknowledged", p.step, p.topic)
			continue
		}
		if brokerSaw[p.topic+"\x00"+string(p.payload)] == 0 {
			t.Errorf("step %d: %s acked but the broker has no record of it", p.step, p.topic)
		}
		checkFormat(t, p.topic, p.payload)
		if p.topic == "zigbee2mqtt/0001/infant-1/air" {
			var v struct{ CO2 int }
			_ = json.Unmarshal(p.payload, &v)
			if v.CO2 >= 1000 && firstOver1000 < 0 {
				firstOver1000 = p.step
			}
			if v.CO2 >= 1500 && firstOver1500 < 0 {
				firstOver1500 = p.step
			}
		}
	}
	if len(got) == 0 {
		t.Fatal("nothing published")
	}
	// Steps are one simulated second apart: the climb starts at 5 s, passes
	// 1000 ppm at about 12 s and reaches 1600 ppm at 20 s; the sensor
	// reports a change at most every DefaultMinInterval.
	if firstOver1000 < 5 || firstOver1000 > 12+5 {
		t.Errorf("CO2 first over 1000 ppm in step %d, want 5..17", firstOver1000)
	}
	if firstOver1500 < firstOver1000 || firstOver1500 > 20+5 {
		t.Errorf("CO2 first over 1500 ppm in step %d, want %d..25", firstOver1500, firstOver1000)
	}
	if n := testutil.ToFloat64(sim.metrics.published.WithLabelValues(string(FamilyZigbee2MQTT))) +
		testutil.ToFloat64(sim.metrics.published.WithLabelValues(string(FamilyTasmota))) +
		testutil.ToFloat64(sim.metrics.published.WithLabelValues(string(FamilyNVR))); int(n) != len(got) {
		t.Errorf("published metric %v, OnPublished saw %d", n, len(got))
	}
	if n := testutil.ToFloat64(sim.metrics.incidents.WithLabelValues(string(IncidentCO2Climb))); n != 1 {
		t.Errorf("incidents started %v, want 1", n)
	}
	// Each facility has its own client, as each site has its own bridge.
	clients := map[string]bool{}
	for _, r := range rec.records() {
		clients[r.client] = true
	}
	if !clients["test-110105001-0001"] || !clients["test-110105001-0002"] || len(clients) != 2 {
		t.Errorf("clients %v", clients)
	}
}

func TestRunConnectError(t *testing.T) {
	sim, err := New(Options{BrokerURL: "tcp://127.0.0.1:1", Facilities: GenerateFacilities(1, ""),
		Clock: newStepClock(time.Unix(0, 0))})
	if err != nil {
		t.Fatal(err)
	}
	err = sim.Run(context.Background())
	var ce *ConnectError
	if !errors.As(err, &ce) || ce.Facility != "110105001-0001" {
		t.Fatalf("Run = %v, want a ConnectError", err)
	}
}
