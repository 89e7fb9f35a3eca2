package decode

import (
	"bytes"
	"math"
	"time"
	"unicode/utf8"

	"github.com/cradlewatch/cradlewatch/gateway/decode/internal/jsonw"
)

// parseObject checks a payload and returns its top-level object, for the
// decoders that look members up by path. The check is one pass of
// jsonw.Reader, which accepts exactly what json.Valid and utf8.Valid
// together accept; the walker then only ever sees well-formed JSON. Neither
// recurses on the stack per level of the input.
func parseObject(family string, payload []byte) (jsonw.Value, error) {
	r := jsonw.NewReader(payload)
	v := r.Value()
	if !r.End() || v.Type != jsonw.Object {
		return jsonw.Value{}, payloadError(family, payload)
	}
	if err := uniqueKeys(family, &r); err != nil {
		return jsonw.Value{}, err
	}
	return v, nil
}

// uniqueKeys refuses a document, read whole by r, in which an object names a
// member twice: encoding/json would take the last value, a reader of the
// first member the first, and a reading must not depend on which.
func uniqueKeys(family string, r *jsonw.Reader) *Error {
	if r.DuplicateKey() {
		return newError(family, ReasonDuplicateKey, "an object names a member twice")
	}
	return nil
}

// payloadError says why payload is not a JSON object, once a reader found
// that it is not. It tests in the order decoders always have, so that a
// payload that is both empty-looking and invalid gets the same reason as
// before: empty (white space only, Unicode spaces included), then UTF-8,
// then syntax, then type. Only refused messages pay for these passes.
func payloadError(family string, payload []byte) *Error {
	switch {
	case len(bytes.TrimSpace(payload)) == 0:
		return newError(family, ReasonEmpty, "empty payload")
	case !utf8.Valid(payload):
		return newError(family, ReasonInvalidJSON, "payload is not valid UTF-8")
	case !jsonw.Valid(payload):
		return newError(family, ReasonInvalidJSON, "payload is not JSON")
	}
	return newError(family, ReasonNotObject, "payload is JSON but not an object")
}

// number reads a numeric member. present is false for null (Zigbee2MQTT
// sends null for a value it has not received since it started); reason is
// set for a value of the wrong type.
func number(v jsonw.Value) (f float64, present bool, reason Reason) {
	switch v.Type {
	case jsonw.Null:
		return 0, false, ""
	case jsonw.Number:
		f, ok := v.Float()
		switch {
		case !ok:
			return 0, true, ReasonWrongType
		case math.IsNaN(f): // what Float says for 1e-400
			return 0, true, ReasonUnderflow
		}
		return f, true, ""
	}
	return 0, true, ReasonWrongType
}

// boolean reads a true/false member as 1/0, with number's conventions.
func boolean(v jsonw.Value) (f float64, present bool, reason Reason) {
	switch v.Type {
	case jsonw.Null:
		return 0, false, ""
	case jsonw.True:
		return 1, true, ""
	case jsonw.False:
		return 0, true, ""
	}
	return 0, true, ReasonWrongType
}

// rfc3339 parses an RFC 3339 string member.
func rfc3339(v jsonw.Value) (time.Time, bool) {
	s, ok := v.Str()
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

// stampFrom sets Time on out[start:] where the decoder left it zero.
func stampFrom(out []Observation, start int, t time.Time) {
	if t.IsZero() {
		return
	}
	for i := start; i < len(out); i++ {
		if out[i].Time.IsZero() {
			out[i].Time = t
		}
	}
}
