package notify

import (
	"fmt"
	"sort"
	"time"
)

// Defaults. Budgets follow the stricter provider (Tencent: 10 a day and one
// per 30 s for the same content to one number); Aliyun allows about 50 a day.
const (
	DefaultGroupWait      = 30 * time.Second
	DefaultPerDay         = 10
	DefaultPerWindow      = 1
	DefaultWindow         = 30 * time.Second
	DefaultExhaustedFor   = 24 * time.Hour
	DefaultMaxAttempts    = 4
	DefaultInitialBackoff = 2 * time.Second
	DefaultMaxBackoff     = time.Minute
	DefaultAttemptTimeout = 10 * time.Second
	DefaultLang           = "zh"
	DefaultMaxParamRunes  = 35 // Aliyun's limit for a variable of a notification template
)

// Config is the notification path's configuration. Every key is documented
// in configs/notify.example.yaml.
type Config struct {
	StateDir      string             `yaml:"state_dir" mapstructure:"state_dir"`
	DefaultLang   string             `yaml:"default_lang" mapstructure:"default_lang"`
	GroupWait     time.Duration      `yaml:"group_wait" mapstructure:"group_wait"`
	MaxParamRunes int                `yaml:"max_param_runes" mapstructure:"max_param_runes"`
	Budget        BudgetConfig       `yaml:"budget" mapstructure:"budget"`
	Retry         RetryConfig        `yaml:"retry" mapstructure:"retry"`
	Fallback      []Channel          `yaml:"fallback" mapstructure:"fallback"`
	Policies      map[string]Policy  `yaml:"policies" mapstructure:"policies"` // by severity name
	Directory     Directory          `yaml:"directory" mapstructure:"directory"`
	Templates     map[string]LangSet `yaml:"templates" mapstructure:"templates"` // by language; "zh" is built in
	Silences      []Silence          `yaml:"silences" mapstructure:"silences"`
}

// BudgetConfig limits SMS per phone number.
type BudgetConfig struct {
	PerDay       int           `yaml:"per_day" mapstructure:"per_day"`             // messages per number in any 24 h
	PerWindow    int           `yaml:"per_window" mapstructure:"per_window"`       // messages of the same content per number within Window
	Window       time.Duration `yaml:"window" mapstructure:"window"`               // short window, 30 s by default
	ExhaustedFor time.Duration `yaml:"exhausted_for" mapstructure:"exhausted_for"` // how long a provider's budget answer sends the number to fallback
}

// RetryConfig shapes retries of transient failures.
type RetryConfig struct {
	MaxAttempts    int           `yaml:"max_attempts" mapstructure:"max_attempts"`
	InitialBackoff time.Duration `yaml:"initial_backoff" mapstructure:"initial_backoff"`
	MaxBackoff     time.Duration `yaml:"max_backoff" mapstructure:"max_backoff"`
	AttemptTimeout time.Duration `yaml:"attempt_timeout" mapstructure:"attempt_timeout"`
}

// Policy is the escalation for one severity.
type Policy struct {
	Steps     []Step        `yaml:"steps" mapstructure:"steps"`
	Repeat    time.Duration `yaml:"repeat" mapstructure:"repeat"`         // reminder interval while unacknowledged; 0 = none
	RepeatMax int           `yaml:"repeat_max" mapstructure:"repeat_max"` // reminders at most; 0 = unlimited
}

// Step is one level of escalation: who, and how long after the alert began.
type Step struct {
	Name    string        `yaml:"name" mapstructure:"name"`
	After   time.Duration `yaml:"after" mapstructure:"after"`
	Targets []Target      `yaml:"targets" mapstructure:"targets"`
}

// Target names whom a step reaches: the facility's operators, or the
// contacts registered for the alert's street, county, city or province.
type Target string

// Targets.
const (
	TargetOperator Target = "operator"
	TargetStreet   Target = "street"
	TargetCounty   Target = "county"
	TargetCity     Target = "city"
	TargetProvince Target = "province"
)

// Directory finds contacts: operators by facility id, offices by region
// code prefix (9-digit street, 6-digit county, "110100" city ...).
type Directory struct {
	Operators map[string][]Contact `yaml:"operators" mapstructure:"operators"`
	Regions   map[string][]Contact `yaml:"regions" mapstructure:"regions"`
	// OperatorsFor, when set, gives the operators of a facility that
	// Operators does not list: the facility registry's, read at each
	// lookup so a changed registry applies without a restart. It is
	// called from the dispatcher's goroutine and must be safe for that.
	OperatorsFor func(facility string) []Contact `yaml:"-" mapstructure:"-"`
}

// Lookup returns the contacts a target reaches for an alert.
func (d Directory) Lookup(t Target, a Alert) []Contact {
	switch t {
	case TargetOperator:
		if c, ok := d.Operators[a.Facility]; ok || d.OperatorsFor == nil {
			return c
		}
		return d.OperatorsFor(a.Facility)
	case TargetStreet:
		return d.Regions[a.Region.Street()]
	case TargetCounty:
		return d.Regions[a.Region.County()]
	case TargetCity:
		return d.Regions[a.Region.City()]
	case TargetProvince:
		return d.Regions[a.Region.Province()]
	}
	return nil
}

// DefaultPolicies climb operator → street → county. Critical alerts repeat
// every 15 minutes until acknowledged; info alerts notify nobody.
func DefaultPolicies() map[string]Policy {
	return map[string]Policy{
		"warning": {Steps: []Step{
			{Name: "operator", After: 0, Targets: []Target{TargetOperator}},
			{Name: "street", After: time.Hour, Targets: []Target{TargetStreet}},
		}},
		"critical": {Repeat: 15 * time.Minute, RepeatMax: 8, Steps: []Step{
			{Name: "operator", After: 0, Targets: []Target{TargetOperator}},
			{Name: "street", After: 10 * time.Minute, Targets: []Target{TargetStreet}},
			{Name: "county", After: 30 * time.Minute, Targets: []Target{TargetCounty}},
		}},
	}
}

// WithDefaults fills unset keys.
func (c Config) WithDefaults() Config {
	if c.DefaultLang == "" {
		c.DefaultLang = DefaultLang
	}
	if c.GroupWait == 0 {
		c.GroupWait = DefaultGroupWait
	}
	if c.MaxParamRunes == 0 {
		c.MaxParamRunes = DefaultMaxParamRunes
	}
	b := &c.Budget
	if b.PerDay == 0 {
		b.PerDay = DefaultPerDay
	}
	if b.PerWindow == 0 {
		b.PerWindow = DefaultPerWindow
	}
	if b.Window == 0 {
		b.Window = DefaultWindow
	}
	if b.ExhaustedFor == 0 {
		b.ExhaustedFor = DefaultExhaustedFor
	}
	r := &c.Retry
	if r.MaxAttempts == 0 {
		r.MaxAttempts = DefaultMaxAttempts
	}
	if r.InitialBackoff == 0 {
		r.InitialBackoff = DefaultInitialBackoff
	}
	if r.MaxBackoff == 0 {
		r.MaxBackoff = DefaultMaxBackoff
	}
	if r.AttemptTimeout == 0 {
		r.AttemptTimeout = DefaultAttemptTimeout
	}
	if c.Fallback == nil {
		c.Fallback = []Channel{ChannelDingTalk, ChannelWeCom, ChannelWebhook, ChannelEmail}
	}
	if c.Policies == nil {
		c.Policies = DefaultPolicies()
	}
	return c
}

// Validate names the key that is wrong.
func (c Config) Validate() error {
	if c.StateDir == "" {
		return fmt.Errorf("state_dir: must be set (escalations and the notification log survive restarts there)")
	}
	for _, ch := range c.Fallback {
		switch ch {
		case ChannelWebhook, ChannelDingTalk, ChannelWeCom, ChannelEmail:
		default:
			return fmt.Errorf("fallback: unknown channel %q", ch)
		}
	}
	names := make([]string, 0, len(c.Policies))
	for n := range c.Policies {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		var s Severity
		if err := s.UnmarshalText([]byte(n)); err != nil {
			return fmt.Errorf("policies.%s: %w", n, err)
		}
		p := c.Policies[n]
		var last time.Duration
		for i, st := range p.Steps {
			if st.Name == "" {
				return fmt.Errorf("policies.%s.steps[%d].name: empty", n, i)
			}
			if st.After < last {
				return fmt.Errorf("policies.%s.steps[%d].after: %s is before the previous step", n, i, st.After)
			}
			last = st.After
			for _, t := range st.Targets {
				switch t {
				case TargetOperator, TargetStreet, TargetCounty, TargetCity, TargetProvince:
				default:
					return fmt.Errorf("policies.%s.steps[%d].targets: unknown target %q", n, i, t)
				}
			}
		}
		if p.Repeat < 0 {
			return fmt.Errorf("policies.%s.repeat: negative", n)
		}
	}
	for i, s := range c.Silences {
		if err := s.validate(); err != nil {
			return fmt.Errorf("silences[%d]: %w", i, err)
		}
	}
	if c.Budget.PerDay < 0 || c.Budget.PerWindow < 0 {
		return fmt.Errorf("budget: limits must not be negative")
	}
	return nil
}
