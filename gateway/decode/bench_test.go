package decode

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func BenchmarkDecode(b *testing.B) {
	cases := []struct{ name, family, topic, fixture string }{
		// The gateway's typical message (and the whole-path benchmark's): 4 readings.
		{"zigbee2mqtt/temperature_humidity", FamilyZigbee2MQTT, "zigbee2mqtt/th-001", "zigbee2mqtt/temperature_humidity.json"},
		{"zigbee2mqtt/air_quality", FamilyZigbee2MQTT, "zigbee2mqtt/infant room air", "zigbee2mqtt/air_quality.json"},
		{"zigbee2mqtt/availability", FamilyZigbee2MQTT, "zigbee2mqtt/front door/availability", "zigbee2mqtt/availability.json"},
		{"tasmota/am2301", FamilyTasmota, "tele/th1/SENSOR", "tasmota/am2301.json"},
		{"tasmota/multi_sensor", FamilyTasmota, "tele/multi/SENSOR", "tasmota/multi_sensor.json"},
		{"nvr/heartbeat", FamilyNVR, "cw/local/camera/cam-01/heartbeat", "nvr/heartbeat.json"},
		{"json/acme", FamilyJSON, "site/r1/th-7/state", "json/acme_state.json"},
	}
	decs := testDecoders(b)
	for _, c := range cases {
		payload := readFixture(b, c.fixture)
		b.Run("decoder/"+c.name, func(b *testing.B) {
			dec := decs[c.family]
			out := make([]Observation, 0, 16)
			b.ReportAllocs()
			b.SetBytes(int64(len(payload)))
			for b.Loop() {
				out, _ = dec.Decode(c.topic, payload, arrival, out[:0])
			}
		})
		b.Run("set/"+c.name, func(b *testing.B) {
			set, err := NewSet([]Decoder{decs[FamilyZigbee2MQTT], decs[FamilyTasmota], decs[FamilyNVR], decs[FamilyJSON]},
				Options{Registerer: prometheus.NewRegistry()})
			if err != nil {
				b.Fatal(err)
			}
			out := make([]Observation, 0, 16)
			b.ReportAllocs()
			b.SetBytes(int64(len(payload)))
			for b.Loop() {
				out, _ = set.Decode(c.topic, payload, arrival, out[:0])
			}
		})
		// bytes/ is Set.DecodeBytes with the topic in a reused buffer, as
		// an MQTT reader holds it.
		b.Run("bytes/"+c.name, func(b *testing.B) {
			set, err := NewSet([]Decoder{decs[FamilyZigbee2MQTT], decs[FamilyTasmota], decs[FamilyNVR], decs[FamilyJSON]},
				Options{Registerer: prometheus.NewRegistry()})
			if err != nil {
				b.Fatal(err)
			}
			topic := []byte(c.topic)
			out := make([]Observation, 0, 16)
			b.ReportAllocs()
			b.SetBytes(int64(len(payload)))
			for b.Loop() {
				out, _ = set.DecodeBytes(topic, payload, arrival, out[:0])
			}
		})
	}
}
