package notify

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"time"

	"github.com/cradlewatch/cradlewatch/internal/config"
)

// Defaults. Budgets follow the stricter provider (Tencent: 10 a day and one
// per 30 s for the same content to one number); Aliyun allows about 50 a day.
const (
	DefaultGroupWait      = 30 * time.Second // warnings and info; critical alerts do not wait
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

// MaxGroupWait bounds every grouping wait: a notice held longer would
// arrive after the escalation it should precede.
const MaxGroupWait = time.Hour

// Voice modes for critical alerts (Config.Voice).
const (
	// VoiceFallback calls when the SMS of a critical notice did not go
	// through (refused by the provider, budget, outage): the default.
	VoiceFallback = "fallback"
	// VoiceAlways calls for every critical firing and escalation notice,
	// beside the SMS.
	VoiceAlways = "always"
)

// Config is the notification path's configuration. Every key is documented
// in configs/notify.example.yaml.
//
// A zero duration means zero: GroupWait 0 sends warnings without waiting.
// Other keys left zero take their default (WithDefaults); the service's
// defaults for the YAML come from DefaultConfig.
type Config struct {
	StateDir    string `yaml:"state_dir" mapstructure:"state_dir"`
	DefaultLang string `yaml:"default_lang" mapstructure:"default_lang"`
	// GroupWait: how long a warning's or info notice waits for others of
	// the same facility, recipient and kind, to leave as one message.
	GroupWait time.Duration `yaml:"group_wait" mapstructure:"group_wait"`
	// GroupWaitCritical: the same for critical alerts; 0 (the default)
	// sends them at once.
	GroupWaitCritical time.Duration `yaml:"group_wait_critical" mapstructure:"group_wait_critical"`
	// GroupWaitRules: per rule name, instead of its severity's wait.
	GroupWaitRules map[string]time.Duration `yaml:"group_wait_rules" mapstructure:"group_wait_rules"`
	MaxParamRunes  int                      `yaml:"max_param_runes" mapstructure:"max_param_runes"`
	Budget         BudgetConfig             `yaml:"budget" mapstructure:"budget"`
	Retry          RetryConfig              `yaml:"retry" mapstructure:"retry"`
	Fallback       []Channel                `yaml:"fallback" mapstructure:"fallback"`
	// Voice: when a critical alert calls the recipient's phone (VoiceFallback
	// or VoiceAlways); it needs a voice provider.
	Voice string `yaml:"voice" mapstructure:"voice"`
	// AckURL, when set, is printed in free-text messages (webhook, robots,
	// e-mail) as the place to acknowledge with the code, when messages
	// carry no link of their own (Links).
	AckURL string `yaml:"ack_url" mapstructure:"ack_url"`
	// Links: each message carries the console's signed short link to its
	// alert (internal/shortlink).
	Links     LinksConfig        `yaml:"links" mapstructure:"links"`
	Policies  map[string]Policy  `yaml:"policies" mapstructure:"policies"` // by severity name; merged with DefaultPolicies
	Directory Directory          `yaml:"directory" mapstructure:"directory"`
	Templates map[string]LangSet `yaml:"templates" mapstructure:"templates"` // by language; "zh" is built in
	Silences  []Silence          `yaml:"silences" mapstructure:"silences"`
}

// LinksConfig says how messages link to the alert in the console.
type LinksConfig struct {
	// BaseURL is the console's public address (its http.public_url,
	// "https://cw.example.gov.cn"); empty: no links.
	BaseURL string `yaml:"base_url" mapstructure:"base_url"`
	// KeyFile holds the key the console verifies links with (its
	// shortlink.key_file; at least 32 bytes).
	KeyFile string `yaml:"key_file" mapstructure:"key_file"`
	// TTL is how long a link opens its alert (default 7 days).
	TTL time.Duration `yaml:"ttl" mapstructure:"ttl"`
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

// DefaultConfig is the configuration a YAML file starts from: the keys it
// leaves out keep these values (GroupWait 30 s for warnings; critical
// alerts without a wait).
func DefaultConfig() Config {
	return Config{GroupWait: DefaultGroupWait}
}

// WithDefaults fills unset keys. A policy named in Policies replaces the
// default one of its severity; the severities it does not name keep their
// defaults (a block naming only "critical" leaves "warning" as it was).
func (c Config) WithDefaults() Config {
	if c.DefaultLang == "" {
		c.DefaultLang = DefaultLang
	}
	if c.MaxParamRunes == 0 {
		c.MaxParamRunes = DefaultMaxParamRunes
	}
	if c.Voice == "" {
		c.Voice = VoiceFallback
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
	merged := DefaultPolicies()
	for sev, p := range c.Policies {
		merged[sev] = p
	}
	c.Policies = merged
	return c
}

// groupWait is how long a notice of a (rule, severity) alert waits for
// others to join its message.
func (c Config) groupWait(rule string, sev Severity) time.Duration {
	if w, ok := c.GroupWaitRules[rule]; ok {
		return w
	}
	if sev == SeverityCritical {
		return c.GroupWaitCritical
	}
	return c.GroupWait
}

// Validate names the key that is wrong, as a *config.Error whose key is
// relative to the notify section.
func (c Config) Validate() error {
	if c.StateDir == "" {
		return config.Errorf("state_dir", "must be set (escalations, the outbox and the notification log survive restarts there)")
	}
	waits := map[string]time.Duration{"group_wait": c.GroupWait, "group_wait_critical": c.GroupWaitCritical}
	for rule, w := range c.GroupWaitRules {
		waits["group_wait_rules."+rule] = w
	}
	for _, key := range slices.Sorted(maps.Keys(waits)) {
		if err := checkWait(key, waits[key]); err != nil {
			return err
		}
	}
	for key, d := range map[string]time.Duration{"budget.window": c.Budget.Window, "budget.exhausted_for": c.Budget.ExhaustedFor,
		"retry.initial_backoff": c.Retry.InitialBackoff, "retry.max_backoff": c.Retry.MaxBackoff, "retry.attempt_timeout": c.Retry.AttemptTimeout} {
		if d < 0 {
			return config.Errorf(key, "%s is negative", d)
		}
	}
	if c.Retry.InitialBackoff > 0 && c.Retry.MaxBackoff > 0 && c.Retry.InitialBackoff > c.Retry.MaxBackoff {
		return config.Errorf("retry.initial_backoff", "%s is longer than retry.max_backoff %s", c.Retry.InitialBackoff, c.Retry.MaxBackoff)
	}
	if c.Retry.MaxAttempts < 0 {
		return config.Errorf("retry.max_attempts", "must not be negative")
	}
	if c.Budget.PerDay < 0 {
		return config.Errorf("budget.per_day", "must not be negative")
	}
	if c.Budget.PerWindow < 0 {
		return config.Errorf("budget.per_window", "must not be negative")
	}
	for i, ch := range c.Fallback {
		switch ch {
		case ChannelWebhook, ChannelDingTalk, ChannelWeCom, ChannelEmail:
		default:
			return config.Errorf("fallback", "item %d: unknown channel %q (want dingtalk, wecom, webhook or email)", i, ch)
		}
	}
	switch c.Voice {
	case "", VoiceFallback, VoiceAlways:
	default:
		return config.Errorf("voice", "%q is not one of %s, %s", c.Voice, VoiceFallback, VoiceAlways)
	}
	if err := validatePolicies(c.Policies); err != nil {
		return err
	}
	if err := c.Links.validate(); err != nil {
		return err
	}
	for i, s := range c.Silences {
		if err := s.validate(); err != nil {
			return config.Errorf("silences", "item %d: %v", i, err)
		}
	}
	return nil
}

func (l LinksConfig) validate() error {
	switch {
	case l.BaseURL == "":
		return nil
	case l.KeyFile == "":
		return config.Errorf("links.key_file", "links.base_url is set: the console's shortlink key file is required")
	case l.TTL < 0:
		return config.Errorf("links.ttl", "%s is negative", l.TTL)
	}
	u, err := url.Parse(l.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return config.Errorf("links.base_url", "%q: want the console's address, https://host[:port]", l.BaseURL)
	}
	return nil
}

func checkWait(key string, w time.Duration) error {
	switch {
	case w < 0:
		return config.Errorf(key, "%s is negative (0 sends at once)", w)
	case w > MaxGroupWait:
		return config.Errorf(key, "%s is longer than %s: a notice would wait past its escalation", w, MaxGroupWait)
	}
	return nil
}

func validatePolicies(policies map[string]Policy) error {
	for _, n := range slices.Sorted(maps.Keys(policies)) {
		key := "policies." + n
		var s Severity
		if err := s.UnmarshalText([]byte(n)); err != nil {
			return config.Errorf(key, "%v", err)
		}
		p := policies[n]
		var last time.Duration
		for i, st := range p.Steps {
			sk := fmt.Sprintf("%s.steps[%d]", key, i)
			if st.Name == "" {
				return config.Errorf(sk+".name", "empty")
			}
			if st.After < 0 {
				return config.Errorf(sk+".after", "%s is negative", st.After)
			}
			if st.After < last {
				return config.Errorf(sk+".after", "%s is before the previous step (%s)", st.After, last)
			}
			last = st.After
			for _, t := range st.Targets {
				switch t {
				case TargetOperator, TargetStreet, TargetCounty, TargetCity, TargetProvince:
				default:
					return config.Errorf(sk+".targets", "unknown target %q (want operator, street, county, city or province)", t)
				}
			}
		}
		if p.Repeat < 0 {
			return config.Errorf(key+".repeat", "%s is negative (0: no reminders)", p.Repeat)
		}
		if p.Repeat > 0 && p.Repeat < time.Minute {
			return config.Errorf(key+".repeat", "%s is shorter than a minute: reminders would flood the recipients", p.Repeat)
		}
		if p.RepeatMax < 0 {
			return config.Errorf(key+".repeat_max", "must not be negative")
		}
	}
	return nil
}
