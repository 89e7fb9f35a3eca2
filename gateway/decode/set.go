package decode

import (
	"fmt"
	"log/slog"
	"math"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of Options.
const (
	DefaultMaxMessageBytes = 64 << 10
	DefaultMaxClockSkew    = time.Hour
	DefaultLogEvery        = time.Minute
)

// Options carry the dependencies and limits of a Set.
type Options struct {
	Logger     *slog.Logger          // nil: discard
	Registerer prometheus.Registerer // nil: a private registry (metrics are then unreachable, tests only)
	// MaxMessageBytes refuses larger payloads before any parsing; device
	// messages are a few hundred bytes. 0 means DefaultMaxMessageBytes.
	MaxMessageBytes int
	// MaxClockSkew bounds how far a device's own time may be from the
	// arrival time. A Tasmota without NTP says 1970; a wrong time zone
	// shifts by hours. Beyond the bound the arrival time is used and
	// cw_gateway_device_time_replaced_total counts it. 0 means
	// DefaultMaxClockSkew; negative disables the check.
	MaxClockSkew time.Duration
	// LogEvery is the interval of the rate-limited error log per family
	// and reason. 0 means DefaultLogEvery.
	LogEvery time.Duration
	// TopicCacheSize bounds how many topics DecodeBytes keeps a string of
	// (topics above 256 bytes are never kept). 0 means
	// DefaultTopicCacheSize; negative keeps none, so that every DecodeBytes
	// allocates its topic.
	TopicCacheSize int
}

// Set is the gateway's decoders, built from the `sources:` config, with a
// dispatcher, validation and metrics. It is safe for concurrent use.
type Set struct {
	routes  []route
	maxSize int
	maxSkew time.Duration
	log     *LimitedLogger
	m       *metrics
	topics  *stringCache // DecodeBytes's topics, see Options.TopicCacheSize
}

type route struct {
	dec      Decoder
	family   string
	patterns []pattern
	messages prometheus.Counter
	decoded  prometheus.Counter
	replaced prometheus.Counter
}

// Build constructs the decoders of cfgs and registers the metrics.
// Errors name the offending key: "sources[2].fields[0].path: empty".
func Build(cfgs []SourceConfig, opts Options) (*Set, error) {
	decs, _, err := buildDecoders(cfgs)
	if err != nil {
		return nil, err
	}
	return NewSet(decs, opts)
}

// NewSet wraps decoders built elsewhere. Messages go to the first decoder,
// in order, with a subscription matching the topic.
func NewSet(decs []Decoder, opts Options) (*Set, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	if opts.MaxMessageBytes <= 0 {
		opts.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if opts.MaxClockSkew == 0 {
		opts.MaxClockSkew = DefaultMaxClockSkew
	}
	if opts.LogEvery <= 0 {
		opts.LogEvery = DefaultLogEvery
	}
	if opts.TopicCacheSize == 0 {
		opts.TopicCacheSize = DefaultTopicCacheSize
	}
	topics := newStringCache(opts.TopicCacheSize)
	m, err := newMetrics(opts.Registerer, cacheEvictions(topics, decs))
	if err != nil {
		return nil, err
	}
	s := &Set{
		maxSize: opts.MaxMessageBytes,
		maxSkew: opts.MaxClockSkew,
		log:     NewLimitedLogger(opts.Logger.With("component", "decode"), opts.LogEvery),
		m:       m,
		topics:  topics,
	}
	for _, d := range decs {
		r := route{
			dec:      d,
			family:   d.Family(),
			messages: m.messages.WithLabelValues(d.Family()),
			decoded:  m.decoded.WithLabelValues(d.Family()),
			replaced: m.timeReplaced.WithLabelValues(d.Family()),
		}
		for _, sub := range d.Subscriptions() {
			p, err := parsePattern(sub)
			if err != nil {
				return nil, fmt.Errorf("decode: %s subscription: %w", d.Family(), err)
			}
			r.patterns = append(r.patterns, p)
		}
		s.routes = append(s.routes, r)
	}
	return s, nil
}

// Subscriptions lists the topic filters of every source, without duplicates.
func (s *Set) Subscriptions() []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range s.routes {
		for _, p := range r.patterns {
			if !seen[p.filter] {
				seen[p.filter] = true
				out = append(out, p.filter)
			}
		}
	}
	return out
}

// Reads reports whether a source reads topic: the messages Decode would
// route to a decoder.
func (s *Set) Reads(topic string) bool { return s.route(topic) != nil }

// Decode routes one message to its decoder, appends the usable observations
// to out and counts the rest. A message no source subscribes to returns
// ErrNoDecoder. Observations the decoder flagged, that are not finite or
// that are outside their kind's range are dropped and counted in
// cw_gateway_readings_rejected_total; a message that failed as a whole
// returns an *Error (after appending whatever was usable) and is counted in
// cw_gateway_decode_errors_total.
func (s *Set) Decode(topic string, payload []byte, now time.Time, out []Observation) ([]Observation, error) {
	return s.decode(s.route(topic), topic, payload, now, out)
}

// DecodeBytes is Decode for a topic that lives in a buffer the caller
// reuses, such as an MQTT reader's read buffer. It retains neither topic
// nor payload: the Address of every observation is a string of its own.
// Topics seen before are looked up in a bounded cache
// (Options.TopicCacheSize) instead of being copied, so that in the steady
// state a message costs no allocation for its topic.
func (s *Set) DecodeBytes(topic, payload []byte, now time.Time, out []Observation) ([]Observation, error) {
	if t, ok := s.topics.lookup(topic); ok {
		return s.decode(s.route(t), t, payload, now, out)
	}
	t := string(topic)
	r := s.route(t)
	if r != nil && utf8.ValidString(t) {
		// Only topics a source reads are kept: nothing else gets past the
		// broker's subscriptions, and those that do are refused anyway.
		s.topics.add(t)
	}
	return s.decode(r, t, payload, now, out)
}

// decode is Decode once the topic is routed; r is nil if no source reads it.
func (s *Set) decode(r *route, topic string, payload []byte, now time.Time, out []Observation) ([]Observation, error) {
	if r == nil {
		s.m.unmatched.Inc()
		return out, ErrNoDecoder
	}
	r.messages.Inc()
	var err error
	switch {
	case !utf8.ValidString(topic):
		err = newError(r.family, ReasonBadTopic, "topic is not valid UTF-8")
	case len(payload) > s.maxSize:
		err = newError(r.family, ReasonTooLarge, "%d bytes, limit %d", len(payload), s.maxSize)
	default:
		start := len(out)
		out, err = safeDecode(r, topic, payload, now, out)
		out = s.check(r, out, start, now)
	}
	if err != nil {
		reason := ReasonOf(err)
		if reason == "" {
			reason = ReasonInvalidJSON
		}
		s.m.errors.WithLabelValues(r.family, string(reason)).Inc()
		s.log.Warn(now, r.family+"/"+string(reason), "message refused",
			"family", r.family, "reason", string(reason), "topic", clip(topic), "err", err)
	}
	return out, err
}

func (s *Set) route(topic string) *route {
	var buf [8]string // captures are not needed here; the buffer keeps match from allocating
	for i := range s.routes {
		r := &s.routes[i]
		for j := range r.patterns {
			if _, ok := r.patterns[j].match(topic, buf[:0]); ok {
				return r
			}
		}
	}
	return nil
}

// safeDecode turns a decoder panic into an error: one malformed message
// must not take the gateway down. Decoders are fuzzed so that this never
// fires; the metric says if it does.
func safeDecode(r *route, topic string, payload []byte, now time.Time, out []Observation) (res []Observation, err error) {
	n := len(out)
	defer func() {
		if p := recover(); p != nil {
			res, err = out[:n], newError(r.family, ReasonPanic, "decoder panicked: %v", p)
		}
	}()
	return r.dec.Decode(topic, payload, now, out)
}

// check validates out[start:] in place, dropping and counting the bad.
func (s *Set) check(r *route, out []Observation, start int, now time.Time) []Observation {
	j := start
	for i := start; i < len(out); i++ {
		o := out[i]
		reason := o.Reject
		switch {
		case reason != "":
		case !o.Kind.Valid():
			reason = ReasonInvalidKind
		case math.IsNaN(o.Value) || math.IsInf(o.Value, 0):
			reason = ReasonNotFinite
		case !o.Kind.InRange(o.Value):
			reason = ReasonOutOfRange
		}
		if reason != "" {
			s.m.rejected.WithLabelValues(r.family, o.Kind.String(), string(reason)).Inc()
			s.log.Warn(now, r.family+"/"+o.Kind.String()+"/"+string(reason), "reading rejected",
				"family", r.family, "address", clip(o.Address), "kind", o.Kind.String(), "reason", string(reason), "value", o.Value)
			continue
		}
		if o.Time.IsZero() {
			o.Time = now
		} else if s.maxSkew > 0 && absDuration(o.Time.Sub(now)) > s.maxSkew {
			r.replaced.Inc()
			s.log.Warn(now, r.family+"/clock", "device time replaced by arrival time",
				"family", r.family, "address", clip(o.Address), "device_time", o.Time, "arrival", now)
			o.Time = now
		}
		out[j] = o
		j++
	}
	r.decoded.Add(float64(j - start))
	return out[:j]
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// clip shortens what a device chose (topics, names) before it is logged.
func clip(s string) string {
	const max = 128
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
