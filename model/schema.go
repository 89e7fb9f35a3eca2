package model

// The InfluxDB schema's names: measurements, tags and fields, written by
// the collector, the alerting service and the compliance rollup and read by
// the dashboards and the report. docs/schema.md describes each; every
// service names them through these constants, so a rename is one edit and a
// typo does not compile.
//
// A reading's measurement is its kind's name (Kind.String()), with one
// field, FieldValue.

// Measurements other than the reading kinds.
const (
	MeasurementGatewayStatus    = "gateway_status"    // a gateway's status and last will
	MeasurementGap              = "gap"               // readings a gateway's spool dropped
	MeasurementAlertEvent       = "alert_event"       // an alert's transitions
	MeasurementComplianceHourly = "compliance_hourly" // the hourly compliance rollup
)

// Tags. The four region tags are the facility's registered region
// (RegionCode.Tag names the same tags by level).
const (
	TagProvince = "province"
	TagCity     = "city"
	TagCounty   = "county"
	TagStreet   = "street"
	TagFacility = "facility"
	TagRoom     = "room"
	TagDevice   = "device"
	TagGateway  = "gateway"
	TagRule     = "rule"
	TagSeverity = "severity"
	TagState    = "state"
)

// RegionTags are the region tags from the widest to the narrowest.
var RegionTags = [...]string{TagProvince, TagCity, TagCounty, TagStreet}

// Fields. Every field is a float except where noted (InfluxDB fixes a
// field's type per shard).
const (
	FieldValue = "value" // every reading kind

	// gateway_status
	FieldOnline         = "online"
	FieldSpoolDepth     = "spool_depth"
	FieldDropped        = "dropped"
	FieldOldestUnsentMs = "oldest_unsent_ms"
	FieldUnregistered   = "unregistered"
	FieldNoDeviceTime   = "no_device_time"  // sources whose readings carry no device time
	FieldRateLimited    = "rate_limited"    // readings refused at the gateway for running ahead of the clock
	FieldCentreRejected = "centre_rejected" // readings the centre refused, as the gateway's acks said
	FieldCentreIgnored  = "centre_ignored"  // claims of the gateway the centre did not believe
	FieldLat            = "lat"
	FieldLon            = "lon"

	// gap
	FieldCount   = "count"
	FieldFromMs  = "from_ms"
	FieldToMs    = "to_ms"
	FieldDevices = "devices" // string: comma-separated device IDs

	// alert_event
	FieldFingerprint    = "fingerprint" // string
	FieldLimit          = "limit"
	FieldActor          = "actor"   // string
	FieldMessage        = "message" // string
	FieldAckSeconds     = "ack_seconds"
	FieldResolveSeconds = "resolve_seconds"

	// compliance_hourly; see also ComplianceMinutesField and
	// ComplianceOKField.
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

// ComplianceMinutesField is compliance_hourly's "<kind>_minutes": room-minutes
// of the kind judged while the facility was open.
func ComplianceMinutesField(k Kind) string { return k.String() + "_minutes" }

// ComplianceOKField is compliance_hourly's "<kind>_ok_minutes": of those,
// the room-minutes within the rule set's limits.
func ComplianceOKField(k Kind) string { return k.String() + "_ok_minutes" }

// ComplianceKinds are the reading kinds the compliance rollup judges
// against the rule set's limits, in report order.
var ComplianceKinds = [...]Kind{KindTemperature, KindHumidity, KindCO2, KindPM25, KindHCHO}

// Schema lists, per measurement other than the reading kinds, its tags and
// fields: what the dashboards' test checks every query against.
func Schema() map[string]struct{ Tags, Fields []string } {
	region := RegionTags[:]
	with := func(extra ...string) []string { return append(append([]string(nil), region...), extra...) }
	compliance := []string{FieldOpenMinutes, FieldDataMinutes, FieldCameraMinutes, FieldCameraOnlineMinutes,
		FieldCameraRecordingMinutes, FieldAlertsFired, FieldAcknowledged, FieldAckSecondsSum, FieldResolved, FieldResolveSecondsSum}
	for _, k := range ComplianceKinds {
		compliance = append(compliance, ComplianceMinutesField(k), ComplianceOKField(k))
	}
	return map[string]struct{ Tags, Fields []string }{
		MeasurementGatewayStatus: {with(TagFacility, TagGateway),
			[]string{FieldOnline, FieldSpoolDepth, FieldDropped, FieldOldestUnsentMs, FieldUnregistered, FieldNoDeviceTime,
				FieldRateLimited, FieldCentreRejected, FieldCentreIgnored, FieldLat, FieldLon}},
		MeasurementGap: {with(TagFacility, TagGateway), []string{FieldCount, FieldFromMs, FieldToMs, FieldDevices}},
		MeasurementAlertEvent: {with(TagFacility, TagRoom, TagDevice, TagRule, TagSeverity, TagState),
			[]string{FieldFingerprint, FieldValue, FieldLimit, FieldActor, FieldMessage, FieldAckSeconds, FieldResolveSeconds}},
		MeasurementComplianceHourly: {with(TagFacility), compliance},
	}
}

// ReadingTags are the tags of every reading measurement.
func ReadingTags() []string {
	return append(append([]string(nil), RegionTags[:]...), TagFacility, TagRoom, TagDevice)
}
