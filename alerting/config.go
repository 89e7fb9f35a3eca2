package alerting

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/alerting/notify/setup"
	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/internal/config"
	"github.com/cradlewatch/cradlewatch/internal/facilityfile"
	"github.com/cradlewatch/cradlewatch/internal/influxwrite"
	"github.com/cradlewatch/cradlewatch/internal/mqttx"
)

// Config is the alerting service's YAML (configs/alerting.example.yaml
// documents every key).
type Config struct {
	MQTT         mqttx.Config  `mapstructure:"mqtt"`
	Shard        ShardConfig   `mapstructure:"shard"`
	Facilities   string        `mapstructure:"facilities"`   // folder of facility files: the registry
	Rules        string        `mapstructure:"rules"`        // configs/rules.yaml
	CalendarDir  string        `mapstructure:"calendar_dir"` // yearly holiday files
	StateDir     string        `mapstructure:"state_dir"`    // alert state (wal and snapshot)
	TickInterval time.Duration `mapstructure:"tick_interval"`
	Events       EventsConfig  `mapstructure:"events"`
	Notify       setup.Config  `mapstructure:"notify"`
	HTTP         struct {
		Listen string `mapstructure:"listen"`
	} `mapstructure:"http"`
	Log struct {
		Format string `mapstructure:"format"`
		Level  string `mapstructure:"level"`
	} `mapstructure:"log"`
}

// ShardConfig says which facilities this instance owns: those whose
// rules.ShardOf(facility, Count) is Index.
type ShardConfig struct {
	Index int `mapstructure:"index"`
	Count int `mapstructure:"count"`
}

// EventsConfig is where alert transitions are written for Grafana.
type EventsConfig struct {
	Enabled bool               `mapstructure:"enabled"`
	Influx  influxwrite.Config `mapstructure:"influx"`
}

// DefaultConfig holds the documented defaults.
func DefaultConfig() Config {
	c := Config{
		MQTT:         mqttx.Config{Broker: "tcp://127.0.0.1:1883", ClientID: "cw-alerting-0"},
		Shard:        ShardConfig{Index: 0, Count: 1},
		Facilities:   "configs/facilities",
		Rules:        "configs/rules.yaml",
		CalendarDir:  "configs/calendar",
		StateDir:     "/var/lib/cradlewatch/alerting",
		TickInterval: time.Second,
		Events:       EventsConfig{Enabled: true, Influx: influxwrite.DefaultConfig()},
		Notify:       setup.DefaultConfig(),
	}
	c.HTTP.Listen = "127.0.0.1:9102"
	c.Log.Format, c.Log.Level = "text", "info"
	return c
}

// Validate implements config.Validator.
func (c *Config) Validate() error {
	if k, err := c.MQTT.Validate(); err != nil {
		return config.Errorf("mqtt."+k, "%v", err)
	}
	if c.Shard.Count < 1 {
		return config.Errorf("shard.count", "must be at least 1")
	}
	if c.Shard.Index < 0 || c.Shard.Index >= c.Shard.Count {
		return config.Errorf("shard.index", "must be 0..%d", c.Shard.Count-1)
	}
	for k, v := range map[string]string{"facilities": c.Facilities, "rules": c.Rules, "state_dir": c.StateDir} {
		if v == "" {
			return config.Errorf(k, "empty")
		}
	}
	if c.TickInterval <= 0 || c.TickInterval > time.Minute {
		return config.Errorf("tick_interval", "must be between 0 and 1m")
	}
	if c.Events.Enabled {
		if k, err := c.Events.Influx.Validate(); err != nil {
			return config.Errorf("events.influx."+k, "%v", err)
		}
	}
	if err := c.Notify.Validate(); err != nil {
		var ce *config.Error
		if errors.As(err, &ce) {
			ce.Key = "notify." + ce.Key
			return ce
		}
		return config.Errorf("notify", "%v", err)
	}
	return nil
}

// Check loads the facility registry and the rules the way New does and
// builds every facility's rule instances, without opening state or
// connecting: what `alerting -check-config` runs.
func Check(cfg Config) error {
	facs, err := facilityfile.LoadDir(cfg.Facilities)
	if err != nil {
		return err
	}
	rs, err := rules.LoadFile(cfg.Rules, cfg.CalendarDir)
	if err != nil {
		return err
	}
	e := rules.New(rules.Options{Rules: rs, Registerer: prometheus.NewRegistry()})
	for _, f := range facs {
		if err := e.AddFacility(rules.Facility{Facility: f.Facility, OpeningHours: f.OpeningHours}); err != nil {
			return fmt.Errorf("%s: %w", f.Path, err)
		}
	}
	if err := checkNotifyRules(cfg, rs); err != nil {
		return err
	}
	// Every recipient of critical alerts, the facility files' operators
	// included, has two channels.
	if err := cfg.Notify.CheckReach(withFacilityOperators(cfg.Notify.Directory, facs)); err != nil {
		var ce *config.Error
		if errors.As(err, &ce) {
			ce.Key = "notify." + ce.Key
		}
		return err
	}
	return nil
}
