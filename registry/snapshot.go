package registry

import (
	"sort"
	"time"
)

// Snapshot is the registry at one moment: every facility, indexed. It is
// immutable; a reload publishes a new one.
type Snapshot struct {
	generation uint64
	at         time.Time
	list       []*Facility // by ID
	byID       map[string]*Facility
	byGateway  map[string]*Facility
	deviceHome map[string]string // device ID → a facility that lists it
}

func newSnapshot(gen uint64, at time.Time, facs []*Facility) *Snapshot {
	s := &Snapshot{generation: gen, at: at, list: append([]*Facility(nil), facs...),
		byID: make(map[string]*Facility, len(facs)), byGateway: map[string]*Facility{}, deviceHome: map[string]string{}}
	sort.Slice(s.list, func(i, j int) bool { return s.list[i].ID < s.list[j].ID })
	for _, f := range s.list {
		s.byID[f.ID] = f
		for _, g := range f.Gateways {
			s.byGateway[g] = f
		}
		for i := range f.Devices {
			if _, ok := s.deviceHome[f.Devices[i].ID]; !ok {
				s.deviceHome[f.Devices[i].ID] = f.ID
			}
		}
	}
	return s
}

// Generation counts the snapshots a registry published, from 1.
func (s *Snapshot) Generation() uint64 { return s.generation }

// LoadedAt is when the snapshot was built.
func (s *Snapshot) LoadedAt() time.Time { return s.at }

// Len is the number of facilities.
func (s *Snapshot) Len() int { return len(s.list) }

// Facilities lists every facility by ID. The slice is the snapshot's own:
// do not modify it.
func (s *Snapshot) Facilities() []*Facility { return s.list }

// Facility returns the facility with the ID, nil when none is registered.
func (s *Snapshot) Facility(id string) *Facility { return s.byID[id] }

// GatewayFacility returns the facility a gateway is registered to, nil
// when none.
func (s *Snapshot) GatewayFacility(gateway string) *Facility { return s.byGateway[gateway] }

// DeviceElsewhere reports whether a facility other than facility lists a
// device with the ID: a reading claiming it for facility is then another
// facility's device, not merely an unknown one.
func (s *Snapshot) DeviceElsewhere(facility, device string) bool {
	home, ok := s.deviceHome[device]
	if !ok {
		return false
	}
	if home != facility {
		return true
	}
	// The first facility found is facility itself; another may list it too.
	for _, f := range s.list {
		if f.ID != facility && f.Device(device) != nil {
			return true
		}
	}
	return false
}
