// Package compliance computes the hourly compliance rollups regulators
// read: how much of each opening hour a facility's rooms stayed within the
// limits of the alerting rule set, how much of it its cameras were online
// and recording, how complete its data was, and how fast alerts were
// handled.
//
// It has no limits, seasons or opening hours of its own: it asks the rule
// set (alerting/rules: RoomLimits, RuleSet.Calendar), so a room in limits
// for alerting is in limits here, in the facility's region's season and by
// its room type. It lists the facilities of the registry (package
// registry) and tags each rollup with the facility's registered region,
// whatever its gateway ever sent.
//
// Rollups are computed from the raw measurements with InfluxQL (through the
// 1.x /query endpoint, so 1.8, 2.x and 3.x all work) and written back as
// measurement compliance_hourly (model.MeasurementComplianceHourly), one
// point per facility and hour, the timestamp being the start of the hour:
//
//	tags:   province, city, county, street, facility
//	fields (all float, counts of minutes unless noted):
//	  open_minutes                 minutes of the hour the facility was open
//	                               (its calendar: hours, holidays, 调休)
//	  data_minutes                 open minutes whose 5-minute slot (DataSlot,
//	                               aligned to from) has a reading of
//	                               temperature, humidity, co2, pm25 or hcho
//	  <kind>_minutes               room-minutes with data while open, kind in
//	                               temperature, humidity, co2, pm25, hcho
//	                               (model.ComplianceKinds)
//	  <kind>_ok_minutes            of those, room-minutes whose one-minute
//	                               mean was within the rule set's band for
//	                               the room at that minute (a room no rule
//	                               limits, a kitchen's temperature, is in
//	                               limits, as alerting never alerts on it)
//	  camera_minutes               camera-minutes expected while open (cameras
//	                               known to the facility × open minutes)
//	  camera_online_minutes        of those, minutes the camera was online
//	  camera_recording_minutes     of those, minutes it was recording
//	  alerts_fired                 firing events in the hour (open or not)
//	  acknowledged, ack_seconds_sum     acknowledgements and their total delay
//	  resolved, resolve_seconds_sum     resolutions and their total delay
//
// Ratios are left to the reader (sum over any range, then divide), so a
// month is exact and not a mean of means. Limits with an averaging period
// (CO2 and HCHO 1 h, PM2.5 24 h) are judged here on one-minute means
// against the same band: the stricter reading, chosen so the rollup never
// hides a peak; the alerting service applies the rolling windows.
//
// Writing the same hour again overwrites the point with the same values
// (same series, same time), so rollups can be rerun safely.
package compliance

import (
	"time"

	"github.com/cradlewatch/cradlewatch/model"
)

// Hour is one facility's rollup for one hour.
type Hour struct {
	Facility Facility
	Start    time.Time
	// Fields holds every field of the schema above, zero when nothing
	// happened, so every point has the same field set.
	Fields map[string]float64
}

// Facility identifies a facility and its region tags.
type Facility struct {
	ID                             string
	Province, City, County, Street string
}

// FacilityOf is the rollup's identity of a registered facility: its
// registered region's tags.
func FacilityOf(id string, r model.Region) Facility {
	return Facility{ID: id, Province: r.Province(), City: r.City(), County: r.County(), Street: r.Street()}
}

// SetTag sets the field an InfluxDB tag names (province, city, county,
// street, facility); other tags are ignored.
func (f *Facility) SetTag(tag, v string) {
	switch tag {
	case model.TagProvince:
		f.Province = v
	case model.TagCity:
		f.City = v
	case model.TagCounty:
		f.County = v
	case model.TagStreet:
		f.Street = v
	case model.TagFacility:
		f.ID = v
	}
}

// Tags are the facility's tags on a compliance_hourly point.
func (f Facility) Tags() map[string]string {
	return map[string]string{model.TagProvince: f.Province, model.TagCity: f.City, model.TagCounty: f.County,
		model.TagStreet: f.Street, model.TagFacility: f.ID}
}

func newHour(f Facility, start time.Time) Hour {
	fields := map[string]float64{
		model.FieldOpenMinutes: 0, model.FieldDataMinutes: 0, model.FieldCameraMinutes: 0, model.FieldCameraOnlineMinutes: 0,
		model.FieldCameraRecordingMinutes: 0, model.FieldAlertsFired: 0, model.FieldAcknowledged: 0, model.FieldAckSecondsSum: 0,
		model.FieldResolved: 0, model.FieldResolveSecondsSum: 0,
	}
	for _, k := range model.ComplianceKinds {
		fields[model.ComplianceMinutesField(k)] = 0
		fields[model.ComplianceOKField(k)] = 0
	}
	return Hour{Facility: f, Start: start, Fields: fields}
}
