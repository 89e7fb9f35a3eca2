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
	z := &Zigbee2MQTT{name: cfg.name(), base: cfg.BaseTopic, voc: voc, hcho: hcho, windows: map[string]bool{}}
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
	rest, ok := strings.CutPrefix(topic, z.base+"/")
	if !ok || rest == "" {
		return out, newError(FamilyZigbee2MQTT, ReasonBadTopic, "topic %q is not under %s/", clip(topic), z.base)
	}
	if rest == "bridge" || strings.HasPrefix(rest, "bridge/") || isCommand(rest) {
		return out, nil
	}
	if name, ok := strings.CutSuffix(rest, "/availability"); ok && name != "" {
		return z.availability(name, payload, now, out)
	}
	obj, err := parseObject(FamilyZigbee2MQTT, payload)
	if err != nil {
		return out, err
	}
	start := len(out)
	var seen time.Time
	door := model.KindDoor
	if z.windows[rest] {
		door = model.KindWindow
	}
	add := func(k model.Kind, v float64, reason Reason) {
		out = append(out, Observation{Source: z.name, Address: rest, Kind: k, Value: v, Reject: reason})
	}
	num := func(k model.Kind, v jsonw.Value, conv linear) {
		if f, present, reason := number(v); present {
			add(k, conv.apply(f), reason)
		}
	}
	flag := func(k model.Kind, v jsonw.Value, invert bool) {
		if f, present, reason := boolean(v); present {
			if invert {
				f = 1 - f
			}
			add(k, f, reason)
		}
	}
	jsonw.ObjectEach(obj, func(key []byte, v jsonw.Value) bool {
		switch string(key) {
		case "temperature":
			num(model.KindTemperature, v, identity)
		case "humidity":
			num(model.KindHumidity, v, identity)
		case "co2":
			num(model.KindCO2, v, identity)
		case "pm25":
			num(model.KindPM25, v, identity)
		case "pm10":
			num(model.KindPM10, v, identity)
		case "formaldehyd", "hcho":
			num(model.KindHCHO, v, z.hcho)
		case "voc":
			num(model.KindTVOC, v, z.voc)
		case "battery":
			num(model.KindBattery, v, identity)
		case "linkquality":
			num(model.KindLinkQuality, v, identity)
		case "contact":
			flag(door, v, true) // contact true = magnet present = closed
		case "smoke":
			flag(model.KindSmoke, v, false)
		case "gas":
			flag(model.KindGas, v, false)
		case "last_seen":
			seen = lastSeen(v)
		}
		return true
	})
	markDuplicates(out[start:])
	stampFrom(out, start, seen)
	return out, nil
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
	for _, c := range [...]string{"/set", "/get"} {
		if strings.HasSuffix(rest, c) || strings.Contains(rest, c+"/") {
			return true
		}
	}
	return false
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
