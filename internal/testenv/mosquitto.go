package testenv

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/internal/mosquittoconf"
)

// EnvMosquitto names the variable pointing at a mosquitto executable.
const EnvMosquitto = mosquittoconf.EnvBinary

// Broker limits of the test configuration. They match
// deploy/mosquitto/mosquitto.conf, so tests see the production behaviour.
const (
	// DefaultMaxQueued is max_queued_messages: how many QoS 1 messages the
	// broker holds per client beyond those in flight. Mosquitto's default
	// of 1000 silently drops the rest, which breaks the at-least-once
	// contract long before the gateway's spool gives up; a million covers
	// a collector that is down for hours.
	DefaultMaxQueued = 1_000_000
	// DefaultMaxInflight is max_inflight_messages: QoS 1 messages sent to one
	// client and not yet PUBACKed. Delivery is at least once end to end
	// (the gateway resends until the collector's Ack), so this is a
	// throughput knob, not a safety one: a window of 1000 lets a
	// subscriber that acks after storing keep a full InfluxDB batch in
	// progress, while everything beyond it stays in the broker's persisted
	// queue rather than in socket buffers. Order is not guaranteed above 1,
	// and the contract does not need it.
	DefaultMaxInflight = 1000
	// AutosaveSeconds is autosave_interval: a crash (Kill) loses at most
	// this much of the broker's queue; Stop saves everything.
	AutosaveSeconds = 60
	// GatewayACLPattern confines a login to topics under its username and
	// client ID, for tests of ACLs. It binds no client ID to a username:
	// the centre's broker uses the dynamic-security plugin for that
	// (internal/centrebroker, deploy/mosquitto).
	GatewayACLPattern = "pattern readwrite cw/v1/%u/%c/#"
)

const (
	brokerReadyTimeout = 10 * time.Second
	brokerStopGrace    = 10 * time.Second
	brokerPoll         = 20 * time.Millisecond
)

// MosquittoOption changes the broker's configuration.
type MosquittoOption func(*mosquittoConfig)

type mosquittoConfig struct {
	users       map[string]string
	aclFile     string
	aclLines    []string
	extra       []string
	maxQueued   int
	maxInflight int
}

// WithUser adds a user with a password. With at least one user anonymous
// clients are refused.
func WithUser(name, password string) MosquittoOption {
	return func(c *mosquittoConfig) { c.users[name] = password }
}

// WithACL sets the broker's ACL from lines in acl_file syntax, for example
// GatewayACLPattern and "user collector" / "topic read cw/v1/+/+/batch".
func WithACL(lines ...string) MosquittoOption {
	return func(c *mosquittoConfig) { c.aclLines = append(c.aclLines, lines...) }
}

// WithACLFile uses an existing ACL file.
func WithACLFile(path string) MosquittoOption {
	return func(c *mosquittoConfig) { c.aclFile = path }
}

// WithMaxQueued overrides max_queued_messages (for tests of what a small
// queue does).
func WithMaxQueued(n int) MosquittoOption {
	return func(c *mosquittoConfig) { c.maxQueued = n }
}

// WithMaxInflight overrides max_inflight_messages (1 gives in-order delivery).
func WithMaxInflight(n int) MosquittoOption {
	return func(c *mosquittoConfig) { c.maxInflight = n }
}

// WithConfig appends raw mosquitto.conf lines.
func WithConfig(lines ...string) MosquittoOption {
	return func(c *mosquittoConfig) { c.extra = append(c.extra, lines...) }
}

// Broker is a Mosquitto process listening on a loopback port of its own.
type Broker struct {
	t       testing.TB
	bin     string
	dir     string
	conf    string
	logPath string
	port    int
	out     *tail
	proc    *process
}

// Mosquitto starts a broker for t and stops it when the test ends. The
// broker persists its state (sessions, queues, retained messages) in t's
// temporary directory, so Stop and Start behave like a broker restart in
// production.
func Mosquitto(t testing.TB, opts ...MosquittoOption) *Broker {
	t.Helper()
	Integration(t)
	bin, err := mosquittoconf.Binary()
	if err != nil {
		missing(t, "mosquitto", err)
	}
	cfg := mosquittoConfig{users: map[string]string{}, maxQueued: DefaultMaxQueued, maxInflight: DefaultMaxInflight}
	for _, o := range opts {
		o(&cfg)
	}
	dir := filepath.Join(t.TempDir(), "mosquitto")
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatalf("mosquitto: %v", err)
	}
	b := &Broker{
		t:       t,
		bin:     bin,
		dir:     dir,
		conf:    filepath.Join(dir, "mosquitto.conf"),
		logPath: filepath.Join(dir, "mosquitto.log"),
		out:     &tail{},
	}
	t.Cleanup(b.Stop)
	for attempt := 1; ; attempt++ {
		b.port = FreePort(t)
		conf, err := b.render(cfg)
		if err != nil {
			t.Fatalf("mosquitto: %v", err)
		}
		if err := os.WriteFile(b.conf, []byte(conf), 0o600); err != nil {
			t.Fatalf("mosquitto: %v", err)
		}
		err = b.start()
		if err == nil {
			return b
		}
		if attempt == 3 || !strings.Contains(b.out.String()+b.Log(), "in use") {
			t.Fatalf("mosquitto: %v", err)
		}
		t.Logf("mosquitto: port %d taken before the broker bound it; retrying", b.port)
	}
}

// render writes the configuration; it also writes the password and ACL
// files it refers to.
func (b *Broker) render(c mosquittoConfig) (string, error) {
	var l []string
	add := func(format string, args ...any) { l = append(l, fmt.Sprintf(format, args...)) }
	add("# Test broker; see deploy/mosquitto/mosquitto.conf for the reasons behind each limit.")
	add("listener %d 127.0.0.1", b.port)
	add("persistence true")
	add("persistence_location %s/", filepath.Join(b.dir, "data"))
	add("autosave_interval %d", AutosaveSeconds)
	add("max_queued_messages %d", c.maxQueued)
	add("max_queued_bytes 0")
	add("max_inflight_messages %d", c.maxInflight)
	// Loopback ping-pong of small QoS 1 packets otherwise meets Nagle and
	// delayed ACKs, which makes tests slow for no reason.
	add("set_tcp_nodelay true")
	add("log_dest file %s", b.logPath)
	add("log_type error")
	add("log_type warning")
	add("log_type notice")
	add("log_type information")
	add("connection_messages true")
	add("log_timestamp_format %%Y-%%m-%%dT%%H:%%M:%%S")
	if os.Geteuid() == 0 {
		// As root, mosquitto otherwise drops to user "mosquitto", which cannot
		// write the test's private temporary directory.
		add("user root")
	}
	if len(c.users) > 0 {
		pw, err := mosquittoconf.PasswdFile(c.users)
		if err != nil {
			return "", err
		}
		path := filepath.Join(b.dir, "passwd")
		if err := os.WriteFile(path, []byte(pw), 0o600); err != nil {
			return "", err
		}
		add("allow_anonymous false")
		add("password_file %s", path)
	} else {
		add("allow_anonymous true")
	}
	switch {
	case c.aclFile != "" && len(c.aclLines) > 0:
		return "", errors.New("WithACL and WithACLFile exclude each other")
	case c.aclFile != "":
		add("acl_file %s", c.aclFile)
	case len(c.aclLines) > 0:
		path := filepath.Join(b.dir, "acl")
		if err := os.WriteFile(path, []byte(strings.Join(c.aclLines, "\n")+"\n"), 0o600); err != nil {
			return "", err
		}
		add("acl_file %s", path)
	}
	l = append(l, c.extra...)
	return strings.Join(l, "\n") + "\n", nil
}

// Addr is the broker's URL for MQTT clients, tcp://127.0.0.1:<port>. It
// stays the same across Stop and Start.
func (b *Broker) Addr() string { return "tcp://" + b.hostPort() }

// Port is the broker's TCP port.
func (b *Broker) Port() int { return b.port }

func (b *Broker) hostPort() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port)) }

// Log returns the broker's log file, for failure messages.
func (b *Broker) Log() string {
	data, err := os.ReadFile(b.logPath)
	if err != nil {
		return ""
	}
	return string(data)
}

// Start starts a stopped broker again on the same port with the same
// persisted state, as after a broker restart in production.
func (b *Broker) Start() {
	b.t.Helper()
	if b.proc != nil {
		b.t.Fatalf("mosquitto: Start: already running")
	}
	if err := b.start(); err != nil {
		b.t.Fatalf("mosquitto: %v", err)
	}
}

// start runs the process and waits until the port accepts connections.
func (b *Broker) start() error {
	b.out.reset()
	p, err := startProcess(b.bin, b.out, "-c", b.conf)
	if err != nil {
		return err
	}
	b.proc = p
	deadline := time.NewTimer(brokerReadyTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(brokerPoll)
	defer tick.Stop()
	for {
		if c, err := net.Dial("tcp", b.hostPort()); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-p.done:
			b.proc = nil
			return fmt.Errorf("exited before listening on %s (%v); output:\n%s\nlog:\n%s", b.hostPort(), p.err, b.out, lastLines(b.Log(), 20))
		case <-deadline.C:
			b.kill()
			return fmt.Errorf("not listening on %s after %v; log:\n%s", b.hostPort(), brokerReadyTimeout, lastLines(b.Log(), 20))
		case <-tick.C:
		}
	}
}

// Stop ends the broker with SIGTERM, which saves its persistent state, and
// waits for it to exit (SIGKILL after a grace period). Stopping a stopped
// broker does nothing.
func (b *Broker) Stop() {
	b.t.Helper()
	p := b.proc
	if p == nil {
		return
	}
	b.proc = nil
	if !p.stop(brokerStopGrace) {
		b.t.Errorf("mosquitto ignored SIGTERM for %v and was killed", brokerStopGrace)
	}
}

// Kill ends the broker with SIGKILL, as a crash would: state changed since
// the last autosave is lost.
func (b *Broker) Kill() { b.kill() }

func (b *Broker) kill() {
	if b.proc == nil {
		return
	}
	b.proc.kill()
	b.proc = nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// MosquittoBinary returns the mosquitto executable ($CW_MOSQUITTO, Debian's
// path, then PATH), skipping or failing t when there is none, for tests
// that run the broker their own way (under the centre's log watcher).
func MosquittoBinary(t testing.TB) string {
	t.Helper()
	Integration(t)
	bin, err := mosquittoconf.Binary()
	if err != nil {
		missing(t, "mosquitto", err)
	}
	return bin
}

// DynsecPlugin returns the path of Mosquitto's dynamic-security plugin,
// skipping or failing t when it is missing.
func DynsecPlugin(t testing.TB) string {
	t.Helper()
	Integration(t)
	p, err := mosquittoconf.DynsecPlugin()
	if err != nil {
		missing(t, "mosquitto's dynamic-security plugin", err)
	}
	return p
}
