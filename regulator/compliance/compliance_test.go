package compliance

import (
	"testing"
	"time"
)

func TestDefaultOpeningHours(t *testing.T) {
	open := DefaultOpeningHours("any")
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
		if got := open(at); got != tc.want {
			t.Errorf("open(%s) = %v, want %v", tc.at, got, tc.want)
		}
	}
}

func TestLimitsWithin(t *testing.T) {
	summer := time.Date(2026, 7, 1, 12, 0, 0, 0, shanghai)
	winter := time.Date(2026, 12, 1, 12, 0, 0, 0, shanghai)
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
		{summer, "tvoc", 0, false}, // unknown to the rollup: never compliant
	} {
		if got := DefaultLimits("f", tc.at).Within(tc.kind, tc.v); got != tc.want {
			t.Errorf("%s %s %v: %v, want %v", tc.at.Format("01-02"), tc.kind, tc.v, got, tc.want)
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
