package decode

import (
	"bytes"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"

	"github.com/cradlewatch/cradlewatch/model"
)

func loadSources(t *testing.T, name string) []SourceConfig {
	t.Helper()
	var doc struct {
		Sources []SourceConfig `yaml:"sources"`
	}
	if err := yaml.Unmarshal(readFixture(t, filepath.Join("config", name)), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Sources
}

func TestBuildAndRoute(t *testing.T) {
	reg := prometheus.NewRegistry()
	set, err := Build(loadSources(t, "sources.good.yaml"), Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	wantSubs := []string{"zigbee2mqtt/#", "tele/+/SENSOR", "tele/+/LWT", "cw/local/camera/+/heartbeat", "site/+/+/state"}
	if got := set.Subscriptions(); strings.Join(got, " ") != strings.Join(wantSubs, " ") {
		t.Errorf("subscriptions %v, want %v", got, wantSubs)
	}
	tests := []struct {
		topic, payload string
		source         string
		kind           model.Kind
	}{
		{"zigbee2mqtt/a", `{"voc":100}`, "zigbee2mqtt", model.KindTVOC},
		{"tele/t/SENSOR", `{"AM2301":{"Humidity":50}}`, "tasmota", model.KindHumidity},
		{"tele/t/LWT", `Online`, "tasmota", model.KindDeviceOnline},
		{"cw/local/camera/c1/heartbeat", `{"online":true}`, "nvr", model.KindCameraOnline},
		{"site/r/d/state", `{"sensors":[{"co2":500}]}`, "acme", model.KindCO2},
	}
	var out []Observation
	for _, tt := range tests {
		out, err = set.Decode(tt.topic, []byte(tt.payload), arrival, out[:0])
		if err != nil || len(out) != 1 || out[0].Source != tt.source || out[0].Kind != tt.kind || !out[0].Time.Equal(arrival) {
			t.Errorf("%s: %+v %v", tt.topic, out, err)
		}
	}
	if _, err := set.Decode("other/topic", []byte(`{}`), arrival, nil); !errors.Is(err, ErrNoDecoder) {
		t.Errorf("unmatched topic: %v", err)
	}
	if got := metricSum(t, reg, "cw_gateway_messages_total"); got != float64(len(tests)) {
		t.Errorf("messages_total %v", got)
	}
	if got := metricSum(t, reg, "cw_gateway_messages_unmatched_total"); got != 1 {
		t.Errorf("unmatched_total %v", got)
	}
}

func TestSetChecks(t *testing.T) {
	reg := prometheus.NewRegistry()
	decs := testDecoders(t)
	set, err := NewSet([]Decoder{decs[FamilyTasmota], decs[FamilyZigbee2MQTT]}, Options{Registerer: reg, MaxMessageBytes: 200})
	if err != nil {
		t.Fatal(err)
	}
	// A Tasmota without NTP says 1970: the arrival time replaces it.
	out, err := set.Decode("tele/x/SENSOR", []byte(`{"Time":"1970-01-01T00:00:10","AM2301":{"Temperature":20,"Humidity":140}}`), arrival, nil)
	if err != nil || len(out) != 1 || !out[0].Time.Equal(arrival) {
		t.Fatalf("%+v %v", out, err)
	}
	if got := metricSum(t, reg, "cw_gateway_device_time_replaced_total"); got != 1 {
		t.Errorf("time replaced %v", got)
	}
	if got := metricSum(t, reg, "cw_gateway_readings_rejected_total"); got != 1 {
		t.Errorf("rejected %v (humidity 140)", got)
	}
	_, err = set.Decode("zigbee2mqtt/x", bytes.Repeat([]byte(" "), 201), arrival, nil)
	if ReasonOf(err) != ReasonTooLarge {
		t.Errorf("oversized: %v", err)
	}
	_, err = set.Decode("zigbee2mqtt/\xff", []byte(`{}`), arrival, nil)
	if ReasonOf(err) != ReasonBadTopic {
		t.Errorf("invalid UTF-8 topic: %v", err)
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name string
		cfgs []SourceConfig
		want string
	}{
		{"no family", []SourceConfig{{"base_topic": "z"}}, "sources[0].family: empty"},
		{"unknown family", []SourceConfig{{"family": "zwave"}}, `sources[0].family: "zwave" is not one of`},
		{"unknown key", []SourceConfig{{"family": "tasmota", "prefx": "tele"}}, "sources[0]: "},
		{"bad timezone", []SourceConfig{{"family": "tasmota", "timezone": "Mars/Olympus"}}, "sources[0].timezone:"},
		{"json without name", []SourceConfig{{"family": "json", "topic": "a/+d"}}, "sources[0].name: empty"},
		{"empty path", []SourceConfig{
			{"family": "nvr"},
			{"family": "tasmota"},
			{"family": "json", "name": "x", "topic": "a/+device", "fields": []any{map[string]any{"path": "", "kind": "co2"}}},
		}, "sources[2].fields[0].path: empty"},
		{"bad kind", []SourceConfig{{"family": "json", "name": "x", "topic": "a/+device", "fields": []any{map[string]any{"path": "v", "kind": "noise"}}}}, "sources[0].fields[0].kind:"},
		{"bad unit", []SourceConfig{{"family": "json", "name": "x", "topic": "a/+device", "fields": []any{map[string]any{"path": "v", "kind": "co2", "unit": "F"}}}}, "sources[0].fields[0].unit:"},
		{"address placeholder", []SourceConfig{{"family": "json", "name": "x", "topic": "a/+device", "address": "{room}", "fields": []any{map[string]any{"path": "v", "kind": "co2"}}}}, "sources[0].address:"},
		{"duplicate name", []SourceConfig{{"family": "nvr"}, {"family": "nvr", "topic": "x/+/hb"}}, "sources[1].name:"},
		{"full topic", []SourceConfig{{"family": "tasmota", "full_topic": "%prefix%/x/"}}, "sources[0].full_topic:"},
		{"nvr topic", []SourceConfig{{"family": "nvr", "topic": "a/+/+/hb"}}, "sources[0].topic:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Build(tt.cfgs, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestLimitedLogger(t *testing.T) {
	var buf bytes.Buffer
	l := NewLimitedLogger(slog.New(slog.NewTextHandler(&buf, nil)), time.Minute)
	t0 := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	steps := []struct {
		at   time.Duration
		key  string
		logs bool
	}{
		{0, "a", true}, {time.Second, "a", false}, {2 * time.Second, "a", false},
		{3 * time.Second, "b", true}, {61 * time.Second, "a", true}, {62 * time.Second, "a", false},
	}
	for i, s := range steps {
		if got := l.Warn(t0.Add(s.at), s.key, "msg"); got != s.logs {
			t.Errorf("step %d: logged %v, want %v", i, got, s.logs)
		}
	}
	if !strings.Contains(buf.String(), "suppressed=2") {
		t.Errorf("suppressed count missing:\n%s", buf.String())
	}
}

func TestPattern(t *testing.T) {
	tests := []struct {
		pattern, topic string
		ok             bool
		caps           string
	}{
		{"a/+x/c", "a/b/c", true, "b"},
		{"a/+x/c", "a/b/d", false, ""},
		{"a/+x/c", "a/b/c/d", false, ""},
		{"a/+x/c", "a/b", false, ""},
		{"a/#", "a", true, ""},
		{"a/#", "a/b/c", true, ""},
		{"zigbee2mqtt/#", "zigbee2mqtt/x y/z", true, ""},
		{"+/x", "$SYS/x", false, ""},
		{"a/+/+", "a//", true, ","},
		{"a/+r/+d", "a/r1/d1", true, "r1,d1"},
	}
	for _, tt := range tests {
		p, err := parsePattern(tt.pattern)
		if err != nil {
			t.Fatal(err)
		}
		caps, ok := p.match(tt.topic, nil)
		if ok != tt.ok || ok && strings.Join(caps, ",") != tt.caps {
			t.Errorf("%s ~ %q = %v %q, want %v %q", tt.pattern, tt.topic, ok, caps, tt.ok, tt.caps)
		}
	}
	for _, bad := range []string{"", "a/#/b", "a/b+", "a/+x/+x"} {
		if _, err := parsePattern(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestPath(t *testing.T) {
	doc := []byte(`{"a":{"b":[{"c":1},{"c":2}]},"PM2.5":3,"x.y":{"z":4},"arr":[5,6]}`)
	obj, err := parseObject("test", doc)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want string
	}{
		{"a.b[1].c", "2"}, {"a.b.0.c", "1"}, {`["PM2.5"]`, "3"}, {`["x.y"].z`, "4"}, {"arr[1]", "6"},
		{"arr[9]", ""}, {"a.missing", ""}, {"a.b[0].c.d", ""},
	}
	for _, tt := range tests {
		p, err := parsePath(tt.path)
		if err != nil {
			t.Fatalf("%s: %v", tt.path, err)
		}
		if got := string(lookup(obj, p).Raw); got != tt.want {
			t.Errorf("%s = %q, want %q", tt.path, got, tt.want)
		}
	}
	for _, bad := range []string{"", "a..b", ".a", "a.", "a[x]", "a[1", "a[-1]"} {
		if _, err := parsePath(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
