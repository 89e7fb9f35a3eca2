package collector

import (
	"math"
	"time"

	"github.com/cradlewatch/cradlewatch/internal/influxwrite"
	"github.com/cradlewatch/cradlewatch/model"
)

// regionTags is the precomputed ",city=..,county=..,province=..,street=.."
// part of a facility's lines, sorted with the other tags by key, which is the
// order InfluxDB stores them in (writing them sorted saves it the sort).
type regionTags struct {
	city, county, province, street string
}

func newRegionTags(r model.Region) regionTags {
	return regionTags{city: r.City(), county: r.County(), province: r.Province(), street: r.Street()}
}

// readingLines renders the readings of one batch, one line each:
// <kind>,city=..,county=..,device=..,facility=..,province=..,room=..,street=.. value=<v> <ms>
//
// Only device and room vary within a batch, so the other tags are escaped
// once per batch; and consecutive readings of one device (a Zigbee2MQTT
// message gives four, one per kind, measured at the same time) copy the
// previous line's tag set and timestamp whole.
type readingLines struct {
	tags         []byte // ",city=..,county=.." ",facility=..,province=.." ",street=.."
	headEnd      int    // end of the tags before device
	midEnd       int    // end of the tags between device and room
	cached       bool   // the previous line's tag set is at dst[from:to], its timestamp at dst[tsFrom:tsTo]
	device, room string
	from, to     int
	ms           int64
	tsFrom, tsTo int
}

// reset starts a batch of facility in region rt; the lines must then all be
// appended to one buffer.
func (l *readingLines) reset(facility string, rt *regionTags) {
	l.tags = influxwrite.AppendTag(l.tags[:0], model.TagCity, rt.city)
	l.tags = influxwrite.AppendTag(l.tags, model.TagCounty, rt.county)
	l.headEnd = len(l.tags)
	l.tags = influxwrite.AppendTag(l.tags, model.TagFacility, facility)
	l.tags = influxwrite.AppendTag(l.tags, model.TagProvince, rt.province)
	l.midEnd = len(l.tags)
	l.tags = influxwrite.AppendTag(l.tags, model.TagStreet, rt.street)
	l.cached, l.device, l.room, l.tsTo = false, "", "", 0
}

// appendLine appends r's line, measured at ms (r.Time in Unix milliseconds).
func (l *readingLines) appendLine(dst []byte, r *model.Reading, ms int64) []byte {
	dst = influxwrite.AppendMeasurement(dst, r.Kind.String())
	if l.cached && r.Device == l.device && r.Room == l.room {
		dst = append(dst, dst[l.from:l.to]...)
	} else {
		from := len(dst)
		dst = append(dst, l.tags[:l.headEnd]...)
		dst = influxwrite.AppendTag(dst, model.TagDevice, r.Device)
		dst = append(dst, l.tags[l.headEnd:l.midEnd]...)
		dst = influxwrite.AppendTag(dst, model.TagRoom, r.Room)
		dst = append(dst, l.tags[l.midEnd:]...)
		l.cached, l.device, l.room, l.from, l.to = true, r.Device, r.Room, from, len(dst)
	}
	dst = append(dst, " "+model.FieldValue+"="...)
	dst = influxwrite.AppendFloat(dst, r.Value)
	if l.tsTo > 0 && ms == l.ms {
		return append(dst, dst[l.tsFrom:l.tsTo]...)
	}
	from := len(dst)
	dst = influxwrite.AppendTimestampMs(dst, ms)
	l.ms, l.tsFrom, l.tsTo = ms, from, len(dst)
	return dst
}

// appendGapLine writes one gap reported by a gateway.
func appendGapLine(dst []byte, facility, gateway string, rt *regionTags, g *model.Gap) []byte {
	dst = append(dst, model.MeasurementGap...)
	dst = influxwrite.AppendTag(dst, model.TagCity, rt.city)
	dst = influxwrite.AppendTag(dst, model.TagCounty, rt.county)
	dst = influxwrite.AppendTag(dst, model.TagFacility, facility)
	dst = influxwrite.AppendTag(dst, model.TagGateway, gateway)
	dst = influxwrite.AppendTag(dst, model.TagProvince, rt.province)
	dst = influxwrite.AppendTag(dst, model.TagStreet, rt.street)
	dst = append(dst, " "+model.FieldCount+"="...)
	dst = influxwrite.AppendFloat(dst, float64(g.Count))
	dst = append(dst, ","+model.FieldFromMs+"="...)
	dst = influxwrite.AppendFloat(dst, float64(g.From.UnixMilli()))
	dst = append(dst, ","+model.FieldToMs+"="...)
	dst = influxwrite.AppendFloat(dst, float64(g.To.UnixMilli()))
	dst = append(dst, ","+model.FieldDevices+"="...)
	devs := make([]byte, 0, 64)
	for i, d := range g.Devices {
		if i > 0 {
			devs = append(devs, ',')
		}
		devs = append(devs, d...)
	}
	dst = influxwrite.AppendStringField(dst, string(devs))
	return influxwrite.AppendTimestamp(dst, g.From)
}

// appendStatusLine writes a gateway status message.
func appendStatusLine(dst []byte, st *model.Status, rt *regionTags, at time.Time) []byte {
	dst = append(dst, model.MeasurementGatewayStatus...)
	dst = influxwrite.AppendTag(dst, model.TagCity, rt.city)
	dst = influxwrite.AppendTag(dst, model.TagCounty, rt.county)
	dst = influxwrite.AppendTag(dst, model.TagFacility, st.Facility)
	dst = influxwrite.AppendTag(dst, model.TagGateway, st.Gateway)
	dst = influxwrite.AppendTag(dst, model.TagProvince, rt.province)
	dst = influxwrite.AppendTag(dst, model.TagStreet, rt.street)
	online := 0.0
	if st.State == model.GatewayOnline {
		online = 1
	}
	dst = append(dst, " "+model.FieldOnline+"="...)
	dst = influxwrite.AppendFloat(dst, online)
	dst = append(dst, ","+model.FieldSpoolDepth+"="...)
	dst = influxwrite.AppendFloat(dst, float64(st.SpoolDepth))
	dst = append(dst, ","+model.FieldDropped+"="...)
	dst = influxwrite.AppendFloat(dst, float64(st.Dropped))
	dst = append(dst, ","+model.FieldOldestUnsentMs+"="...)
	dst = influxwrite.AppendFloat(dst, float64(st.OldestMs))
	dst = append(dst, ","+model.FieldUnregistered+"="...)
	dst = influxwrite.AppendFloat(dst, float64(len(st.Unregistered)))
	dst = append(dst, ","+model.FieldNoDeviceTime+"="...)
	dst = influxwrite.AppendFloat(dst, float64(len(st.NoDeviceTime)))
	dst = append(dst, ","+model.FieldRateLimited+"="...)
	dst = influxwrite.AppendFloat(dst, float64(st.RateLimited))
	var rejected uint64
	for _, n := range st.CentreRejected {
		rejected += n
	}
	dst = append(dst, ","+model.FieldCentreRejected+"="...)
	dst = influxwrite.AppendFloat(dst, float64(rejected))
	dst = append(dst, ","+model.FieldCentreIgnored+"="...)
	dst = influxwrite.AppendFloat(dst, float64(len(st.CentreIgnored)))
	if st.Lat != 0 || st.Lon != 0 {
		dst = append(dst, ","+model.FieldLat+"="...)
		dst = influxwrite.AppendFloat(dst, st.Lat)
		dst = append(dst, ","+model.FieldLon+"="...)
		dst = influxwrite.AppendFloat(dst, st.Lon)
	}
	return influxwrite.AppendTimestamp(dst, at)
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
