package decode

import (
	"bytes"
	"strings"
	"time"

	"github.com/cradlewatch/cradlewatch/gateway/decode/internal/jsonw"
	"github.com/cradlewatch/cradlewatch/model"
)

// FamilyTasmota is the family name of the Tasmota decoder.
const FamilyTasmota = "tasmota"

// Address modes of a Tasmota source.
const (
	TasmotaAddressTopic  = "topic"  // Address is the %topic%; indexed sensors (DS18B20-1) get topic/sensor
	TasmotaAddressSensor = "sensor" // Address is always topic/sensor (topic/AM2301, topic/SCD30)
)

// TasmotaConfig configures a Tasmota source (family: tasmota).
type TasmotaConfig struct {
	Common `mapstructure:",squash"`
	// Prefix is Tasmota's telemetry prefix (%prefix%, Prefix3); default "tele".
	Prefix string `mapstructure:"prefix"`
	// FullTopic is Tasmota's FullTopic; default "%prefix%/%topic%/".
	// %topic%, %hostname% and %id% all stand for the device's level.
	FullTopic string `mapstructure:"full_topic"`
	// Timezone is the facility's IANA zone: Tasmota's "Time" is local time
	// without an offset. Default Asia/Shanghai.
	Timezone string `mapstructure:"timezone"`
	// Address is "topic" (default) or "sensor", see the constants. In
	// topic mode a second sensor of the same kind in one message (an
	// AM2301 beside a BME280) is rejected as a duplicate: use sensor mode
	// for such devices.
	Address string `mapstructure:"address"`
}

// Tasmota decodes Tasmota telemetry:
//
//	<full topic>/SENSOR  {"Time":"2024-05-01T10:00:00","AM2301":{"Temperature":24.6,"Humidity":58.2},"TempUnit":"C"}
//	<full topic>/LWT     Online / Offline (retained)
//
// Every object member of SENSOR is a sensor, keyed by its model, possibly
// indexed (DS18B20-1, SHT3X-0x44). Keys read inside a sensor: Temperature
// (converted from °F when TempUnit is "F"), Humidity, CarbonDioxide
// (SCD30, SCD40, MHZ19B, SenseAir), PM2.5 and PM10 (SDS0X1, PMS5003: the
// atmospheric values, not CF). Skipped: the chip temperature ("ESP32"),
// Tasmota's "Global" summary (a copy of another sensor) and the MH-Z19's
// internal Temperature. A Time with an offset (SetOption52) is honoured;
// one that cannot be parsed is replaced by the arrival time.
type Tasmota struct {
	name     string
	sensor   pattern
	lwt      pattern
	loc      *time.Location
	bySensor bool
	addrs    *stringCache // "topic/sensor" addresses, built once per sensor rather than per message
}

// NewTasmota validates cfg and returns the decoder.
func NewTasmota(cfg TasmotaConfig) (*Tasmota, error) {
	if cfg.Family == "" {
		cfg.Family = FamilyTasmota
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "tele"
	}
	if strings.ContainsAny(cfg.Prefix, "+#%") {
		return nil, configErr("prefix", "%q must not contain wildcards or '%%'", cfg.Prefix)
	}
	if cfg.FullTopic == "" {
		cfg.FullTopic = "%prefix%/%topic%/"
	}
	ft := strings.TrimSuffix(cfg.FullTopic, "/")
	ft = strings.ReplaceAll(ft, "%prefix%", cfg.Prefix)
	n := 0
	for _, tok := range [...]string{"%topic%", "%hostname%", "%id%"} {
		n += strings.Count(ft, tok)
		ft = strings.ReplaceAll(ft, tok, "+topic")
	}
	if n != 1 || strings.Contains(ft, "%") {
		return nil, configErr("full_topic", "%q must hold %%prefix%% and exactly one of %%topic%%, %%hostname%%, %%id%%", cfg.FullTopic)
	}
	sensor, err := parsePattern(ft + "/SENSOR")
	if err != nil {
		return nil, configErr("full_topic", "%v", err)
	}
	lwt, _ := parsePattern(ft + "/LWT")
	if cfg.Timezone == "" {
		cfg.Timezone = "Asia/Shanghai"
	}
	loc, err := time.LoadLocation(cfg.Timezone)
	if err != nil {
		return nil, configErr("timezone", "%v", err)
	}
	switch cfg.Address {
	case "", TasmotaAddressTopic, TasmotaAddressSensor:
	default:
		return nil, configErr("address", "%q is not %q or %q", cfg.Address, TasmotaAddressTopic, TasmotaAddressSensor)
	}
	return &Tasmota{name: cfg.name(), sensor: sensor, lwt: lwt, loc: loc, bySensor: cfg.Address == TasmotaAddressSensor,
		addrs: newStringCache(DefaultTopicCacheSize)}, nil
}

// Family implements Decoder.
func (t *Tasmota) Family() string { return FamilyTasmota }

// Name is the Source of the decoder's observations.
func (t *Tasmota) Name() string { return t.name }

// Subscriptions implements Decoder.
func (t *Tasmota) Subscriptions() []string { return []string{t.sensor.filter, t.lwt.filter} }

// Decode implements Decoder.
func (t *Tasmota) Decode(topic string, payload []byte, now time.Time, out []Observation) ([]Observation, error) {
	var buf [4]string
	if caps, ok := t.sensor.match(topic, buf[:0]); ok {
		return t.telemetry(t.sensor.capture(caps, "topic"), payload, out)
	}
	if caps, ok := t.lwt.match(topic, buf[:0]); ok {
		return t.lastWill(t.lwt.capture(caps, "topic"), payload, now, out)
	}
	return out, newError(FamilyTasmota, ReasonBadTopic, "topic %q is neither SENSOR nor LWT", clip(topic))
}

// telemetry decodes SENSOR in one pass: the reader checks the payload as it
// hands out the members, sensor objects included, and what was appended is
// taken back if the payload turns out not to be a valid object.
func (t *Tasmota) telemetry(dev string, payload []byte, out []Observation) ([]Observation, error) {
	r := jsonw.NewReader(payload)
	if !r.EnterObject() {
		return out, payloadError(FamilyTasmota, payload)
	}
	start := len(out)
	var when time.Time
	fahrenheit := false
	for {
		key, ok := r.NextMember()
		if !ok {
			break
		}
		switch string(key) {
		case "Time":
			when = t.deviceTime(r.Value())
		case "TempUnit":
			u, _ := r.Value().StrBytes()
			fahrenheit = string(u) == "F"
		case "ESP32", "ESP8266", "Global":
			r.Skip()
		default:
			if r.EnterObject() {
				out = t.sensorValues(dev, key, &r, out)
			} else {
				r.Skip()
			}
		}
	}
	if !r.End() {
		return out[:start], payloadError(FamilyTasmota, payload)
	}
	if err := uniqueKeys(FamilyTasmota, &r); err != nil {
		return out[:start], err
	}
	if fahrenheit {
		f := linear{Scale: 5.0 / 9, Offset: -32 * 5.0 / 9}
		for i := start; i < len(out); i++ {
			if out[i].Kind == model.KindTemperature {
				out[i].Value = f.apply(out[i].Value)
			}
		}
	}
	markDuplicates(out[start:])
	stampFrom(out, start, when)
	return out, nil
}

// sensorValues appends the readings of one sensor object, whose '{' r has
// just consumed; it reads up to and including the object's '}'.
func (t *Tasmota) sensorValues(dev string, sensor []byte, r *jsonw.Reader, out []Observation) []Observation {
	addr := ""
	mhz := bytes.HasPrefix(sensor, []byte("MHZ19"))
	for {
		key, ok := r.NextMember()
		if !ok {
			return out
		}
		var k model.Kind
		switch string(key) {
		case "Temperature":
			if !mhz { // the MH-Z19's temperature is its own, not the room's
				k = model.KindTemperature
			}
		case "Humidity":
			k = model.KindHumidity
		case "CarbonDioxide":
			k = model.KindCO2
		case "PM2.5":
			k = model.KindPM25
		case "PM10":
			k = model.KindPM10
		}
		if k == model.KindUnknown {
			r.Skip()
			continue
		}
		f, present, reason := number(r.Value())
		if !present {
			continue
		}
		if addr == "" { // built on first use: most sensor objects carry nothing we read
			addr = t.sensorAddress(dev, sensor)
		}
		out = append(out, Observation{Source: t.name, Address: addr, Kind: k, Value: f, Reject: reason})
	}
}

// sensorAddress is dev, or dev/sensor for indexed sensors and in sensor
// mode.
func (t *Tasmota) sensorAddress(dev string, sensor []byte) string {
	if !t.bySensor && bytes.IndexByte(sensor, '-') < 0 {
		return dev
	}
	var buf [maxCachedBytes]byte
	return t.addrs.intern(append(append(append(buf[:0], dev...), '/'), sensor...))
}

func (t *Tasmota) addressCache() *stringCache { return t.addrs }

// deviceTime parses Tasmota's Time: local wall time in the facility's zone,
// or RFC 3339 with an offset. Zero if unparseable.
func (t *Tasmota) deviceTime(v jsonw.Value) time.Time {
	b, ok := v.StrBytes()
	if !ok {
		return time.Time{}
	}
	const local = "2006-01-02T15:04:05"
	if len(b) == len(local) {
		if tm, err := time.ParseInLocation(local, string(b), t.loc); err == nil {
			return tm
		}
		return time.Time{}
	}
	if tm, err := time.Parse(time.RFC3339Nano, string(b)); err == nil {
		return tm
	}
	return time.Time{}
}

// lastWill decodes the retained LWT: Online / Offline.
func (t *Tasmota) lastWill(dev string, payload []byte, now time.Time, out []Observation) ([]Observation, error) {
	var v float64
	p := bytes.TrimSpace(payload)
	switch string(p) { // a conversion the compiler does not allocate for, unlike a variable that escapes
	case "Online":
		v = 1
	case "Offline":
		v = 0
	case "":
		return out, newError(FamilyTasmota, ReasonEmpty, "empty LWT")
	default:
		return out, newError(FamilyTasmota, ReasonUnknownState, "LWT %q", clip(string(p)))
	}
	return append(out, Observation{Source: t.name, Address: dev, Kind: model.KindDeviceOnline, Time: now, Value: v}), nil
}

// markDuplicates rejects a second observation of the same address and kind:
// both would become the same InfluxDB point and overwrite each other.
func markDuplicates(obs []Observation) {
	for i := 1; i < len(obs); i++ {
		for j := 0; j < i; j++ {
			if obs[j].Kind == obs[i].Kind && obs[j].Address == obs[i].Address && obs[j].Reject == "" {
				obs[i].Reject = ReasonDuplicate
				break
			}
		}
	}
}
