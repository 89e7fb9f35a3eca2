package simulator

import (
	"hash/fnv"
	"math"
	"time"

	"github.com/cradlewatch/cradlewatch/model"
)

// The environment model: every value is a function of the room, the
// facility's local time and (for noise) the device's own random stream.
// The numbers follow DOMAIN.md: heating-season rooms at 20-23 °C, about
// 450 ppm CO2 in an empty room and 800-1200 ppm with children.
const (
	outdoorCO2      = 450.0 // ppm, an empty, aired room
	co2PerChild     = 15.0  // ppm of steady-state rise per child above co2Occupied
	co2Occupied     = 800.0 // ppm with a small group
	ventilationKeep = 0.3   // share of the CO2 excess left at the end of an airing
	airingLength    = 15 * time.Minute
	airingRecovery  = 30 * time.Minute
)

// Opening schedule of the simulated facilities (Monday to Friday): children
// arrive 07:30-08:30 and leave 16:30-18:00; rooms are aired at 10:00 and
// 15:00, twice a day as the hygiene rules ask. Public holidays are not
// modelled.
const (
	arriveFrom  = 7*time.Hour + 30*time.Minute
	arriveUntil = 8*time.Hour + 30*time.Minute
	leaveFrom   = 16*time.Hour + 30*time.Minute
	leaveUntil  = 18 * time.Hour
	napFrom     = 12 * time.Hour
	napUntil    = 14*time.Hour + 30*time.Minute
)

func airingTimes() [2]time.Duration { return [2]time.Duration{10 * time.Hour, 15 * time.Hour} }

// sinceMidnight is the local time of day.
func sinceMidnight(t time.Time) time.Duration {
	y, m, d := t.Date()
	return t.Sub(time.Date(y, m, d, 0, 0, 0, 0, t.Location()))
}

func schoolDay(t time.Time) bool {
	wd := t.Weekday()
	return wd != time.Saturday && wd != time.Sunday
}

// ramp is 0 before from, 1 after until, linear between.
func ramp(x, from, until time.Duration) float64 {
	switch {
	case x <= from:
		return 0
	case x >= until:
		return 1
	}
	return float64(x-from) / float64(until-from)
}

// occupancy is the share of the facility's children present (0..1).
func occupancy(local time.Time) float64 {
	if !schoolDay(local) {
		return 0
	}
	x := sinceMidnight(local)
	return ramp(x, arriveFrom, arriveUntil) * (1 - ramp(x, leaveFrom, leaveUntil))
}

// roomUse scales occupancy by how a room type is used over the day.
func roomUse(t model.RoomType, local time.Time) float64 {
	occ := occupancy(local)
	switch t {
	case model.RoomInfant, model.RoomToddler, model.RoomFeeding:
		return occ
	case model.RoomActivity:
		return 0.6 * occ
	case model.RoomSleep:
		x := sinceMidnight(local)
		nap := ramp(x, napFrom-15*time.Minute, napFrom) * (1 - ramp(x, napUntil, napUntil+15*time.Minute))
		return occ * (0.1 + 0.9*nap)
	}
	return 0.3 * occ // staff only
}

// airing is 1 normally and falls to ventilationKeep while windows are open,
// recovering over airingRecovery.
func airing(local time.Time) float64 {
	if !schoolDay(local) {
		return 1
	}
	x := sinceMidnight(local)
	f := 1.0
	for _, w := range airingTimes() {
		switch {
		case x >= w && x < w+airingLength:
			f = math.Min(f, 1-(1-ventilationKeep)*ramp(x, w, w+airingLength))
		case x >= w+airingLength && x < w+airingLength+airingRecovery:
			f = math.Min(f, ventilationKeep+(1-ventilationKeep)*ramp(x, w+airingLength, w+airingLength+airingRecovery))
		}
	}
	return f
}

// heatingSeason is northern China's central heating period, 15 November to
// 15 March.
func heatingSeason(local time.Time) bool {
	m, d := local.Month(), local.Day()
	return m == time.December || m == time.January || m == time.February ||
		(m == time.November && d >= 15) || (m == time.March && d <= 15)
}

// roomCO2 is the noise-free CO2 of a room in ppm.
func roomCO2(r RoomSpec, local time.Time) float64 {
	peak := co2Occupied + co2PerChild*float64(r.Children)
	switch r.Type {
	case model.RoomActivity:
		peak = 1000
	case model.RoomSleep:
		peak = 1150 // doors and windows shut during the nap
	case model.RoomKitchen, model.RoomOffice, model.RoomEntrance, model.RoomCorridor:
		peak = 650
	}
	return outdoorCO2 + (peak-outdoorCO2)*roomUse(r.Type, local)*airing(local)
}

// roomTemperature is the noise-free temperature of a room in °C.
func roomTemperature(r RoomSpec, local time.Time) float64 {
	base := 21.5
	switch r.Type {
	case model.RoomInfant, model.RoomFeeding:
		base = 23 // JGJ 39 asks for warmer infant rooms
	case model.RoomKitchen:
		base = 22
	case model.RoomEntrance, model.RoomCorridor:
		base = 18.5
	case model.RoomOutdoor:
		base = 2
	}
	if !heatingSeason(local) {
		base += 4
	}
	hours := sinceMidnight(local).Hours()
	daily := 0.5 * math.Cos(2*math.Pi*(hours-15)/24) // warmest mid-afternoon
	return base + daily + 0.6*roomUse(r.Type, local) - 1.5*(1-airing(local))
}

// roomHumidity is the noise-free relative humidity of a room in %.
func roomHumidity(r RoomSpec, local time.Time) float64 {
	base := 38.0
	if !heatingSeason(local) {
		base = 55
	}
	if r.Type == model.RoomKitchen {
		base += 8
	}
	return base + 6*roomUse(r.Type, local) - 3*(1-airing(local))
}

func roomPM25(r RoomSpec, local time.Time) float64 {
	return 10 + 8*roomUse(r.Type, local)
}

func roomHCHO(r RoomSpec) float64 {
	if r.Type == model.RoomKitchen {
		return 0.04
	}
	return 0.025
}

func roomVOC(r RoomSpec, local time.Time) float64 {
	return 0.12 + 0.1*roomUse(r.Type, local)
}

// dewPoint is the Magnus-formula dew point Tasmota reports, in °C.
func dewPoint(tempC, rh float64) float64 {
	const a, b = 17.62, 243.12
	if rh <= 0 {
		return math.NaN()
	}
	g := math.Log(rh/100) + a*tempC/(b+tempC)
	return b * g / (a - g)
}

// hash64 mixes the seed and names into one number, for per-device random
// streams and door schedules that do not depend on publishing order.
func hash64(seed uint64, parts ...string) uint64 {
	h := fnv.New64a()
	var b [8]byte
	for i := range b {
		b[i] = byte(seed >> (8 * i))
	}
	_, _ = h.Write(b[:])
	for _, p := range parts {
		_, _ = h.Write([]byte(p))
		_, _ = h.Write([]byte{0})
	}
	return h.Sum64()
}

// unit turns a hash into a number in [0, 1).
func unit(h uint64) float64 { return float64(h>>11) / (1 << 53) }

// Door traffic: in the arrival and departure windows the day is cut into
// slots; in each slot the door opens with doorSlotChance, at a random moment,
// for 20-60 s.
const (
	doorSlot       = 3 * time.Minute
	doorSlotChance = 0.6
)

// doorOpen reports whether the door is open by normal traffic at local.
func doorOpen(seed uint64, facility, device string, local time.Time) bool {
	if !schoolDay(local) {
		return false
	}
	x := sinceMidnight(local)
	if !(x >= arriveFrom && x < arriveUntil) && !(x >= leaveFrom && x < leaveUntil) {
		return false
	}
	slot := x / doorSlot
	h := hash64(seed, facility, device, local.Format(time.DateOnly), time.Duration(slot).String())
	if unit(h) >= doorSlotChance {
		return false
	}
	open := slot*doorSlot + time.Duration(unit(h*0x9e3779b97f4a7c15)*float64(doorSlot-time.Minute))
	length := 20*time.Second + time.Duration(unit(h^0xbf58476d1ce4e5b9)*40)*time.Second
	return x >= open && x < open+length
}
