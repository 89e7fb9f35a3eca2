// Package embedbroker runs an MQTT broker inside the process (mochi-mqtt),
// so a facility can run the gateway as one binary with its sensors
// publishing to it, and the demo can run the whole system without a broker
// installed.
//
// An Interceptor (the gateway) takes the messages it wants inside the
// broker, before the broker acknowledges them: mochi runs its OnPublish
// hook on the goroutine reading the publishing client, before the PUBACK.
// The hook hands the message over and tells mochi to go no further; when
// the interceptor calls ack (the gateway does once the readings are
// fsynced), the message is put back through mochi's own publish path,
// which sends the PUBACK (PUBREC for QoS 2), keeps a retained message and
// delivers it to any other subscriber. Waiting inside the hook would hold
// up the client's connection for a whole group commit per message; this
// way a client such as Zigbee2MQTT keeps publishing while earlier messages
// wait for the disk, and gets their acknowledgements in order.
//
// The broker keeps its state in memory: retained messages, sessions and
// subscriptions of clients, messages queued for subscribers. None of it is
// what the gateway promises to keep, which is the readings it
// acknowledged, and those are in its spool before the PUBACK leaves. After
// a restart, sensors reconnect and send again what was not acknowledged;
// clients with persistent sessions find none and must subscribe again
// (Zigbee2MQTT and Tasmota do on every connect); a command published to a
// device while the broker was down is not kept.
package embedbroker

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/prometheus/client_golang/prometheus"
)

// maxInflight is the most QoS 1 messages mochi keeps per client for
// delivery, also for a disconnected client with a persistent session (a
// subscriber on the facility's box that restarts). mochi's default is
// 8,192; the field is 16 bits, so this is its ceiling. Beyond it mochi
// drops the oldest.
const maxInflight = 65535

// Config is the embedded broker's YAML section.
type Config struct {
	Enabled bool              `mapstructure:"enabled"`
	Listen  string            `mapstructure:"listen"` // host:port
	Users   map[string]string `mapstructure:"users"`  // username → password; empty allows anonymous clients
}

// Message is a publish as an Interceptor sees it. Topic and Payload are the
// broker's copy of the packet (mochi allocates one per packet): they stay
// valid, and must not be modified.
type Message struct {
	Client   string // the publishing client's ID
	Topic    string
	Payload  []byte
	QoS      byte
	Retain   bool
	Dup      bool      // the client sends it again: an earlier attempt was not acknowledged
	PacketID uint16    // the client's packet ID (QoS 1 and 2)
	Received time.Time // when the broker read it
}

// Interceptor takes messages before the broker acknowledges them.
type Interceptor interface {
	// Wants reports whether the interceptor takes messages on topic;
	// others pass through the broker as usual. It must be quick.
	Wants(topic string) bool
	// Publish is called for each wanted message with a payload, on the
	// goroutine that reads the publishing client's connection, so in the
	// order the client sent them; it may block, which holds up that
	// client. For QoS 1 and 2 the broker acknowledges the message, and
	// delivers it to its subscribers, only once ack is called (from any
	// goroutine, at most once); a message never acknowledged is sent again
	// by the client when it reconnects. QoS 0 messages are delivered at once
	// and ack does nothing.
	Publish(m Message, ack func())
}

// Options configure a broker started with New.
type Options struct {
	Config
	Logger *slog.Logger
	// Intercept, if set, takes the messages it wants before they are
	// acknowledged.
	Intercept Interceptor
	// Clock dates Message.Received; nil is time.Now.
	Clock func() time.Time
	// MetricPrefix names the metrics (default cw_embedbroker); Registerer
	// receives them (nil keeps them private).
	MetricPrefix string
	Registerer   prometheus.Registerer
}

// Broker is a running embedded broker.
type Broker struct {
	srv   *mqtt.Server
	addr  string
	acks  *acker
	close sync.Once
}

// Start listens on cfg.Listen (port 0 picks a free one) and serves, with
// no interceptor.
func Start(cfg Config, log *slog.Logger) (*Broker, error) {
	return New(Options{Config: cfg, Logger: log})
}

// New listens on o.Listen (port 0 picks a free one) and serves. On error
// nothing is left listening.
func New(o Options) (*Broker, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.MetricPrefix == "" {
		o.MetricPrefix = "cw_embedbroker"
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	for u, p := range o.Users {
		if p == "" {
			return nil, fmt.Errorf("embedded broker: user %q has an empty password", u)
		}
	}
	undelivered := prometheus.NewCounter(prometheus.CounterOpts{Name: o.MetricPrefix + "_acks_undelivered_total",
		Help: "Acknowledgements of intercepted messages that could not be sent because the client's connection had closed; the client sends such a message again when it reconnects."})
	if err := o.Registerer.Register(undelivered); err != nil {
		return nil, fmt.Errorf("embedded broker: metrics: %w", err)
	}
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumInflight = maxInflight
	caps.MaximumClientWritesPending = maxInflight
	srv := mqtt.New(&mqtt.Options{Capabilities: caps, Logger: o.Logger.With("component", "broker"), InlineClient: false})
	b := &Broker{srv: srv, acks: newAcker(srv, undelivered, o.Logger)}
	if err := b.setup(o); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

func (b *Broker) setup(o Options) error {
	if len(o.Users) == 0 {
		if err := b.srv.AddHook(new(auth.AllowHook), nil); err != nil {
			return err
		}
	} else {
		users := auth.Users{}
		for u, p := range o.Users {
			users[u] = auth.UserRule{Username: auth.RString(u), Password: auth.RString(p)}
		}
		if err := b.srv.AddHook(new(auth.Hook), &auth.Options{Ledger: &auth.Ledger{Users: users}}); err != nil {
			return err
		}
	}
	if o.Intercept != nil {
		if err := b.srv.AddHook(&interceptHook{in: o.Intercept, acks: b.acks, now: o.Clock}, nil); err != nil {
			return err
		}
	}
	l := listeners.NewTCP(listeners.Config{ID: "tcp", Address: o.Listen})
	if err := b.srv.AddListener(l); err != nil {
		return fmt.Errorf("embedded broker: listen %s: %w", o.Listen, err)
	}
	b.addr = l.Address() // the bound port when Listen asked for port 0
	if err := b.srv.Serve(); err != nil {
		return fmt.Errorf("embedded broker: %w", err)
	}
	return nil
}

// Addr is the broker's URL, tcp://host:port.
func (b *Broker) Addr() string { return "tcp://" + b.addr }

// Close stops the broker: it stops listening, closes every connection and
// waits until no acknowledgement is being sent. Idempotent.
func (b *Broker) Close() error {
	if b == nil || b.srv == nil {
		return errors.New("embedded broker: not running")
	}
	b.close.Do(func() {
		b.acks.stop()
		b.srv.Close()
		b.acks.wait()
	})
	return nil
}

// interceptHook is the mochi hook that hands wanted messages to the
// Interceptor before the broker acknowledges them.
type interceptHook struct {
	mqtt.HookBase
	in   Interceptor
	acks *acker
	now  func() time.Time
}

func (h *interceptHook) ID() string { return "cradlewatch-intercept" }

func (h *interceptHook) Provides(b byte) bool { return b == mqtt.OnPublish }

// OnPublish runs before mochi acknowledges a publish. It returns
// packets.ErrRejectPacket for a message it takes, which makes mochi do
// nothing further with it: no PUBACK, no delivery. ack later puts the
// packet back through mochi's publish path (acker.inject), where this hook
// lets it pass.
func (h *interceptHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline || len(pk.Payload) == 0 || h.acks.passing(cl, pk) || !h.in.Wants(pk.TopicName) {
		return pk, nil
	}
	m := Message{Client: cl.ID, Topic: pk.TopicName, Payload: pk.Payload, QoS: pk.FixedHeader.Qos,
		Retain: pk.FixedHeader.Retain, Dup: pk.FixedHeader.Dup, PacketID: pk.PacketID, Received: h.now()}
	if m.QoS == 0 {
		h.in.Publish(m, func() {})
		return pk, nil
	}
	h.in.Publish(m, func() { h.acks.push(cl, pk) })
	return pk, packets.ErrRejectPacket
}
