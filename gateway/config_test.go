package gateway

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/internal/config"
)

// A bad value fails start-up naming its key.
func TestConfigErrorsNameTheKey(t *testing.T) {
	cases := []struct {
		key    string
		change func(c *Config)
	}{
		{"local.mqtt.broker", func(c *Config) { c.Local.MQTT.Broker = "ws://127.0.0.1:9001/mqtt" }},
		{"local.read_coalesce", func(c *Config) { c.Local.ReadCoalesce = -time.Millisecond }},
		{"local.read_coalesce", func(c *Config) { c.Local.ReadCoalesce = time.Minute }},
		{"max_procs", func(c *Config) { c.MaxProcs = -1 }},
		{"local.max_stamp_lead", func(c *Config) { c.Local.MaxStampLead = 0 }},
		{"local.max_stamp_lead", func(c *Config) { c.Local.MaxStampLead = time.Hour }},
	}
	for _, tc := range cases {
		t.Run(tc.key, func(t *testing.T) {
			c := DefaultConfig()
			if err := config.Load("../configs/gateway.example.yaml", &c); err != nil {
				t.Fatal(err)
			}
			if err := c.Validate(); err != nil {
				t.Fatalf("defaults: %v", err)
			}
			tc.change(&c)
			var ce *config.Error
			if err := c.Validate(); !errors.As(err, &ce) || ce.Key != tc.key {
				t.Fatalf("err %v, want one naming %s", err, tc.key)
			}
		})
	}
}

// check-config warns about sources whose readings may carry no device time,
// and only about those.
func TestConfigWarnsAboutReadingsWithoutDeviceTime(t *testing.T) {
	c := DefaultConfig()
	c.Sources = []map[string]any{
		{"family": "zigbee2mqtt"},
		{"family": "tasmota"},
		{"family": "json", "name": "timed", "time_path": "ts"},
		{"family": "json", "name": "untimed"},
	}
	w := c.Warnings()
	if len(w) != 2 || !strings.Contains(w[0], "sources[0]") || !strings.Contains(w[0], "last_seen") || !strings.Contains(w[1], "sources[3]") {
		t.Fatalf("warnings %q", w)
	}
	c.Local.Embedded.Enabled = true
	if w := c.Warnings(); !strings.Contains(w[0], "embedded broker receives") {
		t.Errorf("embedded layout: %q", w[0])
	}
}
