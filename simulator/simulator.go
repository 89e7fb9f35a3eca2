package simulator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults for zero Options fields.
const (
	DefaultClientID       = "cw-simulator"
	DefaultInterval       = time.Second
	DefaultPublishTimeout = 10 * time.Second
	DefaultConnectTimeout = 10 * time.Second
	disconnectQuiesce     = 250 // ms paho may take to finish work on Disconnect
)

// Options configure a Simulator.
type Options struct {
	// BrokerURL is the facilities' local broker, e.g. tcp://127.0.0.1:1883.
	// FacilitySpec.Broker overrides it per facility.
	BrokerURL string
	// ClientID prefixes the MQTT client IDs; each facility connects as
	// "<ClientID>-<facility ID>", as each real site has its own bridge.
	ClientID           string
	Username, Password string
	Facilities         []FacilitySpec
	Incidents          []Incident
	// Speed is simulated seconds per wall second; 0 means 1 (real time).
	Speed float64
	// Start is the simulated time at the first step; zero means the wall
	// time when Run starts.
	Start time.Time
	// Interval is the wall time between two steps; zero means one second.
	// Each step publishes whatever fell due in the simulated time elapsed.
	Interval time.Duration
	// QoS of every publication: 1 (the default when 0) or 2.
	QoS byte
	// Seed makes values and door traffic reproducible.
	Seed uint64
	// PublishTimeout bounds the wait for a PUBACK; zero means ten seconds.
	PublishTimeout time.Duration
	Logger         *slog.Logger
	// Registerer receives the metrics; a private registry when nil.
	Registerer prometheus.Registerer
	// Clock is the wall clock; RealClock when nil.
	Clock Clock
	// OnPublished, when set, is called from Run's goroutine for every
	// message once its fate is known: acked is true when the broker
	// acknowledged it within PublishTimeout.
	OnPublished func(topic string, payload []byte, acked bool)
}

// ConnectError is returned by Run when a local broker cannot be reached at
// start; the caller may retry later.
type ConnectError struct {
	Facility string
	Broker   string
	Err      error
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("simulator: facility %s: connect to %s: %v", e.Facility, e.Broker, e.Err)
}

func (e *ConnectError) Unwrap() error { return e.Err }

// Simulator publishes the device traffic of simulated facilities.
type Simulator struct {
	opts    Options
	log     *slog.Logger
	metrics *metrics
}

// New checks the options and builds a simulator. Facilities and incidents
// are validated here, so a bad script fails before anything connects.
func New(opts Options) (*Simulator, error) {
	if len(opts.Facilities) == 0 {
		return nil, errors.New("simulator: no facilities to simulate")
	}
	if opts.ClientID == "" {
		opts.ClientID = DefaultClientID
	}
	if opts.Speed == 0 {
		opts.Speed = 1
	}
	if opts.Speed < 0 {
		return nil, fmt.Errorf("simulator: speed %v must be positive", opts.Speed)
	}
	if opts.Interval == 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Interval < 0 {
		return nil, fmt.Errorf("simulator: interval %v must be positive", opts.Interval)
	}
	switch opts.QoS {
	case 0:
		opts.QoS = 1
	case 1, 2:
	default:
		return nil, fmt.Errorf("simulator: qos %d must be 1 or 2", opts.QoS)
	}
	if opts.PublishTimeout == 0 {
		opts.PublishTimeout = DefaultPublishTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	if opts.Clock == nil {
		opts.Clock = RealClock{}
	}
	for _, f := range opts.Facilities {
		if f.Broker == "" && opts.BrokerURL == "" {
			return nil, fmt.Errorf("simulator: facility %s: no broker URL", f.ID)
		}
	}
	// Check facilities and incidents now; Run builds the engine again with
	// the real start time.
	if _, err := newEngine(opts.Facilities, opts.Incidents, opts.Seed, time.Unix(0, 0)); err != nil {
		return nil, fmt.Errorf("simulator: %w", err)
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("simulator: register metrics: %w", err)
	}
	return &Simulator{opts: opts, log: opts.Logger.With("component", "simulator"), metrics: m}, nil
}

// Run connects one client per facility and publishes until ctx is done. It
// returns nil on cancellation and a *ConnectError when a broker cannot be
// reached at start. Run must not be called twice at the same time.
func (s *Simulator) Run(ctx context.Context) error {
	wall0 := s.opts.Clock.Now()
	start := s.opts.Start
	if start.IsZero() {
		start = wall0
	}
	clk := simClock{wall0: wall0, start: start, speed: s.opts.Speed}
	eng, err := newEngine(s.opts.Facilities, s.opts.Incidents, s.opts.Seed, start)
	if err != nil {
		return fmt.Errorf("simulator: %w", err)
	}
	clients := make([]mqtt.Client, 0, len(eng.facilities))
	defer func() {
		// Reverse order, like every other cleanup stack in the project.
		for i := len(clients) - 1; i >= 0; i-- {
			clients[i].Disconnect(disconnectQuiesce)
		}
	}()
	for _, f := range eng.facilities {
		c, err := s.connect(f.spec)
		if err != nil {
			return err
		}
		clients = append(clients, c)
	}
	s.log.Info("simulating", "facilities", len(eng.facilities), "incidents", len(eng.incidents),
		"start", start, "speed", s.opts.Speed)
	for {
		now := clk.at(s.opts.Clock.Now())
		msgs, events := eng.step(now)
		s.metrics.ticks.Inc()
		s.metrics.simTime.Set(float64(now.UnixMilli()) / 1000)
		for _, ev := range events {
			s.logIncident(ev, eng)
		}
		s.publish(clients, msgs)
		select {
		case <-ctx.Done():
			return nil
		case <-s.opts.Clock.After(s.opts.Interval):
		}
	}
}

func (s *Simulator) connect(f FacilitySpec) (mqtt.Client, error) {
	broker := f.Broker
	if broker == "" {
		broker = s.opts.BrokerURL
	}
	log := s.log.With("facility", f.ID)
	co := mqtt.NewClientOptions().
		AddBroker(broker).
		SetClientID(s.opts.ClientID + "-" + f.ID).
		SetUsername(s.opts.Username).
		SetPassword(s.opts.Password).
		SetCleanSession(true).
		SetAutoReconnect(true).
		SetConnectTimeout(DefaultConnectTimeout).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			s.metrics.connectionLost.Inc()
			log.Warn("connection to local broker lost", "broker", broker, "err", err)
		}).
		SetReconnectingHandler(func(mqtt.Client, *mqtt.ClientOptions) {
			s.metrics.reconnects.Inc()
		})
	c := mqtt.NewClient(co)
	tok := c.Connect()
	if !tok.WaitTimeout(DefaultConnectTimeout) {
		c.Disconnect(0)
		return nil, &ConnectError{Facility: f.ID, Broker: broker, Err: errors.New("timed out")}
	}
	if err := tok.Error(); err != nil {
		return nil, &ConnectError{Facility: f.ID, Broker: broker, Err: err}
	}
	return c, nil
}

// publish sends one step's messages and waits for their acknowledgements.
// All messages are put in flight first so that a large step costs about
// one round trip, not one per message.
func (s *Simulator) publish(clients []mqtt.Client, msgs []message) {
	toks := make([]mqtt.Token, len(msgs))
	for i, m := range msgs {
		toks[i] = clients[m.facility].Publish(m.topic, s.opts.QoS, m.retained, m.payload)
	}
	for i, m := range msgs {
		acked := false
		switch {
		case !toks[i].WaitTimeout(s.opts.PublishTimeout):
			s.metrics.failed.WithLabelValues(string(m.family), "timeout").Inc()
			s.log.Warn("publish not acknowledged in time", "topic", m.topic, "timeout", s.opts.PublishTimeout)
		case toks[i].Error() != nil:
			s.metrics.failed.WithLabelValues(string(m.family), "error").Inc()
			s.log.Warn("publish failed", "topic", m.topic, "err", toks[i].Error())
		default:
			acked = true
			s.metrics.published.WithLabelValues(string(m.family)).Inc()
		}
		if s.opts.OnPublished != nil {
			s.opts.OnPublished(m.topic, m.payload, acked)
		}
	}
}

func (s *Simulator) logIncident(ev incidentEvent, eng *engine) {
	a := ev.incident
	attrs := []any{"incident", a.index, "type", a.Type, "facility", eng.facilities[a.facility].spec.ID,
		"room", a.Room, "device", a.Device, "start", a.start, "end", a.end}
	if ev.started {
		s.metrics.incidents.WithLabelValues(string(a.Type)).Inc()
		s.log.Info("incident started", attrs...)
		return
	}
	s.log.Info("incident ended", attrs...)
}
