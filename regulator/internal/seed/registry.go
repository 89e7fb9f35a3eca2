package seed

import (
	"path/filepath"
	"testing"

	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/registry"
)

// Registry is the facility registry of the seeded week: each facility
// with its street code, coordinates, gateway gw-<id>, rooms infant and
// toddler (of those types) and their air sensor, door contact and camera.
func Registry() []*registry.Facility {
	var out []*registry.Facility
	for _, f := range Facilities {
		file := registry.File{
			Facility: registry.FacilitySection{ID: f.ID, Name: f.ID, Region: f.Street, Timezone: registry.DefaultTimezone,
				Location: registry.Location{Lat: f.Lat, Lon: f.Lon}},
			Gateways: []string{"gw-" + f.ID},
		}
		for _, room := range Rooms {
			file.Rooms = append(file.Rooms, registry.RoomEntry{ID: room, Name: room, Type: room}) // room IDs are their types
			file.Devices = append(file.Devices,
				registry.DeviceEntry{ID: room + "-air", Room: room, Source: "zigbee2mqtt", Address: room + "/air",
					Kinds: []string{"temperature", "humidity", "co2", "pm25", "hcho"}},
				registry.DeviceEntry{ID: room + "-door", Room: room, Source: "zigbee2mqtt", Address: room + "/door", Kinds: []string{"door"}},
				registry.DeviceEntry{ID: room + "-cam", Room: room, Source: "nvr", Address: room + "-cam",
					Kinds: []string{"camera_online", "camera_recording"}})
		}
		rf, err := registry.New("seed/"+f.ID, file)
		if err != nil {
			panic(err) // the seed is code: a bad record is a bug here
		}
		out = append(out, rf)
	}
	return out
}

// Rules loads the shipped rule set (configs/rules.yaml and the holiday
// calendars) for a test of a regulator package, whose folder is two levels
// below the repository's root.
func Rules(t testing.TB) *rules.RuleSet {
	t.Helper()
	rs, err := rules.LoadFile(filepath.Join("..", "..", "configs", "rules.yaml"), filepath.Join("..", "..", "configs", "calendar"))
	if err != nil {
		t.Fatal(err)
	}
	return rs
}
