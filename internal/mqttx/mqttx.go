// Package mqttx builds paho MQTT clients the way CradleWatch needs them:
// TLS with server verification, per-gateway credentials, subscriptions
// re-made on every connect, a default handler so no message is left
// un-acknowledged, and waits that never hang (PITFALLS.md: token.Wait can
// hang while reconnecting).
package mqttx

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// Defaults for connections.
const (
	DefaultKeepAlive      = 30 * time.Second
	DefaultConnectTimeout = 10 * time.Second
	DefaultMaxReconnect   = 30 * time.Second
	// OpTimeout bounds every wait for a subscribe or publish token.
	OpTimeout = 10 * time.Second
)

// TLS configures an encrypted connection (broker URL scheme ssl:// or tls://).
type TLS struct {
	CAFile     string `mapstructure:"ca_file"`     // PEM bundle that signs the broker's certificate; empty: system roots
	CertFile   string `mapstructure:"cert_file"`   // client certificate (optional, for mutual TLS)
	KeyFile    string `mapstructure:"key_file"`    // client key
	ServerName string `mapstructure:"server_name"` // name to verify; empty: the broker URL's host
}

// Config is the connection part of every service's YAML.
type Config struct {
	Broker   string `mapstructure:"broker"`    // tcp://host:1883, ssl://host:8883, ws://host/mqtt
	ClientID string `mapstructure:"client_id"` // MQTT client identifier (must be unique per connection)
	Username string `mapstructure:"username"`
	Password string `mapstructure:"password"`
	TLS      TLS    `mapstructure:"tls"`
}

// Validate checks the connection settings; key is the YAML prefix for errors.
func (c Config) Validate() (key string, err error) {
	u, err := url.Parse(c.Broker)
	if err != nil || u.Host == "" {
		return "broker", fmt.Errorf("%q is not a broker URL such as tcp://127.0.0.1:1883", c.Broker)
	}
	switch u.Scheme {
	case "tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss":
	default:
		return "broker", fmt.Errorf("scheme %q: want tcp, ssl, ws or wss", u.Scheme)
	}
	if c.ClientID == "" {
		return "client_id", errors.New("empty")
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		return "tls.cert_file", errors.New("cert_file and key_file go together")
	}
	for k, f := range map[string]string{"tls.ca_file": c.TLS.CAFile, "tls.cert_file": c.TLS.CertFile, "tls.key_file": c.TLS.KeyFile} {
		if f != "" {
			if _, err := os.Stat(f); err != nil {
				return k, err
			}
		}
	}
	return "", nil
}

// Options are what a component adds to the Config.
type Options struct {
	Config
	CleanSession bool
	OrderMatters bool // paho's default is true; see PITFALLS.md
	AutoAck      bool // false: the handler's owner calls msg.Ack() when the message is safe
	// NoStore: paho keeps no in-flight state (see nopStore). For
	// subscribers whose safety comes from their own acknowledgements.
	NoStore bool
	Will    *Will
	// OnConnect runs on every (re)connect; subscribe there, because a clean
	// session forgets subscriptions.
	OnConnect func(mqtt.Client)
	// OnConnectionLost runs when an established connection drops (not on
	// Disconnect). Like OnConnect it runs on paho's goroutine: do not block.
	OnConnectionLost func(error)
	// Default receives messages no subscription handler matched. It must
	// ack them; when nil, they are acked and counted by the caller's logger.
	Default mqtt.MessageHandler
	Logger  *slog.Logger
}

// Will is the last will the broker publishes when the connection dies.
type Will struct {
	Topic    string
	Payload  []byte
	QoS      byte
	Retained bool
}

// New builds a client; it does not connect.
func New(o Options) (mqtt.Client, error) {
	co := mqtt.NewClientOptions().
		AddBroker(o.Broker).
		SetClientID(o.ClientID).
		SetUsername(o.Username).
		SetPassword(o.Password).
		SetCleanSession(o.CleanSession).
		SetOrderMatters(o.OrderMatters).
		SetAutoAckDisabled(!o.AutoAck).
		SetKeepAlive(DefaultKeepAlive).
		SetConnectTimeout(DefaultConnectTimeout).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).
		SetMaxReconnectInterval(DefaultMaxReconnect).
		SetWriteTimeout(OpTimeout)
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.TLS != (TLS{}) || isTLSScheme(o.Broker) {
		var err error
		if tc, err = tlsConfig(o.TLS); err != nil {
			return nil, err
		}
		co.SetTLSConfig(tc)
	}
	if o.NoStore {
		co.SetStore(nopStore{})
	}
	if bufferable(o.Broker) {
		co.SetCustomOpenConnectionFn(bufferedOpener(tc))
	}
	if o.Will != nil {
		co.SetBinaryWill(o.Will.Topic, o.Will.Payload, o.Will.QoS, o.Will.Retained)
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	co.SetOnConnectHandler(func(c mqtt.Client) {
		log.Info("mqtt connected", "broker", o.Broker, "client_id", o.ClientID)
		if o.OnConnect != nil {
			o.OnConnect(c)
		}
	})
	co.SetConnectionLostHandler(func(_ mqtt.Client, err error) {
		log.Warn("mqtt connection lost", "broker", o.Broker, "err", err)
		if o.OnConnectionLost != nil {
			o.OnConnectionLost(err)
		}
	})
	def := o.Default
	if def == nil {
		def = func(_ mqtt.Client, m mqtt.Message) {
			log.Debug("mqtt message without handler", "topic", m.Topic())
			m.Ack()
		}
	}
	co.SetDefaultPublishHandler(def)
	return mqtt.NewClient(co), nil
}

func isTLSScheme(broker string) bool {
	u, err := url.Parse(broker)
	if err != nil {
		return false
	}
	switch u.Scheme {
	case "ssl", "tls", "mqtts", "wss":
		return true
	}
	return false
}

func tlsConfig(t TLS) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls: read ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls: ca_file %s holds no PEM certificate", t.CAFile)
		}
		tc.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls: client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// Connect starts connecting and returns once connected or when ctx ends.
// With ConnectRetry, paho keeps trying in the background either way.
func Connect(ctx context.Context, c mqtt.Client) error {
	tok := c.Connect()
	return Wait(ctx, tok, 0)
}

// Wait waits for a token at most timeout (0: until ctx ends).
func Wait(ctx context.Context, tok mqtt.Token, timeout time.Duration) error {
	var tc <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		tc = t.C
	}
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	case <-tc:
		return fmt.Errorf("mqtt: no answer within %s", timeout)
	}
}

// Subscribe subscribes and checks the broker granted the subscription
// (paho reports a refused one, code 0x80, only in the token's result).
func Subscribe(c mqtt.Client, filter string, qos byte, h mqtt.MessageHandler) error {
	tok := c.Subscribe(filter, qos, h)
	if !tok.WaitTimeout(OpTimeout) {
		return fmt.Errorf("mqtt: subscribe %s: no answer within %s", filter, OpTimeout)
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("mqtt: subscribe %s: %w", filter, err)
	}
	if st, ok := tok.(*mqtt.SubscribeToken); ok {
		for f, code := range st.Result() {
			if code == 0x80 {
				return fmt.Errorf("mqtt: subscribe %s: refused by the broker", f)
			}
		}
	}
	return nil
}

// Connected is a readiness check: an error while the client is not
// connected to its broker.
func Connected(c mqtt.Client) func() error {
	return func() error {
		if !c.IsConnectionOpen() {
			return errors.New("not connected to the broker")
		}
		return nil
	}
}

// Hand passes v from a message handler to the component's own goroutine
// through q. When q is full it calls waited (to count the stall) and waits
// until there is room or ctx ends; it reports whether v was queued. A
// handler that waits stalls paho's router, so q should be sized to what the
// broker can have in flight to this client.
func Hand[T any](ctx context.Context, q chan<- T, v T, waited func()) bool {
	select {
	case q <- v:
		return true
	default:
	}
	waited()
	select {
	case q <- v:
		return true
	case <-ctx.Done():
		return false
	}
}
