package rules

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cradlewatch/cradlewatch/internal/config"
	"github.com/cradlewatch/cradlewatch/model"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var shanghai = mustZone("Asia/Shanghai")

func mustZone(n string) *time.Location {
	l, err := time.LoadLocation(n)
	if err != nil {
		panic(err)
	}
	return l
}

// at is a local time in Shanghai.
func at(y int, m time.Month, d, hh, mm int) time.Time {
	return time.Date(y, m, d, hh, mm, 0, 0, shanghai)
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

func loadRules(t testing.TB) *RuleSet {
	t.Helper()
	rs, err := LoadFile(filepath.Join("..", "..", "configs", "rules.yaml"), filepath.Join("..", "..", "configs", "calendar"))
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func testFacility(id string) Facility {
	return Facility{Facility: model.Facility{
		ID: id, Name: "测试托育园", Region: "110105001",
		Rooms: []model.Room{{ID: "r1", Type: model.RoomToddler}, {ID: "r2", Type: model.RoomInfant}},
		Devices: []model.Device{
			{ID: "co2-1", Room: "r1", Kinds: []model.Kind{model.KindCO2}, Interval: time.Minute},
			{ID: "th-1", Room: "r1", Kinds: []model.Kind{model.KindTemperature, model.KindHumidity}, Interval: time.Minute},
			{ID: "th-2", Room: "r2", Kinds: []model.Kind{model.KindTemperature}, Interval: time.Minute},
			{ID: "door-1", Room: "r1", Kinds: []model.Kind{model.KindDoor}},
			{ID: "win-1", Room: "r1", Kinds: []model.Kind{model.KindWindow}},
		},
	}, Gateways: []string{"gw1"}}
}

func newEngine(t testing.TB, start time.Time) (*Engine, *fakeClock) {
	t.Helper()
	clk := &fakeClock{start}
	e := New(Options{Rules: loadRules(t), Clock: clk.Now})
	if err := e.AddFacility(testFacility("F1")); err != nil {
		t.Fatal(err)
	}
	return e, clk
}

// step is one input to the engine in a table test.
type step struct {
	at    time.Time
	dev   string
	kind  model.Kind
	value float64
	tick  bool // Tick at `at` instead of a reading
}

// got is one expected transition of the rule under test.
type got struct {
	to     State
	notify bool
}

func run(t *testing.T, e *Engine, clk *fakeClock, rule string, steps []step) []got {
	t.Helper()
	var out []got
	for _, s := range steps {
		if clk.t.Before(s.at) {
			clk.t = s.at
		}
		var trs []Transition
		if s.tick {
			// The gateway keeps sending: Tick judges a live facility.
			e.gateways(t, "F1", s.at)
			trs = e.Tick(s.at)
		} else {
			room := "r1"
			if s.dev == "th-2" {
				room = "r2"
			}
			trs = e.ObserveBatch(&model.Batch{Facility: "F1", Gateway: "gw1",
				Readings: []model.Reading{{Device: s.dev, Room: room, Kind: s.kind, Time: s.at, Value: s.value}}})
		}
		for _, tr := range trs {
			t.Logf("%s %s %s->%s at %s value %v", tr.Alert.Rule, tr.Alert.Device, tr.From, tr.To, tr.At.Format(time.TimeOnly), tr.Alert.Value)
			if tr.Alert.Rule == rule {
				out = append(out, got{tr.To, tr.Notify})
			}
		}
	}
	return out
}

func readings(from time.Time, every time.Duration, dev string, k model.Kind, vals ...float64) []step {
	out := make([]step, len(vals))
	for i, v := range vals {
		out[i] = step{at: from.Add(time.Duration(i) * every), dev: dev, kind: k, value: v}
	}
	return out
}

func equal(a, b []got) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestThresholdForAndClear(t *testing.T) {
	tue := at(2026, 5, 12, 9, 0) // a Tuesday, open, transition season
	k := model.KindCO2
	tests := []struct {
		name  string
		rule  string
		steps []step
		want  []got
	}{
		{"short spike stays pending then clears", "co2_early",
			readings(tue, time.Minute, "co2-1", k, 1600, 1600, 1600, 900),
			[]got{{Pending, false}, {Inactive, false}}},
		{"fires after for, resolves after clear level and hold", "co2_early",
			readings(tue, time.Minute, "co2-1", k, 1600, 1600, 1600, 1600, 1600, 1600, 1600, 1600, 1600, 1600, 1600,
				1400, 1400, 1200, 1200, 1200, 1200, 1200, 1200),
			[]got{{Pending, false}, {Firing, true}, {Resolved, true}}},
		{"between levels keeps firing", "co2_early",
			readings(tue, time.Minute, "co2-1", k, 1600, 1600, 1600, 1600, 1600, 1600, 1600, 1600, 1600, 1600, 1600,
				1400, 1400, 1400, 1400, 1400, 1400, 1400, 1400),
			[]got{{Pending, false}, {Firing, true}}},
		{"flap within resolve_hold keeps the episode", "co2_early",
			readings(tue, time.Minute, "co2-1", k, 1600, 1600, 1600, 1600, 1600, 1600, 1600, 1600, 1600, 1600, 1600,
				1200, 1200, 1600, 1200, 1200, 1200, 1200, 1200, 1200),
			[]got{{Pending, false}, {Firing, true}, {Resolved, true}}},
		{"outside opening hours is not an alarm", "co2_early",
			readings(at(2026, 5, 12, 3, 0), time.Minute, "co2-1", k, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000),
			nil},
		{"temperature heating season in Beijing", "temperature_range",
			readings(at(2026, 3, 10, 9, 0), 5*time.Minute, "th-1", model.KindTemperature, 25, 25, 25, 25),
			[]got{{Pending, false}, {Firing, true}}},
		{"25 °C is fine in the transition season", "temperature_range",
			readings(at(2026, 3, 20, 9, 0), 5*time.Minute, "th-1", model.KindTemperature, 25, 25, 25, 25),
			nil},
		{"infant room: 19 °C is too cold in the heating season", "temperature_range",
			readings(at(2026, 3, 10, 9, 0), 5*time.Minute, "th-2", model.KindTemperature, 19, 19, 19, 19),
			[]got{{Pending, false}, {Firing, true}}},
		{"toddler room: 19 °C is fine in the heating season", "temperature_range",
			readings(at(2026, 3, 10, 9, 0), 5*time.Minute, "th-1", model.KindTemperature, 19, 19, 19, 19),
			nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, clk := newEngine(t, tc.steps[0].at)
			if g := run(t, e, clk, tc.rule, tc.steps); !equal(g, tc.want) {
				t.Fatalf("got %v, want %v", g, tc.want)
			}
		})
	}
}

func TestRollingWindow(t *testing.T) {
	start := at(2026, 5, 12, 8, 0)
	vals := make([]float64, 0, 120)
	for i := 0; i < 40; i++ {
		vals = append(vals, 1200)
	}
	for i := 0; i < 80; i++ {
		vals = append(vals, 500)
	}
	e, clk := newEngine(t, start)
	var fired, resolved time.Time
	for _, s := range readings(start, time.Minute, "co2-1", model.KindCO2, vals...) {
		clk.t = s.at
		for _, tr := range e.ObserveBatch(&model.Batch{Facility: "F1", Gateway: "gw1",
			Readings: []model.Reading{{Device: "co2-1", Room: "r1", Kind: s.kind, Time: s.at, Value: s.value}}}) {
			if tr.Alert.Rule != "co2_hourly" {
				continue
			}
			switch tr.To {
			case Firing:
				fired = tr.At
			case Resolved:
				resolved = tr.At
			}
		}
	}
	// min_coverage 0.5 of 60 one-minute buckets: judged from the 30th minute.
	if want := start.Add(29 * time.Minute); !fired.Equal(want) {
		t.Errorf("fired at %v, want %v", fired, want)
	}
	// 40 min at 1200 then 500: the hour mean drops to 950 once 1200 fills
	// at most (950-500)/(1200-500) of 60 buckets, i.e. 38 buckets.
	if want := start.Add(61 * time.Minute); !resolved.Equal(want) {
		t.Errorf("resolved at %v, want %v", resolved, want)
	}
}

func TestAbsence(t *testing.T) {
	start := at(2026, 5, 12, 9, 0)
	e, clk := newEngine(t, start)
	// Keep the gateway alive so that device absence is not inhibited.
	keep := func(now time.Time) {
		clk.t = now
		e.ObserveBatch(&model.Batch{Facility: "F1", Gateway: "gw1",
			Readings: []model.Reading{{Device: "th-1", Room: "r1", Kind: model.KindTemperature, Time: now, Value: 23}}})
	}
	keep(start.Add(9 * time.Minute))
	if trs := e.Tick(start.Add(9 * time.Minute)); has(trs, "device_silent", "co2-1") {
		t.Fatal("fired before max(interval x factor, min_silence)")
	}
	keep(start.Add(11 * time.Minute))
	trs := e.Tick(start.Add(11 * time.Minute))
	tr, ok := find(trs, "device_silent", "co2-1")
	if !ok || tr.To != Firing || !tr.Notify || tr.Alert.Description != "设备长时间未上报数据（从未上报）" {
		t.Fatalf("never-reported device: %+v", trs)
	}
	clk.t = start.Add(12 * time.Minute)
	trs = e.ObserveBatch(&model.Batch{Facility: "F1", Gateway: "gw1",
		Readings: []model.Reading{{Device: "co2-1", Room: "r1", Kind: model.KindCO2, Time: clk.t, Value: 600}}})
	if tr, ok := find(trs, "device_silent", "co2-1"); !ok || tr.To != Resolved || !tr.Notify {
		t.Fatalf("live reading did not resolve: %+v", trs)
	}
}

func TestGateway(t *testing.T) {
	tests := []struct {
		name     string
		when     time.Time
		sev      Severity
		escalate bool
	}{
		{"last will in opening hours", at(2026, 5, 12, 10, 0), Critical, true},
		{"last will at night", at(2026, 5, 12, 23, 0), Warning, false},
		{"last will on a public holiday", at(2026, 10, 5, 10, 0), Warning, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, _ := newEngine(t, tc.when)
			e.ObserveStatus(model.Status{Facility: "F1", Gateway: "gw1", State: model.GatewayOnline}, tc.when)
			// The last will is held for the rule's hold (10 s), so that a
			// platform outage can claim it; then it fires as lost at the
			// will's time.
			will := tc.when.Add(time.Second)
			if trs := e.ObserveStatus(model.Status{Facility: "F1", Gateway: "gw1", State: model.GatewayOffline}, will); has(trs, "gateway_offline", "gw1") {
				t.Fatalf("fired within the hold: %+v", trs)
			}
			if trs := e.Tick(will.Add(DefaultGatewayHold - time.Second)); has(trs, "gateway_offline", "gw1") {
				t.Fatalf("fired within the hold: %+v", trs)
			}
			trs := e.Tick(will.Add(DefaultGatewayHold))
			tr, ok := find(trs, "gateway_offline", "gw1")
			if !ok || tr.To != Firing || tr.Alert.Severity != tc.sev || tr.Alert.Escalate != tc.escalate || !tr.At.Equal(will) {
				t.Fatalf("%+v", trs)
			}
			trs = e.ObserveStatus(model.Status{Facility: "F1", Gateway: "gw1", State: model.GatewayOnline}, tc.when.Add(time.Minute))
			if tr, ok := find(trs, "gateway_offline", "gw1"); !ok || tr.To != Resolved {
				t.Fatalf("%+v", trs)
			}
		})
	}
	t.Run("silence without last will", func(t *testing.T) {
		start := at(2026, 5, 12, 10, 0)
		e, _ := newEngine(t, start)
		if trs := e.Tick(start.Add(5 * time.Minute)); has(trs, "gateway_offline", "gw1") {
			t.Fatal("fired at exactly the silence")
		}
		trs := e.Tick(start.Add(6 * time.Minute))
		if !has(trs, "gateway_offline", "gw1") || has(trs, "device_silent", "co2-1") {
			t.Fatalf("want the gateway alert only (device absence inhibited): %+v", trs)
		}
	})
	t.Run("clean shutdown is not an alert", func(t *testing.T) {
		start := at(2026, 5, 12, 10, 0)
		e, _ := newEngine(t, start)
		if trs := e.ObserveStatus(model.Status{Facility: "F1", Gateway: "gw1", State: model.GatewayOffline, Clean: true}, start); len(trs) != 0 {
			t.Fatalf("%+v", trs)
		}
	})
}

func TestDoorAndCamera(t *testing.T) {
	tue := at(2026, 5, 12, 0, 0)
	tests := []struct {
		name  string
		rule  string
		steps []step
		want  []got
	}{
		{"door opened at night", "door_open_after_hours",
			[]step{{at: tue.Add(22 * time.Hour), dev: "door-1", kind: model.KindDoor, value: 1}},
			[]got{{Firing, true}}},
		{"door left open past closing", "door_open_after_hours",
			[]step{
				{at: tue.Add(17*time.Hour + 50*time.Minute), dev: "door-1", kind: model.KindDoor, value: 1},
				{at: tue.Add(17*time.Hour + 59*time.Minute), tick: true},
				{at: tue.Add(18*time.Hour + 1*time.Minute), tick: true},
			},
			[]got{{Firing, true}}},
		{"door open 30 min in opening hours", "door_open_long",
			[]step{
				{at: tue.Add(9 * time.Hour), dev: "door-1", kind: model.KindDoor, value: 1},
				{at: tue.Add(9*time.Hour + 29*time.Minute), tick: true},
				{at: tue.Add(9*time.Hour + 30*time.Minute), tick: true},
				{at: tue.Add(9*time.Hour + 35*time.Minute), dev: "door-1", kind: model.KindDoor, value: 0},
			},
			[]got{{Pending, false}, {Firing, true}, {Resolved, true}}},
		{"camera retention below 90 days", "camera_retention",
			[]step{{at: tue.Add(9 * time.Hour), dev: "cam-1", kind: model.KindCameraRetention, value: 30}},
			[]got{{Firing, true}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, clk := newEngine(t, tc.steps[0].at)
			if g := run(t, e, clk, tc.rule, tc.steps); !equal(g, tc.want) {
				t.Fatalf("got %v, want %v", g, tc.want)
			}
		})
	}
}

// gateways is a test helper: it marks the facility's stream as arriving.
func (e *Engine) gateways(t *testing.T, facility string, now time.Time) {
	t.Helper()
	f := e.fac[facility]
	f.lastArrival = now.UnixNano()
	for _, g := range f.gateways {
		g.lastArrival = now.UnixNano()
	}
}

func TestRise(t *testing.T) {
	start := at(2026, 5, 12, 9, 0)
	e, clk := newEngine(t, start)
	steps := readings(start, time.Minute, "th-1", model.KindTemperature, 24, 24, 26, 29, 33, 34, 33)
	if g, want := run(t, e, clk, "temperature_rise", steps), []got{{Firing, true}}; !equal(g, want) {
		t.Fatalf("got %v, want %v", g, want)
	}
	// Falling back: the rise over the span is below clear_delta.
	more := readings(start.Add(7*time.Minute), time.Minute, "th-1", model.KindTemperature, 26, 25)
	if g, want := run(t, e, clk, "temperature_rise", more), []got{{Resolved, true}}; !equal(g, want) {
		t.Fatalf("got %v, want %v", g, want)
	}
}

func TestVentilation(t *testing.T) {
	tue := at(2026, 5, 12, 0, 0)
	open := func(h, m int, v float64) step {
		return step{at: tue.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute), dev: "win-1", kind: model.KindWindow, value: v}
	}
	tests := []struct {
		name  string
		steps []step
		want  []got
	}{
		{"two openings of 10 min pass", []step{open(9, 0, 1), open(9, 12, 0), open(14, 0, 1), open(14, 10, 0),
			{at: tue.Add(18*time.Hour + time.Minute), tick: true}}, nil},
		{"one opening fails at closing", []step{open(9, 0, 1), open(9, 12, 0), open(14, 0, 1), open(14, 5, 0),
			{at: tue.Add(18*time.Hour + time.Minute), tick: true}}, []got{{Firing, true}}},
		{"a window still open at closing counts", []step{open(9, 0, 1), open(9, 12, 0), open(17, 30, 1),
			{at: tue.Add(18*time.Hour + time.Minute), tick: true}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, clk := newEngine(t, tc.steps[0].at)
			if g := run(t, e, clk, "ventilation_daily", tc.steps); !equal(g, tc.want) {
				t.Fatalf("got %v, want %v", g, tc.want)
			}
		})
	}
}

func TestReplayDoesNotNotify(t *testing.T) {
	now := at(2026, 5, 12, 12, 0)
	t.Run("fires and resolves within replay", func(t *testing.T) {
		e, clk := newEngine(t, now)
		vals := []float64{}
		for i := 0; i < 15; i++ {
			vals = append(vals, 2000)
		}
		for i := 0; i < 10; i++ {
			vals = append(vals, 800)
		}
		g := run(t, e, clk, "co2_early", readings(at(2026, 5, 12, 9, 0), time.Minute, "co2-1", model.KindCO2, vals...))
		want := []got{{Pending, false}, {Firing, false}, {Resolved, false}}
		if !equal(g, want) {
			t.Fatalf("got %v, want %v", g, want)
		}
	})
	t.Run("fired on replay, still firing when live: announced once", func(t *testing.T) {
		e, clk := newEngine(t, now)
		steps := readings(now.Add(-20*time.Minute), time.Minute, "co2-1", model.KindCO2,
			2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000)
		steps = append(steps, readings(now, time.Minute, "co2-1", model.KindCO2, 2000, 2000)...)
		// The clock stays at `now` during the replay (run only moves it forward).
		g := run(t, e, clk, "co2_early", steps)
		want := []got{{Pending, false}, {Firing, false}, {Firing, true}}
		if !equal(g, want) {
			t.Fatalf("got %v, want %v", g, want)
		}
	})
	t.Run("future reading is rejected", func(t *testing.T) {
		e, _ := newEngine(t, now)
		if trs := e.Observe("F1", model.Reading{Device: "door-1", Room: "r1", Kind: model.KindDoor, Time: now.Add(time.Hour), Value: 1}); len(trs) != 0 {
			t.Fatalf("%+v", trs)
		}
	})
}

func TestAcknowledge(t *testing.T) {
	now := at(2026, 5, 12, 22, 0)
	e, _ := newEngine(t, now)
	trs := e.Observe("F1", model.Reading{Device: "door-1", Room: "r1", Kind: model.KindDoor, Time: now, Value: 1})
	tr, ok := find(trs, "door_open_after_hours", "door-1")
	if !ok {
		t.Fatal("no alert")
	}
	ack, err := e.Acknowledge(tr.Alert.Fingerprint, "园长", now.Add(time.Minute))
	if err != nil || ack.To != Acknowledged || ack.Alert.AckedBy != "园长" {
		t.Fatalf("%+v %v", ack, err)
	}
	if _, err := e.Acknowledge(tr.Alert.Fingerprint, "园长", now); err == nil {
		t.Fatal("second ack accepted")
	}
	if _, err := e.Acknowledge("nope", "x", now); err == nil {
		t.Fatal("unknown fingerprint accepted")
	}
	trs = e.Observe("F1", model.Reading{Device: "door-1", Room: "r1", Kind: model.KindDoor, Time: now.Add(2 * time.Minute), Value: 0})
	if tr, ok := find(trs, "door_open_after_hours", "door-1"); !ok || tr.From != Acknowledged || tr.To != Resolved || !tr.Notify {
		t.Fatalf("%+v", trs)
	}
}

func TestFingerprintStable(t *testing.T) {
	a := Fingerprint("co2_hourly", "F1", "r1", "co2-1")
	if a != Fingerprint("co2_hourly", "F1", "r1", "co2-1") || a == Fingerprint("co2_hourly", "F1", "r1co2-1", "") || len(a) != 16 {
		t.Fatal(a)
	}
}

func TestOtherTimeZone(t *testing.T) {
	// 09:15 in Shanghai is 07:15 in Urumqi: before the 07:30 opening there,
	// so a door opening is an after-hours alert for that facility.
	rs := loadRules(t)
	clk := &fakeClock{at(2026, 5, 12, 9, 15)}
	e := New(Options{Rules: rs, Clock: clk.Now})
	f := testFacility("F2")
	f.Region = "650102001"
	f.Location = mustZone("Asia/Urumqi")
	if err := e.AddFacility(f); err != nil {
		t.Fatal(err)
	}
	trs := e.Observe("F2", model.Reading{Device: "door-1", Room: "r1", Kind: model.KindDoor, Time: clk.t, Value: 1})
	if !has(trs, "door_open_after_hours", "door-1") {
		t.Fatalf("07:15 in Urumqi is before opening: %+v", trs)
	}
}

func TestConfigErrors(t *testing.T) {
	entries, err := filepath.Glob(filepath.Join("testdata", "*.bad.yaml"))
	if err != nil || len(entries) == 0 {
		t.Fatal("no bad configs", err)
	}
	for _, p := range entries {
		t.Run(filepath.Base(p), func(t *testing.T) {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Parse(p, b, nil)
			var ce *config.Error
			if !errors.As(err, &ce) || ce.File != p || ce.Reason == "" {
				t.Fatalf("want a config.Error naming %s: %#v", p, err)
			}
			t.Log(err)
		})
	}
}

func find(trs []Transition, rule, dev string) (Transition, bool) {
	for _, tr := range trs {
		if tr.Alert.Rule == rule && tr.Alert.Device == dev {
			return tr, true
		}
	}
	return Transition{}, false
}

func has(trs []Transition, rule, dev string) bool { _, ok := find(trs, rule, dev); return ok }

// TestThresholdHeldBetweenReports: a device that reports on change (or
// every few minutes) leaves a high value standing; Tick runs the `for` out
// on the clock instead of waiting for the next report.
func TestThresholdHeldBetweenReports(t *testing.T) {
	tue := at(2026, 5, 12, 9, 0)
	k := model.KindCO2
	steps := []step{
		{at: tue, dev: "co2-1", kind: k, value: 1600},
		{at: tue.Add(4 * time.Minute), dev: "co2-1", kind: k, value: 1610},
		{at: tue.Add(8 * time.Minute), dev: "co2-1", kind: k, value: 1620},
	}
	for m := 9; m <= 11; m++ {
		steps = append(steps, step{at: tue.Add(time.Duration(m) * time.Minute), tick: true})
	}
	e, clk := newEngine(t, tue)
	g := run(t, e, clk, "co2_early", steps)
	if want := []got{{Pending, false}, {Firing, true}}; !equal(g, want) {
		t.Fatalf("got %v, want %v (firing on the tick at 10 min, before the next report at 12)", g, want)
	}
}

// TestFacilityFileOpeningHours: hours from the facility file replace the
// rule set's default, so a facility open around the clock is judged at 3 a.m.
func TestFacilityFileOpeningHours(t *testing.T) {
	night := at(2026, 5, 12, 3, 0)
	clk := &fakeClock{night}
	e := New(Options{Rules: loadRules(t), Clock: clk.Now})
	f := testFacility("F1")
	f.OpeningHours = []string{"mon-sun 00:00-23:59"}
	if err := e.AddFacility(f); err != nil {
		t.Fatal(err)
	}
	vals := make([]float64, 12)
	for i := range vals {
		vals[i] = 2000
	}
	g := run(t, e, clk, "co2_early", readings(night, time.Minute, "co2-1", model.KindCO2, vals...))
	if want := []got{{Pending, false}, {Firing, true}}; !equal(g, want) {
		t.Fatalf("got %v, want %v: the facility is open at night by its own file", g, want)
	}
}

// rulesText is configs/rules.yaml, for tests that change a line of it.
func rulesText(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "configs", "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// withFacilityOverrides compiles configs/rules.yaml with overrides for
// facilities (YAML indented under "facilities:").
func withFacilityOverrides(t *testing.T, facilities string) *RuleSet {
	t.Helper()
	const anchor = "  facilities: {}"
	text := rulesText(t)
	if !strings.Contains(text, anchor) {
		t.Fatalf("configs/rules.yaml has no %q line", anchor)
	}
	rs, err := Parse("rules.yaml", []byte(strings.Replace(text, anchor, "  facilities:\n"+facilities, 1)), nil)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// TestTimeZoneOverride: overrides.facilities.<id>.time_zone in the rules
// file wins over the facility file's zone (which defaults to
// Asia/Shanghai), as the rules file documents.
func TestTimeZoneOverride(t *testing.T) {
	urumqi := mustZone("Asia/Urumqi")
	tests := []struct {
		name     string
		fileZone *time.Location // the facility file's timezone
		override string         // the rules file's override
		door     time.Time
		fires    bool
	}{
		// 19:30 in Beijing is 17:30 in Urumqi: open there until 18:00.
		{"Urumqi by override, 17:30 there", shanghai, "Asia/Urumqi", at(2026, 5, 12, 19, 30), false},
		// 09:00 in Beijing is 07:00 in Urumqi: not open yet there.
		{"Urumqi by override, 07:00 there", shanghai, "Asia/Urumqi", at(2026, 5, 12, 9, 0), true},
		// The reverse: a facility file saying Urumqi, set back to Beijing
		// time centrally.
		{"Beijing by override over an Urumqi file, 19:30", urumqi, "Asia/Shanghai", at(2026, 5, 12, 19, 30), true},
		{"Beijing by override over an Urumqi file, 09:00", urumqi, "Asia/Shanghai", at(2026, 5, 12, 9, 0), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs := withFacilityOverrides(t, fmt.Sprintf("    F1:\n      time_zone: %s\n", tc.override))
			clk := &fakeClock{tc.door}
			e := New(Options{Rules: rs, Clock: clk.Now})
			f := testFacility("F1")
			f.Location = tc.fileZone
			if err := e.AddFacility(f); err != nil {
				t.Fatal(err)
			}
			trs := e.Observe("F1", model.Reading{Device: "door-1", Room: "r1", Kind: model.KindDoor, Time: tc.door, Value: 1})
			if got := has(trs, "door_open_after_hours", "door-1"); got != tc.fires {
				t.Fatalf("door at %s Beijing time: door_open_after_hours fired %v, want %v (%+v)", tc.door.Format("15:04"), got, tc.fires, trs)
			}
			cal, err := rs.Calendar("F1", "650102001", tc.fileZone, nil)
			if err != nil || cal.Location().String() != tc.override {
				t.Fatalf("calendar zone %v (%v), want %s", cal.Location(), err, tc.override)
			}
		})
	}
}

// TestConfigMeansWhatItSays: every mistake in the rules file fails with
// the file, the key and the reason: negative or impossible durations, keys
// a rule's type does not read, a second platform rule, overriding a
// platform rule. Each case changes one line of configs/rules.yaml.
func TestConfigMeansWhatItSays(t *testing.T) {
	tests := []struct {
		name, old, new, key, reason string
	}{
		{"negative lateness", "  allowed_lateness: 5m\n", "  allowed_lateness: -5m\n", "engine.allowed_lateness", "positive"},
		{"zero lateness", "  allowed_lateness: 5m\n", "  allowed_lateness: 0s\n", "engine.allowed_lateness", "positive"},
		{"negative max_future", "  max_future: 5m\n", "  max_future: -1s\n", "engine.max_future", "negative"},
		{"negative settle", "  replay_settle: 30s\n", "  replay_settle: -30s\n", "engine.replay_settle", "negative"},
		{"no devices", "  max_devices_per_facility: 512\n", "  max_devices_per_facility: 0\n", "engine.max_devices_per_facility", "positive"},
		{"a bare number is no duration", "  allowed_lateness: 5m\n", "  allowed_lateness: 300\n", "", "time.Duration"},
		{"negative for", "    for: 15m\n", "    for: -15m\n", "rules[0].for", "negative"},
		{"negative resolve_hold", "    resolve_hold: 10m\n", "    resolve_hold: -1m\n", "rules[0].resolve_hold", "negative"},
		{"negative window", "    window: 1h\n", "    window: -1h\n", "rules[2].window", "negative"},
		{"buckets narrower than a second", "    window: 1h\n", "    window: 30s\n", "rules[2].window", "at least"},
		{"buckets without a window", "    kind: co2\n    description: 二氧化碳浓度过高，请开窗通风\n",
			"    kind: co2\n    buckets: 10\n    description: 二氧化碳浓度过高，请开窗通风\n", "rules[3].buckets", "window"},
		{"negative min_silence", "    min_silence: 10m\n", "    min_silence: -10m\n", "rules[18].min_silence", "negative"},
		{"zero silence", "    silence: 5m\n", "    silence: 0s\n", "rules[19].silence", "positive"},
		{"hold not shorter than silence", "    hold: 10s\n", "    hold: 5m\n", "rules[19].hold", "shorter"},
		{"negative grace", "    reconnect_grace: 2m\n", "    reconnect_grace: -2m\n", "rules[19].reconnect_grace", "negative"},
		{"a key the type does not read", "    silence: 5m\n", "    silence: 5m\n    window: 1h\n", "rules[19].window", "does not apply"},
		{"when on a gateway rule", "    silence: 5m\n", "    silence: 5m\n    when: open\n", "rules[19].when", "does not apply"},
		{"mass drop of one", "    min_gateways: 3\n", "    min_gateways: 1\n", "rules[21].min_gateways", "at least 2"},
		{"fraction above 1", "    fraction: 0.2\n", "    fraction: 1.5\n", "rules[21].fraction", "0..1"},
		{"unknown key, at its line", "    min_gateways: 3\n", "    min_gateway: 3\n", "rules[21]", "unknown key \"min_gateway\""},
		{"a second centre_link", "\n# overrides:", "  - {name: link2, type: centre_link}\n\n# overrides:", "rules[22].type", "second"},
		{"override of a platform rule", "  facilities: {}", "  facilities:\n    F1:\n      rules:\n        centre_link_lost: {severity: warning}", "overrides.facilities.F1.rules.centre_link_lost", "platform rule"},
		{"negative for in an override", "  facilities: {}", "  facilities:\n    F1:\n      rooms:\n        r1:\n          door_open_long: {for: -1m}", "overrides.facilities.F1.rooms.r1.door_open_long.for", "negative"},
		{"bad override zone", "  facilities: {}", "  facilities:\n    F1:\n      time_zone: Asia/Nowhere", "overrides.facilities.F1.time_zone", "unknown time zone"},
	}
	base := rulesText(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(base, tc.old) {
				t.Fatalf("configs/rules.yaml has no %q", tc.old)
			}
			_, err := Parse("rules.yaml", []byte(strings.Replace(base, tc.old, tc.new, 1)), nil)
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("want a config.Error, got %#v", err)
			}
			if ce.File != "rules.yaml" || ce.Key != tc.key || !strings.Contains(ce.Reason, tc.reason) {
				t.Fatalf("got file %q key %q reason %q; want key %q and a reason with %q", ce.File, ce.Key, ce.Reason, tc.key, tc.reason)
			}
		})
	}
}
