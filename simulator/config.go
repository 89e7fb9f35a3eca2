package simulator

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/cradlewatch/cradlewatch/internal/config"
	"github.com/cradlewatch/cradlewatch/model"
)

// Config is the simulator's YAML configuration file; configs/
// simulator.example.yaml documents every key.
type Config struct {
	Broker         string        `yaml:"broker"`
	ClientID       string        `yaml:"client_id"`
	Username       string        `yaml:"username"`
	Password       string        `yaml:"password"`
	Facilities     int           `yaml:"facilities"`
	Region         string        `yaml:"region"`
	Seed           uint64        `yaml:"seed"`
	Speed          float64       `yaml:"speed"`
	Start          string        `yaml:"start"` // RFC 3339; empty: now
	Interval       time.Duration `yaml:"interval"`
	QoS            byte          `yaml:"qos"`
	PublishTimeout time.Duration `yaml:"publish_timeout"`
	Incidents      []Incident    `yaml:"incidents"`
}

// LoadConfig reads and checks a configuration file.
func LoadConfig(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, &config.Error{File: path, Reason: fmt.Sprintf("cannot read: %v", err)}
	}
	return ParseConfig(path, b)
}

// ParseConfig parses configuration YAML; name is used in errors, which are
// *config.Error (file, key, reason). Unknown keys are errors, so a misspelt
// key does not silently fall back to a default.
func ParseConfig(name string, b []byte) (Config, error) {
	c := Config{Facilities: 1}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, &config.Error{File: name, Reason: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	if err := c.check(); err != nil {
		err.File = name
		return Config{}, err
	}
	return c, nil
}

func (c *Config) check() *config.Error {
	if c.Facilities < 1 {
		return config.Errorf("facilities", "%d must be at least 1", c.Facilities)
	}
	if c.Region != "" {
		if _, err := model.ParseRegion(c.Region); err != nil {
			return config.Errorf("region", "%v", err)
		}
	}
	if c.Speed < 0 {
		return config.Errorf("speed", "%v must be positive", c.Speed)
	}
	if c.Start != "" {
		if _, err := time.Parse(time.RFC3339, c.Start); err != nil {
			return config.Errorf("start", "%q is not RFC 3339 (2026-11-26T07:00:00+08:00)", c.Start)
		}
	}
	if c.Interval < 0 {
		return config.Errorf("interval", "%v must be positive", c.Interval)
	}
	if c.QoS > 2 {
		return config.Errorf("qos", "%d must be 1 or 2 (0 means 1)", c.QoS)
	}
	return nil
}

// Options turns the configuration into simulator options; the caller adds
// the logger, registerer and clock.
func (c Config) Options() (Options, error) {
	o := Options{
		BrokerURL:      c.Broker,
		ClientID:       c.ClientID,
		Username:       c.Username,
		Password:       c.Password,
		Facilities:     GenerateFacilities(c.Facilities, model.Region(c.Region)),
		Incidents:      c.Incidents,
		Speed:          c.Speed,
		Interval:       c.Interval,
		QoS:            c.QoS,
		Seed:           c.Seed,
		PublishTimeout: c.PublishTimeout,
	}
	if c.Start != "" {
		t, err := time.Parse(time.RFC3339, c.Start)
		if err != nil {
			return Options{}, config.Errorf("start", "%v", err)
		}
		o.Start = t
	}
	return o, nil
}
