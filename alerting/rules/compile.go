package rules

import (
	"fmt"
	"math"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/cradlewatch/cradlewatch/alerting/calendar"
	"github.com/cradlewatch/cradlewatch/model"
)

// Defaults of the engine section.
const (
	DefaultAllowedLateness = 5 * time.Minute
	DefaultMaxFuture       = 5 * time.Minute
	DefaultMaxDevices      = 512
	defaultBuckets         = 60
	defaultRiseSamples     = 64
	maxBuckets             = 1440
)

// ruleType is the behaviour of a rule.
type ruleType uint8

const (
	typeThreshold ruleType = iota + 1
	typeAbsence
	typeGateway
	typeRise
	typeVentilation
)

var ruleTypes = map[string]ruleType{
	"threshold": typeThreshold, "absence": typeAbsence, "gateway": typeGateway,
	"rise": typeRise, "ventilation": typeVentilation,
}

// When says in which part of the facility's week a rule applies.
type When uint8

// Scopes of a rule.
const (
	Always When = iota
	OpenHours
	ClosedHours
)

// limits of a threshold in one season; ±Inf where there is no limit.
type limits struct{ min, max, clearMin, clearMax float64 }

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
	engine   EngineConfig
	names    []string
	nodes    map[string]*yaml.Node
	defaults map[string]*params // rule name → compiled with no override
	hours    calendar.Hours
	makeUp   []calendar.Span
	seasons  calendar.SeasonTable
	holidays *calendar.Holidays
	loc      *time.Location
}

func compileSet(file string, c *Config, hol *calendar.Holidays) (*RuleSet, error) {
	rs := &RuleSet{file: file, cfg: c, engine: c.Engine, nodes: map[string]*yaml.Node{},
		defaults: map[string]*params{}, holidays: hol}
	if rs.engine.AllowedLateness <= 0 {
		rs.engine.AllowedLateness = DefaultAllowedLateness
	}
	if rs.engine.MaxFuture <= 0 {
		rs.engine.MaxFuture = DefaultMaxFuture
	}
	if rs.engine.MaxDevices <= 0 {
		rs.engine.MaxDevices = DefaultMaxDevices
	}
	var err error
	zone := c.Calendar.TimeZone
	if zone == "" {
		zone = calendar.DefaultZone
	}
	if rs.loc, err = time.LoadLocation(zone); err != nil {
		return nil, &ConfigError{file, "calendar.time_zone", err}
	}
	if rs.hours, err = calendar.ParseHours(c.Calendar.Hours); err != nil {
		return nil, &ConfigError{file, "calendar.hours", err}
	}
	if len(c.Calendar.MakeUpHours) > 0 {
		h, err := calendar.ParseHours(c.Calendar.MakeUpHours)
		if err != nil {
			return nil, &ConfigError{file, "calendar.makeup_hours", err}
		}
		rs.makeUp = h[time.Monday]
	}
	for i, s := range c.Calendar.Seasons {
		sd := calendar.SeasonDates{Region: s.Region}
		if sd.Heating, err = period(s.Heating); err != nil {
			return nil, &ConfigError{file, fmt.Sprintf("calendar.seasons[%d].heating", i), err}
		}
		if sd.Cooling, err = period(s.Cooling); err != nil {
			return nil, &ConfigError{file, fmt.Sprintf("calendar.seasons[%d].cooling", i), err}
		}
		rs.seasons = append(rs.seasons, sd)
	}
	for i := range c.Rules {
		n := &c.Rules[i]
		rc, err := decodeRule(n)
		if err != nil {
			return nil, &ConfigError{file, fmt.Sprintf("rules[%d]", i), err}
		}
		if rc.Name == "" {
			return nil, &ConfigError{file, fmt.Sprintf("rules[%d].name", i), fmt.Errorf("missing")}
		}
		if _, dup := rs.nodes[rc.Name]; dup {
			return nil, &ConfigError{file, fmt.Sprintf("rules[%d].name", i), fmt.Errorf("%q is used twice", rc.Name)}
		}
		p, err := compileRule(rc)
		if err != nil {
			return nil, &ConfigError{file, fmt.Sprintf("rules[%d] (%s)", i, rc.Name), err}
		}
		rs.names = append(rs.names, rc.Name)
		rs.nodes[rc.Name] = n
		if rc.Disabled {
			p = nil // an override may switch it on for some rooms
		}
		rs.defaults[rc.Name] = p
	}
	// Check every override now, so a typo fails at start, not at AddFacility.
	for rt, m := range c.Overrides.RoomTypes {
		if !rt.Valid() {
			return nil, &ConfigError{file, "overrides.room_types." + string(rt), fmt.Errorf("unknown room type")}
		}
		for name, n := range m {
			if err := rs.checkOverride(name, &n); err != nil {
				return nil, &ConfigError{file, fmt.Sprintf("overrides.room_types.%s.%s", rt, name), err}
			}
		}
	}
	for fid, fo := range c.Overrides.Facilities {
		key := "overrides.facilities." + fid
		if fo.TimeZone != "" {
			if _, err := time.LoadLocation(fo.TimeZone); err != nil {
				return nil, &ConfigError{file, key + ".time_zone", err}
			}
		}
		if _, err := calendar.ParseHours(fo.Hours); err != nil {
			return nil, &ConfigError{file, key + ".hours", err}
		}
		for name, n := range fo.Rules {
			if err := rs.checkOverride(name, &n); err != nil {
				return nil, &ConfigError{file, key + ".rules." + name, err}
			}
		}
		for room, m := range fo.Rooms {
			for name, n := range m {
				if err := rs.checkOverride(name, &n); err != nil {
					return nil, &ConfigError{file, key + ".rooms." + room + "." + name, err}
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
		return fmt.Errorf("an override cannot rename a rule")
	}
	_, err = compileRule(rc)
	return err
}

func period(p PeriodConfig) (calendar.Period, error) {
	if p.From == "" && p.To == "" {
		return calendar.Period{}, nil
	}
	from, err := calendar.ParseMonthDay(p.From)
	if err != nil {
		return calendar.Period{}, fmt.Errorf("from: %w", err)
	}
	to, err := calendar.ParseMonthDay(p.To)
	if err != nil {
		return calendar.Period{}, fmt.Errorf("to: %w", err)
	}
	return calendar.Period{From: from, To: to}, nil
}

func compileRule(rc RuleConfig) (*params, error) {
	p := &params{name: rc.Name, desc: rc.Description, forD: int64(rc.For), hold: int64(rc.ResolveHold)}
	var ok bool
	if p.typ, ok = ruleTypes[rc.Type]; !ok {
		return nil, fmt.Errorf("type: %q is not one of threshold, absence, gateway, rise, ventilation", rc.Type)
	}
	if rc.Kind != "" {
		k, err := model.ParseKind(rc.Kind)
		if err != nil {
			return nil, fmt.Errorf("kind: %w", err)
		}
		p.kind = k
	}
	var err error
	if p.sev, err = ParseSeverity(rc.Severity); err != nil {
		return nil, fmt.Errorf("severity: %w", err)
	}
	p.sevOff = p.sev
	if rc.SeverityClosed != "" {
		if p.sevOff, err = ParseSeverity(rc.SeverityClosed); err != nil {
			return nil, fmt.Errorf("severity_closed: %w", err)
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
		return nil, fmt.Errorf("when: %q is not one of always, open, closed", rc.When)
	}
	for _, t := range rc.RoomTypes {
		if !model.RoomType(t).Valid() {
			return nil, fmt.Errorf("room_types: unknown room type %q", t)
		}
		p.roomTypes = append(p.roomTypes, model.RoomType(t))
	}
	if rc.For < 0 || rc.ResolveHold < 0 {
		return nil, fmt.Errorf("for and resolve_hold must not be negative")
	}
	switch p.typ {
	case typeThreshold:
		err = compileThreshold(p, rc)
	case typeAbsence:
		p.factor, p.minSilence = rc.Factor, int64(rc.MinSilence)
		if p.factor <= 1 {
			err = fmt.Errorf("factor: %v must be above 1", rc.Factor)
		}
	case typeGateway:
		p.silence = int64(rc.Silence)
		if p.silence <= 0 {
			err = fmt.Errorf("silence: must be positive")
		}
	case typeRise:
		p.delta, p.clearDelta, p.within, p.samples = rc.Delta, rc.ClearDelta, int64(rc.Within), rc.Samples
		if p.clearDelta == 0 {
			p.clearDelta = p.delta / 2
		}
		if p.samples == 0 {
			p.samples = defaultRiseSamples
		}
		if p.kind == model.KindUnknown || p.delta <= 0 || p.within <= 0 || p.clearDelta > p.delta || p.samples < 2 {
			err = fmt.Errorf("a rise rule needs kind, delta > 0, within > 0, clear_delta <= delta, samples >= 2")
		}
	case typeVentilation:
		p.minOpenings, p.minDuration = rc.MinOpenings, int64(rc.MinDuration)
		if p.kind == model.KindUnknown {
			p.kind = model.KindWindow
		}
		if p.minOpenings <= 0 || p.minDuration <= 0 {
			err = fmt.Errorf("min_openings and min_duration must be positive")
		}
	}
	return p, err
}

func compileThreshold(p *params, rc RuleConfig) error {
	if p.kind == model.KindUnknown {
		return fmt.Errorf("kind: missing")
	}
	base := limits{math.Inf(-1), math.Inf(1), math.Inf(-1), math.Inf(1)}
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
	for name, lc := range rc.Seasons {
		s, err := calendar.ParseSeason(name)
		if err != nil {
			return fmt.Errorf("seasons: %w", err)
		}
		// A season's keys replace only the levels they name.
		apply(&p.lim[s], lc)
	}
	for s, l := range p.lim {
		if math.IsInf(l.min, -1) && math.IsInf(l.max, 1) {
			return fmt.Errorf("no min or max in season %s", calendar.Season(s))
		}
		if l.clearMax > l.max || l.clearMin < l.min {
			return fmt.Errorf("season %s: a clear level must lie inside the limits (clear_max <= max, clear_min >= min)", calendar.Season(s))
		}
	}
	if rc.Window > 0 {
		p.window = int64(rc.Window)
		p.buckets = rc.Buckets
		if p.buckets == 0 {
			p.buckets = defaultBuckets
		}
		if p.buckets < 2 || p.buckets > maxBuckets {
			return fmt.Errorf("buckets: %d is not within 2..%d", p.buckets, maxBuckets)
		}
		p.minCoverage = rc.MinCoverage
		if p.minCoverage < 0 || p.minCoverage > 1 {
			return fmt.Errorf("min_coverage: %v is not within 0..1", p.minCoverage)
		}
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
	return compileRule(rc)
}

// Calendar builds a facility's calendar from the defaults and the
// facility's overrides; loc, when not nil, wins over both.
func (rs *RuleSet) Calendar(facility string, region model.Region, loc *time.Location, hours []string) (*calendar.Calendar, error) {
	cfg := calendar.Config{Location: rs.loc, Hours: rs.hours, MakeUpHours: rs.makeUp,
		Holidays: rs.holidays, Season: rs.seasons.For(string(region))}
	// The facility file's own hours replace the default; an override in the
	// rules file, set centrally, replaces both.
	if len(hours) > 0 {
		h, err := calendar.ParseHours(hours)
		if err != nil {
			return nil, fmt.Errorf("facility %s: opening_hours: %w", facility, err)
		}
		cfg.Hours = h
	}
	if fo, ok := rs.cfg.Overrides.Facilities[facility]; ok {
		if fo.TimeZone != "" {
			l, err := time.LoadLocation(fo.TimeZone)
			if err != nil {
				return nil, &ConfigError{rs.file, "overrides.facilities." + facility + ".time_zone", err}
			}
			cfg.Location = l
		}
		if len(fo.Hours) > 0 {
			h, err := calendar.ParseHours(fo.Hours)
			if err != nil {
				return nil, &ConfigError{rs.file, "overrides.facilities." + facility + ".hours", err}
			}
			cfg.Hours = h
		}
	}
	if loc != nil {
		cfg.Location = loc
	}
	return calendar.New(cfg)
}

// Names lists the rules in file order.
func (rs *RuleSet) Names() []string { return append([]string(nil), rs.names...) }
