package calendar

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/internal/config"
)

func mustCal(t *testing.T, zone string) *Calendar {
	t.Helper()
	hol, err := LoadHolidays(filepath.Join("..", "..", "configs", "calendar", "2026.yaml"), filepath.Join("..", "..", "configs", "calendar", "2027.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	h, err := ParseHours([]string{"mon-fri 07:30-18:00", "sat 08:00-12:00"})
	if err != nil {
		t.Fatal(err)
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	heat, _ := ParseMonthDay("11-15")
	heatEnd, _ := ParseMonthDay("03-15")
	cool, _ := ParseMonthDay("06-01")
	coolEnd, _ := ParseMonthDay("09-15")
	c, err := New(Config{Location: loc, Hours: h, Holidays: hol,
		Season: SeasonDates{Heating: Period{heat, heatEnd}, Cooling: Period{cool, coolEnd}}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestIsOpen(t *testing.T) {
	sh, _ := time.LoadLocation("Asia/Shanghai")
	ur, _ := time.LoadLocation("Asia/Urumqi")
	tests := []struct {
		name string
		zone string
		at   time.Time
		open bool
		kind DayKind
	}{
		{"ordinary Tuesday morning", "Asia/Shanghai", time.Date(2026, 5, 12, 9, 0, 0, 0, sh), true, Workday},
		{"Tuesday before opening", "Asia/Shanghai", time.Date(2026, 5, 12, 7, 29, 0, 0, sh), false, Workday},
		{"closing instant is closed", "Asia/Shanghai", time.Date(2026, 5, 12, 18, 0, 0, 0, sh), false, Workday},
		{"Saturday morning hours", "Asia/Shanghai", time.Date(2026, 5, 16, 9, 0, 0, 0, sh), true, Weekend},
		{"Saturday afternoon", "Asia/Shanghai", time.Date(2026, 5, 16, 15, 0, 0, 0, sh), false, Weekend},
		{"Sunday", "Asia/Shanghai", time.Date(2026, 5, 17, 9, 0, 0, 0, sh), false, Weekend},
		{"make-up Saturday 2026-02-14 has work-day hours", "Asia/Shanghai", time.Date(2026, 2, 14, 15, 0, 0, 0, sh), true, MakeUp},
		{"make-up Sunday 2026-09-20", "Asia/Shanghai", time.Date(2026, 9, 20, 9, 0, 0, 0, sh), true, MakeUp},
		{"National Day Monday 2026-10-05 closed", "Asia/Shanghai", time.Date(2026, 10, 5, 9, 0, 0, 0, sh), false, Holiday},
		{"Spring Festival Monday 2026-02-16 closed", "Asia/Shanghai", time.Date(2026, 2, 16, 9, 0, 0, 0, sh), false, Holiday},
		{"Urumqi 09:00 local is open", "Asia/Urumqi", time.Date(2026, 5, 12, 9, 0, 0, 0, ur), true, Workday},
		{"Urumqi 07:15 local (09:15 Beijing) is closed", "Asia/Urumqi", time.Date(2026, 5, 12, 9, 15, 0, 0, sh), false, Workday},
		{"Urumqi 18:30 Beijing (16:30 local) is open", "Asia/Urumqi", time.Date(2026, 5, 12, 18, 30, 0, 0, sh), true, Workday},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := mustCal(t, tc.zone)
			d := c.Day(tc.at)
			if got := c.IsOpen(tc.at); got != tc.open || d.Kind != tc.kind {
				t.Fatalf("open %v kind %s, want %v %s", got, d.Kind, tc.open, tc.kind)
			}
		})
	}
}

func TestSeasonAndClosing(t *testing.T) {
	sh, _ := time.LoadLocation("Asia/Shanghai")
	c := mustCal(t, "Asia/Shanghai")
	for _, tc := range []struct {
		at   time.Time
		want Season
	}{
		{time.Date(2026, 1, 10, 12, 0, 0, 0, sh), Heating},
		{time.Date(2026, 3, 15, 12, 0, 0, 0, sh), Heating},
		{time.Date(2026, 3, 16, 12, 0, 0, 0, sh), Transition},
		{time.Date(2026, 7, 1, 12, 0, 0, 0, sh), Cooling},
		{time.Date(2026, 11, 15, 0, 0, 0, 0, sh), Heating},
	} {
		if got := c.Season(tc.at); got != tc.want {
			t.Errorf("%v: %s, want %s", tc.at, got, tc.want)
		}
	}
	if ct, ok := c.ClosingTime(time.Date(2026, 5, 16, 7, 0, 0, 0, sh)); !ok || !ct.Equal(time.Date(2026, 5, 16, 12, 0, 0, 0, sh)) {
		t.Errorf("Saturday closing %v %v", ct, ok)
	}
	if _, ok := c.ClosingTime(time.Date(2026, 10, 5, 7, 0, 0, 0, sh)); ok {
		t.Error("holiday has a closing time")
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range [][]string{{"mon-fry 07:30-18:00"}, {"mon 18:00-07:30"}, {"mon"}, {"mon 25:00-26:00"}} {
		if _, err := ParseHours(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
	for _, in := range []string{"year: 2026\nholidays: [{name: x, from: 2026-13-01}]\n", "year: 1\n", "year: 2026\nfoo: 1\n",
		"year: 2026\nholidays: [{name: x, from: 2026-01-01, workdays: [2026-01-01]}]\n"} {
		if _, err := ParseHolidays("t.yaml", []byte(in)); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestUnverifiedYear(t *testing.T) {
	c := mustCal(t, "Asia/Shanghai")
	if !c.hol.Unverified(2027) || c.hol.Unverified(2026) {
		t.Fatal("2027 must be marked unverified, 2026 verified")
	}
}

// TestHolidayFileErrors: a mistake in a yearly file names the file, the
// key and the reason.
func TestHolidayFileErrors(t *testing.T) {
	for _, tc := range []struct{ body, key string }{
		{"year: 1900\n", "year"},
		{"year: 2026\nholidays:\n  - {name: x, from: 2026-13-01}\n", "holidays[0].from"},
		{"year: 2026\nholidays:\n  - {name: x, from: 2026-10-01, to: 2026-12-01}\n", "holidays[0]"},
		{"year: 2026\nholidays:\n  - {name: x, from: 2026-10-01, workdays: [2026-10-01]}\n", "holidays"},
		{"year: 2026\nholiday: []\n", ""},
	} {
		_, err := ParseHolidays("2026.yaml", []byte(tc.body))
		var ce *config.Error
		if !errors.As(err, &ce) || ce.File != "2026.yaml" || ce.Key != tc.key || ce.Reason == "" {
			t.Errorf("%q: got %#v, want file 2026.yaml key %q", tc.body, err, tc.key)
		}
	}
}
