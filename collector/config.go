package collector

import (
	"time"

	"github.com/cradlewatch/cradlewatch/internal/config"
	"github.com/cradlewatch/cradlewatch/internal/influxwrite"
	"github.com/cradlewatch/cradlewatch/internal/mqttx"
	"github.com/cradlewatch/cradlewatch/registry"
)

// Config is the collector's YAML (configs/collector.example.yaml documents
// every key).
type Config struct {
	MQTT       mqttx.Config       `mapstructure:"mqtt"`
	ShareGroup string             `mapstructure:"share_group"` // MQTT shared-subscription group all collector instances join
	Registry   RegistryConfig     `mapstructure:"registry"`
	Influx     influxwrite.Config `mapstructure:"influx"`
	Ingest     IngestConfig       `mapstructure:"ingest"`
	HTTP       HTTPConfig         `mapstructure:"http"`
	Log        LogConfig          `mapstructure:"log"`
}

// RegistryConfig is where the facility registry (备案) is read from.
type RegistryConfig struct {
	Dir          string        `mapstructure:"dir"`           // folder of facility files
	PollInterval time.Duration `mapstructure:"poll_interval"` // how often the folder is checked for changes
}

// IngestConfig tunes batching, validation and back-pressure.
type IngestConfig struct {
	MaxLines      int           `mapstructure:"max_lines"`       // lines per InfluxDB write
	FlushInterval time.Duration `mapstructure:"flush_interval"`  // longest a reading waits for a write
	MaxInflight   int           `mapstructure:"max_inflight"`    // batches received and not yet acknowledged; keep ≥ the broker's max_inflight_messages
	MaxFutureSkew time.Duration `mapstructure:"max_future_skew"` // readings measured further in the future are rejected
	MaxAge        time.Duration `mapstructure:"max_age"`         // readings older than this are rejected; 0: no limit
	RetryInitial  time.Duration `mapstructure:"retry_initial"`   // first back-off after a failed write
	RetryMax      time.Duration `mapstructure:"retry_max"`       // longest back-off
}

// HTTPConfig is the operational endpoint.
type HTTPConfig struct {
	Listen string `mapstructure:"listen"` // /metrics, /healthz, /readyz; empty disables
}

// LogConfig selects the log format and level.
type LogConfig struct {
	Format string `mapstructure:"format"` // text or json
	Level  string `mapstructure:"level"`  // debug, info, warn, error
}

// Defaults of the checks that protect history (configs/collector.example.yaml
// gives the reasons).
const (
	DefaultMaxAge        = 30 * 24 * time.Hour
	DefaultMaxFutureSkew = 5 * time.Minute
)

// DefaultConfig holds the documented defaults.
func DefaultConfig() Config {
	return Config{
		MQTT:       mqttx.Config{Broker: "tcp://127.0.0.1:1883", ClientID: "cw-collector-1"},
		ShareGroup: "cw-collector",
		Registry:   RegistryConfig{Dir: "configs/facilities", PollInterval: registry.DefaultPollInterval},
		Influx:     influxwrite.DefaultConfig(),
		Ingest: IngestConfig{
			MaxLines: 5000, FlushInterval: 200 * time.Millisecond, MaxInflight: 1024,
			MaxFutureSkew: DefaultMaxFutureSkew, MaxAge: DefaultMaxAge,
			RetryInitial: 500 * time.Millisecond, RetryMax: 30 * time.Second,
		},
		HTTP: HTTPConfig{Listen: "127.0.0.1:9101"},
		Log:  LogConfig{Format: "text", Level: "info"},
	}
}

// Validate implements config.Validator.
func (c *Config) Validate() error {
	if k, err := c.MQTT.Validate(); err != nil {
		return config.Errorf("mqtt."+k, "%v", err)
	}
	if c.ShareGroup == "" {
		return config.Errorf("share_group", "empty")
	}
	if c.Registry.Dir == "" {
		return config.Errorf("registry.dir", "empty: the collector stores only what the facility registry lists")
	}
	if c.Registry.PollInterval <= 0 {
		return config.Errorf("registry.poll_interval", "must be positive")
	}
	if k, err := c.Influx.Validate(); err != nil {
		return config.Errorf("influx."+k, "%v", err)
	}
	checks := []struct {
		key string
		ok  bool
		why string
	}{
		{"ingest.max_lines", c.Ingest.MaxLines > 0 && c.Ingest.MaxLines <= 100000, "must be 1..100000"},
		{"ingest.flush_interval", c.Ingest.FlushInterval > 0, "must be positive"},
		{"ingest.max_inflight", c.Ingest.MaxInflight > 0, "must be positive"},
		{"ingest.max_future_skew", c.Ingest.MaxFutureSkew > 0, "must be positive"},
		{"ingest.max_age", c.Ingest.MaxAge >= 0, "must not be negative"},
		{"ingest.retry_initial", c.Ingest.RetryInitial > 0, "must be positive"},
		{"ingest.retry_max", c.Ingest.RetryMax >= c.Ingest.RetryInitial, "must be at least retry_initial"},
	}
	for _, ch := range checks {
		if !ch.ok {
			return config.Errorf(ch.key, "%s", ch.why)
		}
	}
	return nil
}
