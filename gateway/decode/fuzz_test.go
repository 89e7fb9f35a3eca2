package decode

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
)

// fuzzFamily feeds arbitrary topic suffixes and payloads to one family,
// alone and through a Set, seeded with the family's fixtures and the
// hostile table. Invariants: no panic; the decoder yields only valid kinds;
// the Set yields only finite, in-range, time-stamped observations.
func fuzzFamily(f *testing.F, family string) {
	paths, _ := filepath.Glob(filepath.Join("testdata", family, "*"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add("", b)
	}
	for _, h := range hostile {
		if len(h.payload) < 4096 {
			f.Add("", []byte(h.payload))
		}
	}
	f.Add("/availability", []byte(`{"state":"online"}`))
	f.Add("/x/LWT", []byte("Online"))
	dec := testDecoders(f)[family]
	set, err := NewSet([]Decoder{dec}, Options{Registerer: prometheus.NewRegistry()})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, suffix string, payload []byte) {
		topic := topicFor[family] + suffix
		out, err := dec.Decode(topic, payload, arrival, nil)
		if suffix == "" && !(json.Valid(payload) && utf8.Valid(payload)) && (err == nil || len(out) != 0) {
			// Decoders read and check in one pass: what they read before
			// finding the payload invalid must not come out.
			t.Fatalf("invalid JSON decoded: %+v %v", out, err)
		}
		for _, o := range out {
			if !o.Kind.Valid() {
				t.Fatalf("invalid kind %v", o.Kind)
			}
		}
		out, _ = set.Decode(topic, payload, arrival, nil)
		for _, o := range out {
			if math.IsNaN(o.Value) || !o.Kind.InRange(o.Value) || o.Time.IsZero() || o.Reject != "" {
				t.Fatalf("bad observation passed the set: %+v", o)
			}
		}
	})
}

func FuzzZigbee2MQTT(f *testing.F) { fuzzFamily(f, FamilyZigbee2MQTT) }
func FuzzTasmota(f *testing.F)     { fuzzFamily(f, FamilyTasmota) }
func FuzzNVR(f *testing.F)         { fuzzFamily(f, FamilyNVR) }
func FuzzGenericJSON(f *testing.F) { fuzzFamily(f, FamilyJSON) }
