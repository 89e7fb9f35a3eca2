package centrebroker

import (
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Actions of cw_broker_denied_total.
const (
	ActionPublish   = "publish"   // a PUBLISH the ACL refused (acknowledged and dropped)
	ActionSubscribe = "subscribe" // a topic filter of a SUBSCRIBE refused (SUBACK 0x80)
	ActionConnect   = "connect"   // a CONNECT refused: bad password, unknown user, a client ID not bound to the user
	ActionWill      = "will"      // a last will on a topic the account may not publish to (the broker drops it when it would be sent)
)

// Bounds of the refusal log: a hostile client can cause thousands of
// refusals a second, and each is counted, but only this many a window are
// logged one by one.
const (
	logBurst  = 20
	logWindow = time.Minute
)

// WillCheck says whether an account may name topic in its last will;
// known is false for accounts it has no rules for.
type WillCheck func(username, topic string) (known, allowed bool)

// WatcherOptions configures a Watcher.
type WatcherOptions struct {
	// Forward receives every line that is not debug output (connections,
	// warnings, errors), one per Write, newline-terminated. Nil drops them.
	Forward io.Writer
	// Logger records refusals, rate-limited.
	Logger *slog.Logger
	// Registerer takes the metrics; nil registers nowhere.
	Registerer prometheus.Registerer
	// Wills checks last wills against the accounts' rights; nil skips the
	// check.
	Wills WillCheck
	// Now is the clock of the log rate limit; time.Now when nil.
	Now func() time.Time
}

// Watcher reads Mosquitto 2.0's log, line by line, with log_type debug and
// subscribe enabled and log_timestamp off, and counts what the broker
// refused. Mosquitto handles one packet at a time, so the lines of one
// SUBSCRIBE (the request, one line per filter, one line per granted
// filter, the SUBACK) are contiguous.
type Watcher struct {
	o      WatcherOptions
	denied *prometheus.CounterVec
	takeovers,
	suppressed prometheus.Counter

	mu sync.Mutex
	// The SUBSCRIBE being logged.
	subClient  string
	subFilters []string
	subGranted map[string]bool
	// What a line starting with a tab continues.
	tabContext string
	// The client whose CONNECT is being logged.
	connClient, connUser string
	// Log rate limit.
	windowStart time.Time
	logged      int
	dropped     int
}

// NewWatcher builds a Watcher and registers its metrics.
func NewWatcher(o WatcherOptions) *Watcher {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	w := &Watcher{
		o: o,
		denied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cw_broker_denied_total",
			Help: "Operations the centre broker refused, from its log: publish (dropped in silence for MQTT 3.1.1), subscribe (one per refused filter), connect (bad credentials or a client ID not bound to the user), will (a last will on a topic the account may not publish to).",
		}, []string{"action"}),
		takeovers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cw_broker_session_takeovers_total",
			Help: "Connections that replaced a connected client with the same client ID (with bound client IDs: the same account reconnecting before the broker saw the old connection die).",
		}),
		suppressed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cw_broker_denial_logs_suppressed_total",
			Help: "Refusals counted but not logged one by one because of the log rate limit.",
		}),
	}
	for _, a := range []string{ActionPublish, ActionSubscribe, ActionConnect, ActionWill} {
		w.denied.WithLabelValues(a)
	}
	if o.Registerer != nil {
		o.Registerer.MustRegister(w.denied, w.takeovers, w.suppressed)
	}
	return w
}

// Line handles one line of the broker's log (without its newline).
func (w *Watcher) Line(line string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.handle(stripTimestamp(line)) {
		return
	}
	if w.o.Forward != nil {
		io.WriteString(w.o.Forward, line+"\n")
	}
}

// handle counts what line says and reports whether it is debug output.
func (w *Watcher) handle(line string) bool {
	if rest, ok := strings.CutPrefix(line, "\t"); ok {
		switch w.tabContext {
		case "subscribe":
			if i := strings.LastIndex(rest, " (QoS "); i >= 0 {
				rest = rest[:i]
			}
			w.subFilters = append(w.subFilters, rest)
		case "will":
			w.checkWill(rest)
		}
		return true
	}
	w.tabContext = ""
	if w.subClient != "" {
		if rest, ok := strings.CutPrefix(line, w.subClient+" "); ok {
			// log_type subscribe: "<client> <qos> <filter>" for a granted filter.
			if _, filter, ok := strings.Cut(rest, " "); ok {
				w.subGranted[filter] = true
				return true
			}
		}
	}
	switch {
	case strings.HasPrefix(line, "Denied PUBLISH from "):
		client, topic := deniedPublish(line)
		w.deny(ActionPublish, "broker refused a publish", "client_id", client, "topic", topic)
		return true
	case strings.HasPrefix(line, "Received SUBSCRIBE from "):
		w.subClient = strings.TrimPrefix(line, "Received SUBSCRIBE from ")
		w.subFilters = w.subFilters[:0]
		w.subGranted = map[string]bool{}
		w.tabContext = "subscribe"
		return true
	case strings.HasPrefix(line, "Sending SUBACK to "):
		for _, f := range w.subFilters {
			if !w.subGranted[f] {
				w.deny(ActionSubscribe, "broker refused a subscription", "client_id", w.subClient, "filter", f)
			}
		}
		w.subClient, w.subFilters, w.subGranted = "", w.subFilters[:0], nil
		return true
	case strings.HasPrefix(line, "Will message specified"):
		w.tabContext = "will"
		return true
	case strings.HasPrefix(line, "Received "), strings.HasPrefix(line, "Sending "), line == "No will message specified.":
		return true
	case strings.HasPrefix(line, "New client connected from "):
		w.connClient, w.connUser = connectedClient(line)
	case strings.HasPrefix(line, "Client ") && strings.HasSuffix(line, " disconnected, not authorised."):
		w.deny(ActionConnect, "broker refused a connection", "client_id", strings.TrimSuffix(strings.TrimPrefix(line, "Client "), " disconnected, not authorised."))
	case strings.HasPrefix(line, "Client ") && strings.HasSuffix(line, " already connected, closing old connection."):
		w.takeovers.Inc()
	}
	return false
}

// checkWill counts a last will naming a topic its account may not publish
// to: Mosquitto accepts the CONNECT and drops the will, without a word,
// when it would send it.
func (w *Watcher) checkWill(topic string) {
	if w.o.Wills == nil || w.connUser == "" {
		return
	}
	if known, ok := w.o.Wills(w.connUser, topic); known && !ok {
		w.deny(ActionWill, "last will on a topic the account may not publish to (the broker drops it)", "client_id", w.connClient, "username", w.connUser, "topic", topic)
	}
}

func (w *Watcher) deny(action, msg string, attrs ...any) {
	w.denied.WithLabelValues(action).Inc()
	now := w.o.Now()
	if now.Sub(w.windowStart) >= logWindow {
		if w.dropped > 0 {
			w.o.Logger.Warn("further refusals were counted but not logged", "count", w.dropped, "window", logWindow)
		}
		w.windowStart, w.logged, w.dropped = now, 0, 0
	}
	if w.logged >= logBurst {
		w.dropped++
		w.suppressed.Inc()
		return
	}
	w.logged++
	w.o.Logger.Warn(msg, append([]any{"action", action}, attrs...)...)
}

// deniedPublish parses "Denied PUBLISH from <client> (d0, q1, r0, m6,
// '<topic>', ... (6 bytes))".
func deniedPublish(line string) (client, topic string) {
	rest := strings.TrimPrefix(line, "Denied PUBLISH from ")
	if i := strings.Index(rest, " (d"); i >= 0 {
		client, rest = rest[:i], rest[i:]
	}
	if i := strings.Index(rest, ", '"); i >= 0 {
		rest = rest[i+3:]
		if j := strings.LastIndex(rest, "', ... ("); j >= 0 {
			topic = rest[:j]
		}
	}
	return client, topic
}

// connectedClient parses "New client connected from <addr> as <client>
// (p2, c1, k30, u'<username>')." (no u'...' without a username).
func connectedClient(line string) (client, user string) {
	_, rest, ok := strings.Cut(line, " as ")
	if !ok {
		return "", ""
	}
	i := strings.LastIndex(rest, " (p")
	if i < 0 {
		return "", ""
	}
	client = rest[:i]
	if _, u, ok := strings.Cut(rest[i:], ", u'"); ok {
		user = strings.TrimSuffix(u, "').")
	}
	return client, user
}

// stripTimestamp removes Mosquitto's default "<unix seconds>: " prefix, for
// a broker run with log_timestamp true.
func stripTimestamp(line string) string {
	i := 0
	for i < len(line) && line[i] >= '0' && line[i] <= '9' {
		i++
	}
	if i > 0 && strings.HasPrefix(line[i:], ": ") {
		return line[i+2:]
	}
	return line
}
