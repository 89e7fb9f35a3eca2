package simulator

import (
	"math"
	"testing"

	"github.com/cradlewatch/cradlewatch/model"
)

func TestRoomModel(t *testing.T) {
	toddler := RoomSpec{ID: "toddler-2", Type: model.RoomToddler, Children: 20}
	infant := RoomSpec{ID: "infant-1", Type: model.RoomInfant, Children: 8}
	tests := []struct {
		at       string
		room     RoomSpec
		co2Range [2]float64
		tRange   [2]float64
	}{
		{"2026-11-26T03:00:00+08:00", toddler, [2]float64{440, 460}, [2]float64{20, 23}},   // empty at night
		{"2026-11-26T09:30:00+08:00", toddler, [2]float64{1000, 1200}, [2]float64{20, 23}}, // full room
		{"2026-11-26T09:30:00+08:00", infant, [2]float64{800, 1000}, [2]float64{22, 25}},   // warmer infant room
		{"2026-11-26T10:14:00+08:00", toddler, [2]float64{450, 700}, [2]float64{19, 23}},   // airing
		{"2026-11-28T10:00:00+08:00", toddler, [2]float64{440, 460}, [2]float64{20, 23}},   // Saturday
		{"2026-07-08T09:30:00+08:00", toddler, [2]float64{1000, 1200}, [2]float64{24, 28}}, // cooling season
	}
	for _, tc := range tests {
		t.Run(tc.at+"/"+tc.room.ID, func(t *testing.T) {
			local := mustTime(t, tc.at)
			if c := roomCO2(tc.room, local); c < tc.co2Range[0] || c > tc.co2Range[1] {
				t.Errorf("co2 %v, want %v", c, tc.co2Range)
			}
			if c := roomTemperature(tc.room, local); c < tc.tRange[0] || c > tc.tRange[1] {
				t.Errorf("temperature %v, want %v", c, tc.tRange)
			}
		})
	}
}

func TestDewPoint(t *testing.T) {
	// Reference values of the Magnus formula.
	for _, tc := range []struct{ t, rh, want float64 }{{20, 50, 9.3}, {25, 60, 16.7}, {0, 100, 0}} {
		if got := dewPoint(tc.t, tc.rh); math.Abs(got-tc.want) > 0.1 {
			t.Errorf("dewPoint(%v, %v) = %v, want %v", tc.t, tc.rh, got, tc.want)
		}
	}
}

func TestDoorTrafficAtArrivals(t *testing.T) {
	opens := func(from, to string) int {
		n, prev := 0, false
		for at := mustTime(t, from); at.Before(mustTime(t, to)); at = at.Add(5e9) {
			o := doorOpen(1, "f", "door", at)
			if o && !prev {
				n++
			}
			prev = o
		}
		return n
	}
	if n := opens("2026-11-26T07:30:00+08:00", "2026-11-26T08:30:00+08:00"); n < 5 {
		t.Errorf("%d openings during arrivals, want several", n)
	}
	if n := opens("2026-11-26T20:00:00+08:00", "2026-11-27T06:00:00+08:00"); n != 0 {
		t.Errorf("%d openings at night, want none", n)
	}
}
