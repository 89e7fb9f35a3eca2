package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/cradlewatch/cradlewatch/alerting/calendar"
	"github.com/cradlewatch/cradlewatch/internal/config"
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

// EngineConfig holds the event-time settings (see doc.go). A key left out
// takes its default; a key given means what it says (0 is zero), and values
// that cannot work are errors.
type EngineConfig struct {
	AllowedLateness *time.Duration `yaml:"allowed_lateness"`
	MaxFuture       *time.Duration `yaml:"max_future"`
	MaxDevices      *int           `yaml:"max_devices_per_facility"`
	ReplaySettle    *time.Duration `yaml:"replay_settle"`
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

	// gateway: how long a lost gateway is held before it is announced,
	// and how long gateways have to show up after the centre was blind.
	Hold           time.Duration `yaml:"hold"`
	ReconnectGrace time.Duration `yaml:"reconnect_grace"`

	// gateways_dropped: how many gateways lost within Window make a
	// platform incident.
	MinGateways int     `yaml:"min_gateways"`
	Fraction    float64 `yaml:"fraction"`
}

// LimitsConfig are the levels of a threshold rule; absent keys mean no limit.
type LimitsConfig struct {
	Min      *float64 `yaml:"min"`
	Max      *float64 `yaml:"max"`
	ClearMin *float64 `yaml:"clear_min"`
	ClearMax *float64 `yaml:"clear_max"`
}

// LoadFile reads rules.yaml and the yearly holiday files of calendarDir
// (every *.yaml in it) and compiles them.
func LoadFile(rulesPath, calendarDir string) (*RuleSet, error) {
	b, err := os.ReadFile(rulesPath)
	if err != nil {
		return nil, &config.Error{File: rulesPath, Reason: fmt.Sprintf("cannot read: %v", err)}
	}
	var hol *calendar.Holidays
	if calendarDir != "" {
		paths, err := filepath.Glob(filepath.Join(calendarDir, "*.yaml"))
		if err != nil {
			return nil, &config.Error{File: calendarDir, Reason: err.Error()}
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
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, &config.Error{File: name, Reason: yamlReason(err, nil)}
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
// decoder does: a misspelt override must not be ignored silently. yaml.v3
// has no strict Node.Decode, so the node is encoded and decoded again; the
// line numbers of that second decoding are not the file's, so errors are
// told with the node's own lines.
func decodeStrict(n *yaml.Node, out *RuleConfig) error {
	b, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(out); err != nil && !errors.Is(err, io.EOF) {
		return errors.New(yamlReason(err, n))
	}
	return nil
}

var (
	yamlLine    = regexp.MustCompile(`^line (\d+): `)
	yamlUnknown = regexp.MustCompile(`field (\S+) not found in type \S+`)
)

// yamlReason makes a decoding error readable: "unknown key" for a field
// the layout lacks, at the line of the key in the file when n (the node
// that was decoded again) is given.
func yamlReason(err error, n *yaml.Node) string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return strings.TrimPrefix(err.Error(), "yaml: ")
	}
	var out []string
	for _, e := range te.Errors {
		line := ""
		if m := yamlLine.FindStringSubmatch(e); m != nil {
			line = m[1]
			e = e[len(m[0]):]
		}
		if m := yamlUnknown.FindStringSubmatch(e); m != nil {
			e = fmt.Sprintf("unknown key %q", m[1])
			if n != nil {
				line = keyLine(n, m[1])
			}
		} else if n != nil {
			line = strconv.Itoa(n.Line)
		}
		if line != "" && line != "0" {
			e = "line " + line + ": " + e
		}
		out = append(out, e)
	}
	return strings.Join(out, "; ")
}

// keyLine is the line of key in mapping n, or of n itself.
func keyLine(n *yaml.Node, key string) string {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return strconv.Itoa(n.Content[i].Line)
		}
	}
	return strconv.Itoa(n.Line)
}
