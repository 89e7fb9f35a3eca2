package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/cradlewatch/cradlewatch/alerting/calendar"
	"github.com/cradlewatch/cradlewatch/model"
)

// Config is the layout of configs/rules.yaml. Rule entries are kept as YAML
// nodes so that an override can be laid over a fresh copy of its rule.
type Config struct {
	Engine    EngineConfig   `yaml:"engine"`
	Calendar  CalendarConfig `yaml:"calendar"`
	Rules     []yaml.Node    `yaml:"rules"`
	Overrides struct {
		RoomTypes  map[model.RoomType]map[string]yaml.Node `yaml:"room_types"`
		Facilities map[string]FacilityOverride             `yaml:"facilities"`
	} `yaml:"overrides"`
}

// EngineConfig holds the event-time settings (see doc.go).
type EngineConfig struct {
	AllowedLateness time.Duration `yaml:"allowed_lateness"`
	MaxFuture       time.Duration `yaml:"max_future"`
	MaxDevices      int           `yaml:"max_devices_per_facility"`
}

// CalendarConfig is the default calendar of every facility.
type CalendarConfig struct {
	TimeZone    string         `yaml:"time_zone"`
	Hours       []string       `yaml:"hours"`
	MakeUpHours []string       `yaml:"makeup_hours"`
	Seasons     []SeasonConfig `yaml:"seasons"`
}

// SeasonConfig gives a region prefix's heating and cooling periods.
type SeasonConfig struct {
	Region  string       `yaml:"region"`
	Heating PeriodConfig `yaml:"heating"`
	Cooling PeriodConfig `yaml:"cooling"`
}

// PeriodConfig is an inclusive MM-DD range; it may wrap the new year.
type PeriodConfig struct {
	From string `yaml:"from"`
	To   string `yaml:"to"`
}

// FacilityOverride changes rules and calendar for one facility.
type FacilityOverride struct {
	TimeZone string                          `yaml:"time_zone"`
	Hours    []string                        `yaml:"hours"`
	Rules    map[string]yaml.Node            `yaml:"rules"`
	Rooms    map[string]map[string]yaml.Node `yaml:"rooms"`
}

// RuleConfig is one rule entry; which keys matter depends on Type. The
// comments in configs/rules.yaml document every key.
type RuleConfig struct {
	Name        string   `yaml:"name"`
	Type        string   `yaml:"type"`
	Kind        string   `yaml:"kind"`
	Description string   `yaml:"description"`
	Source      string   `yaml:"source"`
	Severity    string   `yaml:"severity"`
	When        string   `yaml:"when"`
	RoomTypes   []string `yaml:"room_types"`
	Disabled    bool     `yaml:"disabled"`

	For         time.Duration `yaml:"for"`
	ResolveHold time.Duration `yaml:"resolve_hold"`

	Window       time.Duration `yaml:"window"`
	Buckets      int           `yaml:"buckets"`
	MinCoverage  float64       `yaml:"min_coverage"`
	LimitsConfig `yaml:",inline"`
	Seasons      map[string]LimitsConfig `yaml:"seasons"`

	Factor     float64       `yaml:"factor"`
	MinSilence time.Duration `yaml:"min_silence"`

	Silence        time.Duration `yaml:"silence"`
	SeverityClosed string        `yaml:"severity_closed"`

	Delta      float64       `yaml:"delta"`
	ClearDelta float64       `yaml:"clear_delta"`
	Within     time.Duration `yaml:"within"`
	Samples    int           `yaml:"samples"`

	MinOpenings int           `yaml:"min_openings"`
	MinDuration time.Duration `yaml:"min_duration"`
}

// LimitsConfig are the levels of a threshold rule; absent keys mean no limit.
type LimitsConfig struct {
	Min      *float64 `yaml:"min"`
	Max      *float64 `yaml:"max"`
	ClearMin *float64 `yaml:"clear_min"`
	ClearMax *float64 `yaml:"clear_max"`
}

// ConfigError names the file and key of a configuration mistake.
type ConfigError struct {
	File string
	Key  string
	Err  error
}

func (e *ConfigError) Error() string { return fmt.Sprintf("%s: %s: %v", e.File, e.Key, e.Err) }
func (e *ConfigError) Unwrap() error { return e.Err }

// LoadFile reads rules.yaml and the yearly holiday files of calendarDir
// (every *.yaml in it) and compiles them.
func LoadFile(rulesPath, calendarDir string) (*RuleSet, error) {
	b, err := os.ReadFile(rulesPath)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	var hol *calendar.Holidays
	if calendarDir != "" {
		paths, err := filepath.Glob(filepath.Join(calendarDir, "*.yaml"))
		if err != nil {
			return nil, fmt.Errorf("rules: %w", err)
		}
		if hol, err = calendar.LoadHolidays(paths...); err != nil {
			return nil, err
		}
	}
	return Parse(rulesPath, b, hol)
}

// Parse compiles a rules file's content; name is used in errors.
func Parse(name string, data []byte, hol *calendar.Holidays) (*RuleSet, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, &ConfigError{name, "(document)", err}
	}
	return compileSet(name, &c, hol)
}

// decodeRule builds a fresh RuleConfig from the rule's node and then lays
// each override node over it, so overrides change only the keys they name.
func decodeRule(base *yaml.Node, patches ...*yaml.Node) (RuleConfig, error) {
	var rc RuleConfig
	if err := decodeStrict(base, &rc); err != nil {
		return rc, err
	}
	for _, p := range patches {
		if p == nil || p.Kind == 0 {
			continue
		}
		if err := decodeStrict(p, &rc); err != nil {
			return rc, err
		}
	}
	return rc, nil
}

// decodeStrict decodes a node rejecting unknown keys, as the document
// decoder does: a misspelt override must not be ignored silently.
func decodeStrict(n *yaml.Node, out *RuleConfig) error {
	b, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(out); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}
