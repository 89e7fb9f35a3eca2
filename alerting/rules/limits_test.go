package rules

import (
	"math"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/alerting/calendar"
	"github.com/cradlewatch/cradlewatch/model"
)

func TestKindLimits(t *testing.T) {
	rs := loadRules(t)
	temp, ok := rs.KindLimits(model.KindTemperature)
	if !ok {
		t.Fatal("temperature has no limits")
	}
	want := map[calendar.Season]Band{calendar.Heating: {16, 24}, calendar.Cooling: {22, 28}, calendar.Transition: {16, 28}}
	if !sameBands(temp.Seasons, want) {
		t.Errorf("temperature seasons %v, want %v", temp.Seasons, want)
	}
	infant := map[calendar.Season]Band{calendar.Heating: {20, 26}, calendar.Cooling: {22, 28}, calendar.Transition: {20, 28}}
	if !sameBands(temp.RoomTypes[model.RoomInfant], infant) || !sameBands(temp.RoomTypes[model.RoomFeeding], infant) {
		t.Errorf("infant and feeding rooms %v %v, want %v", temp.RoomTypes[model.RoomInfant], temp.RoomTypes[model.RoomFeeding], infant)
	}
	if m, ok := temp.RoomTypes[model.RoomKitchen]; !ok || len(m) != 0 {
		t.Errorf("a kitchen's temperature is not judged: %v", m)
	}
	if temp.Widest != (Band{16, 28}) || len(temp.Rules) != 1 || temp.Rules[0].Name != "temperature_range" || temp.Rules[0].Source == "" {
		t.Errorf("widest %v rules %+v", temp.Widest, temp.Rules)
	}
	co2, _ := rs.KindLimits(model.KindCO2)
	if co2.Widest.Max != 1000 || co2.Widest.HasMin() || len(co2.Rules) != 2 || co2.Rules[0].Window != time.Hour {
		t.Errorf("co2 %+v", co2)
	}
	if _, ok := rs.KindLimits(model.KindBattery); ok {
		t.Error("battery has no threshold rule")
	}
}

// TestRoomLimitsAt: the band depends on the facility's season (its
// region), the room's type, and whether the facility is open.
func TestRoomLimitsAt(t *testing.T) {
	rs := loadRules(t)
	beijing, err := rs.Calendar("f", "110105001", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	loc := beijing.Location()
	infant, err := rs.RoomLimits("f", "r1", model.RoomInfant, beijing)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		at     time.Time
		k      model.Kind
		band   Band
		judged bool
	}{
		{time.Date(2026, 12, 1, 10, 0, 0, 0, loc), model.KindTemperature, Band{20, 26}, true}, // heating, infant
		{time.Date(2026, 10, 9, 10, 0, 0, 0, loc), model.KindTemperature, Band{20, 28}, true}, // transition
		{time.Date(2026, 12, 1, 22, 0, 0, 0, loc), model.KindTemperature, Unbounded, false},   // closed: not judged
		{time.Date(2026, 12, 1, 22, 0, 0, 0, loc), model.KindDoor, Band{math.Inf(-1), 0.5}, true},
		{time.Date(2026, 12, 1, 10, 0, 0, 0, loc), model.KindDoor, Band{math.Inf(-1), 0.5}, true},
		{time.Date(2026, 12, 1, 22, 0, 0, 0, loc), model.KindHCHO, Band{math.Inf(-1), 0.08}, true}, // always
	} {
		b, judged := infant.At(c.k, c.at)
		if b != c.band || judged != c.judged {
			t.Errorf("%s %s: %v %v, want %v %v", c.at.Format("01-02 15:04"), c.k, b, judged, c.band, c.judged)
		}
	}
	kitchen, _ := rs.RoomLimits("f", "k1", model.RoomKitchen, beijing)
	if !kitchen.Within(model.KindTemperature, time.Date(2026, 12, 1, 10, 0, 0, 0, loc), 45) {
		t.Error("a kitchen's temperature is not limited")
	}
	if (Band{1, 2}).Contains(math.NaN()) || !(Band{1, 2}).Contains(2) || (Band{1, 2}).Contains(2.0000001) {
		t.Error("Contains")
	}
}
