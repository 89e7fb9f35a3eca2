// Package compliance computes the hourly compliance rollups regulators
// read: how much of each opening hour a facility's rooms stayed within the
// GB/T 18883-2022 limits, how much of it its cameras were online and
// recording, how complete its data was, and how fast alerts were handled.
//
// Rollups are computed from the raw measurements with InfluxQL (through the
// 1.x /query endpoint, so 1.8, 2.x and 3.x all work) and written back as
// measurement compliance_hourly, one point per facility and hour, the
// timestamp being the start of the hour:
//
//	tags:   province, city, county, street, facility
//	fields (all float, counts of minutes unless noted):
//	  open_minutes                 minutes of the hour the facility was open
//	  data_minutes                 open minutes whose 5-minute slot (DataSlot,
//	                               aligned to from) has a reading of
//	                               temperature, humidity, co2, pm25 or hcho
//	  <kind>_minutes               room-minutes with data while open, kind in
//	                               temperature, humidity, co2, pm25, hcho
//	  <kind>_ok_minutes            of those, room-minutes whose one-minute
//	                               mean was within the limit
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
// (CO2 and HCHO 1 h, PM2.5 24 h) are judged here on one-minute means: the
// stricter reading, chosen so the rollup never hides a peak; the alerting
// service applies the rolling windows.
//
// Writing the same hour again overwrites the point with the same values
// (same series, same time), so rollups can be rerun safely.
package compliance

import "time"

// Measurement is the rollup's measurement name.
const Measurement = "compliance_hourly"

// Field names of compliance_hourly.
const (
	FieldOpenMinutes            = "open_minutes"
	FieldDataMinutes            = "data_minutes"
	FieldCameraMinutes          = "camera_minutes"
	FieldCameraOnlineMinutes    = "camera_online_minutes"
	FieldCameraRecordingMinutes = "camera_recording_minutes"
	FieldAlertsFired            = "alerts_fired"
	FieldAcknowledged           = "acknowledged"
	FieldAckSecondsSum          = "ack_seconds_sum"
	FieldResolved               = "resolved"
	FieldResolveSecondsSum      = "resolve_seconds_sum"
)

// EnvKinds are the measurements judged against limits, in report order.
var EnvKinds = []string{"temperature", "humidity", "co2", "pm25", "hcho"}

// MinutesField is "<kind>_minutes"; OKField is "<kind>_ok_minutes".
func MinutesField(kind string) string { return kind + "_minutes" }

// OKField is the field counting room-minutes within the limit.
func OKField(kind string) string { return kind + "_ok_minutes" }

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

// SetTag sets the field an InfluxDB tag names (province, city, county,
// street, facility); other tags are ignored.
func (f *Facility) SetTag(tag, v string) {
	switch tag {
	case "province":
		f.Province = v
	case "city":
		f.City = v
	case "county":
		f.County = v
	case "street":
		f.Street = v
	case "facility":
		f.ID = v
	}
}

func newHour(f Facility, start time.Time) Hour {
	fields := map[string]float64{
		FieldOpenMinutes: 0, FieldDataMinutes: 0, FieldCameraMinutes: 0, FieldCameraOnlineMinutes: 0,
		FieldCameraRecordingMinutes: 0, FieldAlertsFired: 0, FieldAcknowledged: 0, FieldAckSecondsSum: 0,
		FieldResolved: 0, FieldResolveSecondsSum: 0,
	}
	for _, k := range EnvKinds {
		fields[MinutesField(k)] = 0
		fields[OKField(k)] = 0
	}
	return Hour{Facility: f, Start: start, Fields: fields}
}
