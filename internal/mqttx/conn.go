package mqttx

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// Buffering of the MQTT connection. paho reads each packet with several
// small reads (fixed header, length, body) and writes each packet, every
// PUBACK included, with its own write: two to four system calls per message,
// which profiles showed to be the largest share of the gateway's CPU. A
// buffered reader serves the small reads from one large read, and writes
// are gathered for at most flushDelay, so a burst of acknowledgements
// (the spool acks a whole group commit at once) leaves in one write.
const (
	readBuffer  = 64 << 10
	writeBuffer = 64 << 10
	flushDelay  = time.Millisecond
	// flushTimeout bounds one flush; paho's own write timeout (OpTimeout)
	// no longer applies to buffered writes.
	flushTimeout = OpTimeout
)

// bufferedConn is a net.Conn with a read buffer and a delayed write flush.
// A flush error closes the connection, so paho sees the failure on its next
// read and reconnects, as it would after a failed write.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader

	closed  atomic.Bool // set by Close without the lock, which a stuck flush may hold
	mu      sync.Mutex
	w       *bufio.Writer
	timer   *time.Timer
	pending bool
	err     error
}

func newBufferedConn(c net.Conn) *bufferedConn {
	b := &bufferedConn{Conn: c, r: bufio.NewReaderSize(c, readBuffer), w: bufio.NewWriterSize(c, writeBuffer)}
	b.timer = time.AfterFunc(time.Hour, b.flush)
	b.timer.Stop()
	return b
}

func (b *bufferedConn) Read(p []byte) (int, error) { return b.r.Read(p) }

func (b *bufferedConn) Write(p []byte) (int, error) {
	if b.closed.Load() {
		return 0, net.ErrClosed
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.w.Write(p)
	if err != nil {
		b.err = err
		return n, err
	}
	if !b.pending {
		b.pending = true
		b.timer.Reset(flushDelay)
	}
	return n, nil
}

func (b *bufferedConn) flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pending = false
	if b.err != nil {
		return
	}
	// A peer that stops reading must not block the flush (and with it
	// every later write) forever: paho's keep-alive notices the dead link
	// and closes the connection, which unblocks a write in progress.
	b.Conn.SetWriteDeadline(time.Now().Add(flushTimeout))
	if err := b.w.Flush(); err != nil {
		b.err = err
		b.Conn.Close()
	}
}

func (b *bufferedConn) Close() error {
	b.closed.Store(true)
	b.timer.Stop()
	// A flush blocked on a dead peer holds the lock; closing the socket is
	// what unblocks it, so never wait for the lock here.
	if b.mu.TryLock() {
		if b.err == nil {
			b.Conn.SetWriteDeadline(time.Now().Add(time.Second))
			b.w.Flush() // best effort: a DISCONNECT may be waiting
		}
		b.err = net.ErrClosed
		b.mu.Unlock()
	}
	return b.Conn.Close()
}

// bufferedOpener dials TCP or TLS brokers and wraps the connection. Other
// schemes (WebSocket) are left to paho: New does not install it for them.
func bufferedOpener(tc *tls.Config) mqtt.OpenConnectionFunc {
	return func(u *url.URL, o mqtt.ClientOptions) (net.Conn, error) {
		c, err := dialURL(context.Background(), u, tc, o.ConnectTimeout)
		if err != nil {
			return nil, err
		}
		return newBufferedConn(c), nil
	}
}

// Dial opens a TCP or TLS connection to cfg's broker (schemes tcp, mqtt,
// ssl, tls, mqtts), verifying the server as New does. It is for clients of
// our own that speak MQTT on the connection (see internal/mqttsub).
func Dial(ctx context.Context, cfg Config, timeout time.Duration) (net.Conn, error) {
	u, err := url.Parse(cfg.Broker)
	if err != nil {
		return nil, fmt.Errorf("mqtt: broker %q: %w", cfg.Broker, err)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLS != (TLS{}) || isTLSScheme(cfg.Broker) {
		if tc, err = tlsConfig(cfg.TLS); err != nil {
			return nil, err
		}
	}
	return dialURL(ctx, u, tc, timeout)
}

func dialURL(ctx context.Context, u *url.URL, tc *tls.Config, timeout time.Duration) (net.Conn, error) {
	d := &net.Dialer{Timeout: timeout}
	switch u.Scheme {
	case "tcp", "mqtt":
		return d.DialContext(ctx, "tcp", u.Host)
	case "ssl", "tls", "mqtts":
		cfg := tc.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName = u.Hostname()
		}
		return (&tls.Dialer{NetDialer: d, Config: cfg}).DialContext(ctx, "tcp", u.Host)
	default:
		return nil, fmt.Errorf("mqtt: scheme %q: want tcp, mqtt, ssl, tls or mqtts", u.Scheme)
	}
}

func bufferable(broker string) bool {
	u, err := url.Parse(broker)
	if err != nil {
		return false
	}
	switch u.Scheme {
	case "tcp", "mqtt", "ssl", "tls", "mqtts":
		return true
	}
	return false
}
