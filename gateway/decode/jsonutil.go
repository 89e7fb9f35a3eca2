package decode

import (
	"bytes"
	"encoding/json"
	"time"
	"unicode/utf8"

	"github.com/cradlewatch/cradlewatch/gateway/decode/internal/jsonw"
)

// parseObject checks a payload and returns its top-level object.
// json.Valid runs first, so the walker only ever sees well-formed JSON; it
// has a nesting limit of its own, and neither recurses on the stack per
// level of the input.
func parseObject(family string, payload []byte) (jsonw.Value, error) {
	if len(bytes.TrimSpace(payload)) == 0 {
		return jsonw.Value{}, newError(family, ReasonEmpty, "empty payload")
	}
	if !utf8.Valid(payload) {
		return jsonw.Value{}, newError(family, ReasonInvalidJSON, "payload is not valid UTF-8")
	}
	if !json.Valid(payload) {
		return jsonw.Value{}, newError(family, ReasonInvalidJSON, "payload is not JSON")
	}
	v := jsonw.Parse(payload)
	if v.Type != jsonw.Object {
		return jsonw.Value{}, newError(family, ReasonNotObject, "payload is JSON but not an object")
	}
	return v, nil
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
		if !ok {
			return 0, true, ReasonWrongType
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
