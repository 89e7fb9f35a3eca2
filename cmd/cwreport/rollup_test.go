package main

import (
	"io"
	"log/slog"
	"testing"
	"time"
)

// TestOpeningHoursFromRegistry: the rollup judges a registered facility by
// its own calendar (here: the example facility, closed on a Saturday and on
// National Day) and an unknown one by the default.
func TestOpeningHoursFromRegistry(t *testing.T) {
	hours, err := openingHours("../../configs/facilities", "../../configs/rules.yaml", "../../configs/calendar",
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	sh := time.FixedZone("CST", 8*3600)
	open := hours("110105001-0001")
	for _, c := range []struct {
		at   time.Time
		want bool
	}{
		{time.Date(2026, 11, 26, 10, 0, 0, 0, sh), true},  // Thursday morning
		{time.Date(2026, 11, 26, 20, 0, 0, 0, sh), false}, // Thursday evening
		{time.Date(2026, 11, 28, 10, 0, 0, 0, sh), false}, // Saturday
		{time.Date(2026, 10, 1, 10, 0, 0, 0, sh), false},  // National Day, a Thursday
	} {
		if got := open(c.at); got != c.want {
			t.Errorf("open at %s = %v, want %v", c.at, got, c.want)
		}
	}
	if !hours("not-registered")(time.Date(2026, 11, 26, 10, 0, 0, 0, sh)) {
		t.Error("an unregistered facility should get the default hours")
	}
}
