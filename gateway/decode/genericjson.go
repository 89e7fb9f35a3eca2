package decode

import (
	"fmt"
	"strings"
	"time"

	"github.com/cradlewatch/cradlewatch/gateway/decode/internal/jsonw"
	"github.com/cradlewatch/cradlewatch/model"
)

// FamilyJSON is the family name of the configurable JSON decoder.
const FamilyJSON = "json"

// Time formats of GenericJSONConfig.TimeFormat.
const (
	TimeRFC3339 = "rfc3339"
	TimeUnixS   = "unix_s"
	TimeUnixMs  = "unix_ms"
)

// GenericJSONConfig maps the JSON of a device no built-in family knows
// (family: json). Example:
//
//   - family: json
//     name: acme-air
//     topic: site/+room/+device/state
//     address: "{room}-{device}"
//     time_path: ts
//     time_format: unix_ms
//     fields:
//   - {path: "data.t", kind: temperature, unit: F}
//   - {path: "data.hcho", kind: hcho, unit: ppb}          # molar mass of HCHO is built in
//   - {path: "data.tvoc", kind: tvoc, unit: ppb, molar_mass: 78.9}
//   - {path: "sensors[0].raw", kind: humidity, scale: 0.1}
//   - {path: 'pm["PM2.5"]', kind: pm25}
//   - {path: "door_closed", kind: door, invert: true}
type GenericJSONConfig struct {
	Common `mapstructure:",squash"`
	// Topic is an MQTT filter whose '+' levels may be named (+device).
	Topic string `mapstructure:"topic"`
	// Address builds the device address from named levels: "{room}-{device}".
	// Default: the named levels' values joined with '/'; required when the
	// topic has no named level.
	Address string `mapstructure:"address"`
	// TimePath is where the payload holds its time; empty: arrival time.
	TimePath string `mapstructure:"time_path"`
	// TimeFormat is rfc3339 (default), unix_s or unix_ms.
	TimeFormat string        `mapstructure:"time_format"`
	Fields     []FieldConfig `mapstructure:"fields"`
}

// FieldConfig maps one JSON value to a kind. The value (a number, or for
// state kinds such as door and smoke a boolean as 1/0) becomes raw*scale + offset, is inverted if asked, and is
// then converted from Unit to the kind's unit (model.Kind.Unit).
type FieldConfig struct {
	// Path is a dot path with array indexes: data.sensors[0].temp.
	Path string `mapstructure:"path"`
	// Kind is a model.ParseKind name: temperature, humidity, co2, pm25, ...
	Kind string `mapstructure:"kind"`
	// Unit of the value after scale and offset: C, F, K, %, ppm, ppb, %vol,
	// ug/m3, mg/m3, s, ms. Empty: already the kind's unit.
	Unit string `mapstructure:"unit"`
	// Scale multiplies the raw value (0 means 1); Offset is added after.
	Scale  float64 `mapstructure:"scale"`
	Offset float64 `mapstructure:"offset"`
	// MolarMass in g/mol converts ppm/ppb to mg/m³ (HCHO: built in).
	MolarMass float64 `mapstructure:"molar_mass"`
	// Invert maps v to 1-v, for a "closed" flag that should read "open".
	Invert bool `mapstructure:"invert"`
}

type jsonField struct {
	path   []pathElem
	kind   model.Kind
	conv   linear
	invert bool
}

// GenericJSON decodes JSON mapped by configuration.
type GenericJSON struct {
	name     string
	pattern  pattern
	address  []addrPart
	timePath []pathElem
	timeFmt  string
	fields   []jsonField
	addrs    *stringCache // filled-in address templates, built once per device rather than per message
}

// addrPart is a literal or, when capture is set, a named level.
type addrPart struct {
	text    string
	capture bool
}

// NewGenericJSON validates cfg and returns the decoder.
func NewGenericJSON(cfg GenericJSONConfig) (*GenericJSON, error) {
	if cfg.Name == "" {
		return nil, configErr("name", "empty; a json source needs a name for devices[].source to refer to")
	}
	p, err := parsePattern(cfg.Topic)
	if err != nil {
		return nil, configErr("topic", "%v", err)
	}
	g := &GenericJSON{name: cfg.Name, pattern: p, addrs: newStringCache(DefaultTopicCacheSize)}
	if g.address, err = parseAddress(cfg.Address, &p); err != nil {
		return nil, configErr("address", "%v", err)
	}
	if cfg.TimePath != "" {
		if g.timePath, err = parsePath(cfg.TimePath); err != nil {
			return nil, configErr("time_path", "%v", err)
		}
	}
	switch cfg.TimeFormat {
	case "":
		g.timeFmt = TimeRFC3339
	case TimeRFC3339, TimeUnixS, TimeUnixMs:
		g.timeFmt = cfg.TimeFormat
	default:
		return nil, configErr("time_format", "%q is not %s, %s or %s", cfg.TimeFormat, TimeRFC3339, TimeUnixS, TimeUnixMs)
	}
	if len(cfg.Fields) == 0 {
		return nil, configErr("fields", "empty; map at least one value")
	}
	for i, fc := range cfg.Fields {
		key := fmt.Sprintf("fields[%d]", i)
		var f jsonField
		if f.path, err = parsePath(fc.Path); err != nil {
			return nil, configErr(key+".path", "%v", err)
		}
		if f.kind, err = model.ParseKind(fc.Kind); err != nil {
			return nil, configErr(key+".kind", "%v", err)
		}
		conv, err := conversion(f.kind, fc.Unit, fc.MolarMass)
		if err != nil {
			return nil, configErr(key+".unit", "%v", err)
		}
		scale := fc.Scale
		if scale == 0 {
			scale = 1
		}
		pre := linear{Scale: scale, Offset: fc.Offset}
		if fc.Invert {
			pre = pre.then(linear{Scale: -1, Offset: 1})
		}
		f.conv = pre.then(conv)
		g.fields = append(g.fields, f)
	}
	return g, nil
}

// parseAddress parses "{room}-{device}" against the pattern's named levels.
func parseAddress(tmpl string, p *pattern) ([]addrPart, error) {
	named := map[string]bool{}
	var order []string
	for _, n := range p.names {
		if n != "" {
			named[n] = true
			order = append(order, n)
		}
	}
	if tmpl == "" {
		if len(order) == 0 {
			return nil, fmt.Errorf("empty, and the topic has no named level (+device) to take it from")
		}
		tmpl = "{" + strings.Join(order, "}/{") + "}"
	}
	var parts []addrPart
	for rest := tmpl; rest != ""; {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			parts = append(parts, addrPart{text: rest})
			break
		}
		if i > 0 {
			parts = append(parts, addrPart{text: rest[:i]})
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return nil, fmt.Errorf("%q: '{' is not closed", tmpl)
		}
		name := rest[i+1 : i+j]
		if !named[name] {
			return nil, fmt.Errorf("%q: {%s} is not a named level of the topic", tmpl, name)
		}
		parts = append(parts, addrPart{text: name, capture: true})
		rest = rest[i+j+1:]
	}
	return parts, nil
}

// Family implements Decoder.
func (g *GenericJSON) Family() string { return FamilyJSON }

// Name is the Source of the decoder's observations.
func (g *GenericJSON) Name() string { return g.name }

// Subscriptions implements Decoder.
func (g *GenericJSON) Subscriptions() []string { return []string{g.pattern.filter} }

// Decode implements Decoder.
func (g *GenericJSON) Decode(topic string, payload []byte, now time.Time, out []Observation) ([]Observation, error) {
	var buf [8]string
	caps, ok := g.pattern.match(topic, buf[:0])
	if !ok {
		return out, newError(FamilyJSON, ReasonBadTopic, "topic %q does not match %s", clip(topic), g.pattern.filter)
	}
	addr := g.buildAddress(caps)
	obj, err := parseObject(FamilyJSON, payload)
	if err != nil {
		return out, err
	}
	var when time.Time
	if g.timePath != nil {
		v := lookup(obj, g.timePath)
		if v.Type != jsonw.Invalid && v.Type != jsonw.Null {
			if when, ok = g.parseTime(v); !ok {
				return out, newError(FamilyJSON, ReasonBadTime, "time at %s is not %s", clip(string(v.Raw)), g.timeFmt)
			}
		}
	}
	start := len(out)
	for i := range g.fields {
		f := &g.fields[i]
		v := lookup(obj, f.path)
		var x float64
		var present bool
		var reason Reason
		switch v.Type {
		case jsonw.Invalid:
			continue // absent: devices often omit what they did not measure
		case jsonw.True, jsonw.False:
			// true/false only mean something for states (door, alarm);
			// a boolean humidity is a wrong type, not 1 %.
			x, present, reason = boolean(v)
			if !f.kind.IsState() {
				reason = ReasonWrongType
			}
		default:
			x, present, reason = number(v)
		}
		if !present {
			continue
		}
		out = append(out, Observation{Source: g.name, Address: addr, Kind: f.kind, Value: f.conv.apply(x), Reject: reason})
	}
	markDuplicates(out[start:])
	stampFrom(out, start, when)
	return out, nil
}

func (g *GenericJSON) buildAddress(caps []string) string {
	if len(g.address) == 1 && g.address[0].capture {
		return g.pattern.capture(caps, g.address[0].text)
	}
	var buf [maxCachedBytes]byte
	b := buf[:0]
	for _, p := range g.address {
		if p.capture {
			b = append(b, g.pattern.capture(caps, p.text)...)
		} else {
			b = append(b, p.text...)
		}
	}
	return g.addrs.intern(b)
}

func (g *GenericJSON) addressCache() *stringCache { return g.addrs }

func (g *GenericJSON) parseTime(v jsonw.Value) (time.Time, bool) {
	switch g.timeFmt {
	case TimeUnixS, TimeUnixMs:
		f, ok := v.Float()
		if !ok || f <= 0 || f >= 1e15 {
			return time.Time{}, false
		}
		if g.timeFmt == TimeUnixS {
			return time.UnixMilli(int64(f * 1000)), true
		}
		return time.UnixMilli(int64(f)), true
	}
	return rfc3339(v)
}
