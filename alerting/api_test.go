package alerting

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/model"
	"github.com/cradlewatch/cradlewatch/registry"
)

// testService is a service over a small registry, without MQTT: its engine
// goroutine runs (so the API's questions are answered) until the test ends.
type testService struct {
	*Service
	now  time.Time
	mu   sync.Mutex
	stop func()
}

func (ts *testService) clock() time.Time {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.now
}

// testConfig is a configuration over the repository's rules, with state in
// temporary directories.
func testConfig(t testing.TB) Config {
	cfg := DefaultConfig()
	cfg.Rules = "../configs/rules.yaml"
	cfg.CalendarDir = "../configs/calendar"
	cfg.StateDir = t.TempDir()
	cfg.Events.Enabled = false
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Notify.SMSProvider = "log"
	operator := notify.Policy{Steps: []notify.Step{{Name: "operator", Targets: []notify.Target{notify.TargetOperator}}}}
	cfg.Notify.Config = notify.Config{
		StateDir: t.TempDir(), GroupWait: time.Second,
		Budget:   notify.BudgetConfig{PerDay: 1000, PerWindow: 1000, Window: time.Second},
		Policies: map[string]notify.Policy{"info": operator, "warning": operator, "critical": operator},
	}
	return cfg
}

func testRegistry() *registry.Registry {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	mk := func(id, region string) *registry.Facility {
		return &registry.Facility{Facility: model.Facility{ID: id, Name: "测试园 " + id, Region: model.Region(region), Location: loc,
			Rooms: []model.Room{{ID: "r1", Name: "乳儿班", Type: model.RoomInfant}},
			Devices: []model.Device{{ID: "door-1", Room: "r1", Kinds: []model.Kind{model.KindDoor}},
				{ID: "co2-1", Room: "r1", Kinds: []model.Kind{model.KindCO2}}}},
			Gateways: []string{"gw-" + id}}
	}
	return registry.Fixed(mk("F-dongcheng", "110101001"), mk("F-chaoyang", "110105001"), mk("F-shanghai", "310101001"))
}

func startTestService(t *testing.T, cfg Config, start time.Time) *testService {
	t.Helper()
	ts := &testService{now: start}
	nop := notify.NotifierFunc(func(context.Context, notify.Message) (bool, error) { return false, nil })
	s, err := New(Options{Config: cfg, Registry: testRegistry(), Notifiers: map[notify.Channel]notify.Notifier{notify.ChannelSMS: nop},
		Registerer: prometheus.NewRegistry(), Clock: ts.clock})
	if err != nil {
		t.Fatal(err)
	}
	ts.Service = s
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.evaluate(ctx) }()
	ts.stop = func() { cancel(); <-done; s.Close() }
	t.Cleanup(ts.stop)
	return ts
}

// door opens a facility's door at the service clock.
func (ts *testService) door(facility string, v float64) {
	gw := "gw-" + facility
	b := model.Batch{Gateway: gw, Facility: facility, Readings: []model.Reading{{Device: "door-1", Room: "r1", Kind: model.KindDoor, Time: ts.clock(), Value: v}}}
	ts.in <- message{topic: model.Topic(facility, gw, model.SuffixBatch), payload: model.EncodeBatch(nil, &b), arrived: ts.clock()}
}

func get(t *testing.T, h http.Handler, target string, pattern string) (int, string) {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(pattern, h)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("GET %s: Content-Type %q", target, ct)
	}
	return rec.Code, rec.Body.String()
}

// listAlerts waits until the engine holds want alerts matching target.
func listAlerts(t *testing.T, ts *testService, target string, want int) AlertsJSON {
	t.Helper()
	var out AlertsJSON
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		code, body := get(t, ts.alertsHandler(), target, "GET /api/v1/alerts")
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", target, code, body)
		}
		out = AlertsJSON{}
		if err := json.Unmarshal([]byte(body), &out); err != nil {
			t.Fatal(err)
		}
		if out.Count == want || time.Now().After(end) {
			return out
		}
	}
}

// TestAlertsRegionFilter: the region filter is model.RegionCode's: a
// province, city, county or street code covers the facilities below it;
// anything else is refused. (It replaces the private regionPrefix and its
// test, with the same codes.)
func TestAlertsRegionFilter(t *testing.T) {
	night := time.Date(2026, 5, 12, 22, 0, 0, 0, time.FixedZone("CST", 8*3600))
	ts := startTestService(t, testConfig(t), night)
	for _, f := range testRegistry().Snapshot().Facilities() {
		ts.door(f.ID, 1) // door_open_after_hours in each
	}
	listAlerts(t, ts, "/api/v1/alerts", 3)
	for region, want := range map[string]int{
		"": 3, "110000": 2, "110100": 2, "110105": 1, "110110": 0, "110105001": 1, "110101001": 1, "310000": 1,
	} {
		got := listAlerts(t, ts, "/api/v1/alerts?region="+region, want)
		if got.Count != want || len(got.Alerts) != want {
			t.Errorf("region %q: %d alerts, want %d", region, got.Count, want)
		}
	}
	for _, bad := range []string{"11", "1101051", "11010x", "1101050011", "000000"} {
		if code, body := get(t, ts.alertsHandler(), "/api/v1/alerts?region="+bad, "GET /api/v1/alerts"); code != http.StatusBadRequest || !strings.Contains(body, `"error"`) {
			t.Errorf("region %q: %d %s, want 400 with a JSON error", bad, code, body)
		}
	}
	for _, q := range []string{"state=burning", "severity=loud"} {
		if code, _ := get(t, ts.alertsHandler(), "/api/v1/alerts?"+q, "GET /api/v1/alerts"); code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", q, code)
		}
	}
	if got := listAlerts(t, ts, "/api/v1/alerts?state=firing&severity=critical&facility=F-chaoyang", 1); got.Count != 1 {
		t.Errorf("state, severity and facility filters: %+v", got)
	}
}

// TestAlertJSONShape: the API speaks snake_case with kind, severity and
// state names and RFC 3339 times, never Go field names or numbers; one
// alert comes with its history.
func TestAlertJSONShape(t *testing.T) {
	night := time.Date(2026, 5, 12, 22, 0, 0, 0, time.FixedZone("CST", 8*3600))
	ts := startTestService(t, testConfig(t), night)
	ts.door("F-chaoyang", 1)
	list := listAlerts(t, ts, "/api/v1/alerts", 1)
	_, body := get(t, ts.alertsHandler(), "/api/v1/alerts", "GET /api/v1/alerts")
	var raw struct {
		Alerts []map[string]any `json:"alerts"`
	}
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		t.Fatal(err)
	}
	a := raw.Alerts[0]
	for k, want := range map[string]any{
		"rule": "door_open_after_hours", "facility": "F-chaoyang", "facility_name": "测试园 F-chaoyang", "region": "110105001",
		"room": "r1", "room_name": "乳儿班", "device": "door-1", "kind": "door", "severity": "critical", "state": "firing",
		"fired_at": "2026-05-12T14:00:00.000Z", "escalate": false, "announced": true, "value": 1.0, "limit": 0.5,
	} {
		if a[k] != want {
			t.Errorf("%s = %#v, want %#v", k, a[k], want)
		}
	}
	for k := range a {
		if strings.ToLower(k) != k {
			t.Errorf("key %q is not snake_case", k)
		}
	}
	fp := list.Alerts[0].Fingerprint
	ts.mu.Lock()
	ts.now = ts.now.Add(time.Minute)
	ts.mu.Unlock()
	ts.door("F-chaoyang", 0)
	listAlerts(t, ts, "/api/v1/alerts", 0)
	code, body := get(t, ts.alertHandler(), "/api/v1/alerts/"+fp, "GET /api/v1/alerts/{fingerprint}")
	if code != http.StatusOK {
		t.Fatalf("GET one alert: %d %s", code, body)
	}
	var d AlertDetailJSON
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatal(err)
	}
	if d.Alert.State != "resolved" || len(d.History) != 2 || d.History[0].To != "firing" || d.History[0].From != "inactive" ||
		d.History[1].To != "resolved" || d.History[1].At != "2026-05-12T14:01:00.000Z" || !d.History[1].Notify {
		t.Fatalf("alert with history: %s", body)
	}
	for target, want := range map[string]int{
		"/api/v1/alerts/0123456789abcdef": http.StatusNotFound, "/api/v1/alerts/xyz": http.StatusBadRequest,
		"/api/v1/alerts/" + fp + "?history=5000": http.StatusBadRequest,
	} {
		if code, body := get(t, ts.alertHandler(), target, "GET /api/v1/alerts/{fingerprint}"); code != want || !strings.Contains(body, `"error"`) {
			t.Errorf("GET %s: %d %s, want %d", target, code, body, want)
		}
	}
}

// TestPlatformAlertRecorded: losing the link to the broker is recorded like
// any alert (state store, API), as the platform's, with no region.
func TestPlatformAlertRecorded(t *testing.T) {
	start := time.Date(2026, 5, 12, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))
	ts := startTestService(t, testConfig(t), start)
	ts.link.connected(start)
	ts.link.lost(start.Add(time.Second))
	got := listAlerts(t, ts, "/api/v1/alerts", 1)
	a := got.Alerts[0]
	if a.Rule != "centre_link_lost" || a.Facility != rules.DefaultPlatformID || !a.Platform || a.Region != "" || a.FacilityName != "监测平台" {
		t.Fatalf("%+v", a)
	}
	if n := listAlerts(t, ts, "/api/v1/alerts?region=110000", 0); n.Count != 0 {
		t.Fatalf("a platform alert has no region: %+v", n)
	}
	ts.link.connected(start.Add(2 * time.Second))
	listAlerts(t, ts, "/api/v1/alerts", 0)
}

// TestOpenAPIDescribesTheRoutes: docs/api/alerting.yaml parses and has
// every API route the service registers (except the notification path's).
func TestOpenAPIDescribesTheRoutes(t *testing.T) {
	b, err := os.ReadFile("../docs/api/alerting.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                               `yaml:"openapi"`
		Paths   map[string]map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	for _, route := range []string{"POST /api/v1/ack", "GET /api/v1/alerts", "GET /api/v1/alerts/{fingerprint}"} {
		method, path, _ := strings.Cut(route, " ")
		if _, ok := doc.Paths[path][strings.ToLower(method)]; !ok {
			t.Errorf("docs/api/alerting.yaml lacks %s", route)
		}
	}
}
