// Package mqttsub is a lean MQTT 3.1.1 subscriber for one high-rate ingest
// path: the gateway's link to the facility's broker, where every sensor
// message arrives and none may be acknowledged before it is on disk.
//
// paho (internal/mqttx) serves every other connection. On this one it cost
// the gateway more CPU than decoding and storing the readings: each message
// crosses three goroutines (reader, router, handler) and back for its PUBACK,
// and is copied into fresh packet, message and payload objects. Here one
// goroutine parses packets in place in its read buffer and calls the
// handler; the handler acknowledges whole groups of messages at once, and
// one write sends the group's PUBACKs. The control packets (CONNECT,
// CONNACK, SUBSCRIBE) are paho's own packet codec; only PUBLISH, its
// acknowledgements and PINGREQ are encoded here.
//
// What it does not do, because the ingest path does not need it: publish,
// unsubscribe, WebSocket transport, MQTT 5. Sessions are persistent by
// default, so what was delivered but not acknowledged when a connection
// ended is delivered again on the next (at least once).
package mqttsub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/internal/mqttx"
)

// Defaults of Options.
const (
	DefaultMaxPacket    = 1 << 20
	DefaultDrainTimeout = 2 * time.Second
	// readBuffer is the read buffer; packets up to this size are parsed in
	// place, larger ones are read into their own allocation.
	readBuffer = 64 << 10
)

// Message is one PUBLISH as the handler sees it. Topic and Payload are
// slices of the read buffer: valid only during the Handler.Message call,
// so copy what you keep.
type Message struct {
	Topic     []byte
	Payload   []byte
	QoS       byte
	Retained  bool
	Duplicate bool // the broker delivers it again (an earlier delivery was not acknowledged)
	ack       Ack
}

// Ack identifies what acknowledges a message; pass it to
// Subscriber.Acknowledge once the message is safe. The zero Ack (QoS 0
// messages) acknowledges nothing.
type Ack struct {
	gen uint32 // the connection it came on
	id  uint16
	typ byte // typePuback, typePubrec, or 0
}

// Ack returns what acknowledges m.
func (m *Message) Ack() Ack { return m.ack }

// PacketID is the broker's packet identifier of m (QoS 1 and 2; 0 for
// QoS 0). A redelivery (Duplicate) carries the packet ID of the delivery
// it repeats.
func (m *Message) PacketID() uint16 { return m.ack.id }

// Handler receives messages in the order the broker sent them, on the one
// goroutine that reads the connection; it may block, which stops reading
// (and, through TCP, the broker's sending to this client).
type Handler interface {
	// Message is called for each PUBLISH.
	Message(m *Message)
	// Idle is called before the reader waits for the network: no further
	// message is buffered, so a handler gathering messages should hand
	// them on now.
	Idle()
}

// Options configure a Subscriber.
type Options struct {
	mqttx.Config
	// Filters are subscribed on every connection.
	Filters []string
	// QoS of the subscriptions; default 1.
	QoS byte
	// CleanSession makes the broker forget the session on disconnect.
	// The default, false, has it queue messages while we are away.
	CleanSession bool
	Handler      Handler
	// KeepAlive is announced to the broker; a PINGREQ goes out every half
	// of it and a connection silent for 1.5 times it is dropped. Default
	// mqttx.DefaultKeepAlive.
	KeepAlive      time.Duration
	ConnectTimeout time.Duration // default mqttx.DefaultConnectTimeout
	MaxReconnect   time.Duration // longest wait between attempts; default mqttx.DefaultMaxReconnect
	// MaxPacket bounds a packet; a larger PUBLISH is acknowledged, counted
	// and dropped unread. Default DefaultMaxPacket.
	MaxPacket int
	// DrainTimeout is how long Run waits, when its context ends, for the
	// handler to acknowledge what it was given before disconnecting.
	DrainTimeout time.Duration
	// ReadCoalesce, when positive, makes the reader wait this long before
	// reading the network again after a read that brought less than a
	// quarter of its buffer: a busy link is then read in larger pieces,
	// with fewer system calls and goroutine wake-ups per message. It adds
	// at most this much latency, which suits a handler that acknowledges
	// in groups anyway (the gateway's spool commits every 500 ms).
	ReadCoalesce time.Duration
	// MetricPrefix names the metrics, e.g. cw_gateway_local.
	MetricPrefix string
	Registerer   prometheus.Registerer
	Logger       *slog.Logger
}

// CheckBroker reports a broker URL this subscriber cannot use although
// mqttx.Config.Validate accepts it: WebSocket (ws://, wss://).
func CheckBroker(broker string) error {
	if u, err := url.Parse(broker); err == nil && (u.Scheme == "ws" || u.Scheme == "wss") {
		return fmt.Errorf("%q: WebSocket is not supported on this link; use tcp:// or ssl://", broker)
	}
	return nil
}

// Subscriber receives messages from one broker, reconnecting until its
// context ends.
type Subscriber struct {
	o   Options
	m   *metrics
	log *slog.Logger

	gen     atomic.Uint32
	cur     atomic.Pointer[session] // nil while not connected
	refused atomic.Bool             // the broker refused a subscription on the current connection
	ready   atomic.Bool             // connected and the subscriptions answered
}

// New checks o and builds a Subscriber; Run connects.
func New(o Options) (*Subscriber, error) {
	if o.Handler == nil {
		return nil, errors.New("mqttsub: Handler is required")
	}
	if len(o.Filters) == 0 {
		return nil, errors.New("mqttsub: no filters to subscribe")
	}
	if _, err := o.Validate(); err != nil {
		return nil, fmt.Errorf("mqttsub: %w", err)
	}
	if err := CheckBroker(o.Broker); err != nil {
		return nil, fmt.Errorf("mqttsub: %w", err)
	}
	if o.QoS == 0 {
		o.QoS = 1
	}
	if o.QoS > 2 {
		return nil, fmt.Errorf("mqttsub: QoS %d", o.QoS)
	}
	if o.KeepAlive == 0 {
		o.KeepAlive = mqttx.DefaultKeepAlive
	}
	if o.KeepAlive < time.Second || o.KeepAlive > 18*time.Hour {
		return nil, fmt.Errorf("mqttsub: keep-alive %s out of range (1s to 18h)", o.KeepAlive)
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = mqttx.DefaultConnectTimeout
	}
	if o.MaxReconnect == 0 {
		o.MaxReconnect = mqttx.DefaultMaxReconnect
	}
	if o.ReadCoalesce < 0 || o.ReadCoalesce > time.Second {
		return nil, fmt.Errorf("mqttsub: read coalescing %s out of range (0 to 1s)", o.ReadCoalesce)
	}
	if o.MaxPacket == 0 {
		o.MaxPacket = DefaultMaxPacket
	}
	if o.DrainTimeout == 0 {
		o.DrainTimeout = DefaultDrainTimeout
	}
	if o.MetricPrefix == "" {
		o.MetricPrefix = "cw_mqttsub"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	m, err := newMetrics(o.Registerer, o.MetricPrefix)
	if err != nil {
		return nil, err
	}
	return &Subscriber{o: o, m: m, log: o.Logger.With("broker", o.Broker, "client_id", o.ClientID)}, nil
}

// Run connects, subscribes and delivers messages until ctx ends, making
// the connection again (with growing, jittered waits) whenever it fails.
// It returns nil once ctx has ended and the connection is closed.
func (s *Subscriber) Run(ctx context.Context) error {
	wait := time.Second
	for {
		began := time.Now()
		err := s.runSession(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(began) > s.o.MaxReconnect {
			wait = time.Second // it had been up for a while: start over
		}
		s.log.Warn("mqtt connection ended; connecting again", "err", err, "in", wait)
		t := time.NewTimer(wait/2 + rand.N(wait/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		wait = min(2*wait, s.o.MaxReconnect)
	}
}

// Acknowledge sends the acknowledgements of acks (from any goroutine). Those
// of an earlier connection are dropped and counted: the broker delivers
// their messages again on the new one.
func (s *Subscriber) Acknowledge(acks []Ack) {
	ss := s.cur.Load()
	n, stale := 0, 0
	if ss != nil {
		ss.mu.Lock()
		if ss.closed {
			ss.mu.Unlock()
			ss = nil
		}
	}
	for _, a := range acks {
		switch {
		case a.typ == 0:
		case ss == nil || a.gen != ss.gen:
			stale++
		default:
			ss.out = appendAck(ss.out, a.typ, a.id)
			n++
		}
	}
	if ss != nil {
		ss.mu.Unlock()
		if n > 0 {
			ss.outstanding.Add(int64(-n))
			ss.signal()
		}
	}
	if stale > 0 {
		s.m.staleAcks.Add(float64(stale))
	}
}

// Connected is a readiness check: an error unless connected with every
// subscription granted.
func (s *Subscriber) Connected() error {
	switch {
	case !s.ready.Load():
		return errors.New("not connected to the broker")
	case s.refused.Load():
		return errors.New("the broker refused a subscription")
	}
	return nil
}
