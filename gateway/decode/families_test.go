package decode

import (
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/model"
)

var shanghai = time.FixedZone("CST", 8*3600)

// fixtureTime is the time the fixtures were "measured"; arrival is a
// little later, within the default clock skew.
var (
	fixtureTime = time.Date(2024, 5, 1, 10, 0, 0, 0, shanghai)
	arrival     = fixtureTime.Add(3 * time.Second)
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testDecoders builds one decoder per family with the configuration the
// fixtures assume.
func testDecoders(t testing.TB) map[string]Decoder {
	t.Helper()
	z, err := NewZigbee2MQTT(Zigbee2MQTTConfig{Windows: []string{"Hall/window 1"}})
	if err != nil {
		t.Fatal(err)
	}
	ta, err := NewTasmota(TasmotaConfig{})
	if err != nil {
		t.Fatal(err)
	}
	n, err := NewNVR(NVRConfig{})
	if err != nil {
		t.Fatal(err)
	}
	g, err := NewGenericJSON(GenericJSONConfig{
		Common:     Common{Name: "acme"},
		Topic:      "site/+room/+device/state",
		Address:    "{room}-{device}",
		TimePath:   "ts",
		TimeFormat: TimeUnixMs,
		Fields: []FieldConfig{
			{Path: "data.t", Kind: "temperature", Unit: "F"},
			{Path: "data.rh", Kind: "humidity", Scale: 0.1},
			{Path: "data.hcho", Kind: "hcho", Unit: "ppb"},
			{Path: `data.pm["PM2.5"]`, Kind: "pm25"},
			{Path: "door_closed", Kind: "door", Invert: true},
			{Path: "sensors[0].co2", Kind: "co2", Unit: "%vol"},
			// Keys shared with the other families, for the hostile table.
			{Path: "temperature", Kind: "temperature"},
			{Path: "humidity", Kind: "humidity"},
			{Path: "contact", Kind: "door"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return map[string]Decoder{FamilyZigbee2MQTT: z, FamilyTasmota: ta, FamilyNVR: n, FamilyJSON: g}
}

type want struct {
	addr  string
	kind  model.Kind
	value float64
	time  time.Time // zero: arrival
}

func TestFamilies(t *testing.T) {
	decs := testDecoders(t)
	seen := time.Date(2024, 5, 1, 2, 0, 0, 0, time.UTC)
	tests := []struct {
		name, family, topic, fixture string
		want                         []want
	}{
		{"z2m temperature humidity", FamilyZigbee2MQTT, "zigbee2mqtt/Hall/TH sensor", "zigbee2mqtt/temperature_humidity.json", []want{
			{"Hall/TH sensor", model.KindBattery, 100, time.Time{}},
			{"Hall/TH sensor", model.KindHumidity, 58.37, time.Time{}},
			{"Hall/TH sensor", model.KindLinkQuality, 120, time.Time{}},
			{"Hall/TH sensor", model.KindTemperature, 24.61, time.Time{}},
		}},
		{"z2m air quality", FamilyZigbee2MQTT, "zigbee2mqtt/infant room air", "zigbee2mqtt/air_quality.json", []want{
			{"infant room air", model.KindCO2, 612, time.Time{}},
			{"infant room air", model.KindHCHO, 0.03, time.Time{}},
			{"infant room air", model.KindHumidity, 49.2, time.Time{}},
			{"infant room air", model.KindLinkQuality, 87, time.Time{}},
			{"infant room air", model.KindPM25, 12, time.Time{}},
			{"infant room air", model.KindTemperature, 25.1, time.Time{}},
			{"infant room air", model.KindTVOC, 0.21, time.Time{}}, // 210 µg/m³
		}},
		{"z2m door contact false is open", FamilyZigbee2MQTT, "zigbee2mqtt/front door", "zigbee2mqtt/door_contact.json", []want{
			{"front door", model.KindBattery, 91, time.Time{}},
			{"front door", model.KindDoor, 1, time.Time{}},
			{"front door", model.KindLinkQuality, 102, time.Time{}},
		}},
		{"z2m window contact", FamilyZigbee2MQTT, "zigbee2mqtt/Hall/window 1", "zigbee2mqtt/door_contact.json", []want{
			{"Hall/window 1", model.KindBattery, 91, time.Time{}},
			{"Hall/window 1", model.KindWindow, 1, time.Time{}},
			{"Hall/window 1", model.KindLinkQuality, 102, time.Time{}},
		}},
		{"z2m smoke, null skipped, last_seen", FamilyZigbee2MQTT, "zigbee2mqtt/kitchen smoke", "zigbee2mqtt/smoke_last_seen.json", []want{
			{"kitchen smoke", model.KindBattery, 100, seen},
			{"kitchen smoke", model.KindLinkQuality, 60, seen},
			{"kitchen smoke", model.KindSmoke, 1, seen},
		}},
		{"z2m availability json", FamilyZigbee2MQTT, "zigbee2mqtt/Hall/TH sensor/availability", "zigbee2mqtt/availability.json", []want{
			{"Hall/TH sensor", model.KindDeviceOnline, 1, time.Time{}},
		}},
		{"z2m availability legacy", FamilyZigbee2MQTT, "zigbee2mqtt/front door/availability", "zigbee2mqtt/availability_legacy.txt", []want{
			{"front door", model.KindDeviceOnline, 0, time.Time{}},
		}},
		{"z2m bridge ignored", FamilyZigbee2MQTT, "zigbee2mqtt/bridge/state", "zigbee2mqtt/availability.json", nil},
		{"z2m set ignored", FamilyZigbee2MQTT, "zigbee2mqtt/front door/set", "zigbee2mqtt/door_contact.json", nil},
		{"tasmota am2301", FamilyTasmota, "tele/th1/SENSOR", "tasmota/am2301.json", []want{
			{"th1", model.KindTemperature, 24.6, fixtureTime},
			{"th1", model.KindHumidity, 58.2, fixtureTime},
		}},
		{"tasmota scd30 fahrenheit", FamilyTasmota, "tele/co2-1/SENSOR", "tasmota/scd30_fahrenheit.json", []want{
			{"co2-1", model.KindCO2, 814, fixtureTime},
			{"co2-1", model.KindTemperature, (71.8 - 32) * 5 / 9, fixtureTime},
			{"co2-1", model.KindHumidity, 61.6, fixtureTime},
		}},
		{"tasmota sds011", FamilyTasmota, "tele/dust/SENSOR", "tasmota/sds011.json", []want{
			{"dust", model.KindPM25, 11.8, fixtureTime},
			{"dust", model.KindPM10, 25.3, fixtureTime},
		}},
		{"tasmota bme280 fahrenheit", FamilyTasmota, "tele/bme/SENSOR", "tasmota/bme280_fahrenheit.json", []want{
			{"bme", model.KindTemperature, 25, fixtureTime},
			{"bme", model.KindHumidity, 45.1, fixtureTime},
		}},
		{"tasmota multi sensor", FamilyTasmota, "tele/multi/SENSOR", "tasmota/multi_sensor.json", []want{
			{"multi", model.KindTemperature, 23.1, fixtureTime},
			{"multi", model.KindHumidity, 44, fixtureTime},
			{"multi", model.KindPM25, 8.2, fixtureTime},
			{"multi", model.KindPM10, 14.9, fixtureTime},
			{"multi/DS18B20-1", model.KindTemperature, 21.3, fixtureTime},
			{"multi/DS18B20-2", model.KindTemperature, 5.1, fixtureTime},
			{"multi", model.KindCO2, 732, fixtureTime},
		}},
		{"tasmota lwt online", FamilyTasmota, "tele/th1/LWT", "tasmota/lwt_online.txt", []want{
			{"th1", model.KindDeviceOnline, 1, time.Time{}},
		}},
		{"tasmota lwt offline", FamilyTasmota, "tele/th1/LWT", "tasmota/lwt_offline.txt", []want{
			{"th1", model.KindDeviceOnline, 0, time.Time{}},
		}},
		{"nvr heartbeat", FamilyNVR, "cw/local/camera/cam-01/heartbeat", "nvr/heartbeat.json", []want{
			{"cam-01", model.KindCameraOnline, 1, seen},
			{"cam-01", model.KindCameraRecording, 1, seen},
			{"cam-01", model.KindCameraRetention, 92, seen},
		}},
		{"nvr offline", FamilyNVR, "cw/local/camera/cam-02/heartbeat", "nvr/heartbeat_offline.json", []want{
			{"cam-02", model.KindCameraOnline, 0, time.Time{}},
		}},
		{"json mapped", FamilyJSON, "site/r1/th-7/state", "json/acme_state.json", []want{
			{"r1-th-7", model.KindTemperature, 25, seen},
			{"r1-th-7", model.KindHumidity, 45.5, seen},
			{"r1-th-7", model.KindHCHO, 40 * MolarMassHCHO / 24450, seen},
			{"r1-th-7", model.KindPM25, 9, seen},
			{"r1-th-7", model.KindDoor, 0, seen},
			{"r1-th-7", model.KindCO2, 700, seen},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decs[tt.family].Decode(tt.topic, readFixture(t, tt.fixture), arrival, nil)
			if err != nil {
				t.Fatal(err)
			}
			compare(t, got, tt.want)
			for _, o := range got {
				if o.Source != tt.family && !(tt.family == FamilyJSON && o.Source == "acme") {
					t.Errorf("source %q", o.Source)
				}
			}
		})
	}
}

func compare(t *testing.T, got []Observation, want []want) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d observations %+v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		g := got[i]
		wt := w.time
		if wt.IsZero() {
			wt = arrival
		}
		if g.Address != w.addr || g.Kind != w.kind || !near(g.Value, w.value) || g.Reject != "" {
			t.Errorf("[%d] = %q %s %v reject=%q, want %q %s %v", i, g.Address, g.Kind, g.Value, g.Reject, w.addr, w.kind, w.value)
		}
		// Decoders leave Time zero when the payload has none; Set stamps it.
		if !g.Time.IsZero() && !g.Time.Equal(wt) || g.Time.IsZero() && !w.time.IsZero() {
			t.Errorf("[%d] %s time %v, want %v", i, g.Kind, g.Time, wt)
		}
	}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func TestZigbee2MQTTUnits(t *testing.T) {
	z, err := NewZigbee2MQTT(Zigbee2MQTTConfig{VOCUnit: "ppb", VOCMolarMass: 78.9, HCHOUnit: "µg/m³"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := z.Decode("zigbee2mqtt/a", []byte(`{"voc":100,"hcho":30}`), arrival, nil)
	if err != nil {
		t.Fatal(err)
	}
	compare(t, got, []want{
		{"a", model.KindTVOC, 100 * 78.9 / 24450, time.Time{}},
		{"a", model.KindHCHO, 0.03, time.Time{}},
	})
	if _, err := NewZigbee2MQTT(Zigbee2MQTTConfig{VOCUnit: "ppb"}); err == nil {
		t.Error("voc_unit ppb without molar mass accepted")
	}
}

func TestTasmotaOptions(t *testing.T) {
	ta, err := NewTasmota(TasmotaConfig{FullTopic: "site1/%prefix%/%topic%/", Address: TasmotaAddressSensor, Timezone: "UTC"})
	if err != nil {
		t.Fatal(err)
	}
	if got := ta.Subscriptions(); got[0] != "site1/tele/+/SENSOR" || got[1] != "site1/tele/+/LWT" {
		t.Fatalf("subscriptions %v", got)
	}
	got, err := ta.Decode("site1/tele/th1/SENSOR", readFixture(t, "tasmota/am2301.json"), arrival, nil)
	if err != nil {
		t.Fatal(err)
	}
	utc := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	compare(t, got, []want{
		{"th1/AM2301", model.KindTemperature, 24.6, utc},
		{"th1/AM2301", model.KindHumidity, 58.2, utc},
	})
	// Two unindexed sensors of one kind in topic mode: the second is a duplicate.
	tt, _ := NewTasmota(TasmotaConfig{})
	got, _ = tt.Decode("tele/x/SENSOR", []byte(`{"AM2301":{"Temperature":20},"BME280":{"Temperature":21},"Time":"2024-05-01T10:00:00+08:00"}`), arrival, nil)
	if len(got) != 2 || got[0].Reject != "" || got[1].Reject != ReasonDuplicate || !got[0].Time.Equal(fixtureTime) {
		t.Fatalf("duplicate handling: %+v", got)
	}
}
