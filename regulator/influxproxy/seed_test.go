package influxproxy

import (
	"fmt"
	"strings"
	"time"

	"github.com/cradlewatch/cradlewatch/model"
)

// seedFacility is a facility of the seeded day.
type seedFacility struct {
	id     string
	street model.Region
}

// The counties of the seed: 朝阳 110105 (the county user's) with three
// facilities on two streets, and 海淀 110108 with two.
var (
	countyA = model.MustRegionCode("110105")
	countyB = model.MustRegionCode("110108")

	seedFacilities = []seedFacility{
		{"110105001-0001", "110105001"},
		{"110105001-0002", "110105001"},
		{"110105002-0001", "110105002"},
		{"110108003-0001", "110108003"},
		{"110108004-0001", "110108004"},
	}
)

// seedFrom is the seeded day's start, midnight Beijing time.
var seedFrom = time.Date(2026, 6, 1, 0, 0, 0, 0, time.FixedZone("CST", 8*3600))

const seedStep = 10 * time.Minute

// seedLines is a day of every measurement the dashboards read, for the
// facilities under keep, as line protocol with millisecond timestamps.
// With traps, it adds what county B could hold to lure a county A query:
// a humidity point whose field "county" says 110105, a measurement outside
// the schema and one without region tags. One county A humidity point has
// such a field too, in every dataset, so that the field exists in both
// datasets and a query naming "county" means the same in each.
func seedLines(keep model.RegionCode, traps bool) string {
	var b strings.Builder
	line := func(format string, args ...any) {
		fmt.Fprintf(&b, format, args...)
		b.WriteByte('\n')
	}
	to := seedFrom.Add(24 * time.Hour)
	for fi, f := range seedFacilities {
		if !keep.Contains(f.street) {
			continue
		}
		reg := fmt.Sprintf("province=%s,city=%s,county=%s,street=%s,facility=%s",
			f.street.Province(), f.street.City(), f.street.County(), f.street.Street(), f.id)
		fv := float64(fi)
		n := 0
		for t := seedFrom; t.Before(to); t = t.Add(seedStep) {
			ms, h := t.UnixMilli(), float64(t.Sub(seedFrom).Hours())
			for ri, room := range []string{"infant", "toddler"} {
				tags := reg + ",room=" + room + ",device=" + room + "-air"
				r := float64(ri)
				line("temperature,%s value=%g %d", tags, 22+fv+r+h/10, ms)
				line("humidity,%s value=%g %d", tags, 40+fv*3+h, ms)
				line("co2,%s value=%g %d", tags, 600+fv*50+r*100+h*30, ms)
				line("pm25,%s value=%g %d", tags, 20+fv+h, ms)
				line("hcho,%s value=%g %d", tags, 0.03+fv/100+h/1000, ms)
				cam := reg + ",room=" + room + ",device=" + room + "-cam"
				line("camera_online,%s value=%d %d", cam, boolInt(n%17 != fi), ms)
				line("camera_recording,%s value=%d %d", cam, boolInt(n%13 != fi), ms)
				line("door,%s,device=%s-door value=%d %d", reg+",room="+room, room, boolInt(n%12 < 2), ms)
			}
			line("gateway_status,%s,gateway=gw-%s online=%d,spool_depth=%g,dropped=0,lat=%g,lon=%g %d",
				reg, f.id, boolInt(n%50 != fi), float64(n%7)+fv, 39.9+fv/100, 116.4+fv/100, ms)
			if h == float64(int(h)) && t.Hour() >= 7 && t.Hour() < 18 { // hourly rollup, opening hours
				fields := []string{
					model.FieldOpenMinutes + "=60", model.FieldDataMinutes + fmt.Sprintf("=%g", 60-fv),
					model.FieldCameraMinutes + "=120", model.FieldCameraOnlineMinutes + fmt.Sprintf("=%g", 120-fv),
					model.FieldCameraRecordingMinutes + fmt.Sprintf("=%g", 118-fv), model.FieldAlertsFired + "=1",
					model.FieldAcknowledged + "=1", model.FieldAckSecondsSum + fmt.Sprintf("=%g", 60+fv*10),
					model.FieldResolved + "=1", model.FieldResolveSecondsSum + "=600",
				}
				for _, k := range model.ComplianceKinds {
					fields = append(fields, model.ComplianceMinutesField(k)+"=120", model.ComplianceOKField(k)+fmt.Sprintf("=%g", 120-fv*5))
				}
				line("%s,%s %s %d", model.MeasurementComplianceHourly, reg, strings.Join(fields, ","), ms)
			}
			n++
		}
		line("gap,%s,gateway=gw-%s count=%g,from_ms=%d,to_ms=%d,devices=\"infant-air\" %d",
			reg, f.id, 3+fv, seedFrom.Add(3*time.Hour).UnixMilli(), seedFrom.Add(4*time.Hour).UnixMilli(), seedFrom.Add(4*time.Hour).UnixMilli())
		// Alerts: three handled, one critical left open.
		for i, sev := range []string{"warning", "critical", "info", "critical"} {
			at := seedFrom.Add(time.Duration(8+2*i)*time.Hour + time.Duration(fi)*time.Minute)
			tags := fmt.Sprintf("%s,room=infant,device=infant-air,rule=co2_1h_%d,severity=%s", reg, i, sev)
			msg := fmt.Sprintf(`message="二氧化碳超标 %s",fingerprint="fp-%s-%d"`, f.id, f.id, i)
			line("alert_event,%s,state=firing value=%g,limit=1000,%s %d", tags, 1100+fv, msg, at.UnixMilli())
			if i == 3 {
				continue
			}
			line("alert_event,%s,state=acknowledged value=%g,limit=1000,ack_seconds=%g,actor=\"operator\",%s %d", tags, 1100+fv, 120+fv*10, msg, at.Add(2*time.Minute).UnixMilli())
			line("alert_event,%s,state=resolved value=900,limit=1000,resolve_seconds=%g,%s %d", tags, 1800+fv*10, msg, at.Add(30*time.Minute).UnixMilli())
		}
		if f.street.County() == countyA.String() && fi == 0 {
			line("humidity,%s,room=infant,device=infant-air value=50,county=\"110105\" %d", reg, seedFrom.Add(time.Hour).UnixMilli())
		}
		if traps && f.street.County() == countyB.String() {
			line("humidity,%s,room=infant,device=infant-air value=99,county=\"110105\" %d", reg, seedFrom.Add(time.Hour).UnixMilli())
			line("secrets,%s value=1 %d", reg, seedFrom.UnixMilli())
		}
	}
	if traps {
		line("orphan value=1 %d", seedFrom.UnixMilli())
	}
	return b.String()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
