package alerting

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	accesssetup "github.com/cradlewatch/cradlewatch/access/setup"
	"github.com/cradlewatch/cradlewatch/access/web"
	"github.com/cradlewatch/cradlewatch/alerting/notify"
	"github.com/cradlewatch/cradlewatch/alerting/notify/setup"
	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/internal/config"
	"github.com/cradlewatch/cradlewatch/internal/influxwrite"
	"github.com/cradlewatch/cradlewatch/internal/mqttx"
	"github.com/cradlewatch/cradlewatch/model"
	"github.com/cradlewatch/cradlewatch/registry"
)

// Config is the alerting service's YAML (configs/alerting.example.yaml
// documents every key).
type Config struct {
	MQTT         mqttx.Config  `mapstructure:"mqtt"`
	Shard        ShardConfig   `mapstructure:"shard"`
	Facilities   string        `mapstructure:"facilities"`   // folder of facility files: the registry
	Rules        string        `mapstructure:"rules"`        // configs/rules.yaml
	CalendarDir  string        `mapstructure:"calendar_dir"` // yearly holiday files
	StateDir     string        `mapstructure:"state_dir"`    // alert state (wal and snapshot), the rules' memory
	TickInterval time.Duration `mapstructure:"tick_interval"`
	// SeriesSnapshotInterval: how often the rules' memory (last values,
	// rolling windows) is saved; it is saved at shutdown too.
	SeriesSnapshotInterval time.Duration  `mapstructure:"series_snapshot_interval"`
	Platform               PlatformConfig `mapstructure:"platform"`
	Events                 EventsConfig   `mapstructure:"events"`
	Notify                 setup.Config   `mapstructure:"notify"`
	// Ctl is the control bus: acknowledgements, silences and reads from
	// the front door (docs/security.md, "One front door").
	Ctl CtlConfig `mapstructure:"ctl"`
	// Access is this instance's part of the access database: its audit
	// chain, the phone pseudonym key, the silence policy it enforces
	// (docs/security.md, "Configuration keys").
	Access accesssetup.Config `mapstructure:"access"`
	// HTTP is the operational listener (/metrics, /debug/pprof, /healthz,
	// /readyz): loopback only. People reach alerts through the front door.
	HTTP struct {
		Listen string `mapstructure:"listen"`
	} `mapstructure:"http"`
	Log struct {
		Format string `mapstructure:"format"`
		Level  string `mapstructure:"level"`
	} `mapstructure:"log"`
}

// PlatformConfig is where alerts about the platform itself go (the
// centre_link and mass_drop rules): the platform team, never a facility.
type PlatformConfig struct {
	// ID is the Facility of platform alerts in the state store, InfluxDB
	// and the control bus; no facility may have it.
	ID       string           `mapstructure:"id"`
	Name     string           `mapstructure:"name"` // shown as the facility name in messages
	Contacts []notify.Contact `mapstructure:"contacts"`
}

// CtlConfig is the control bus of this instance.
type CtlConfig struct {
	// SecretFile holds the HMAC secret shared with the front door and the
	// other instances (at least 32 bytes): a command without a valid MAC
	// is refused.
	SecretFile string `mapstructure:"secret_file"`
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

		SeriesSnapshotInterval: time.Minute,
		Platform:               PlatformConfig{ID: rules.DefaultPlatformID, Name: "监测平台"},
		Access:                 accesssetup.Default(),
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
	for _, k := range []struct{ key, v string }{{"facilities", c.Facilities}, {"rules", c.Rules}, {"state_dir", c.StateDir}} {
		if k.v == "" {
			return config.Errorf(k.key, "empty")
		}
	}
	if c.HTTP.Listen != "" {
		if err := web.CheckLoopback(c.HTTP.Listen); err != nil {
			return config.Errorf("http.listen", "%v (scrape it from the same host or pod: docs/deploy.md)", err)
		}
	}
	if c.Ctl.SecretFile == "" {
		return config.Errorf("ctl.secret_file", "the control bus secret shared with the front door is required")
	}
	if err := c.Access.Validate(); err != nil {
		return err
	}
	if c.Notify.StateDir != "" && filepath.Clean(c.Notify.StateDir) == filepath.Clean(c.StateDir) {
		return config.Errorf("notify.state_dir", "%s is state_dir too: each needs its own directory", c.Notify.StateDir)
	}
	if c.TickInterval < minTick || c.TickInterval > time.Minute {
		return config.Errorf("tick_interval", "%v: must be between %v and 1m", c.TickInterval, minTick)
	}
	if c.SeriesSnapshotInterval < time.Second || c.SeriesSnapshotInterval > time.Hour {
		return config.Errorf("series_snapshot_interval", "%v: must be between 1s and 1h (how much of the series journal a start replays)", c.SeriesSnapshotInterval)
	}
	if err := c.Platform.validate(); err != nil {
		return err
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

// minTick bounds tick_interval from below: a tick judges every facility.
const minTick = 10 * time.Millisecond

func (p *PlatformConfig) validate() error {
	if err := model.ValidateID("id", p.ID); err != nil {
		return config.Errorf("platform.id", "%v", err)
	}
	for i, c := range p.Contacts {
		key := fmt.Sprintf("platform.contacts[%d]", i)
		if c.ID == "" {
			return config.Errorf(key+".id", "empty")
		}
		reachable := false
		for _, ch := range []notify.Channel{notify.ChannelSMS, notify.ChannelDingTalk, notify.ChannelWeCom, notify.ChannelWebhook, notify.ChannelEmail} {
			reachable = reachable || c.Has(ch)
		}
		if !reachable {
			return config.Errorf(key, "%s has no phone, dingtalk, wecom, webhook or email", c.ID)
		}
	}
	return nil
}

// checkPlatformID refuses a registry in which a facility has the
// platform's ID: its alerts would go to the platform team.
func checkPlatformID(id string, facs []*registry.Facility) error {
	for _, f := range facs {
		if f.ID == id {
			return &config.Error{File: f.Origin, Key: "facility.id", Reason: fmt.Sprintf("%q is platform.id of the alerting service", id)}
		}
	}
	return nil
}

// Check loads the facility registry and the rules the way New does and
// builds every facility's rule instances, without opening state or
// connecting: what `alerting check-config` runs. Errors are
// *config.Error naming the file, the key and the reason.
func Check(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if _, err := loadSecrets(cfg); err != nil {
		return err
	}
	rs, err := rules.LoadFile(cfg.Rules, cfg.CalendarDir)
	if err != nil {
		return err
	}
	reg, err := registry.OpenDir(context.Background(), cfg.Facilities, registry.Options{Check: CheckFacility(rs)})
	if err != nil {
		return err
	}
	facs := reg.Snapshot().Facilities()
	if err := checkPlatformID(cfg.Platform.ID, facs); err != nil {
		return err
	}
	e := rules.New(rules.Options{Rules: rs, Registerer: prometheus.NewRegistry()})
	for _, f := range facs {
		if err := e.AddFacility(engineFacility(f)); err != nil {
			var ce *config.Error
			if errors.As(err, &ce) {
				return err
			}
			return &config.Error{File: f.Origin, Reason: err.Error()}
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
