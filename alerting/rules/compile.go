package rules

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/cradlewatch/cradlewatch/alerting/calendar"
	"github.com/cradlewatch/cradlewatch/internal/config"
	"github.com/cradlewatch/cradlewatch/model"
)

// Defaults of the engine section and of keys a rules file may leave out.
const (
	DefaultAllowedLateness = 5 * time.Minute
	DefaultMaxFuture       = 5 * time.Minute
	DefaultMaxDevices      = 512
	// DefaultReplaySettle: a state learnt from replayed readings is
	// announced only once no replayed reading arrived for this long (see
	// doc.go, "Backlogs").
	DefaultReplaySettle = 30 * time.Second
	// DefaultGatewayHold: a lost gateway is held this long before it is
	// announced, so that a platform outage can claim it.
	DefaultGatewayHold = 10 * time.Second
	// DefaultReconnectGrace: after the centre was blind, gateways have
	// this long to show up before a missing one is a facility's outage.
	DefaultReconnectGrace = 2 * time.Minute
	defaultBuckets        = 60
	defaultRiseSamples    = 64
	maxBuckets            = 1440
	// minBucketWidth: a rolling mean's buckets are at least this wide
	// (a window shorter than its buckets in seconds is a typo).
	minBucketWidth = time.Second
)

// ruleType is the behaviour of a rule.
type ruleType uint8

const (
	typeThreshold ruleType = iota + 1
	typeAbsence
	typeGateway
	typeRise
	typeVentilation

	// Platform rules: the centre's own health, not a facility's.
	typeCentreLink
	typeMassDrop
)

var ruleTypes = map[string]ruleType{
	"threshold": typeThreshold, "absence": typeAbsence, "gateway": typeGateway,
	"rise": typeRise, "ventilation": typeVentilation,
	"centre_link": typeCentreLink, "mass_drop": typeMassDrop,
}

// platform reports whether the rule judges the platform, not a facility.
func (t ruleType) platform() bool { return t == typeCentreLink || t == typeMassDrop }

// commonKeys apply to every rule; typeKeys are the keys each type reads.
// A key a rule's type does not read is an error: a rules file means what
// it says.
var (
	commonKeys = []string{"name", "type", "description", "source", "severity", "disabled"}
	typeKeys   = map[ruleType][]string{
		typeThreshold: {"kind", "when", "room_types", "for", "resolve_hold", "window", "buckets", "min_coverage",
			"min", "max", "clear_min", "clear_max", "seasons"},
		typeAbsence:     {"room_types", "for", "resolve_hold", "factor", "min_silence"},
		typeGateway:     {"silence", "severity_closed", "hold", "reconnect_grace"},
		typeRise:        {"kind", "room_types", "for", "resolve_hold", "delta", "clear_delta", "within", "samples"},
		typeVentilation: {"kind", "room_types", "min_openings", "min_duration"},
		typeCentreLink:  {},
		typeMassDrop:    {"window", "min_gateways", "fraction"},
	}
)

// When says in which part of the facility's week a rule applies.
type When uint8

// Scopes of a rule.
const (
	Always When = iota
	OpenHours
	ClosedHours
)

// limits of a threshold in one season; ±Inf where there is no limit. The
// q fields are the same in fixed point (fixed.go), what the engine
// compares with.
type limits struct {
	min, max, clearMin, clearMax     float64
	qMin, qMax, qClearMin, qClearMax int64
}

func (l *limits) fix() {
	l.qMin, l.qMax, l.qClearMin, l.qClearMax = fixedLimit(l.min), fixedLimit(l.max), fixedLimit(l.clearMin), fixedLimit(l.clearMax)
}

// params is a rule compiled for one room or device: every override applied.
type params struct {
	name, desc  string
	typ         ruleType
	kind        model.Kind
	sev, sevOff Severity
	when        When
	roomTypes   []model.RoomType
	forD, hold  int64 // ns
	window      int64
	buckets     int
	minCoverage float64
	lim         [3]limits // by calendar.Season
	factor      float64
	minSilence  int64
	silence     int64
	delta       float64
	clearDelta  float64
	within      int64
	samples     int
	minOpenings int
	minDuration int64
	dropHold    int64 // gateway: a lost gateway is held this long
	grace       int64 // gateway: time to show up after the centre was blind
	minGateways int   // mass drop
	fraction    float64
}

func (p *params) appliesTo(rt model.RoomType) bool {
	if len(p.roomTypes) == 0 {
		return true
	}
	for _, t := range p.roomTypes {
		if t == rt {
			return true
		}
	}
	return false
}

// RuleSet is a compiled rules file. It is immutable and may be shared by
// every engine shard.
type RuleSet struct {
	file     string
	cfg      *Config
	engine   engineParams
	names    []string
	nodes    map[string]*yaml.Node
	defaults map[string]*params // rule name → compiled with no override
	platform []*params          // centre_link and mass_drop rules, in file order
	hours    calendar.Hours
	makeUp   []calendar.Span
	seasons  calendar.SeasonTable
	holidays *calendar.Holidays
	loc      *time.Location
}

// engineParams is the engine section with its defaults applied, in ns.
type engineParams struct {
	lateness, maxFuture, settle int64
	maxDevices                  int
}

func compileEngine(c EngineConfig) (engineParams, error) {
	p := engineParams{lateness: int64(DefaultAllowedLateness), maxFuture: int64(DefaultMaxFuture),
		settle: int64(DefaultReplaySettle), maxDevices: DefaultMaxDevices}
	if d := c.AllowedLateness; d != nil {
		if *d <= 0 {
			return p, config.Errorf("engine.allowed_lateness", "%v: must be positive (no reading would be live)", *d)
		}
		p.lateness = int64(*d)
	}
	if d := c.MaxFuture; d != nil {
		if *d < 0 {
			return p, config.Errorf("engine.max_future", "%v: must not be negative", *d)
		}
		p.maxFuture = int64(*d)
	}
	if d := c.ReplaySettle; d != nil {
		if *d < 0 {
			return p, config.Errorf("engine.replay_settle", "%v: must not be negative", *d)
		}
		p.settle = int64(*d)
	}
	if n := c.MaxDevices; n != nil {
		if *n <= 0 {
			return p, config.Errorf("engine.max_devices_per_facility", "%d: must be positive", *n)
		}
		p.maxDevices = *n
	}
	return p, nil
}

// keyed places err under key of file: a *config.Error from a nested part
// keeps its own key below key.
func keyed(file, key string, err error) *config.Error {
	var ce *config.Error
	if errors.As(err, &ce) {
		k := key
		switch {
		case k == "":
			k = ce.Key
		case ce.Key != "":
			k += "." + ce.Key
		}
		return &config.Error{File: file, Key: k, Reason: ce.Reason}
	}
	return &config.Error{File: file, Key: key, Reason: err.Error()}
}

func compileSet(file string, c *Config, hol *calendar.Holidays) (*RuleSet, error) {
	rs := &RuleSet{file: file, cfg: c, nodes: map[string]*yaml.Node{}, defaults: map[string]*params{}, holidays: hol}
	var err error
	if rs.engine, err = compileEngine(c.Engine); err != nil {
		return nil, keyed(file, "", err)
	}
	zone := c.Calendar.TimeZone
	if zone == "" {
		zone = calendar.DefaultZone
	}
	if rs.loc, err = time.LoadLocation(zone); err != nil {
		return nil, keyed(file, "calendar.time_zone", err)
	}
	if rs.hours, err = calendar.ParseHours(c.Calendar.Hours); err != nil {
		return nil, keyed(file, "calendar.hours", err)
	}
	if len(c.Calendar.MakeUpHours) > 0 {
		h, err := calendar.ParseHours(c.Calendar.MakeUpHours)
		if err != nil {
			return nil, keyed(file, "calendar.makeup_hours", err)
		}
		rs.makeUp = h[time.Monday]
	}
	for i, s := range c.Calendar.Seasons {
		sd := calendar.SeasonDates{Region: s.Region}
		if sd.Heating, err = period(s.Heating); err != nil {
			return nil, keyed(file, fmt.Sprintf("calendar.seasons[%d].heating", i), err)
		}
		if sd.Cooling, err = period(s.Cooling); err != nil {
			return nil, keyed(file, fmt.Sprintf("calendar.seasons[%d].cooling", i), err)
		}
		rs.seasons = append(rs.seasons, sd)
	}
	for i := range c.Rules {
		n := &c.Rules[i]
		key := fmt.Sprintf("rules[%d]", i)
		rc, err := decodeRule(n)
		if err != nil {
			return nil, keyed(file, key, err)
		}
		if rc.Name == "" {
			return nil, keyed(file, key+".name", errors.New("missing"))
		}
		if _, dup := rs.nodes[rc.Name]; dup {
			return nil, keyed(file, key+".name", fmt.Errorf("%q is used twice", rc.Name))
		}
		p, err := compileRule(rc, keysOf(n))
		if err != nil {
			return nil, keyed(file, key, fmt.Errorf("%s: %w", rc.Name, err))
		}
		rs.names = append(rs.names, rc.Name)
		rs.nodes[rc.Name] = n
		if rc.Disabled {
			p = nil // an override may switch it on for some rooms
		}
		rs.defaults[rc.Name] = p
		if p != nil && p.typ.platform() {
			for _, q := range rs.platform {
				if q.typ == p.typ {
					return nil, keyed(file, key+".type", fmt.Errorf("%s: a second %s rule (%s is one)", rc.Name, rc.Type, q.name))
				}
			}
			rs.platform = append(rs.platform, p)
		}
	}
	// Check every override now, so a typo fails at start, not at AddFacility.
	for rt, m := range c.Overrides.RoomTypes {
		if !rt.Valid() {
			return nil, keyed(file, "overrides.room_types."+string(rt), errors.New("unknown room type"))
		}
		for name, n := range m {
			if err := rs.checkOverride(name, &n); err != nil {
				return nil, keyed(file, fmt.Sprintf("overrides.room_types.%s.%s", rt, name), err)
			}
		}
	}
	for fid, fo := range c.Overrides.Facilities {
		key := "overrides.facilities." + fid
		if fo.TimeZone != "" {
			if _, err := time.LoadLocation(fo.TimeZone); err != nil {
				return nil, keyed(file, key+".time_zone", err)
			}
		}
		if _, err := calendar.ParseHours(fo.Hours); err != nil {
			return nil, keyed(file, key+".hours", err)
		}
		for name, n := range fo.Rules {
			if err := rs.checkOverride(name, &n); err != nil {
				return nil, keyed(file, key+".rules."+name, err)
			}
		}
		for room, m := range fo.Rooms {
			for name, n := range m {
				if err := rs.checkOverride(name, &n); err != nil {
					return nil, keyed(file, key+".rooms."+room+"."+name, err)
				}
			}
		}
	}
	return rs, nil
}

func (rs *RuleSet) checkOverride(name string, n *yaml.Node) error {
	base, ok := rs.nodes[name]
	if !ok {
		return fmt.Errorf("no rule named %q", name)
	}
	rc, err := decodeRule(base, n)
	if err != nil {
		return err
	}
	if rc.Name != name {
		return config.Errorf("name", "an override cannot rename a rule")
	}
	if t := ruleTypes[rc.Type]; t.platform() {
		return fmt.Errorf("%s is a platform rule: it has no facility or room to override it for", name)
	}
	_, err = compileRule(rc, keysOf(base, n))
	return err
}

func period(p PeriodConfig) (calendar.Period, error) {
	if p.From == "" && p.To == "" {
		return calendar.Period{}, nil
	}
	from, err := calendar.ParseMonthDay(p.From)
	if err != nil {
		return calendar.Period{}, config.Errorf("from", "%v", err)
	}
	to, err := calendar.ParseMonthDay(p.To)
	if err != nil {
		return calendar.Period{}, config.Errorf("to", "%v", err)
	}
	return calendar.Period{From: from, To: to}, nil
}

// keysOf lists the keys the rule's mapping nodes set (base and overrides).
func keysOf(nodes ...*yaml.Node) map[string]bool {
	out := map[string]bool{}
	for _, n := range nodes {
		if n == nil || n.Kind != yaml.MappingNode {
			continue
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			out[n.Content[i].Value] = true
		}
	}
	return out
}

// nonNegative checks duration keys that must not be negative.
func nonNegative(ds map[string]time.Duration) error {
	for _, k := range slices.Sorted(maps.Keys(ds)) {
		if ds[k] < 0 {
			return config.Errorf(k, "%v: must not be negative", ds[k])
		}
	}
	return nil
}

// compileRule checks one rule entry (with its overrides laid over it) and
// compiles it; set holds the keys the entry names. Errors carry the key
// relative to the rule.
func compileRule(rc RuleConfig, set map[string]bool) (*params, error) {
	p := &params{name: rc.Name, desc: rc.Description, forD: int64(rc.For), hold: int64(rc.ResolveHold)}
	var ok bool
	if p.typ, ok = ruleTypes[rc.Type]; !ok {
		return nil, config.Errorf("type", "%q is not one of threshold, absence, gateway, rise, ventilation, centre_link, mass_drop", rc.Type)
	}
	allowed := map[string]bool{}
	for _, k := range commonKeys {
		allowed[k] = true
	}
	for _, k := range typeKeys[p.typ] {
		allowed[k] = true
	}
	for _, k := range slices.Sorted(maps.Keys(set)) {
		if !allowed[k] {
			return nil, config.Errorf(k, "does not apply to a %s rule", rc.Type)
		}
	}
	if err := nonNegative(map[string]time.Duration{
		"for": rc.For, "resolve_hold": rc.ResolveHold, "window": rc.Window, "min_silence": rc.MinSilence,
		"silence": rc.Silence, "within": rc.Within, "min_duration": rc.MinDuration, "hold": rc.Hold,
		"reconnect_grace": rc.ReconnectGrace,
	}); err != nil {
		return nil, err
	}
	if rc.Kind != "" {
		k, err := model.ParseKind(rc.Kind)
		if err != nil {
			return nil, config.Errorf("kind", "%v", err)
		}
		p.kind = k
	}
	var err error
	if p.sev, err = ParseSeverity(rc.Severity); err != nil {
		return nil, config.Errorf("severity", "%v", err)
	}
	p.sevOff = p.sev
	if rc.SeverityClosed != "" {
		if p.sevOff, err = ParseSeverity(rc.SeverityClosed); err != nil {
			return nil, config.Errorf("severity_closed", "%v", err)
		}
	}
	switch rc.When {
	case "", "always":
		p.when = Always
	case "open":
		p.when = OpenHours
	case "closed":
		p.when = ClosedHours
	default:
		return nil, config.Errorf("when", "%q is not one of always, open, closed", rc.When)
	}
	for _, t := range rc.RoomTypes {
		if !model.RoomType(t).Valid() {
			return nil, config.Errorf("room_types", "unknown room type %q", t)
		}
		p.roomTypes = append(p.roomTypes, model.RoomType(t))
	}
	switch p.typ {
	case typeThreshold:
		err = compileThreshold(p, rc)
	case typeAbsence:
		p.factor, p.minSilence = rc.Factor, int64(rc.MinSilence)
		if p.factor <= 1 {
			err = config.Errorf("factor", "%v must be above 1", rc.Factor)
		}
	case typeGateway:
		err = compileGateway(p, rc, set)
	case typeRise:
		p.delta, p.clearDelta, p.within, p.samples = rc.Delta, rc.ClearDelta, int64(rc.Within), rc.Samples
		if p.clearDelta == 0 {
			p.clearDelta = p.delta / 2
		}
		if p.samples == 0 {
			p.samples = defaultRiseSamples
		}
		switch {
		case p.kind == model.KindUnknown:
			err = config.Errorf("kind", "missing")
		case p.delta <= 0:
			err = config.Errorf("delta", "%v must be positive", rc.Delta)
		case p.within <= 0:
			err = config.Errorf("within", "must be positive")
		case p.clearDelta > p.delta:
			err = config.Errorf("clear_delta", "%v must not exceed delta %v", p.clearDelta, p.delta)
		case p.samples < 2:
			err = config.Errorf("samples", "%d must be at least 2", p.samples)
		}
	case typeVentilation:
		p.minOpenings, p.minDuration = rc.MinOpenings, int64(rc.MinDuration)
		if p.kind == model.KindUnknown {
			p.kind = model.KindWindow
		}
		switch {
		case p.minOpenings <= 0:
			err = config.Errorf("min_openings", "%d must be positive", rc.MinOpenings)
		case p.minDuration <= 0:
			err = config.Errorf("min_duration", "must be positive")
		}
	case typeMassDrop:
		p.window, p.minGateways, p.fraction = int64(rc.Window), rc.MinGateways, rc.Fraction
		switch {
		case p.window <= 0:
			err = config.Errorf("window", "must be positive")
		case p.minGateways < 2:
			err = config.Errorf("min_gateways", "%d must be at least 2 (one gateway lost is that facility's outage)", rc.MinGateways)
		case p.fraction < 0 || p.fraction > 1:
			err = config.Errorf("fraction", "%v is not within 0..1", rc.Fraction)
		}
	}
	return p, err
}

func compileGateway(p *params, rc RuleConfig, set map[string]bool) error {
	p.silence = int64(rc.Silence)
	if p.silence <= 0 {
		return config.Errorf("silence", "must be positive")
	}
	p.dropHold, p.grace = int64(DefaultGatewayHold), int64(DefaultReconnectGrace)
	if set["hold"] {
		p.dropHold = int64(rc.Hold)
	}
	if set["reconnect_grace"] {
		p.grace = int64(rc.ReconnectGrace)
	}
	if p.dropHold >= p.silence {
		return config.Errorf("hold", "%v must be shorter than silence %v", time.Duration(p.dropHold), rc.Silence)
	}
	return nil
}

func compileThreshold(p *params, rc RuleConfig) error {
	if p.kind == model.KindUnknown {
		return config.Errorf("kind", "missing")
	}
	base := limits{min: math.Inf(-1), max: math.Inf(1), clearMin: math.Inf(-1), clearMax: math.Inf(1)}
	apply := func(l *limits, c LimitsConfig) {
		if c.Min != nil {
			l.min, l.clearMin = *c.Min, *c.Min
		}
		if c.Max != nil {
			l.max, l.clearMax = *c.Max, *c.Max
		}
		if c.ClearMin != nil {
			l.clearMin = *c.ClearMin
		}
		if c.ClearMax != nil {
			l.clearMax = *c.ClearMax
		}
	}
	apply(&base, rc.LimitsConfig)
	for s := range p.lim {
		p.lim[s] = base
	}
	for _, name := range slices.Sorted(maps.Keys(rc.Seasons)) {
		s, err := calendar.ParseSeason(name)
		if err != nil {
			return config.Errorf("seasons."+name, "%v", err)
		}
		// A season's keys replace only the levels they name.
		apply(&p.lim[s], rc.Seasons[name])
	}
	for s := range p.lim {
		p.lim[s].fix()
	}
	for s, l := range p.lim {
		if math.IsInf(l.min, -1) && math.IsInf(l.max, 1) {
			return config.Errorf("max", "no min or max in season %s", calendar.Season(s))
		}
		if l.clearMax > l.max || l.clearMin < l.min {
			return config.Errorf("clear_max", "season %s: a clear level must lie inside the limits (clear_max <= max, clear_min >= min)", calendar.Season(s))
		}
	}
	if rc.Window > 0 {
		p.window = int64(rc.Window)
		p.buckets = rc.Buckets
		if p.buckets == 0 {
			p.buckets = defaultBuckets
		}
		if p.buckets < 2 || p.buckets > maxBuckets {
			return config.Errorf("buckets", "%d is not within 2..%d", p.buckets, maxBuckets)
		}
		if w := rc.Window / time.Duration(p.buckets); w < minBucketWidth {
			return config.Errorf("window", "%v in %d buckets makes buckets of %v; at least %v each", rc.Window, p.buckets, w, minBucketWidth)
		}
		p.minCoverage = rc.MinCoverage
		if p.minCoverage < 0 || p.minCoverage > 1 {
			return config.Errorf("min_coverage", "%v is not within 0..1", p.minCoverage)
		}
	} else if rc.Buckets != 0 || rc.MinCoverage != 0 {
		return config.Errorf("buckets", "buckets and min_coverage need a window")
	}
	return nil
}

// resolve compiles a rule for one room of one facility, applying overrides
// in order room type, facility, room. Rules without an override share the
// default compilation.
func (rs *RuleSet) resolve(name, facility, room string, rt model.RoomType) (*params, error) {
	var patches []*yaml.Node
	if m, ok := rs.cfg.Overrides.RoomTypes[rt]; ok {
		if n, ok := m[name]; ok {
			patches = append(patches, &n)
		}
	}
	if fo, ok := rs.cfg.Overrides.Facilities[facility]; ok {
		if n, ok := fo.Rules[name]; ok {
			patches = append(patches, &n)
		}
		if n, ok := fo.Rooms[room][name]; ok {
			patches = append(patches, &n)
		}
	}
	if len(patches) == 0 {
		return rs.defaults[name], nil
	}
	rc, err := decodeRule(rs.nodes[name], patches...)
	if err != nil {
		return nil, err
	}
	if rc.Disabled {
		return nil, nil
	}
	return compileRule(rc, keysOf(append([]*yaml.Node{rs.nodes[name]}, patches...)...))
}

// Calendar builds a facility's calendar. The time zone is, from the
// weakest to the strongest: the rules file's calendar.time_zone, the
// facility file's (loc, when not nil), and the rules file's
// overrides.facilities.<id>.time_zone, set centrally for one facility. The
// opening hours go the same way: calendar.hours, the facility file's
// opening_hours, overrides.facilities.<id>.hours.
func (rs *RuleSet) Calendar(facility string, region model.Region, loc *time.Location, hours []string) (*calendar.Calendar, error) {
	cfg := calendar.Config{Location: rs.loc, Hours: rs.hours, MakeUpHours: rs.makeUp,
		Holidays: rs.holidays, Season: rs.seasons.For(string(region))}
	if loc != nil {
		cfg.Location = loc
	}
	if len(hours) > 0 {
		h, err := calendar.ParseHours(hours)
		if err != nil {
			return nil, fmt.Errorf("facility %s: opening_hours: %w", facility, err)
		}
		cfg.Hours = h
	}
	if fo, ok := rs.cfg.Overrides.Facilities[facility]; ok {
		key := "overrides.facilities." + facility
		if fo.TimeZone != "" {
			l, err := time.LoadLocation(fo.TimeZone)
			if err != nil {
				return nil, keyed(rs.file, key+".time_zone", err)
			}
			cfg.Location = l
		}
		if len(fo.Hours) > 0 {
			h, err := calendar.ParseHours(fo.Hours)
			if err != nil {
				return nil, keyed(rs.file, key+".hours", err)
			}
			cfg.Hours = h
		}
	}
	return calendar.New(cfg)
}

// Names lists the rules in file order.
func (rs *RuleSet) Names() []string { return append([]string(nil), rs.names...) }

// File is the rules file the set was compiled from.
func (rs *RuleSet) File() string { return rs.file }
