package gateway

import (
	"fmt"
	"time"

	"github.com/cradlewatch/cradlewatch/gateway/decode"
	"github.com/cradlewatch/cradlewatch/gateway/probe"
	"github.com/cradlewatch/cradlewatch/gateway/spool"
	"github.com/cradlewatch/cradlewatch/internal/config"
	"github.com/cradlewatch/cradlewatch/internal/embedbroker"
	"github.com/cradlewatch/cradlewatch/internal/mqttsub"
	"github.com/cradlewatch/cradlewatch/internal/mqttx"
)

// Config is the gateway's YAML (configs/gateway.example.yaml documents
// every key).
type Config struct {
	Gateway      string           `mapstructure:"gateway_id"`    // this gateway's ID; also its MQTT client ID at the centre
	FacilityFile string           `mapstructure:"facility_file"` // path of the facility file (rooms, devices)
	Local        LocalConfig      `mapstructure:"local"`
	Uplink       UplinkConfig     `mapstructure:"uplink"`
	Spool        SpoolConfig      `mapstructure:"spool"`
	Sources      []map[string]any `mapstructure:"sources"`
	HTTP         struct {
		Listen string `mapstructure:"listen"`
	} `mapstructure:"http"`
	Log struct {
		Format string `mapstructure:"format"`
		Level  string `mapstructure:"level"`
	} `mapstructure:"log"`
	StatusInterval time.Duration `mapstructure:"status_interval"`
	// DeviceClockSkew: a device's own time further than this from the
	// gateway's clock is replaced by the arrival time and counted
	// (cw_gateway_device_time_replaced_total): a Tasmota without NTP says
	// 1970. Negative disables the check.
	DeviceClockSkew time.Duration `mapstructure:"device_clock_skew"`
	// Probe is the active check of cameras that publish nothing: devices
	// with source "rtsp" in the facility file.
	Probe ProbeConfig `mapstructure:"probe"`
	// MaxProcs is the cores the Go runtime uses (GOMAXPROCS); 0 leaves
	// Go's default. cmd/gateway applies it before starting.
	MaxProcs int `mapstructure:"max_procs"`
}

// ProbeConfig times the RTSP camera probe.
type ProbeConfig struct {
	Interval time.Duration `mapstructure:"interval"` // between rounds
	Timeout  time.Duration `mapstructure:"timeout"`  // per camera, connect to answer
}

// LocalConfig is the facility's own broker the sensors publish to.
type LocalConfig struct {
	MQTT mqttx.Config `mapstructure:"mqtt"`
	// Embedded runs the local broker inside the gateway (one binary per
	// facility); mqtt.broker is then ignored.
	Embedded embedbroker.Config `mapstructure:"embedded"`
	// ReadCoalesce: see mqttsub.Options.ReadCoalesce.
	ReadCoalesce time.Duration `mapstructure:"read_coalesce"`
	// MaxStampLead bounds how far the arrival stamps of readings without
	// a device time may run ahead of the clock (stamp.go).
	MaxStampLead time.Duration `mapstructure:"max_stamp_lead"`
}

// UplinkConfig is the connection to the centre.
type UplinkConfig struct {
	MQTT          mqttx.Config  `mapstructure:"mqtt"`
	MaxBatch      int           `mapstructure:"max_batch"`       // readings per batch
	MaxBatchBytes int           `mapstructure:"max_batch_bytes"` // spool bytes read per batch
	Window        int           `mapstructure:"window"`          // batches sent and not yet acknowledged
	AckTimeout    time.Duration `mapstructure:"ack_timeout"`     // resend a batch not acknowledged within this
	MaxAckTimeout time.Duration `mapstructure:"max_ack_timeout"` // the resend back-off stops growing here
	Lanes         LaneConfig    `mapstructure:"lanes"`           // live and backlog lanes after an outage
}

// SpoolConfig is the durable queue on disk.
type SpoolConfig struct {
	Dir            string        `mapstructure:"dir"`
	MaxBytes       int64         `mapstructure:"max_bytes"`
	SegmentBytes   int64         `mapstructure:"segment_bytes"`
	CommitInterval time.Duration `mapstructure:"commit_interval"`
}

// Warnings lists what check-config tells the installer about a valid
// configuration that will still date readings wrongly in some case: sources
// whose readings carry no device time (docs/wire.md, "Time"). Such readings
// are dated on arrival, and what a device, a bridge or the local broker
// queued (while the gateway restarted, or the bridge lost its broker) is
// dated when it arrives, not when it was measured.
func (c *Config) Warnings() []string {
	var out []string
	where := "when the local broker delivers them to the gateway"
	if c.Local.Embedded.Enabled {
		where = "when the embedded broker receives them"
	}
	for i, s := range c.Sources {
		family, _ := s["family"].(string)
		switch family {
		case decode.FamilyZigbee2MQTT:
			out = append(out, fmt.Sprintf("sources[%d] (zigbee2mqtt): readings carry a device time only if Zigbee2MQTT's advanced.last_seen is set (epoch or ISO_8601); without it they are dated %s, and what waited in a queue is dated late", i, where))
		case decode.FamilyJSON:
			if tp, _ := s["time_path"].(string); tp == "" {
				out = append(out, fmt.Sprintf("sources[%d] (json %v): no time_path: readings are dated %s, and what waited in a queue is dated late", i, s["name"], where))
			}
		}
	}
	return out
}

// DefaultConfig holds the documented defaults.
func DefaultConfig() Config {
	c := Config{
		Gateway:      "gw-1",
		FacilityFile: "configs/facility.example.yaml",
		Local:        LocalConfig{MQTT: mqttx.Config{Broker: "tcp://127.0.0.1:1883", ClientID: "cw-gateway"}, Embedded: embedbroker.Config{Listen: "127.0.0.1:1883"}, MaxStampLead: DefaultStampLead},
		Uplink: UplinkConfig{
			MQTT:     mqttx.Config{Broker: "tcp://127.0.0.1:1883"},
			MaxBatch: 1000, MaxBatchBytes: 256 << 10, Window: 8,
			AckTimeout: 15 * time.Second, MaxAckTimeout: 5 * time.Minute,
		},
		Spool:           SpoolConfig{Dir: "/var/lib/cradlewatch/spool", MaxBytes: 256 << 20, SegmentBytes: 4 << 20, CommitInterval: spool.DefaultCommitInterval},
		StatusInterval:  time.Minute,
		MaxProcs:        1,
		DeviceClockSkew: decode.DefaultMaxClockSkew,
		Probe:           ProbeConfig{Interval: probe.DefaultInterval, Timeout: probe.DefaultTimeout},
	}
	c.HTTP.Listen = "127.0.0.1:9100"
	c.Log.Format, c.Log.Level = "text", "info"
	return c
}

// Validate implements config.Validator. The uplink's client ID is the
// gateway ID (the broker ACL binds it), so it is not configured separately.
func (c *Config) Validate() error {
	if c.Uplink.MQTT.ClientID == "" {
		c.Uplink.MQTT.ClientID = c.Gateway
	}
	if c.Uplink.MQTT.ClientID != c.Gateway {
		return config.Errorf("uplink.mqtt.client_id", "must be empty or equal gateway_id %q (the broker ACL binds the client ID to the gateway)", c.Gateway)
	}
	if c.FacilityFile == "" {
		return config.Errorf("facility_file", "empty")
	}
	if k, err := c.Local.MQTT.Validate(); err != nil {
		return config.Errorf("local.mqtt."+k, "%v", err)
	}
	if err := mqttsub.CheckBroker(c.Local.MQTT.Broker); err != nil {
		return config.Errorf("local.mqtt.broker", "%v", err)
	}
	if c.Local.ReadCoalesce < 0 || c.Local.ReadCoalesce > time.Second {
		return config.Errorf("local.read_coalesce", "%s: want 0 to 1s", c.Local.ReadCoalesce)
	}
	if c.Local.MaxStampLead < time.Millisecond || c.Local.MaxStampLead > time.Minute {
		return config.Errorf("local.max_stamp_lead", "%s: want 1ms to 1m", c.Local.MaxStampLead)
	}
	if c.MaxProcs < 0 || c.MaxProcs > 1024 {
		return config.Errorf("max_procs", "%d: want 0 (Go's default) to 1024", c.MaxProcs)
	}
	if k, err := c.Uplink.MQTT.Validate(); err != nil {
		return config.Errorf("uplink.mqtt."+k, "%v", err)
	}
	checks := []struct {
		key string
		ok  bool
		why string
	}{
		{"uplink.max_batch", c.Uplink.MaxBatch > 0 && c.Uplink.MaxBatch <= 20000, "must be 1..20000"},
		{"uplink.max_batch_bytes", c.Uplink.MaxBatchBytes >= 4096 && c.Uplink.MaxBatchBytes <= 1<<20, "must be 4096..1048576"},
		{"uplink.window", c.Uplink.Window > 0, "must be positive"},
		{"uplink.ack_timeout", c.Uplink.AckTimeout > 0, "must be positive"},
		{"uplink.max_ack_timeout", c.Uplink.MaxAckTimeout >= c.Uplink.AckTimeout, "must be at least ack_timeout"},
		{"spool.dir", c.Spool.Dir != "", "empty"},
		{"spool.max_bytes", c.Spool.MaxBytes >= 1<<20, "must be at least 1 MiB"},
		{"spool.segment_bytes", c.Spool.SegmentBytes >= 64<<10 && c.Spool.SegmentBytes <= c.Spool.MaxBytes/4, "must be at least 64 KiB and at most a quarter of max_bytes"},
		{"spool.commit_interval", c.Spool.CommitInterval >= 0, "must not be negative"},
		{"status_interval", c.StatusInterval > 0, "must be positive"},
		{"probe.interval", c.Probe.Interval > 0, "must be positive"},
		{"probe.timeout", c.Probe.Timeout > 0 && c.Probe.Timeout < c.Probe.Interval, "must be positive and shorter than probe.interval"},
	}
	for _, ch := range checks {
		if !ch.ok {
			return config.Errorf(ch.key, "%s", ch.why)
		}
	}
	if err := c.Uplink.Lanes.Validate(c.Uplink.Window); err != nil {
		return err
	}
	if len(c.Sources) == 0 {
		return config.Errorf("sources", "no device sources configured")
	}
	for i, s := range c.Sources {
		if _, ok := s["family"]; !ok {
			return config.Errorf(fmt.Sprintf("sources[%d].family", i), "missing")
		}
	}
	return nil
}
