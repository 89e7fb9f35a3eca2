package registry

import (
	"time"

	"github.com/cradlewatch/cradlewatch/model"
)

// Facility is one facility's checked record. It is immutable once built:
// readers share it across goroutines and must not modify it (a reload
// builds new Facility values and never touches old ones).
type Facility struct {
	model.Facility // ID, Name, Region, Location (the time zone), Rooms, Devices
	// Origin is where the record came from: the file's path, or the
	// source's name for the record.
	Origin       string
	Coordinates  Location // facility.location; Location (from model.Facility) is the time zone
	OpeningHours []string
	// Registration is the facility's filing (备案); zero when the file has
	// none.
	Registration Registration
	Gateways     []string // gateway IDs registered to the facility
	Operators    []Operator
	// Sources maps a device's source, then its address at that source, to
	// the registered device. Two levels, so the gateway looks up a
	// message's source once and each address with one string hash.
	Sources map[string]map[string]*model.Device
	// Entries keeps the file's device entries (source and address included).
	Entries []DeviceEntry

	devices  map[string]*model.Device
	rooms    map[string]*model.Room
	gateways map[string]bool
}

// SourceKey identifies a device at its source.
type SourceKey struct{ Source, Address string }

func build(origin string, f *File) *Facility {
	loc, err := time.LoadLocation(f.Facility.Timezone) // checked by Validate
	if err != nil {
		loc = time.FixedZone("CST", 8*3600)
	}
	out := &Facility{
		Facility: model.Facility{
			ID: f.Facility.ID, Name: f.Facility.Name, Region: model.Region(f.Facility.Region), Location: loc,
		},
		Origin: origin, Coordinates: f.Facility.Location,
		OpeningHours: append([]string(nil), f.Facility.OpeningHours...),
		Gateways:     append([]string(nil), f.Gateways...),
		Operators:    append([]Operator(nil), f.Operators...),
		Sources:      map[string]map[string]*model.Device{},
		Entries:      append([]DeviceEntry(nil), f.Devices...),
	}
	if r := f.Facility.Registration; r != nil {
		out.Registration = *r
	}
	for _, r := range f.Rooms {
		out.Rooms = append(out.Rooms, model.Room{ID: r.ID, Name: r.Name, Type: model.RoomType(r.Type)})
	}
	out.Devices = make([]model.Device, len(f.Devices))
	for i, d := range f.Devices {
		md := model.Device{ID: d.ID, Room: d.Room, Interval: time.Duration(d.Interval)}
		for _, k := range d.Kinds {
			kk, _ := model.ParseKind(k) // checked by Validate
			md.Kinds = append(md.Kinds, kk)
		}
		out.Devices[i] = md
		if out.Sources[d.Source] == nil {
			out.Sources[d.Source] = map[string]*model.Device{}
		}
		out.Sources[d.Source][d.Address] = &out.Devices[i]
	}
	out.index()
	return out
}

// index builds the lookup maps from the exported fields.
func (f *Facility) index() {
	f.devices = make(map[string]*model.Device, len(f.Devices))
	for i := range f.Devices {
		f.devices[f.Devices[i].ID] = &f.Devices[i]
	}
	f.rooms = make(map[string]*model.Room, len(f.Rooms))
	for i := range f.Rooms {
		f.rooms[f.Rooms[i].ID] = &f.Rooms[i]
	}
	f.gateways = make(map[string]bool, len(f.Gateways))
	for _, g := range f.Gateways {
		f.gateways[g] = true
	}
}

// New builds a Facility from a File that passed Validate, for sources other
// than files (the access database) and for tests; origin names it in logs.
func New(origin string, f File) (*Facility, error) {
	if err := f.Validate(); err != nil {
		return nil, withFile(err, origin)
	}
	return build(origin, &f), nil
}

// Device returns the registered device with the ID, nil when the facility
// lists none.
func (f *Facility) Device(id string) *model.Device { return f.devices[id] }

// Room returns the room with the ID.
func (f *Facility) Room(id string) (model.Room, bool) {
	if r := f.rooms[id]; r != nil {
		return *r, true
	}
	return model.Room{}, false
}

// RoomType returns the type of a room, "" when unknown.
func (f *Facility) RoomType(room string) model.RoomType {
	if r := f.rooms[room]; r != nil {
		return r.Type
	}
	return ""
}

// HasGateway reports whether the gateway is registered to the facility.
func (f *Facility) HasGateway(id string) bool { return f.gateways[id] }

// File renders the record back as a facility file.
func (f *Facility) File() File {
	out := File{
		Facility: FacilitySection{
			ID: f.ID, Name: f.Name, Region: string(f.Region), Timezone: f.Location.String(),
			Location: f.Coordinates, OpeningHours: append([]string(nil), f.OpeningHours...),
		},
		Gateways:  append([]string(nil), f.Gateways...),
		Operators: append([]Operator(nil), f.Operators...),
		Devices:   append([]DeviceEntry(nil), f.Entries...),
	}
	if f.Registration != (Registration{}) {
		r := f.Registration
		out.Facility.Registration = &r
	}
	for _, r := range f.Rooms {
		out.Rooms = append(out.Rooms, RoomEntry{ID: r.ID, Name: r.Name, Type: string(r.Type)})
	}
	return out
}
