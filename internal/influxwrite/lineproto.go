package influxwrite

import (
	"math"
	"strconv"
	"time"

	"github.com/cradlewatch/cradlewatch/model"
)

// Line protocol writing. Every name and value that came from outside goes
// through one of these escapers, so no payload can add a tag, a field or a
// point: measurement names escape comma and space; tag keys and values
// escape comma, equals sign and space; string field values escape
// backslash and double quote. Newlines cannot be escaped in line protocol
// at all, so identifiers that carry them are rejected before they get here
// (model.ValidateID); the escapers still replace them to be safe.
//
// The collector writes several of these per reading, so each escaper first
// checks whether anything needs escaping at all (almost nothing does: IDs
// are restricted to letters, digits, '-', '_' and '.') and then appends the
// string whole.

// Classes of bytes, one bit per escaper that treats the byte specially.
const (
	specialMeasurement = 1 << iota
	specialTag
	specialString
)

// special marks the bytes each escaper cannot copy as they are.
var special = func() (t [256]uint8) {
	for _, c := range ",  \n\r" {
		t[c] |= specialMeasurement
	}
	for _, c := range ",= \n\r" {
		t[c] |= specialTag
	}
	for _, c := range "\"\\\n" {
		t[c] |= specialString
	}
	return t
}()

// plain reports whether s holds no byte of the given class.
func plain(s string, class uint8) bool {
	for i := 0; i < len(s); i++ {
		if special[s[i]]&class != 0 {
			return false
		}
	}
	return true
}

// AppendMeasurement appends an escaped measurement name.
func AppendMeasurement(dst []byte, s string) []byte {
	if plain(s, specialMeasurement) {
		return append(dst, s...)
	}
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
	if plain(s, specialTag) {
		return append(dst, s...)
	}
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
	if plain(s, specialString) {
		dst = append(dst, s...)
		return append(dst, '"')
	}
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

// fastFloatMax bounds AppendFloat's fast path. Below 2^30 a float64's
// spacing is under 2^-22, finer than the 10^-6 of model.Decimal's largest
// scale, so at most one decimal of that many fraction digits rounds to the
// value: the one model.Decimal finds, with the fewest digits, which is
// strconv's shortest form.
const fastFloatMax = 1 << 30

// AppendFloat appends a float field value in its shortest exact form, the
// same text as strconv.AppendFloat(dst, v, 'f', -1, 64).
//
// Sensor values are mostly short decimals (21.5, 800, 0.05): those are
// written from the integer m and scale s of model.Decimal (the same
// decomposition the wire uses), much cheaper than strconv's general
// algorithm. Everything else goes to strconv.
func AppendFloat(dst []byte, v float64) []byte {
	if math.Abs(v) < fastFloatMax && !(v == 0 && math.Signbit(v)) { // NaN fails the bound; -0 prints as "-0"
		if m, s, ok := model.Decimal(v); ok {
			return appendScaled(dst, m, s)
		}
	}
	return strconv.AppendFloat(dst, v, 'f', -1, 64)
}

// appendScaled appends m·10^-s in positional notation.
func appendScaled(dst []byte, m int64, s int) []byte {
	if m < 0 {
		dst = append(dst, '-')
		m = -m
	}
	if s == 0 {
		return strconv.AppendInt(dst, m, 10)
	}
	var buf [24]byte
	digits := strconv.AppendInt(buf[:0], m, 10)
	if n := len(digits); n <= s {
		// 0.0xy: the integer part is 0 and the fraction needs leading zeros.
		dst = append(dst, '0', '.')
		for i := n; i < s; i++ {
			dst = append(dst, '0')
		}
		return append(dst, digits...)
	}
	cut := len(digits) - s
	dst = append(dst, digits[:cut]...)
	dst = append(dst, '.')
	return append(dst, digits[cut:]...)
}

// AppendTimestamp appends " <unix ms>\n", ending a line written with
// millisecond precision.
func AppendTimestamp(dst []byte, t time.Time) []byte {
	return AppendTimestampMs(dst, t.UnixMilli())
}

// AppendTimestampMs is AppendTimestamp for a time already in Unix
// milliseconds.
func AppendTimestampMs(dst []byte, ms int64) []byte {
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, ms, 10)
	return append(dst, '\n')
}
