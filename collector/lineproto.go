package collector

import (
	"math"
	"strconv"
	"time"

	"github.com/cradlewatch/cradlewatch/model"
)

// Line protocol writing. Every name and value that came from a gateway goes
// through an escaper, so no payload can add a tag, a field or a point:
// measurement names escape comma and space; tag keys and values escape
// comma, equals sign and space; string field values escape backslash and
// double quote. Newlines cannot be escaped in line protocol at all, so
// identifiers containing them are rejected before they get here
// (model.ValidateID); the escapers still replace them to be safe.

func appendMeasurement(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case ',', ' ':
			dst = append(dst, '\\', c)
		case '\n', '\r':
			dst = append(dst, ' ')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

func appendTagValue(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case ',', '=', ' ':
			dst = append(dst, '\\', c)
		case '\n', '\r':
			dst = append(dst, '_')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

func appendStringField(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

func appendFloat(dst []byte, v float64) []byte {
	return strconv.AppendFloat(dst, v, 'f', -1, 64)
}

// regionTags is the precomputed ",city=..,county=..,province=..,street=.."
// part of a facility's lines, sorted with the other tags by key, which is the
// order InfluxDB stores them in (writing them sorted saves it the sort).
type regionTags struct {
	city, county, province, street string
}

func newRegionTags(r model.Region) regionTags {
	return regionTags{city: r.City(), county: r.County(), province: r.Province(), street: r.Street()}
}

// appendReadingLine writes one reading:
// <kind>,city=..,county=..,device=..,facility=..,province=..,room=..,street=.. value=<v> <ms>
func appendReadingLine(dst []byte, facility string, rt *regionTags, r *model.Reading) []byte {
	dst = appendMeasurement(dst, r.Kind.String())
	dst = appendTag(dst, "city", rt.city)
	dst = appendTag(dst, "county", rt.county)
	dst = appendTag(dst, "device", r.Device)
	dst = appendTag(dst, "facility", facility)
	dst = appendTag(dst, "province", rt.province)
	if r.Room != "" {
		dst = appendTag(dst, "room", r.Room)
	}
	dst = appendTag(dst, "street", rt.street)
	dst = append(dst, " value="...)
	dst = appendFloat(dst, r.Value)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, r.Time.UnixMilli(), 10)
	return append(dst, '\n')
}

// appendGapLine writes one gap reported by a gateway.
func appendGapLine(dst []byte, facility, gateway string, rt *regionTags, g *model.Gap) []byte {
	dst = append(dst, "gap"...)
	dst = appendTag(dst, "city", rt.city)
	dst = appendTag(dst, "county", rt.county)
	dst = appendTag(dst, "facility", facility)
	dst = appendTag(dst, "gateway", gateway)
	dst = appendTag(dst, "province", rt.province)
	dst = appendTag(dst, "street", rt.street)
	dst = append(dst, " count="...)
	dst = appendFloat(dst, float64(g.Count))
	dst = append(dst, ",from_ms="...)
	dst = appendFloat(dst, float64(g.From.UnixMilli()))
	dst = append(dst, ",to_ms="...)
	dst = appendFloat(dst, float64(g.To.UnixMilli()))
	dst = append(dst, ",devices="...)
	devs := make([]byte, 0, 64)
	for i, d := range g.Devices {
		if i > 0 {
			devs = append(devs, ',')
		}
		devs = append(devs, d...)
	}
	dst = appendStringField(dst, string(devs))
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, g.From.UnixMilli(), 10)
	return append(dst, '\n')
}

// appendStatusLine writes a gateway status message.
func appendStatusLine(dst []byte, st *model.Status, rt *regionTags, at time.Time) []byte {
	dst = append(dst, "gateway_status"...)
	dst = appendTag(dst, "city", rt.city)
	dst = appendTag(dst, "county", rt.county)
	dst = appendTag(dst, "facility", st.Facility)
	dst = appendTag(dst, "gateway", st.Gateway)
	dst = appendTag(dst, "province", rt.province)
	dst = appendTag(dst, "street", rt.street)
	online := 0.0
	if st.State == model.GatewayOnline {
		online = 1
	}
	dst = append(dst, " online="...)
	dst = appendFloat(dst, online)
	dst = append(dst, ",spool_depth="...)
	dst = appendFloat(dst, float64(st.SpoolDepth))
	dst = append(dst, ",dropped="...)
	dst = appendFloat(dst, float64(st.Dropped))
	dst = append(dst, ",oldest_unsent_ms="...)
	dst = appendFloat(dst, float64(st.OldestMs))
	dst = append(dst, ",unregistered="...)
	dst = appendFloat(dst, float64(len(st.Unregistered)))
	if st.Lat != 0 || st.Lon != 0 {
		dst = append(dst, ",lat="...)
		dst = appendFloat(dst, st.Lat)
		dst = append(dst, ",lon="...)
		dst = appendFloat(dst, st.Lon)
	}
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, at.UnixMilli(), 10)
	return append(dst, '\n')
}

func appendTag(dst []byte, k, v string) []byte {
	if v == "" {
		return dst // empty tag values are not allowed in line protocol
	}
	dst = append(dst, ',')
	dst = append(dst, k...)
	dst = append(dst, '=')
	return appendTagValue(dst, v)
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
