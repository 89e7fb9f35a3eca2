package compliance

import (
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/model"
	"github.com/cradlewatch/cradlewatch/regulator/internal/seed"
)

// TestDefaultOpeningHours: a facility whose file names no hours opens by
// the rule set's default, Monday to Friday 07:30-18:00 Asia/Shanghai, as
// in alerting.
func TestDefaultOpeningHours(t *testing.T) {
	cal, err := Calendar(seed.Rules(t), testFacility(t, "110105001", model.RoomToddler))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		at   string
		want bool
	}{
		{"2026-06-01T07:29:59+08:00", false}, // Monday, before opening
		{"2026-06-01T07:30:00+08:00", true},
		{"2026-06-01T17:59:59+08:00", true},
		{"2026-06-01T18:00:00+08:00", false},
		{"2026-06-06T10:00:00+08:00", false}, // Saturday
		{"2026-06-01T02:00:00Z", true},       // 10:00 in Beijing
	} {
		at, _ := time.Parse(time.RFC3339, tc.at)
		if got := cal.IsOpen(at); got != tc.want {
			t.Errorf("open(%s) = %v, want %v", tc.at, got, tc.want)
		}
	}
}

// TestLimitsWithin: a Beijing toddler room is judged by the rule set's
// limits for its season (heating 11-15 to 03-15, cooling 06-01 to 09-15).
func TestLimitsWithin(t *testing.T) {
	shanghai := time.FixedZone("CST", 8*3600)
	summer := time.Date(2026, 7, 1, 12, 0, 0, 0, shanghai)
	winter := time.Date(2026, 12, 1, 12, 0, 0, 0, shanghai)
	rs := seed.Rules(t)
	f := testFacility(t, "110105001", model.RoomToddler)
	cal, err := Calendar(rs, f)
	if err != nil {
		t.Fatal(err)
	}
	j := newJudge(rs, f, cal)
	for _, tc := range []struct {
		at   time.Time
		kind string
		v    float64
		want bool
	}{
		{summer, "temperature", 21.9, false},
		{summer, "temperature", 28, true},
		{winter, "temperature", 16, true},
		{winter, "temperature", 24.1, false},
		{summer, "humidity", 39, false},
		{winter, "humidity", 30, true},
		{summer, "co2", 1000, true},
		{summer, "co2", 1000.1, false},
		{summer, "hcho", 0.081, false},
		{summer, "pm25", 50, true},
		{summer, "tvoc", 0, false},    // not a kind the rollup judges: never compliant
		{summer, "co2_ppm", 0, false}, // a typo: never compliant
	} {
		got, err := j.within(tc.kind, "r1", tc.at, tc.v)
		if err != nil || got != tc.want {
			t.Errorf("%s %s %v: %v (%v), want %v", tc.at.Format("01-02"), tc.kind, tc.v, got, err, tc.want)
		}
	}
}

func TestStateAt(t *testing.T) {
	t0 := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	changes := []stateChange{{t0, true}, {t0.Add(10 * time.Minute), false}, {t0.Add(20 * time.Minute), true}}
	for _, tc := range []struct {
		at   time.Duration
		want bool
	}{{-time.Second, false}, {0, true}, {10 * time.Minute, false}, {19 * time.Minute, false}, {20 * time.Minute, true}} {
		if got := stateAt(changes, t0.Add(tc.at)); got != tc.want {
			t.Errorf("stateAt(+%s) = %v, want %v", tc.at, got, tc.want)
		}
	}
}

func TestCheckRange(t *testing.T) {
	h := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		from, to time.Time
		ok       bool
	}{{h, h.Add(time.Hour), true}, {h, h, false}, {h.Add(time.Minute), h.Add(time.Hour), false}, {h.Add(time.Hour), h, false}} {
		if err := checkRange(tc.from, tc.to); (err == nil) != tc.ok {
			t.Errorf("checkRange(%s, %s) = %v", tc.from, tc.to, err)
		}
	}
}
