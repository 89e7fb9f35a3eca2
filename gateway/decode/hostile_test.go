package decode

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/model"
)

// topicFor is a valid topic of each family of testDecoders.
var topicFor = map[string]string{
	FamilyZigbee2MQTT: "zigbee2mqtt/Hall sensor",
	FamilyTasmota:     "tele/th1/SENSOR",
	FamilyNVR:         "cw/local/camera/cam1/heartbeat",
	FamilyJSON:        "site/r1/d1/state",
}

func nested(depth int, leaf string) string {
	return strings.Repeat("[", depth) + leaf + strings.Repeat("]", depth)
}

// hostile payloads: each carries the keys of every family at once, so that
// one table exercises every decoder. None may yield an observation, and
// each must be counted, as a refused message or a rejected value.
var hostile = []struct{ name, payload string }{
	{"empty", ""},
	{"white space", " \n\t"},
	{"null", "null"},
	{"array", "[1,2,3]"},
	{"string", `"online"`},
	{"number", "21.5"},
	{"truncated", `{"temperature":21`},
	{"NaN literal", `{"temperature":NaN,"AM2301":{"Temperature":NaN}}`},
	{"NaN as string", `{"temperature":"NaN","humidity":"NaN","AM2301":{"Temperature":"NaN"},"online":"NaN"}`},
	{"wrong types", `{"temperature":"21","humidity":true,"contact":"yes","AM2301":{"Temperature":"21","Humidity":[1]},"SCD30":"x","online":"true","recording":1,"retention_days":"90"}`},
	{"objects for numbers", `{"temperature":{"v":1},"AM2301":{"Temperature":{}},"online":{}}`},
	{"huge numbers", `{"temperature":1e400,"humidity":-1e400,"AM2301":{"Temperature":1e400},"retention_days":1e400}`},
	{"negative humidity", `{"humidity":-5,"AM2301":{"Humidity":-5},"retention_days":-1}`},
	{"absurd temperature", `{"temperature":1000,"AM2301":{"Temperature":1000},"online":7}`},
	{"invalid UTF-8", "{\"temperature\":21,\"humidity\":40,\"AM2301\":{\"Temperature\":21},\"online\":true,\"name\":\"\xff\xfe\"}"},
	{"deeply nested", `{"temperature":` + nested(5000, "1") + `,"AM2301":{"Temperature":` + nested(5000, "1") + `},"online":` + nested(5000, "true") + `}`},
	{"too deep for JSON", `{"temperature":` + nested(20000, "1") + `}`},
	{"oversized", `{"temperature":21,"online":true,"AM2301":{"Temperature":21},"pad":"` + strings.Repeat("x", 70<<10) + `"}`},
	{"control characters", "{\"temperature\":21,\"online\":true,\"x\":\"a\x00b\"}"},
	{"duplicate keys", `{"temperature":21,"temperature":99,"AM2301":{"Temperature":21,"Temperature":99},"online":true,"online":false}`},
	{"duplicate nested key", `{"temperature":21,"online":true,"AM2301":{"Temperature":21},"x":{"y":1,"y":2}}`},
	{"underflowing numbers", `{"temperature":1e-400,"humidity":-1e-400,"AM2301":{"Temperature":1e-400},"retention_days":1e-400}`},
}

// Two ways a payload could be read as something it does not say: a member
// named twice (which value?) and a number below float64's range (1e-400 is
// not 0). The first refuses the message, the second the value; both are
// counted under their own reason.
func TestAmbiguousInputRefusedWithItsReason(t *testing.T) {
	for _, c := range []struct {
		family, payload string
		metric, reason  string
	}{
		{FamilyZigbee2MQTT, `{"temperature":21.5,"temperature":99}`, "cw_gateway_decode_errors_total", string(ReasonDuplicateKey)},
		{FamilyZigbee2MQTT, `{"temperature":21.5,"humidity":40,"humidity":41,"battery":90}`, "cw_gateway_decode_errors_total", string(ReasonDuplicateKey)},
		{FamilyTasmota, `{"Time":"2025-11-26T08:00:00","AM2301":{"Temperature":21,"Temperature":22}}`, "cw_gateway_decode_errors_total", string(ReasonDuplicateKey)},
		{FamilyNVR, `{"online":true,"online":false}`, "cw_gateway_decode_errors_total", string(ReasonDuplicateKey)},
		{FamilyJSON, `{"data":{"t":70,"t":80}}`, "cw_gateway_decode_errors_total", string(ReasonDuplicateKey)},
		{FamilyZigbee2MQTT, `{"temperature":1e-400}`, "cw_gateway_readings_rejected_total", string(ReasonUnderflow)},
		{FamilyTasmota, `{"AM2301":{"Temperature":-1e-400}}`, "cw_gateway_readings_rejected_total", string(ReasonUnderflow)},
		{FamilyNVR, `{"online":true,"retention_days":1e-999}`, "cw_gateway_readings_rejected_total", string(ReasonUnderflow)},
		{FamilyJSON, `{"humidity":0.00001e-399}`, "cw_gateway_readings_rejected_total", string(ReasonUnderflow)},
		{FamilyZigbee2MQTT, `{"temperature":1e400}`, "cw_gateway_readings_rejected_total", string(ReasonNotFinite)},
	} {
		reg := prometheus.NewRegistry()
		set, err := NewSet([]Decoder{testDecoders(t)[c.family]}, Options{Registerer: reg})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := set.Decode(topicFor[c.family], []byte(c.payload), arrival, nil)
		for _, o := range got {
			if o.Kind != model.KindCameraOnline {
				t.Errorf("%s %s: observation %+v came through", c.family, c.payload, o)
			}
		}
		if n := metricSum(t, reg, c.metric, c.reason); n != 1 {
			t.Errorf("%s %s: %s{reason=%q} = %v, want 1", c.family, c.payload, c.metric, c.reason, n)
		}
	}
}

// Device names are chosen by installers: quotes, commas, spaces and new
// lines pass through to Address untouched (the gateway matches them
// against the facility file, and never uses them in a topic or tag).
func TestStrangeNames(t *testing.T) {
	decs := testDecoders(t)
	for _, name := range []string{`room "A"`, "a,b=c", "  spaces  ", "line\nbreak", "婴儿室 温度", `back\slash`} {
		tests := []struct {
			family, topic, payload, addr string
		}{
			{FamilyZigbee2MQTT, "zigbee2mqtt/" + name, `{"temperature":21}`, name},
			{FamilyTasmota, "tele/" + name + "/SENSOR", `{"AM2301":{"Temperature":21}}`, name},
			{FamilyNVR, "cw/local/camera/" + name + "/heartbeat", `{"online":true}`, name},
			{FamilyJSON, "site/" + name + "/d/state", `{"temperature":21}`, name + "-d"},
		}
		for _, tt := range tests {
			got, err := decs[tt.family].Decode(tt.topic, []byte(tt.payload), arrival, nil)
			if err != nil || len(got) != 1 || got[0].Address != tt.addr {
				t.Errorf("%s %q: %+v %v", tt.family, name, got, err)
			}
		}
	}
}

// metricSum adds up every series of a counter family, or with a reason
// given, those whose reason label is it.
func metricSum(t testing.TB, reg *prometheus.Registry, name string, reason ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := len(reason) == 0
			for _, l := range m.GetLabel() {
				match = match || l.GetName() == "reason" && l.GetValue() == reason[0]
			}
			if match {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}
