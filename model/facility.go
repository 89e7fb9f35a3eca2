package model

import (
	"fmt"
	"time"
)

// RoomType says what a room is used for; rule defaults differ by type
// (JGJ 39 asks for warmer infant rooms, a kitchen has gas alarms).
type RoomType string

// Room types known to the rule defaults.
const (
	RoomInfant   RoomType = "infant"   // 乳儿班: under 12 months
	RoomToddler  RoomType = "toddler"  // 托小班/托大班
	RoomActivity RoomType = "activity" // 活动室
	RoomSleep    RoomType = "sleep"    // 寝室
	RoomFeeding  RoomType = "feeding"  // 喂奶室
	RoomKitchen  RoomType = "kitchen"
	RoomCorridor RoomType = "corridor"
	RoomEntrance RoomType = "entrance"
	RoomOffice   RoomType = "office"
	RoomOutdoor  RoomType = "outdoor"
)

var roomTypes = map[RoomType]bool{
	RoomInfant: true, RoomToddler: true, RoomActivity: true, RoomSleep: true, RoomFeeding: true,
	RoomKitchen: true, RoomCorridor: true, RoomEntrance: true, RoomOffice: true, RoomOutdoor: true,
}

// Valid reports whether t is a known room type.
func (t RoomType) Valid() bool { return roomTypes[t] }

// Facility is a registered (备案) childcare facility.
type Facility struct {
	ID       string
	Name     string
	Region   Region
	Location *time.Location // Asia/Shanghai unless configured
	Rooms    []Room
	Devices  []Device
}

// Room is a room of a facility.
type Room struct {
	ID   string
	Name string
	Type RoomType
}

// Device is a sensor, contact or camera registered in the facility file.
type Device struct {
	ID       string
	Room     string
	Kinds    []Kind        // what it measures
	Interval time.Duration // expected reporting interval; absence rules use it
}

// Validate checks identifiers, the region and references between rooms and
// devices. The returned error names the offending field.
func (f *Facility) Validate() error {
	if err := ValidateID("facility id", f.ID); err != nil {
		return err
	}
	if _, err := ParseRegion(string(f.Region)); err != nil {
		return err
	}
	rooms := map[string]bool{}
	for i, r := range f.Rooms {
		if err := ValidateID(fmt.Sprintf("rooms[%d].id", i), r.ID); err != nil {
			return err
		}
		if rooms[r.ID] {
			return fmt.Errorf("rooms[%d].id %q is used twice", i, r.ID)
		}
		if !r.Type.Valid() {
			return fmt.Errorf("rooms[%d].type %q is not a known room type", i, r.Type)
		}
		rooms[r.ID] = true
	}
	devs := map[string]bool{}
	for i, d := range f.Devices {
		if err := ValidateID(fmt.Sprintf("devices[%d].id", i), d.ID); err != nil {
			return err
		}
		if devs[d.ID] {
			return fmt.Errorf("devices[%d].id %q is used twice", i, d.ID)
		}
		devs[d.ID] = true
		if d.Room != "" && !rooms[d.Room] {
			return fmt.Errorf("devices[%d].room %q is not a room of the facility", i, d.Room)
		}
	}
	return nil
}
