package decode

import (
	"bytes"
	"strings"
	"time"

	"github.com/cradlewatch/cradlewatch/gateway/decode/internal/jsonw"
	"github.com/cradlewatch/cradlewatch/model"
)

// FamilyZigbee2MQTT is the family name of the Zigbee2MQTT decoder.
const FamilyZigbee2MQTT = "zigbee2mqtt"

// Zigbee2MQTTConfig configures a Zigbee2MQTT source (family: zigbee2mqtt).
// Zigbee2MQTT must publish JSON state (its default `output: json`).
type Zigbee2MQTTConfig struct {
	Common `mapstructure:",squash"`
	// BaseTopic is Zigbee2MQTT's mqtt.base_topic; default "zigbee2mqtt".
	BaseTopic string `mapstructure:"base_topic"`
	// VOCUnit is the unit of the `voc` key. Zigbee2MQTT's generic voc
	// expose says µg/m³ (the default here); some device definitions
	// (Develco AQSZB-110, Tuya TS0601 air boxes, older releases) say ppb.
	// Check the device's page and set "ppb" with VOCMolarMass if so.
	VOCUnit string `mapstructure:"voc_unit"`
	// VOCMolarMass (g/mol) converts ppb to mg/m³. TVOC is a mixture with
	// no single molar mass: take the one the sensor's datasheet uses.
	// Required when VOCUnit is ppb or ppm.
	VOCMolarMass float64 `mapstructure:"voc_molar_mass"`
	// HCHOUnit is the unit of the `formaldehyd` and `hcho` keys; default
	// mg/m³, which is what Zigbee2MQTT's exposes declare. A few devices
	// declare µg/m³ for `hcho`.
	HCHOUnit string `mapstructure:"hcho_unit"`
	// Windows lists the friendly names of contact sensors fitted to
	// windows rather than doors; their readings become KindWindow.
	Windows []string `mapstructure:"windows"`
}

// Zigbee2MQTT decodes device state published by Zigbee2MQTT:
//
//	<base>/<friendly name>                 JSON state, keys per the device's exposes
//	<base>/<friendly name>/availability    {"state":"online"} or, in legacy mode, online / offline
//	<base>/bridge/...                      ignored
//	<base>/<friendly name>/set|get[/...]   commands to the device, ignored
//
// Friendly names may contain '/' and spaces; the whole remainder of the
// topic is the name. Keys read: temperature (°C), humidity (%), co2 (ppm),
// pm25 and pm10 (µg/m³), formaldehyd and hcho (mg/m³ by default), voc (see
// VOCUnit), contact (true means closed; becomes door/window 1 = open),
// smoke, gas, battery (%), linkquality, and last_seen (ISO 8601 or epoch
// ms, when enabled in Zigbee2MQTT) as the observation time. Other keys
// (occupancy, water_leak, voltage, ...) have no kind and are skipped.
type Zigbee2MQTT struct {
	name    string
	base    string
	prefix  string // base + "/", built once rather than per message
	voc     linear
	hcho    linear
	windows map[string]bool
}

// NewZigbee2MQTT validates cfg and returns the decoder.
func NewZigbee2MQTT(cfg Zigbee2MQTTConfig) (*Zigbee2MQTT, error) {
	if cfg.Family == "" {
		cfg.Family = FamilyZigbee2MQTT
	}
	if cfg.BaseTopic == "" {
		cfg.BaseTopic = "zigbee2mqtt"
	}
	if strings.ContainsAny(cfg.BaseTopic, "+#") || strings.HasSuffix(cfg.BaseTopic, "/") {
		return nil, configErr("base_topic", "%q must be a topic without wildcards or trailing '/'", cfg.BaseTopic)
	}
	if cfg.VOCUnit == "" {
		cfg.VOCUnit = "µg/m³"
	}
	voc, err := conversion(model.KindTVOC, cfg.VOCUnit, cfg.VOCMolarMass)
	if err != nil {
		return nil, configErr("voc_unit", "%v", err)
	}
	hcho, err := conversion(model.KindHCHO, cfg.HCHOUnit, 0)
	if err != nil {
		return nil, configErr("hcho_unit", "%v", err)
	}
	z := &Zigbee2MQTT{name: cfg.name(), base: cfg.BaseTopic, prefix: cfg.BaseTopic + "/", voc: voc, hcho: hcho, windows: map[string]bool{}}
	for _, w := range cfg.Windows {
		z.windows[w] = true
	}
	return z, nil
}

// Family implements Decoder.
func (z *Zigbee2MQTT) Family() string { return FamilyZigbee2MQTT }

// Name is the Source of the decoder's observations.
func (z *Zigbee2MQTT) Name() string { return z.name }

// Subscriptions implements Decoder.
func (z *Zigbee2MQTT) Subscriptions() []string { return []string{z.base + "/#"} }

// Decode implements Decoder.
func (z *Zigbee2MQTT) Decode(topic string, payload []byte, now time.Time, out []Observation) ([]Observation, error) {
	rest, ok := strings.CutPrefix(topic, z.prefix)
	if !ok || rest == "" {
		return out, newError(FamilyZigbee2MQTT, ReasonBadTopic, "topic %q is not under %s/", clip(topic), z.base)
	}
	if rest == "bridge" || strings.HasPrefix(rest, "bridge/") || isCommand(rest) {
		return out, nil
	}
	if name, ok := strings.CutSuffix(rest, "/availability"); ok && name != "" {
		return z.availability(name, payload, now, out)
	}
	return z.state(rest, payload, out)
}

// state decodes a device's JSON state in one pass: the reader checks the
// payload as it hands out the members, and what was appended is taken back
// if the payload turns out not to be a valid object.
func (z *Zigbee2MQTT) state(name string, payload []byte, out []Observation) ([]Observation, error) {
	r := jsonw.NewReader(payload)
	if !r.EnterObject() {
		return out, payloadError(FamilyZigbee2MQTT, payload)
	}
	start := len(out)
	var seen time.Time
	door := model.KindDoor
	if z.windows[name] {
		door = model.KindWindow
	}
	for {
		key, ok := r.NextMember()
		if !ok {
			break
		}
		k, conv, flag, invert := z.keyKind(key, door)
		switch {
		case k != model.KindUnknown && !flag:
			if f, present, reason := number(r.Value()); present {
				out = append(out, Observation{Source: z.name, Address: name, Kind: k, Value: conv.apply(f), Reject: reason})
			}
		case k != model.KindUnknown:
			if f, present, reason := boolean(r.Value()); present {
				if invert {
					f = 1 - f
				}
				out = append(out, Observation{Source: z.name, Address: name, Kind: k, Value: f, Reject: reason})
			}
		case string(key) == "last_seen":
			seen = lastSeen(r.Value())
		default:
			r.Skip()
		}
	}
	if !r.End() {
		return out[:start], payloadError(FamilyZigbee2MQTT, payload)
	}
	if err := uniqueKeys(FamilyZigbee2MQTT, &r); err != nil {
		return out[:start], err
	}
	markDuplicates(out[start:])
	stampFrom(out, start, seen)
	return out, nil
}

// keyKind maps a state key to its kind and conversion; flag marks the
// true/false keys, invert those whose true means 0. KindUnknown: not read.
func (z *Zigbee2MQTT) keyKind(key []byte, door model.Kind) (k model.Kind, conv linear, flag, invert bool) {
	switch string(key) {
	case "temperature":
		return model.KindTemperature, identity, false, false
	case "humidity":
		return model.KindHumidity, identity, false, false
	case "co2":
		return model.KindCO2, identity, false, false
	case "pm25":
		return model.KindPM25, identity, false, false
	case "pm10":
		return model.KindPM10, identity, false, false
	case "formaldehyd", "hcho":
		return model.KindHCHO, z.hcho, false, false
	case "voc":
		return model.KindTVOC, z.voc, false, false
	case "battery":
		return model.KindBattery, identity, false, false
	case "linkquality":
		return model.KindLinkQuality, identity, false, false
	case "contact":
		return door, identity, true, true // contact true = magnet present = closed
	case "smoke":
		return model.KindSmoke, identity, true, false
	case "gas":
		return model.KindGas, identity, true, false
	}
	return model.KindUnknown, identity, false, false
}

// availability decodes <name>/availability: JSON {"state":"online"} since
// Zigbee2MQTT 1.30, plain online/offline in legacy mode.
func (z *Zigbee2MQTT) availability(name string, payload []byte, now time.Time, out []Observation) ([]Observation, error) {
	p := bytes.TrimSpace(payload)
	state := p
	if len(p) > 0 && p[0] == '{' {
		obj, err := parseObject(FamilyZigbee2MQTT, p)
		if err != nil {
			return out, err
		}
		s, ok := jsonw.Member(obj, "state").StrBytes()
		if !ok {
			return out, newError(FamilyZigbee2MQTT, ReasonMissing, "availability without a string state")
		}
		state = s
	}
	var v float64
	switch string(state) {
	case "online":
		v = 1
	case "offline":
		v = 0
	case "":
		return out, newError(FamilyZigbee2MQTT, ReasonEmpty, "empty availability")
	default:
		return out, newError(FamilyZigbee2MQTT, ReasonUnknownState, "availability %q", clip(string(state)))
	}
	return append(out, Observation{Source: z.name, Address: name, Kind: model.KindDeviceOnline, Time: now, Value: v}), nil
}

// isCommand reports topics other clients publish to a device:
// <name>/set, <name>/get, <name>/set/<attribute>, <name>/get/<attribute>.
func isCommand(rest string) bool {
	return strings.HasSuffix(rest, "/set") || strings.HasSuffix(rest, "/get") ||
		strings.Contains(rest, "/set/") || strings.Contains(rest, "/get/")
}

// lastSeen reads Zigbee2MQTT's last_seen: epoch milliseconds or an ISO 8601
// string with offset (ISO_8601 and ISO_8601_local settings).
func lastSeen(v jsonw.Value) time.Time {
	switch v.Type {
	case jsonw.Number:
		if f, ok := v.Float(); ok && f > 0 && f < 1e15 {
			return time.UnixMilli(int64(f))
		}
	case jsonw.String:
		if t, ok := rfc3339(v); ok {
			return t
		}
	}
	return time.Time{}
}
