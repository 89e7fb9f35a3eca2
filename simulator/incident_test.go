package simulator

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// observation is one message the engine produced, at a simulated time.
type observation struct {
	at      time.Duration // since start
	topic   string
	payload []byte
}

// runEngine steps a one-facility engine from start every step for length
// and returns every message.
func runEngine(t *testing.T, start time.Time, step, length time.Duration, incidents ...Incident) []observation {
	t.Helper()
	e, err := newEngine(GenerateFacilities(1, ""), incidents, 1, start)
	if err != nil {
		t.Fatal(err)
	}
	var out []observation
	for at := time.Duration(0); at <= length; at += step {
		msgs, _ := e.step(start.Add(at))
		for _, m := range msgs {
			out = append(out, observation{at: at, topic: m.topic, payload: m.payload})
		}
	}
	return out
}

func TestIncidentTiming(t *testing.T) {
	night := mustTime(t, "2026-11-26T03:00:00+08:00")
	evening := mustTime(t, "2026-11-26T21:55:00+08:00")
	type check func(t *testing.T, obs []observation)

	// between reports whether every message on topic within [from, to)
	// satisfies ok and at least one exists.
	within := func(topic string, from, to time.Duration, ok func(p []byte) bool) check {
		return func(t *testing.T, obs []observation) {
			t.Helper()
			n := 0
			for _, o := range obs {
				if o.topic != topic || o.at < from || o.at >= to {
					continue
				}
				n++
				if !ok(o.payload) {
					t.Errorf("%v %s: %s", o.at, topic, o.payload)
				}
			}
			if n == 0 && ok != nil {
				t.Errorf("no %s in [%v, %v)", topic, from, to)
			}
		}
	}
	none := func(topic string, from, to time.Duration) check {
		return func(t *testing.T, obs []observation) {
			t.Helper()
			for _, o := range obs {
				if o.topic == topic && o.at >= from && o.at < to {
					t.Errorf("%v: unexpected %s %s", o.at, topic, o.payload)
				}
			}
		}
	}
	co2 := func(pred func(int) bool) func([]byte) bool {
		return func(p []byte) bool {
			var v struct{ CO2 int }
			return json.Unmarshal(p, &v) == nil && pred(v.CO2)
		}
	}
	temp := func(pred func(float64) bool) func([]byte) bool {
		return func(p []byte) bool {
			var v struct{ Temperature float64 }
			return json.Unmarshal(p, &v) == nil && pred(v.Temperature)
		}
	}
	has := func(s string) func([]byte) bool { return func(p []byte) bool { return strings.Contains(string(p), s) } }
	const cam = "cw/local/camera/cam-infant-1/heartbeat"
	const door = "zigbee2mqtt/entrance-1/door"
	const air = "zigbee2mqtt/toddler-1/air"
	const th = "zigbee2mqtt/infant-1/th"

	tests := []struct {
		name     string
		start    time.Time
		step     time.Duration
		length   time.Duration
		incident Incident
		checks   []check
	}{
		{"co2_climb", night, time.Second, 10 * time.Minute,
			Incident{Type: IncidentCO2Climb, Room: "toddler-1", At: time.Minute, Rise: 2 * time.Minute, Hold: 2 * time.Minute, Fall: 2 * time.Minute},
			[]check{
				within(air, 0, time.Minute, co2(func(c int) bool { return c < 600 })),
				within(air, 3*time.Minute, 5*time.Minute, co2(func(c int) bool { return c > 1500 && c < 1700 })),
				within(air, 7*time.Minute+5*time.Second, 10*time.Minute, co2(func(c int) bool { return c < 600 })),
			}},
		{"overheat", night, 10 * time.Second, 2 * time.Hour,
			Incident{Type: IncidentOverheat, Room: "infant-1", At: 10 * time.Minute, Peak: 31},
			[]check{
				within(th, 0, 10*time.Minute, temp(func(c float64) bool { return c > 20 && c < 25 })),
				within(th, 30*time.Minute+10*time.Second, 60*time.Minute, temp(func(c float64) bool { return c > 30 && c < 32 })),
				within(th, 91*time.Minute, 2*time.Hour, temp(func(c float64) bool { return c < 25 })),
			}},
		{"rate_of_rise", night, time.Second, 10 * time.Minute,
			Incident{Type: IncidentRateOfRise, Room: "infant-1", At: time.Minute},
			[]check{
				within(th, 3*time.Minute+5*time.Second, 8*time.Minute, temp(func(c float64) bool { return c > 39 })),
			}},
		{"camera_dark silent", night, time.Second, 5 * time.Minute,
			Incident{Type: IncidentCameraDark, Room: "infant-1", At: time.Minute, Duration: 2 * time.Minute},
			[]check{
				within(cam, 0, time.Minute, has(`"online":true`)),
				none(cam, time.Minute, 3*time.Minute),
				within(cam, 3*time.Minute, 5*time.Minute, has(`"online":true`)),
			}},
		{"camera_dark offline", night, time.Second, 5 * time.Minute,
			Incident{Type: IncidentCameraDark, Device: "cam-infant-1", At: time.Minute, Duration: 2 * time.Minute, Mode: CameraOffline},
			[]check{
				within(cam, time.Minute, 3*time.Minute, has(`"online":false,"recording":false`)),
				within(cam, 3*time.Minute, 5*time.Minute, has(`"online":true`)),
			}},
		{"door_night at 22:00", evening, time.Second, 20 * time.Minute,
			Incident{Type: IncidentDoorNight, Device: "door-entrance-1", Duration: 10 * time.Minute},
			[]check{
				within(door, 0, 5*time.Minute, has(`"contact":true`)),
				// 22:00 is 5 min after start: the door reports open then,
				// and closed again 10 min later.
				within(door, 5*time.Minute, 5*time.Minute+time.Second, has(`"contact":false`)),
				within(door, 15*time.Minute, 15*time.Minute+time.Second, has(`"contact":true`)),
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obs := runEngine(t, tc.start, tc.step, tc.length, tc.incident)
			for _, c := range tc.checks {
				c(t, obs)
			}
		})
	}
}

func TestIncidentRejected(t *testing.T) {
	start := mustTime(t, "2026-11-26T03:00:00+08:00")
	tests := []struct {
		name string
		in   Incident
		want string
	}{
		{"unknown type", Incident{Type: "flood"}, "incidents[0].type"},
		{"no room", Incident{Type: IncidentCO2Climb}, "incidents[0].room is required"},
		{"unknown room", Incident{Type: IncidentCO2Climb, Room: "attic"}, "incidents[0].room \"attic\""},
		{"unknown facility", Incident{Type: IncidentCO2Climb, Room: "infant-1", Facility: "x"}, "incidents[0].facility"},
		{"no camera", Incident{Type: IncidentCameraDark, Room: "kitchen-1"}, "no camera device"},
		{"bad mode", Incident{Type: IncidentCameraDark, Mode: "dim"}, "incidents[0].mode"},
		{"bad clock", Incident{Type: IncidentDoorNight, Clock: "25:00"}, "incidents[0].clock"},
		{"negative at", Incident{Type: IncidentDoorNight, At: -time.Second}, "incidents[0].at"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newEngine(GenerateFacilities(1, ""), []Incident{tc.in}, 1, start)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
