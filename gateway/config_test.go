package gateway

import (
	"errors"
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
