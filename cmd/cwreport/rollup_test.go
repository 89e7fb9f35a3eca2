package main

import (
	"context"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/registry"
	"github.com/cradlewatch/cradlewatch/regulator/compliance"
)

// TestOpeningHoursFromRegistry: the rollup judges a registered facility by
// its own calendar (here: the example facility, closed on a Saturday and on
// National Day), and a facility whose file names no hours by the rule
// set's default.
func TestOpeningHoursFromRegistry(t *testing.T) {
	rs, reg, err := loadRegistry(context.Background(), "../../configs/facilities",
		rulesFlags{rules: "../../configs/rules.yaml", calendar: "../../configs/calendar"})
	if err != nil {
		t.Fatal(err)
	}
	sh := time.FixedZone("CST", 8*3600)
	f := reg.Snapshot().Facility("110105001-0001")
	if f == nil {
		t.Fatal("the example facility is not registered")
	}
	cal, err := compliance.Calendar(rs, f)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		at   time.Time
		want bool
	}{
		{time.Date(2026, 11, 26, 10, 0, 0, 0, sh), true},  // Thursday morning
		{time.Date(2026, 11, 26, 20, 0, 0, 0, sh), false}, // Thursday evening
		{time.Date(2026, 11, 28, 10, 0, 0, 0, sh), false}, // Saturday
		{time.Date(2026, 10, 1, 10, 0, 0, 0, sh), false},  // National Day, a Thursday
	} {
		if got := cal.IsOpen(c.at); got != c.want {
			t.Errorf("open at %s = %v, want %v", c.at, got, c.want)
		}
	}
	bare, err := registry.Parse("bare", []byte(`facility: {id: not-registered, name: x, region: "110105001"}`))
	if err != nil {
		t.Fatal(err)
	}
	dcal, err := compliance.Calendar(rs, bare)
	if err != nil {
		t.Fatal(err)
	}
	if !dcal.IsOpen(time.Date(2026, 11, 26, 10, 0, 0, 0, sh)) {
		t.Error("a facility without hours should get the default hours")
	}
}
