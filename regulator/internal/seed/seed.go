// Package seed simulates a week of CradleWatch data for tests: several
// facilities in two counties, their rooms' climate and air, cameras, doors,
// gateway status, gaps and alerts, as InfluxDB line protocol plus the same
// data as Go values, so tests can compute expected figures independently.
package seed

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/cradlewatch/cradlewatch/model"
)

// Facility is a seeded facility.
type Facility struct {
	ID, Street string
	Lat, Lon   float64
}

// Province, City and County are the region prefixes of the street code
// (model.Region).
func (f Facility) Province() string { return model.Region(f.Street).Province() }

// City is the 4-digit prefecture code followed by zeros.
func (f Facility) City() string { return model.Region(f.Street).City() }

// County is the 6-digit county code.
func (f Facility) County() string { return model.Region(f.Street).County() }

// Reading is one seeded sample or state event.
type Reading struct {
	Facility, Room, Device, Kind string
	Time                         time.Time
	Value                        float64
}

// Alert is one seeded alert event.
type Alert struct {
	Facility, Room, Rule, Severity, State string
	Time                                  time.Time
	AckSeconds, ResolveSeconds            float64 // 0 when absent
}

// Data is the whole seeded week.
type Data struct {
	From, To   time.Time
	Facilities []Facility
	Readings   []Reading // environment samples, door and camera states
	Alerts     []Alert
	Lines      []string // everything as line protocol, ms precision
}

// Facilities of the simulation: two counties of Beijing, 110105 (朝阳)
// and 110108 (海淀).
var Facilities = []Facility{
	{"fac-a1", "110105001", 39.92, 116.44},
	{"fac-a2", "110105001", 39.93, 116.46},
	{"fac-a3", "110105002", 39.95, 116.48},
	{"fac-b1", "110108003", 39.96, 116.30},
	{"fac-b2", "110108003", 39.98, 116.31},
}

// Rooms of every facility.
var Rooms = []string{"infant", "toddler"}

const sampleEvery = 2 * time.Minute

// Week seeds [from, from+7 days). Readings are every two minutes at a
// random second; fac-a3 goes silent on the third day from 10:00 to 13:00.
func Week(from time.Time) *Data {
	rng := rand.New(rand.NewPCG(1, 2))
	d := &Data{From: from, To: from.Add(7 * 24 * time.Hour), Facilities: Facilities}
	for fi, f := range Facilities {
		tags := fmt.Sprintf("province=%s,city=%s,county=%s,street=%s,facility=%s", f.Province(), f.City(), f.County(), f.Street, f.ID)
		outFrom := from.Add(2*24*time.Hour + 10*time.Hour) // 10:00 on day 3 when from is midnight
		outTo := outFrom.Add(3 * time.Hour)
		for ri, room := range Rooms {
			for t := from; t.Before(d.To); t = t.Add(sampleEvery) {
				if f.ID == "fac-a3" && !t.Before(outFrom) && t.Before(outTo) {
					continue
				}
				ts := t.Add(time.Duration(rng.IntN(60)) * time.Second)
				hourOfDay := float64(ts.Sub(from)%(24*time.Hour)) / float64(time.Hour)
				day := math.Sin((hourOfDay - 8) / 24 * 2 * math.Pi) // peaks mid-afternoon
				values := map[string]float64{
					"temperature": 25 + 3.5*day + float64(fi)*0.3 + rng.Float64() - 0.5,
					"humidity":    55 + 20*day + rng.Float64()*6 - 3,
					"co2":         700 + 400*day + float64(ri)*150 + rng.Float64()*100,
					"pm25":        35 + 20*day + rng.Float64()*10,
					"hcho":        0.05 + 0.03*day + rng.Float64()*0.01,
				}
				for _, kind := range []string{"temperature", "humidity", "co2", "pm25", "hcho"} {
					d.add(Reading{f.ID, room, room + "-air", kind, ts.Truncate(time.Millisecond), math.Round(values[kind]*1000) / 1000}, tags)
				}
			}
			// Doors: open at 07:30 and 17:30 for ten minutes each working day.
			for day := 0; day < 7; day++ {
				for _, at := range []time.Duration{7*time.Hour + 30*time.Minute, 17*time.Hour + 30*time.Minute} {
					t := from.Add(time.Duration(day)*24*time.Hour + at)
					d.add(Reading{f.ID, room, room + "-door", "door", t, 1}, tags)
					d.add(Reading{f.ID, room, room + "-door", "door", t.Add(10 * time.Minute), 0}, tags)
				}
			}
			// Cameras: online from before the week; random outages.
			cam := room + "-cam"
			d.add(Reading{f.ID, room, cam, "camera_online", from.Add(-24 * time.Hour), 1}, tags)
			d.add(Reading{f.ID, room, cam, "camera_recording", from.Add(-24 * time.Hour), 1}, tags)
			for i := 0; i < 4+fi; i++ {
				start := from.Add(time.Duration(rng.IntN(7*24*60)) * time.Minute).Add(time.Duration(rng.IntN(60000)) * time.Millisecond)
				length := time.Duration(10+rng.IntN(120)) * time.Minute
				kind := "camera_online"
				if i%2 == 1 {
					kind = "camera_recording"
				}
				d.add(Reading{f.ID, room, cam, kind, start, 0}, tags)
				d.add(Reading{f.ID, room, cam, kind, start.Add(length), 1}, tags)
			}
		}
		// Gateway status every ten minutes.
		for t := from; t.Before(d.To); t = t.Add(10 * time.Minute) {
			online := 1
			if f.ID == "fac-a3" && !t.Before(outFrom) && t.Before(outTo) {
				online = 0
			}
			d.Lines = append(d.Lines, fmt.Sprintf("gateway_status,%s,gateway=gw-%s online=%d,spool_depth=%d,dropped=0,oldest_unsent_ms=%d,lat=%g,lon=%g %d",
				tags, f.ID, online, rng.IntN(50), t.UnixMilli(), f.Lat, f.Lon, t.UnixMilli()))
		}
		d.Lines = append(d.Lines, fmt.Sprintf(`gap,%s,gateway=gw-%s count=%d,from_ms=%d,to_ms=%d,devices="infant-air" %d`,
			tags, f.ID, 10+fi, outFrom.UnixMilli(), outTo.UnixMilli(), outTo.UnixMilli()))
		// Alerts: a few a day, most handled, the last one left open.
		for i := 0; i < 10; i++ {
			t := from.Add(time.Duration(rng.IntN(7*24*60)) * time.Minute)
			room := Rooms[i%len(Rooms)]
			sev := []string{"info", "warning", "critical"}[rng.IntN(3)]
			rule := []string{"co2_1h", "temperature_high", "camera_offline"}[i%3]
			ack := float64(30 + rng.IntN(1800))
			res := ack + float64(60+rng.IntN(3600))
			d.alert(Alert{f.ID, room, rule + fmt.Sprint(i), sev, "firing", t, 0, 0}, tags)
			if i == 9 {
				continue // still open
			}
			d.alert(Alert{f.ID, room, rule + fmt.Sprint(i), sev, "acknowledged", t.Add(time.Duration(ack) * time.Second), ack, 0}, tags)
			d.alert(Alert{f.ID, room, rule + fmt.Sprint(i), sev, "resolved", t.Add(time.Duration(res) * time.Second), 0, res}, tags)
		}
	}
	sort.SliceStable(d.Readings, func(i, j int) bool { return d.Readings[i].Time.Before(d.Readings[j].Time) })
	return d
}

func (d *Data) add(r Reading, tags string) {
	d.Readings = append(d.Readings, r)
	d.Lines = append(d.Lines, fmt.Sprintf("%s,%s,room=%s,device=%s value=%g %d", r.Kind, tags, r.Room, r.Device, r.Value, r.Time.UnixMilli()))
}

func (d *Data) alert(a Alert, tags string) {
	d.Alerts = append(d.Alerts, a)
	extra := ""
	if a.AckSeconds > 0 {
		extra += fmt.Sprintf(",ack_seconds=%g", a.AckSeconds)
	}
	if a.ResolveSeconds > 0 {
		extra += fmt.Sprintf(",resolve_seconds=%g", a.ResolveSeconds)
	}
	d.Lines = append(d.Lines, fmt.Sprintf(`alert_event,%s,room=%s,rule=%s,severity=%s,state=%s fingerprint="%s-%s-%s",value=1200,limit=1000,actor="operator",message="%s %s"%s %d`,
		tags, a.Room, a.Rule, a.Severity, a.State, a.Facility, a.Room, a.Rule, a.Rule, a.State, extra, a.Time.UnixMilli()))
}
