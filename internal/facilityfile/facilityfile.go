// Package facilityfile reads the facility file: one YAML file per facility
// that describes its identity, region, opening hours, rooms and devices. The
// gateway reads its own facility's file; the central services read a folder
// of them as their registry of facilities (备案). configs/facility.example.yaml
// documents every key.
package facilityfile

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/cradlewatch/cradlewatch/internal/config"
	"github.com/cradlewatch/cradlewatch/model"
)

// File is the facility file as written.
type File struct {
	Facility  FacilitySection `mapstructure:"facility"`
	Operators []Operator      `mapstructure:"operators"`
	Rooms     []RoomEntry     `mapstructure:"rooms"`
	Devices   []DeviceEntry   `mapstructure:"devices"`
}

// FacilitySection is the facility's identity and calendar basics.
type FacilitySection struct {
	ID           string   `mapstructure:"id"`
	Name         string   `mapstructure:"name"`
	Region       string   `mapstructure:"region"`
	Timezone     string   `mapstructure:"timezone"`
	Location     Location `mapstructure:"location"`
	OpeningHours []string `mapstructure:"opening_hours"`
}

// Location is the facility's coordinates (WGS84), for the regulators' map.
type Location struct {
	Lat float64 `mapstructure:"lat"`
	Lon float64 `mapstructure:"lon"`
}

// Operator is a person the facility's alerts go to first.
type Operator struct {
	Name  string `mapstructure:"name"`
	Phone string `mapstructure:"phone"`
	Role  string `mapstructure:"role"`
}

// RoomEntry is one room.
type RoomEntry struct {
	ID   string `mapstructure:"id"`
	Name string `mapstructure:"name"`
	Type string `mapstructure:"type"`
}

// DeviceEntry is one registered device and where its data comes from.
type DeviceEntry struct {
	ID       string        `mapstructure:"id"`
	Room     string        `mapstructure:"room"`
	Source   string        `mapstructure:"source"`  // decoder family: zigbee2mqtt, tasmota, nvr, json, rtsp
	Address  string        `mapstructure:"address"` // identity at the source: Z2M friendly name, Tasmota topic, camera id, host:port for rtsp
	Kinds    []string      `mapstructure:"kinds"`
	Interval time.Duration `mapstructure:"interval"`
}

// Facility is a loaded and checked facility file.
type Facility struct {
	model.Facility
	Path         string
	Coordinates  Location // the file's facility.location; Location (promoted from model.Facility) is the time zone
	OpeningHours []string
	Operators    []Operator
	// Sources maps a device's source, then its address at that source, to
	// the registered device. Two levels, so the gateway looks up a
	// message's source once and each address with one string hash.
	Sources map[string]map[string]*model.Device
	// Entries keeps the file's device entries (source and address included).
	Entries []DeviceEntry
}

// SourceKey identifies a device at its source.
type SourceKey struct{ Source, Address string }

// Validate implements config.Validator, naming the offending key.
func (f *File) Validate() error {
	if err := model.ValidateID("id", f.Facility.ID); err != nil {
		return config.Errorf("facility.id", "%v", err)
	}
	if _, err := model.ParseRegion(f.Facility.Region); err != nil {
		return config.Errorf("facility.region", "%v", err)
	}
	if _, err := time.LoadLocation(f.Facility.Timezone); err != nil {
		return config.Errorf("facility.timezone", "%v", err)
	}
	if la, lo := f.Facility.Location.Lat, f.Facility.Location.Lon; la < -90 || la > 90 || lo < -180 || lo > 180 {
		return config.Errorf("facility.location", "lat %v lon %v out of range", la, lo)
	}
	rooms := map[string]bool{}
	for i, r := range f.Rooms {
		key := fmt.Sprintf("rooms[%d]", i)
		if err := model.ValidateID("id", r.ID); err != nil {
			return config.Errorf(key+".id", "%v", err)
		}
		if rooms[r.ID] {
			return config.Errorf(key+".id", "%q is used twice", r.ID)
		}
		rooms[r.ID] = true
		if !model.RoomType(r.Type).Valid() {
			return config.Errorf(key+".type", "%q is not one of infant, toddler, activity, sleep, feeding, kitchen, corridor, entrance, office, outdoor", r.Type)
		}
	}
	devs := map[string]bool{}
	srcs := map[SourceKey]bool{}
	for i, d := range f.Devices {
		key := fmt.Sprintf("devices[%d]", i)
		if err := model.ValidateID("id", d.ID); err != nil {
			return config.Errorf(key+".id", "%v", err)
		}
		if devs[d.ID] {
			return config.Errorf(key+".id", "%q is used twice", d.ID)
		}
		devs[d.ID] = true
		if d.Room != "" && !rooms[d.Room] {
			return config.Errorf(key+".room", "%q is not one of the rooms", d.Room)
		}
		if d.Source == "" {
			return config.Errorf(key+".source", "empty")
		}
		if d.Address == "" {
			return config.Errorf(key+".address", "empty")
		}
		sk := SourceKey{d.Source, d.Address}
		if srcs[sk] {
			return config.Errorf(key+".address", "source %s address %q is used by another device", d.Source, d.Address)
		}
		srcs[sk] = true
		for j, k := range d.Kinds {
			if _, err := model.ParseKind(k); err != nil {
				return config.Errorf(fmt.Sprintf("%s.kinds[%d]", key, j), "%v", err)
			}
		}
		if d.Interval < 0 {
			return config.Errorf(key+".interval", "must not be negative")
		}
	}
	return nil
}

// defaultFile holds defaults the YAML may omit.
func defaultFile() File {
	return File{Facility: FacilitySection{Timezone: "Asia/Shanghai"}}
}

// Load reads and checks one facility file.
func Load(path string) (*Facility, error) {
	f := defaultFile()
	if err := config.Load(path, &f); err != nil {
		return nil, err
	}
	return build(path, &f), nil
}

func build(path string, f *File) *Facility {
	loc, _ := time.LoadLocation(f.Facility.Timezone) // checked by Validate
	out := &Facility{
		Facility: model.Facility{
			ID: f.Facility.ID, Name: f.Facility.Name, Region: model.Region(f.Facility.Region), Location: loc,
		},
		Path: path, Coordinates: f.Facility.Location, OpeningHours: f.Facility.OpeningHours, Operators: f.Operators,
		Sources: map[string]map[string]*model.Device{}, Entries: f.Devices,
	}
	for _, r := range f.Rooms {
		out.Rooms = append(out.Rooms, model.Room{ID: r.ID, Name: r.Name, Type: model.RoomType(r.Type)})
	}
	out.Devices = make([]model.Device, len(f.Devices))
	for i, d := range f.Devices {
		md := model.Device{ID: d.ID, Room: d.Room, Interval: d.Interval}
		for _, k := range d.Kinds {
			kk, _ := model.ParseKind(k)
			md.Kinds = append(md.Kinds, kk)
		}
		out.Devices[i] = md
		if out.Sources[d.Source] == nil {
			out.Sources[d.Source] = map[string]*model.Device{}
		}
		out.Sources[d.Source][d.Address] = &out.Devices[i]
	}
	return out
}

// RoomType returns the type of a room, "" when unknown.
func (f *Facility) RoomType(room string) model.RoomType {
	for _, r := range f.Rooms {
		if r.ID == room {
			return r.Type
		}
	}
	return ""
}

// LoadDir reads every *.yaml file of a folder: the central registry. Two
// files with the same facility ID are an error.
func LoadDir(dir string) ([]*Facility, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("facility registry %s: %w", dir, err)
	}
	var out []*Facility
	seen := map[string]string{}
	for _, e := range entries {
		if e.IsDir() || !(strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		f, err := Load(p)
		if err != nil {
			return nil, err
		}
		if other, ok := seen[f.ID]; ok {
			return nil, &config.Error{File: p, Key: "facility.id", Reason: fmt.Sprintf("%q is also the id in %s", f.ID, other)}
		}
		seen[f.ID] = p
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}
