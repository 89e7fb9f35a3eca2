package console

import (
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/cradlewatch/cradlewatch/access/setup"
	"github.com/cradlewatch/cradlewatch/access/web"
	"github.com/cradlewatch/cradlewatch/console/spot"
	"github.com/cradlewatch/cradlewatch/internal/config"
	"github.com/cradlewatch/cradlewatch/internal/mqttx"
	"github.com/cradlewatch/cradlewatch/model"
)

// Config is the console's YAML (configs/console.example.yaml documents
// every key).
type Config struct {
	HTTP struct {
		// Listen is the front door's address (people's browsers, through
		// the reverse proxy that terminates TLS).
		Listen string `mapstructure:"listen"`
		// PublicURL is the console's address as people reach it
		// (https://console.example.gov.cn), for links on pages.
		PublicURL string `mapstructure:"public_url"`
	} `mapstructure:"http"`
	// Ops is the loopback-only listener of /metrics, /healthz, /readyz.
	Ops struct {
		Listen string `mapstructure:"listen"`
	} `mapstructure:"ops"`
	Access      setup.Config    `mapstructure:"access"`
	Facilities  string          `mapstructure:"facilities"` // folder of facility files: the registry
	Rules       string          `mapstructure:"rules"`
	CalendarDir string          `mapstructure:"calendar_dir"`
	Influx      InfluxConfig    `mapstructure:"influx"`
	MQTT        mqttx.Config    `mapstructure:"mqtt"`
	Ctl         CtlConfig       `mapstructure:"ctl"`
	Shortlink   ShortlinkConfig `mapstructure:"shortlink"`
	// Callbacks are the SMS providers' reply callbacks: a provider whose
	// secret_file is empty has none.
	Callbacks  CallbacksConfig `mapstructure:"callbacks"`
	Disclosure Disclosure      `mapstructure:"disclosure"`
	SpotCheck  SpotConfig      `mapstructure:"spotcheck"`
	// RegionNames are display names of region codes ("110105": 朝阳区),
	// shown beside the codes.
	RegionNames map[string]string `mapstructure:"region_names"`
	// StaleAfter: a gateway whose last status is older is shown offline.
	StaleAfter time.Duration `mapstructure:"stale_after"`
	Log        struct {
		Format string `mapstructure:"format"`
		Level  string `mapstructure:"level"`
	} `mapstructure:"log"`
}

// InfluxConfig is where the console reads readings, alert events and the
// compliance rollup (InfluxQL over /query: 1.8, 2.x and 3.x).
type InfluxConfig struct {
	URL      string `mapstructure:"url"`
	Database string `mapstructure:"database"`
	// TokenFile holds "user:password" (1.8) or a token (2.x/3.x) of a
	// read-only account; empty for an InfluxDB without authentication.
	TokenFile string        `mapstructure:"token_file"`
	Timeout   time.Duration `mapstructure:"timeout"`
}

// CtlConfig is the control bus to the alerting instances.
type CtlConfig struct {
	// SecretFile is the HMAC secret shared with every alerting instance
	// (at least 32 bytes).
	SecretFile string `mapstructure:"secret_file"`
	// Shards is the alerting service's shard.count.
	Shards int `mapstructure:"shards"`
	// CommandTimeout bounds an acknowledgement or silence: after it the
	// owner ignores the command and the person is told nothing changed.
	CommandTimeout time.Duration `mapstructure:"command_timeout"`
	// ReadTimeout bounds a page's wait for alert lists; a shard that does
	// not answer in time is named on the page and its alerts come from
	// the record in InfluxDB.
	ReadTimeout time.Duration `mapstructure:"read_timeout"`
}

// ShortlinkConfig is the key of the SMS links (shared with the alerting
// service's notification path, which signs them).
type ShortlinkConfig struct {
	KeyFile string `mapstructure:"key_file"`
}

// Sections of the public disclosure page.
const (
	SectionRegistration = "registration" // name, street, registration number, monitoring since (month)
	SectionCoverage     = "coverage"     // rooms and kinds monitored, data completeness, cameras online
	SectionCompliance   = "compliance"   // monthly compliance figures
	SectionAlerts       = "alerts"       // safety alerts raised and handled in time, by month
	SectionInspections  = "inspections"  // published spot-check results
)

// Sections lists every section in page order.
var Sections = []string{SectionRegistration, SectionCoverage, SectionCompliance, SectionAlerts, SectionInspections}

// Disclosure configures the public pages (信息公示).
type Disclosure struct {
	// Sections are shown for a facility whose region no entry of Regions
	// matches. Empty: such facilities have no public page.
	Sections []string `mapstructure:"sections"`
	// Regions maps a region code prefix ("11", "1101", "110105",
	// "110105001") to the sections shown for facilities registered under
	// it; the longest matching prefix wins, an empty list hides the page.
	Regions map[string][]string `mapstructure:"regions"`
	// Months is how many whole months the figures cover.
	Months int `mapstructure:"months"`
	// HandledWithin: an alert acknowledged within this time of firing
	// counts as handled in time.
	HandledWithin time.Duration `mapstructure:"handled_within"`
}

// SectionsFor returns the sections shown for a facility of region r.
func (d Disclosure) SectionsFor(r model.Region) []string {
	best, out := -1, d.Sections
	for prefix, secs := range d.Regions {
		if strings.HasPrefix(string(r), prefix) && len(prefix) > best {
			best, out = len(prefix), secs
		}
	}
	return out
}

// SpotConfig configures spot-check draws.
type SpotConfig struct {
	// PeriodDays is how far back the record that weighs a facility goes.
	PeriodDays int `mapstructure:"period_days"`
	// MaxSample bounds a draw's sample size.
	MaxSample int `mapstructure:"max_sample"`
	// Parameters are the risk weights (docs/console.md, "Risk"); zero
	// values take the published defaults.
	Parameters spot.Parameters `mapstructure:"parameters"`
}

// DefaultConfig holds the documented defaults.
func DefaultConfig() Config {
	var c Config
	c.HTTP.Listen = "127.0.0.1:8090"
	c.Ops.Listen = "127.0.0.1:9106"
	c.Access = setup.Default()
	c.Facilities = "configs/facilities"
	c.Rules = "configs/rules.yaml"
	c.CalendarDir = "configs/calendar"
	c.Influx = InfluxConfig{URL: "http://127.0.0.1:8086", Database: "cradlewatch", Timeout: 10 * time.Second}
	c.MQTT = mqttx.Config{Broker: "tcp://127.0.0.1:1883", ClientID: "cw-console-0"}
	c.Ctl = CtlConfig{Shards: 1, CommandTimeout: 15 * time.Second, ReadTimeout: 3 * time.Second}
	c.Disclosure = Disclosure{Sections: slices.Clone(Sections), Months: 12, HandledWithin: 30 * time.Minute}
	c.SpotCheck = SpotConfig{PeriodDays: 90, MaxSample: 50, Parameters: spot.DefaultParameters()}
	c.StaleAfter = 5 * time.Minute
	c.Log.Format, c.Log.Level = "text", "info"
	return c
}

// Validate implements config.Validator: everything that can be checked
// without reading files (New reads the secrets and refuses placeholders).
func (c *Config) Validate() error {
	if c.HTTP.Listen == "" {
		return config.Errorf("http.listen", "empty")
	}
	if c.HTTP.PublicURL != "" {
		if u, err := url.Parse(c.HTTP.PublicURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return config.Errorf("http.public_url", "%q is not an http(s) URL", c.HTTP.PublicURL)
		}
	}
	if c.Ops.Listen != "" {
		if err := web.CheckLoopback(c.Ops.Listen); err != nil {
			return config.Errorf("ops.listen", "%v", err)
		}
	}
	if err := c.Access.Validate(); err != nil {
		return err
	}
	for k, v := range map[string]string{"facilities": c.Facilities, "rules": c.Rules, "influx.url": c.Influx.URL,
		"influx.database": c.Influx.Database, "ctl.secret_file": c.Ctl.SecretFile, "shortlink.key_file": c.Shortlink.KeyFile} {
		if v == "" {
			return config.Errorf(k, "empty")
		}
	}
	if c.Influx.Timeout <= 0 {
		return config.Errorf("influx.timeout", "must be positive")
	}
	if k, err := c.MQTT.Validate(); err != nil {
		return config.Errorf("mqtt."+k, "%v", err)
	}
	if err := model.ValidateID("mqtt.client_id", c.MQTT.ClientID); err != nil {
		return config.Errorf("mqtt.client_id", "%v (it names the reply topic)", err)
	}
	switch {
	case c.Ctl.Shards < 1:
		return config.Errorf("ctl.shards", "must be at least 1 (the alerting service's shard.count)")
	case c.Ctl.CommandTimeout <= 0 || c.Ctl.CommandTimeout > 5*time.Minute:
		return config.Errorf("ctl.command_timeout", "must be between 0 and 5m")
	case c.Ctl.ReadTimeout <= 0 || c.Ctl.ReadTimeout > c.Ctl.CommandTimeout:
		return config.Errorf("ctl.read_timeout", "must be positive and at most command_timeout")
	}
	if err := checkSections("disclosure.sections", c.Disclosure.Sections); err != nil {
		return err
	}
	for prefix, secs := range c.Disclosure.Regions {
		key := "disclosure.regions." + prefix
		if prefix == "" || len(prefix) > 9 || strings.Trim(prefix, "0123456789") != "" {
			return config.Errorf(key, "%q is not a region code prefix (1 to 9 digits)", prefix)
		}
		if err := checkSections(key, secs); err != nil {
			return err
		}
	}
	if c.Disclosure.Months < 1 || c.Disclosure.Months > 36 {
		return config.Errorf("disclosure.months", "must be 1..36")
	}
	if c.Disclosure.HandledWithin <= 0 {
		return config.Errorf("disclosure.handled_within", "must be positive")
	}
	if c.SpotCheck.PeriodDays < 1 || c.SpotCheck.PeriodDays > 366 {
		return config.Errorf("spotcheck.period_days", "must be 1..366")
	}
	if c.SpotCheck.MaxSample < 1 {
		return config.Errorf("spotcheck.max_sample", "must be at least 1")
	}
	if err := c.SpotCheck.Parameters.Validate(); err != nil {
		return config.Errorf("spotcheck.parameters", "%v", err)
	}
	for code := range c.RegionNames {
		if _, err := model.ParseRegionCode(code); err != nil {
			return config.Errorf("region_names."+code, "%v", err)
		}
	}
	if c.StaleAfter <= 0 {
		return config.Errorf("stale_after", "must be positive")
	}
	return nil
}

func checkSections(key string, secs []string) error {
	for _, s := range secs {
		if !slices.Contains(Sections, s) {
			return config.Errorf(key, "unknown section %q (want %s)", s, strings.Join(Sections, ", "))
		}
	}
	return nil
}
