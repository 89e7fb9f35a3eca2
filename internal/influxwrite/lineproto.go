package influxwrite

import (
	"strconv"
	"time"
)

// Line protocol writing. Every name and value that came from outside goes
// through one of these escapers, so no payload can add a tag, a field or a
// point: measurement names escape comma and space; tag keys and values
// escape comma, equals sign and space; string field values escape
// backslash and double quote. Newlines cannot be escaped in line protocol
// at all, so identifiers that carry them are rejected before they get here
// (model.ValidateID); the escapers still replace them to be safe.

// AppendMeasurement appends an escaped measurement name.
func AppendMeasurement(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
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

// AppendTagValue appends an escaped tag key or value.
func AppendTagValue(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
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

// AppendTag appends ",key=value"; an empty value is left out, as line
// protocol has no empty tag values.
func AppendTag(dst []byte, key, value string) []byte {
	if value == "" {
		return dst
	}
	dst = append(dst, ',')
	dst = append(dst, key...)
	dst = append(dst, '=')
	return AppendTagValue(dst, value)
}

// AppendStringField appends a quoted, escaped string field value.
func AppendStringField(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
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

// AppendFloat appends a float field value in its shortest exact form.
func AppendFloat(dst []byte, v float64) []byte {
	return strconv.AppendFloat(dst, v, 'f', -1, 64)
}

// AppendTimestamp appends " <unix ms>\n", ending a line written with
// millisecond precision.
func AppendTimestamp(dst []byte, t time.Time) []byte {
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, t.UnixMilli(), 10)
	return append(dst, '\n')
}
