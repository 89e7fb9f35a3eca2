package simulator

import (
	"fmt"
	"time"
)

// IncidentType names a scripted incident.
type IncidentType string

// Scripted incidents.
const (
	// IncidentCO2Climb raises a room's CO2 linearly to Peak over Rise,
	// holds it for Hold, then the room is aired back to normal over Fall.
	IncidentCO2Climb IncidentType = "co2_climb"
	// IncidentOverheat raises a room's temperature to Peak over Rise
	// (a heater left on), holds, and falls back over Fall.
	IncidentOverheat IncidentType = "overheat"
	// IncidentRateOfRise is an overheat with a fast rise, the shape a
	// fire near a sensor gives.
	IncidentRateOfRise IncidentType = "rate_of_rise"
	// IncidentCameraDark makes a camera stop heartbeating (Mode "silent")
	// or report online false (Mode "offline") for Duration.
	IncidentCameraDark IncidentType = "camera_dark"
	// IncidentDoorNight opens a door at Clock (22:00 by default) for
	// Duration.
	IncidentDoorNight IncidentType = "door_night"
)

// Camera-dark modes.
const (
	CameraSilent  = "silent"
	CameraOffline = "offline"
)

// Incident is one scripted incident, as written in the simulator's YAML.
// Times are simulated time. The incident starts at Start+At, or, when Clock
// is set, at the first Clock time of day (facility time zone) at or after
// Start+At.
type Incident struct {
	Type     IncidentType  `yaml:"type"`
	Facility string        `yaml:"facility"` // facility ID; the first facility when empty
	Room     string        `yaml:"room"`     // co2_climb, overheat, rate_of_rise; camera_dark and door_night pick the room's device
	Device   string        `yaml:"device"`   // camera_dark, door_night; the first matching device when empty
	At       time.Duration `yaml:"at"`
	Clock    string        `yaml:"clock"` // "HH:MM"
	Rise     time.Duration `yaml:"rise"`
	Hold     time.Duration `yaml:"hold"`
	Fall     time.Duration `yaml:"fall"`
	Peak     float64       `yaml:"peak"` // ppm for co2_climb, °C for overheat and rate_of_rise
	Duration time.Duration `yaml:"duration"`
	Mode     string        `yaml:"mode"` // camera_dark: silent (default) or offline
}

// incidentDefaults fills what a script left out.
func (in Incident) withDefaults() Incident {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	switch in.Type {
	case IncidentCO2Climb:
		def(&in.Rise, 10*time.Minute)
		def(&in.Hold, 15*time.Minute)
		def(&in.Fall, 15*time.Minute)
		if in.Peak == 0 {
			in.Peak = 1600
		}
	case IncidentOverheat:
		def(&in.Rise, 20*time.Minute)
		def(&in.Hold, 30*time.Minute)
		def(&in.Fall, 30*time.Minute)
		if in.Peak == 0 {
			in.Peak = 30
		}
	case IncidentRateOfRise:
		def(&in.Rise, 2*time.Minute)
		def(&in.Hold, 5*time.Minute)
		def(&in.Fall, 20*time.Minute)
		if in.Peak == 0 {
			in.Peak = 40
		}
	case IncidentCameraDark:
		def(&in.Duration, 10*time.Minute)
		if in.Mode == "" {
			in.Mode = CameraSilent
		}
	case IncidentDoorNight:
		def(&in.Duration, 10*time.Minute)
		if in.Clock == "" {
			in.Clock = "22:00"
		}
	}
	return in
}

// parseClock reads "HH:MM".
func parseClock(s string) (time.Duration, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, fmt.Errorf("clock %q must be HH:MM", s)
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

// activeIncident is an incident resolved against the facilities, with its
// start time fixed.
type activeIncident struct {
	Incident
	index    int // position in Options.Incidents, for logs
	facility int
	start    time.Time
	end      time.Time
	started  bool
	ended    bool
}

// resolveIncident checks in against the facilities and fixes its start.
func resolveIncident(i int, in Incident, facs []*facilityState, simStart time.Time) (*activeIncident, error) {
	where := fmt.Sprintf("incidents[%d]", i)
	in = in.withDefaults()
	a := &activeIncident{Incident: in, index: i, facility: -1}
	for fi, f := range facs {
		if in.Facility == "" || in.Facility == f.spec.ID {
			a.facility = fi
			break
		}
	}
	if a.facility < 0 {
		return nil, fmt.Errorf("%s.facility %q is not a simulated facility", where, in.Facility)
	}
	f := facs[a.facility]
	if in.At < 0 {
		return nil, fmt.Errorf("%s.at must not be negative", where)
	}
	if in.Room != "" && f.room(in.Room) == nil {
		return nil, fmt.Errorf("%s.room %q is not a room of facility %s", where, in.Room, f.spec.ID)
	}
	switch in.Type {
	case IncidentCO2Climb, IncidentOverheat, IncidentRateOfRise:
		if in.Room == "" {
			return nil, fmt.Errorf("%s.room is required for %s", where, in.Type)
		}
		if in.Rise <= 0 || in.Hold < 0 || in.Fall <= 0 {
			return nil, fmt.Errorf("%s: rise and fall must be positive, hold not negative", where)
		}
	case IncidentCameraDark, IncidentDoorNight:
		want := ModelCamera
		if in.Type == IncidentDoorNight {
			want = ModelDoor
		}
		d := f.pickDevice(in.Device, in.Room, want)
		if d == nil {
			return nil, fmt.Errorf("%s: facility %s has no %s device matching device %q room %q", where, f.spec.ID, want, in.Device, in.Room)
		}
		a.Device = d.spec.ID
		if in.Duration <= 0 {
			return nil, fmt.Errorf("%s.duration must be positive", where)
		}
		if in.Type == IncidentCameraDark && in.Mode != CameraSilent && in.Mode != CameraOffline {
			return nil, fmt.Errorf("%s.mode %q must be %q or %q", where, in.Mode, CameraSilent, CameraOffline)
		}
	default:
		return nil, fmt.Errorf("%s.type %q is not one of co2_climb, overheat, rate_of_rise, camera_dark, door_night", where, in.Type)
	}
	a.start = simStart.Add(in.At)
	if in.Clock != "" {
		tod, err := parseClock(in.Clock)
		if err != nil {
			return nil, fmt.Errorf("%s.%w", where, err)
		}
		local := a.start.In(f.loc)
		y, m, d := local.Date()
		at := time.Date(y, m, d, 0, 0, 0, 0, f.loc).Add(tod)
		if at.Before(local) {
			at = time.Date(y, m, d+1, 0, 0, 0, 0, f.loc).Add(tod)
		}
		a.start = at
	}
	a.end = a.start.Add(a.length())
	return a, nil
}

// length is how long the incident lasts.
func (a *activeIncident) length() time.Duration {
	switch a.Type {
	case IncidentCameraDark, IncidentDoorNight:
		return a.Duration
	}
	return a.Rise + a.Hold + a.Fall
}

func (a *activeIncident) active(now time.Time) bool {
	return !now.Before(a.start) && now.Before(a.end)
}

// shape moves base towards Peak: up over Rise, held, back over Fall.
func (a *activeIncident) shape(base float64, now time.Time) float64 {
	if !a.active(now) {
		return base
	}
	t := now.Sub(a.start)
	switch {
	case t < a.Rise:
		return base + (a.Peak-base)*float64(t)/float64(a.Rise)
	case t < a.Rise+a.Hold:
		return a.Peak
	default:
		return a.Peak + (base-a.Peak)*float64(t-a.Rise-a.Hold)/float64(a.Fall)
	}
}
