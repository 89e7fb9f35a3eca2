package simulator

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// message is one MQTT publication the devices make.
type message struct {
	facility int // index into engine.facilities
	family   Family
	topic    string
	payload  []byte
	retained bool
}

// incidentEvent reports an incident starting or ending during a step.
type incidentEvent struct {
	incident *activeIncident
	started  bool // false: ended
}

// Change-driven reporting thresholds (Zigbee "reportable change").
const (
	reportableTemperature = 0.5  // °C
	reportableCO2         = 50.0 // ppm
)

// cameraRetentionDays is what a healthy NVR reports: above the 90-day rule.
const cameraRetentionDays = 92

type facilityState struct {
	spec    FacilitySpec
	loc     *time.Location
	devices []*deviceState
}

func (f *facilityState) room(id string) *RoomSpec {
	for i := range f.spec.Rooms {
		if f.spec.Rooms[i].ID == id {
			return &f.spec.Rooms[i]
		}
	}
	return nil
}

// pickDevice finds the device an incident names, or the first device of the
// model (in the room, when given).
func (f *facilityState) pickDevice(id, room string, m DeviceModel) *deviceState {
	for _, d := range f.devices {
		if d.spec.Model != m {
			continue
		}
		if id != "" && d.spec.ID == id || id == "" && (room == "" || d.spec.Room == room) {
			return d
		}
	}
	return nil
}

type deviceState struct {
	spec     DeviceSpec
	room     RoomSpec
	rnd      *rand.Rand
	started  bool
	nextDue  time.Time
	lastSent time.Time
	last     float64 // the CO2 change-driven reports compare with
	lastTemp float64 // the temperature change-driven reports compare with
	open     bool    // door: last reported state
	battery  int
	lqi      int
}

// engine computes, for a simulated instant, what every device publishes.
// It is not safe for concurrent use; Run calls it from one goroutine.
type engine struct {
	seed       uint64
	facilities []*facilityState
	incidents  []*activeIncident
}

func newEngine(specs []FacilitySpec, incidents []Incident, seed uint64, simStart time.Time) (*engine, error) {
	e := &engine{seed: seed}
	ids := map[string]bool{}
	for _, spec := range specs {
		if err := spec.validate(); err != nil {
			return nil, err
		}
		if ids[spec.ID] {
			return nil, fmt.Errorf("facility %s is simulated twice", spec.ID)
		}
		ids[spec.ID] = true
		loc, _ := spec.location() // checked by validate
		f := &facilityState{spec: spec, loc: loc}
		for _, d := range spec.Devices {
			h := hash64(seed, spec.ID, d.ID)
			f.devices = append(f.devices, &deviceState{
				spec:    d,
				room:    *f.room(d.Room),
				rnd:     rand.New(rand.NewPCG(seed, h)),
				battery: 80 + int(h%21),
				lqi:     60 + int(h>>8%140),
			})
		}
		e.facilities = append(e.facilities, f)
	}
	for i, in := range incidents {
		a, err := resolveIncident(i, in, e.facilities, simStart)
		if err != nil {
			return nil, err
		}
		e.incidents = append(e.incidents, a)
	}
	return e, nil
}

// step returns what the devices publish at now, in a stable order.
func (e *engine) step(now time.Time) ([]message, []incidentEvent) {
	var events []incidentEvent
	for _, a := range e.incidents {
		if !a.started && a.active(now) {
			a.started = true
			events = append(events, incidentEvent{incident: a, started: true})
		}
		if a.started && !a.ended && !now.Before(a.end) {
			a.ended = true
			events = append(events, incidentEvent{incident: a})
		}
	}
	var out []message
	for fi, f := range e.facilities {
		local := now.In(f.loc)
		for _, d := range f.devices {
			out = e.device(out, fi, f, d, now, local)
		}
	}
	return out, events
}

// device appends what one device publishes at now.
func (e *engine) device(out []message, fi int, f *facilityState, d *deviceState, now, local time.Time) []message {
	add := func(topic string, v any, retained bool) {
		b, err := json.Marshal(v)
		if err != nil { // only plain structs are marshalled; cannot happen
			panic(fmt.Sprintf("simulator: marshal %T: %v", v, err))
		}
		out = append(out, message{facility: fi, family: d.spec.Family, topic: topic, payload: b, retained: retained})
	}
	first := !d.started
	if first {
		d.started = true
		// Spread periodic reports over the interval, as real devices
		// joined at different moments.
		phase := time.Duration(unit(hash64(e.seed, f.spec.ID, d.spec.ID, "phase")) * float64(d.spec.Interval))
		d.nextDue = now.Add(phase)
		switch d.spec.Family {
		case FamilyZigbee2MQTT:
			add(z2mAvailabilityTopic(d.spec.Address), z2mAvailability{State: "online"}, true)
		case FamilyTasmota:
			out = append(out, message{facility: fi, family: d.spec.Family, topic: tasmotaLWTTopic(d.spec.Address),
				payload: []byte(tasmotaOnline), retained: true})
		}
	}
	periodic := !now.Before(d.nextDue)
	if periodic {
		for !d.nextDue.After(now) {
			d.nextDue = d.nextDue.Add(d.spec.Interval)
		}
	}
	canChange := d.spec.MinInterval > 0 && (d.lastSent.IsZero() || now.Sub(d.lastSent) >= d.spec.MinInterval)
	sent := false
	switch d.spec.Model {
	case ModelTH, ModelAir:
		temp := e.apply(fi, d.room.ID, IncidentOverheat, roomTemperature(d.room, local), now)
		temp = e.apply(fi, d.room.ID, IncidentRateOfRise, temp, now)
		temp += d.rnd.NormFloat64() * 0.1
		rh := math.Min(100, math.Max(5, roomHumidity(d.room, local)+d.rnd.NormFloat64()*0.5))
		if d.spec.Model == ModelTH {
			if !periodic && !(canChange && math.Abs(temp-d.lastTemp) >= reportableTemperature) {
				break
			}
			d.lastTemp, sent = temp, true
			if d.spec.Family == FamilyTasmota {
				b, err := encodeTasmota(local, temp, rh)
				if err != nil {
					panic(fmt.Sprintf("simulator: marshal tasmota: %v", err))
				}
				out = append(out, message{facility: fi, family: d.spec.Family, topic: tasmotaSensorTopic(d.spec.Address), payload: b})
				break
			}
			add(z2mTopic(d.spec.Address), z2mTH{Battery: d.battery, Humidity: round(rh, 2),
				LinkQuality: d.linkQuality(), Temperature: round(temp, 2)}, false)
			break
		}
		co2 := e.apply(fi, d.room.ID, IncidentCO2Climb, roomCO2(d.room, local), now) + d.rnd.NormFloat64()*15
		co2 = math.Max(400, co2)
		changed := math.Abs(co2-d.last) >= reportableCO2 || math.Abs(temp-d.lastTemp) >= reportableTemperature
		if !periodic && !(canChange && changed) {
			break
		}
		d.last, d.lastTemp, sent = co2, temp, true
		add(z2mTopic(d.spec.Address), z2mAir{
			CO2:         int(math.Round(co2)),
			Formaldehyd: round(math.Max(0, roomHCHO(d.room)+d.rnd.NormFloat64()*0.005), 3),
			Humidity:    round(rh, 1),
			LinkQuality: d.linkQuality(),
			PM25:        int(math.Round(math.Max(0, roomPM25(d.room, local)+d.rnd.NormFloat64()*2))),
			Temperature: round(temp, 1),
			VOC:         int(math.Round(1000 * math.Max(0, roomVOC(d.room, local)+d.rnd.NormFloat64()*0.02))), // mg/m³ → µg/m³
		}, false)
	case ModelDoor:
		open := doorOpen(e.seed, f.spec.ID, d.spec.ID, local) || e.deviceIncident(fi, d.spec.ID, IncidentDoorNight, now) != nil
		if !periodic && !first && open == d.open {
			break
		}
		d.open, sent = open, true
		add(z2mTopic(d.spec.Address), z2mContact{Battery: d.battery, Contact: !open, LinkQuality: d.linkQuality()}, false)
	case ModelCamera:
		if !periodic {
			break
		}
		online := true
		if a := e.deviceIncident(fi, d.spec.ID, IncidentCameraDark, now); a != nil {
			if a.Mode == CameraSilent {
				break
			}
			online = false
		}
		sent = true
		add(cameraTopic(d.spec.Address), cameraHeartbeat{Online: online, Recording: online,
			RetentionDays: cameraRetentionDays, Time: local.Format(time.RFC3339)}, false)
	}
	if sent {
		d.lastSent = now
	}
	return out
}

func (d *deviceState) linkQuality() int {
	return min(255, max(0, d.lqi+int(d.rnd.NormFloat64()*8)))
}

// apply runs the room incidents of type t over a model value.
func (e *engine) apply(fi int, room string, t IncidentType, v float64, now time.Time) float64 {
	for _, a := range e.incidents {
		if a.facility == fi && a.Type == t && a.Room == room {
			v = a.shape(v, now)
		}
	}
	return v
}

// deviceIncident returns the active incident of type t on a device.
func (e *engine) deviceIncident(fi int, device string, t IncidentType, now time.Time) *activeIncident {
	for _, a := range e.incidents {
		if a.facility == fi && a.Type == t && a.Device == device && a.active(now) {
			return a
		}
	}
	return nil
}
