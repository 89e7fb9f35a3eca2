package decode

import (
	"errors"
	"fmt"
	"time"

	"github.com/cradlewatch/cradlewatch/model"
)

// Observation is one value a device published, normalised to the unit of
// its kind. It is not yet a model.Reading: the gateway maps (Source,
// Address) to a device registered in the facility file (devices[].source,
// devices[].address) and that device's room.
type Observation struct {
	// Source names the configured source the message came through: the
	// source's `name`, which defaults to its family ("zigbee2mqtt",
	// "tasmota", "nvr"; a json source must be named).
	Source string
	// Address is the device's identity at its source: the Zigbee2MQTT
	// friendly name, the Tasmota topic (or topic/sensor, see TasmotaConfig),
	// the camera id, or a json source's address template filled in.
	Address string
	Kind    model.Kind
	// Time is when the device measured the value, or the message's arrival
	// time when the payload carries none.
	Time  time.Time
	Value float64
	// Reject is set by a decoder for a value it found but could not use
	// (a string where a number belongs). Set.Decode counts such
	// observations and removes them; callers of Set never see one.
	Reject Reason
}

// Decoder turns the messages of one device family into observations.
// Implementations are safe for concurrent use, so one decoder may serve
// several goroutines: the built-in ones hold no mutable state but bounded,
// locked caches of the address strings they build.
type Decoder interface {
	// Family is the name the decoder is registered under.
	Family() string
	// Subscriptions are the MQTT topic filters the decoder reads on the
	// facility's local broker.
	Subscriptions() []string
	// Decode appends the observations of one message to out. now is the
	// message's arrival time, used when the payload has no time of its own.
	// Decode never panics; on error it returns out with whatever it had
	// appended (possibly nothing) and an *Error.
	Decode(topic string, payload []byte, now time.Time, out []Observation) ([]Observation, error)
}

// Reason classifies why a message or a value was refused. Reasons are the
// `reason` label of the gateway's rejection metrics.
type Reason string

// Reasons for refusing a message (cw_gateway_decode_errors_total) or a value
// (cw_gateway_readings_rejected_total).
const (
	ReasonTooLarge     Reason = "too_large"     // message over Options.MaxMessageBytes
	ReasonEmpty        Reason = "empty"         // empty payload
	ReasonBadTopic     Reason = "bad_topic"     // topic not valid UTF-8 or not of the family's shape
	ReasonInvalidJSON  Reason = "invalid_json"  // not JSON
	ReasonNotObject    Reason = "not_object"    // JSON, but not an object where one is required
	ReasonDuplicateKey Reason = "duplicate_key" // an object names a member twice: JSON leaves open which value counts
	ReasonUnknownState Reason = "unknown_state" // availability / LWT payload that is neither online nor offline
	ReasonMissing      Reason = "missing"       // a required member is absent
	ReasonBadTime      Reason = "bad_time"      // a time member that cannot be parsed
	ReasonPanic        Reason = "panic"         // a decoder bug, recovered by Set
	ReasonWrongType    Reason = "wrong_type"    // value of a known key has the wrong JSON type
	ReasonNotFinite    Reason = "not_finite"    // NaN or ±Inf (1e400)
	ReasonUnderflow    Reason = "underflow"     // a nonzero number too small for float64 (1e-400), which would read as 0
	ReasonOutOfRange   Reason = "out_of_range"  // outside model.Kind.InRange
	ReasonDuplicate    Reason = "duplicate"     // a second value of the same kind for the same address in one message
	ReasonInvalidKind  Reason = "invalid_kind"  // a decoder produced an unknown kind
)

// Error is a message a decoder could not decode. Callers decide on Reason;
// Err says what exactly was wrong.
type Error struct {
	Family string
	Reason Reason
	Err    error
}

func (e *Error) Error() string {
	return fmt.Sprintf("decode %s: %s: %v", e.Family, e.Reason, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// ErrNoDecoder is returned by Set.Decode for a topic no source subscribes to.
var ErrNoDecoder = errors.New("decode: no source matches the topic")

func newError(family string, r Reason, format string, args ...any) *Error {
	return &Error{Family: family, Reason: r, Err: fmt.Errorf(format, args...)}
}

// ReasonOf returns the Reason of an *Error in err's chain, "" if none.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}
