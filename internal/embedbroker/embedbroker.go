// Package embedbroker runs an MQTT broker inside the process (mochi-mqtt),
// so a facility can run the gateway as one binary with its sensors
// publishing to it, and the demo can run the whole system without a broker
// installed.
package embedbroker

import (
	"errors"
	"fmt"
	"log/slog"
	"net"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// maxInflight is the most QoS 1 messages mochi keeps per client, also for
// a disconnected client with a persistent session: the gateway's queue at
// the broker while it restarts. mochi's default is 8,192; the field is 16
// bits, so this is its ceiling. Beyond it mochi drops the oldest.
const maxInflight = 65535

// Config is the embedded broker's YAML section.
type Config struct {
	Enabled bool              `mapstructure:"enabled"`
	Listen  string            `mapstructure:"listen"` // host:port
	Users   map[string]string `mapstructure:"users"`  // username → password; empty allows anonymous clients
}

// Broker is a running embedded broker.
type Broker struct {
	srv  *mqtt.Server
	addr string
}

// Start listens on cfg.Listen (port 0 picks a free one) and serves.
func Start(cfg Config, log *slog.Logger) (*Broker, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumInflight = maxInflight
	caps.MaximumClientWritesPending = maxInflight
	srv := mqtt.New(&mqtt.Options{Capabilities: caps, Logger: log.With("component", "broker"), InlineClient: false})
	if len(cfg.Users) == 0 {
		if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
			return nil, err
		}
	} else {
		users := auth.Users{}
		for u, p := range cfg.Users {
			if p == "" {
				return nil, fmt.Errorf("embedded broker: user %q has an empty password", u)
			}
			users[u] = auth.UserRule{Username: auth.RString(u), Password: auth.RString(p)}
		}
		if err := srv.AddHook(new(auth.Hook), &auth.Options{Ledger: &auth.Ledger{Users: users}}); err != nil {
			return nil, err
		}
	}
	// Resolve the port here so callers learn it before serving.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("embedded broker: listen %s: %w", cfg.Listen, err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if err := srv.AddListener(listeners.NewTCP(listeners.Config{ID: "tcp", Address: addr})); err != nil {
		return nil, err
	}
	if err := srv.Serve(); err != nil {
		return nil, fmt.Errorf("embedded broker: %w", err)
	}
	return &Broker{srv: srv, addr: addr}, nil
}

// Addr is the broker's URL, tcp://host:port.
func (b *Broker) Addr() string { return "tcp://" + b.addr }

// Close stops the broker.
func (b *Broker) Close() error {
	if b == nil || b.srv == nil {
		return errors.New("embedded broker: not running")
	}
	return b.srv.Close()
}
