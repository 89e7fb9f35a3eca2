package decode

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/internal/testenv"
)

// bytesCases are messages of every family, as an MQTT reader would hand
// them over: fixtures, and the hostile table on each family's topic.
func bytesCases(t testing.TB) []struct{ topic, payload string } {
	t.Helper()
	cases := []struct{ topic, payload string }{
		{"zigbee2mqtt/th-001", string(readFixture(t, "zigbee2mqtt/temperature_humidity.json"))},
		{"zigbee2mqtt/infant room air", string(readFixture(t, "zigbee2mqtt/air_quality.json"))},
		{"zigbee2mqtt/Hall/window 1", string(readFixture(t, "zigbee2mqtt/door_contact.json"))},
		{"zigbee2mqtt/front door/availability", string(readFixture(t, "zigbee2mqtt/availability.json"))},
		{"tele/multi/SENSOR", string(readFixture(t, "tasmota/multi_sensor.json"))},
		{"tele/th1/LWT", "Online"},
		{"cw/local/camera/cam-01/heartbeat", string(readFixture(t, "nvr/heartbeat.json"))},
		{"site/r1/th-7/state", string(readFixture(t, "json/acme_state.json"))},
		{"other/topic", `{}`},
	}
	for _, h := range hostile {
		for _, topic := range topicFor {
			cases = append(cases, struct{ topic, payload string }{topic, h.payload})
		}
	}
	return cases
}

func newTestSet(t testing.TB, opts Options) *Set {
	t.Helper()
	decs := testDecoders(t)
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	set, err := NewSet([]Decoder{decs[FamilyZigbee2MQTT], decs[FamilyTasmota], decs[FamilyNVR], decs[FamilyJSON]}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// DecodeBytes yields what Decode yields, and keeps nothing of the caller's
// buffers: the reader overwrites them with the next message.
func TestDecodeBytesMatchesDecodeAndKeepsNoBuffer(t *testing.T) {
	for _, cacheSize := range []int{0, -1, 2} {
		t.Run(fmt.Sprintf("cache %d", cacheSize), func(t *testing.T) {
			set := newTestSet(t, Options{TopicCacheSize: cacheSize})
			for round := 0; round < 2; round++ { // the second round hits the cache
				for _, c := range bytesCases(t) {
					want, wantErr := set.Decode(c.topic, []byte(c.payload), arrival, nil)
					topic, payload := []byte(c.topic), []byte(c.payload)
					got, err := set.DecodeBytes(topic, payload, arrival, nil)
					for i := range topic {
						topic[i] = '!'
					}
					for i := range payload {
						payload[i] = '!'
					}
					if !reflect.DeepEqual(got, want) || ReasonOf(err) != ReasonOf(wantErr) || (err == nil) != (wantErr == nil) {
						t.Fatalf("%q %.60q:\n got %+v %v\nwant %+v %v", c.topic, c.payload, got, err, want, wantErr)
					}
				}
			}
		})
	}
}

// In the steady state a message costs no allocation, through any family.
func TestDecodeBytesDoesNotAllocate(t *testing.T) {
	set := newTestSet(t, Options{})
	for _, c := range bytesCases(t)[:8] {
		if c.topic == "cw/local/camera/cam-01/heartbeat" {
			continue // time.Parse allocates the zone of "+08:00"
		}
		topic, payload := []byte(c.topic), []byte(c.payload)
		out := make([]Observation, 0, 16)
		out, _ = set.DecodeBytes(topic, payload, arrival, out[:0]) // fills the caches
		if len(out) == 0 {
			t.Fatalf("%s: no observations", c.topic)
		}
		if n := testing.AllocsPerRun(50, func() { out, _ = set.DecodeBytes(topic, payload, arrival, out[:0]) }); n != 0 {
			t.Errorf("%s: %v allocations per message", c.topic, n)
		}
	}
}

// The topic cache keeps at most its bound of topics, only topics a source
// reads and only short ones, and counts what it evicts.
func TestTopicCacheBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	set := newTestSet(t, Options{Registerer: reg, TopicCacheSize: 3})
	payload := []byte(`{"temperature":21}`)
	for i := range 10 {
		topic := []byte(fmt.Sprintf("zigbee2mqtt/hostile-%d", i))
		out, err := set.DecodeBytes(topic, payload, arrival, nil)
		if err != nil || len(out) != 1 || out[0].Address != string(topic[len("zigbee2mqtt/"):]) {
			t.Fatalf("%s: %+v %v", topic, out, err)
		}
	}
	set.DecodeBytes([]byte("other/topic"), payload, arrival, nil)
	set.DecodeBytes([]byte("zigbee2mqtt/"+string(make([]byte, maxCachedBytes))), payload, arrival, nil)
	if n := set.topics.len(); n != 3 {
		t.Errorf("cache holds %d topics, bound 3", n)
	}
	if _, ok := set.topics.lookup([]byte("other/topic")); ok {
		t.Error("a topic no source reads was cached")
	}
	if got := testenv.Metric(t, reg, "cw_gateway_decode_cache_evictions_total", "cache", "topic"); got != 7 {
		t.Errorf("topic evictions %v, want 7", got)
	}
}

// Tasmota's indexed sensors and the json source's address templates build
// their addresses once, and count evictions beyond the bound.
func TestAddressCache(t *testing.T) {
	c := newStringCache(2)
	a := c.intern([]byte("tele/x/DS18B20-1"))
	if b := c.intern([]byte("tele/x/DS18B20-1")); a != b || c.len() != 1 {
		t.Fatalf("intern %q %q len %d", a, b, c.len())
	}
	c.intern([]byte("b"))
	c.intern([]byte("c"))
	if c.len() != 2 || c.evictions.Load() != 1 {
		t.Errorf("len %d evictions %d", c.len(), c.evictions.Load())
	}
	off := newStringCache(-1)
	if s := off.intern([]byte("x")); s != "x" || off.len() != 0 {
		t.Errorf("disabled cache: %q len %d", s, off.len())
	}
}
