package decode

import (
	"strings"
	"time"

	"github.com/cradlewatch/cradlewatch/gateway/decode/internal/jsonw"
	"github.com/cradlewatch/cradlewatch/model"
)

// FamilyNVR is the family name of the camera heartbeat decoder.
const FamilyNVR = "nvr"

// NVRConfig configures a camera heartbeat source (family: nvr).
type NVRConfig struct {
	Common `mapstructure:",squash"`
	// Topic is the heartbeat topic pattern; the level of the wildcard
	// named "camera" (or the only "+") is the camera id. Default
	// "cw/local/camera/+camera/heartbeat".
	Topic string `mapstructure:"topic"`
}

// NVR decodes camera heartbeats published by an NVR agent (format in the
// package documentation).
type NVR struct {
	name    string
	pattern pattern
	camera  string // name of the capturing wildcard
}

// NewNVR validates cfg and returns the decoder.
func NewNVR(cfg NVRConfig) (*NVR, error) {
	if cfg.Family == "" {
		cfg.Family = FamilyNVR
	}
	if cfg.Topic == "" {
		cfg.Topic = "cw/local/camera/+camera/heartbeat"
	}
	p, err := parsePattern(cfg.Topic)
	if err != nil {
		return nil, configErr("topic", "%v", err)
	}
	n := &NVR{name: cfg.name(), pattern: p}
	var wild []string
	for i, s := range p.segs {
		if s == "+" {
			wild = append(wild, p.names[i])
		}
	}
	switch {
	case containsString(wild, "camera"):
		n.camera = "camera"
	case len(wild) == 1:
		n.camera = wild[0]
	default:
		return nil, configErr("topic", "%q must have one '+' level, or one named +camera, for the camera id", cfg.Topic)
	}
	if p.multi {
		return nil, configErr("topic", "%q must not end with '#'", cfg.Topic)
	}
	return n, nil
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Family implements Decoder.
func (n *NVR) Family() string { return FamilyNVR }

// Name is the Source of the decoder's observations.
func (n *NVR) Name() string { return n.name }

// Subscriptions implements Decoder.
func (n *NVR) Subscriptions() []string { return []string{n.pattern.filter} }

// Decode implements Decoder.
func (n *NVR) Decode(topic string, payload []byte, now time.Time, out []Observation) ([]Observation, error) {
	var buf [4]string
	caps, ok := n.pattern.match(topic, buf[:0])
	camera := n.pattern.capture(caps, n.camera)
	if !ok || strings.TrimSpace(camera) == "" {
		return out, newError(FamilyNVR, ReasonBadTopic, "topic %q does not name a camera", clip(topic))
	}
	obj, err := parseObject(FamilyNVR, payload)
	if err != nil {
		return out, err
	}
	start := len(out)
	var when time.Time
	var badTime, haveOnline bool
	add := func(k model.Kind, f float64, present bool, reason Reason) {
		if present {
			out = append(out, Observation{Source: n.name, Address: camera, Kind: k, Value: f, Reject: reason})
		}
	}
	jsonw.ObjectEach(obj, func(key []byte, v jsonw.Value) bool {
		switch string(key) {
		case "online":
			f, present, reason := boolean(v)
			haveOnline = present
			add(model.KindCameraOnline, f, present, reason)
		case "recording":
			f, present, reason := boolean(v)
			add(model.KindCameraRecording, f, present, reason)
		case "retention_days":
			f, present, reason := number(v)
			add(model.KindCameraRetention, f, present, reason)
		case "time":
			if v.Type != jsonw.Null {
				when, ok = rfc3339(v)
				badTime = !ok
			}
		}
		return true
	})
	if badTime {
		return out[:start], newError(FamilyNVR, ReasonBadTime, "time is not RFC 3339")
	}
	if !haveOnline {
		return out[:start], newError(FamilyNVR, ReasonMissing, "heartbeat without \"online\"")
	}
	markDuplicates(out[start:])
	stampFrom(out, start, when)
	return out, nil
}
