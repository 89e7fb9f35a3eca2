package alerting

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
	"github.com/cradlewatch/cradlewatch/internal/testenv"
	"github.com/cradlewatch/cradlewatch/model"
	"github.com/cradlewatch/cradlewatch/registry"
)

// testService is a service over a small registry, without MQTT: its engine
// goroutine runs (so commands are answered) until the test ends.
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

func (ts *testService) advance(d time.Duration) {
	ts.mu.Lock()
	ts.now = ts.now.Add(d)
	ts.mu.Unlock()
}

// withAccess gives cfg a control bus secret and its part of an access
// database (SQLite, its audit chain, the phone key) in temporary
// directories.
func withAccess(t testing.TB, cfg *Config) {
	t.Helper()
	secrets, data := t.TempDir(), t.TempDir()
	cfg.Ctl.SecretFile = testenv.SecretFile(t, secrets, "ctl.key", 32)
	cfg.Access.PhoneKeyFile = testenv.SecretFile(t, secrets, "phone.key", 32)
	cfg.Access.Database.Path = filepath.Join(data, "access.db")
	cfg.Access.Audit.Chain = "alerting-test"
	cfg.Access.Audit.SpoolDir = filepath.Join(data, "audit")
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
	withAccess(t, &cfg)
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

// startTestService runs the engine's goroutine and the audit writer (not
// MQTT): commands are answered through s.command.
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
	var wg sync.WaitGroup
	for _, run := range []func(context.Context) error{s.evaluate, s.trail.run, s.notifyLoop} {
		wg.Add(1)
		go func() { defer wg.Done(); run(ctx) }()
	}
	ts.stop = func() { cancel(); wg.Wait(); s.Close() }
	t.Cleanup(ts.stop)
	return ts
}

// door opens a facility's door at the service clock.
func (ts *testService) door(facility string, v float64) {
	gw := "gw-" + facility
	b := model.Batch{Gateway: gw, Facility: facility, Readings: []model.Reading{{Device: "door-1", Room: "r1", Kind: model.KindDoor, Time: ts.clock(), Value: v}}}
	ts.in <- message{topic: model.Topic(facility, gw, model.SuffixBatch), payload: model.EncodeBatch(nil, &b), arrived: ts.clock()}
}
