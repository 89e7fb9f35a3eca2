package gateway

import (
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/gateway/decode"
	"github.com/cradlewatch/cradlewatch/model"
)

// Arrival stamps.
//
// A reading without a device time (Zigbee2MQTT unless its advanced.last_seen
// is set) is dated when it arrived: when the embedded broker read it, or
// when the gateway read it from an external broker. Stamps are in the
// milliseconds the wire and InfluxDB keep, and strictly increasing per
// device, because InfluxDB keeps one point per series and time: two
// messages of one device in the same millisecond would become one point.
//
// Strictly increasing stamps run ahead of the clock when a device sends
// more than one message per millisecond, and a flood would date readings in
// the future (80,000 messages in 4 s once ran 76 s ahead). So stamps may
// lead the clock by at most DefaultStampLead (local.max_stamp_lead): a
// device whose next stamp would lead further is refused its readings until
// the clock catches up. That caps an untimed device at 1,000 messages a
// second after a burst of as many; no sensor comes near it, so what is
// refused comes from a broken or hostile publisher. Refused readings are
// counted (cw_gateway_readings_rate_limited_total) and reported in the
// status message (rate_limited), never silently dropped.

// DefaultStampLead is how far arrival stamps may run ahead of the clock.
const DefaultStampLead = time.Second

// arrival stamps a reading that carries no device time with its arrival
// time t, made strictly increasing per device. The readings of one message
// share their device's stamp (they are different series).
func (sc *scratch) arrival(dev *model.Device, t time.Time) time.Time {
	for _, s := range sc.message {
		if s.dev == dev {
			return time.UnixMilli(s.ms)
		}
	}
	ms := t.UnixMilli()
	if sc.stamped == nil {
		sc.stamped = make(map[*model.Device]int64)
	}
	if last, ok := sc.stamped[dev]; ok && ms <= last {
		ms = last + 1
	}
	sc.stamped[dev] = ms
	sc.message = append(sc.message, stamp{dev, ms})
	return time.UnixMilli(ms)
}

// ahead reports whether dev's stamp for a message arriving at t would lead
// t by more than lead, so the reading must be refused.
func (sc *scratch) ahead(dev *model.Device, t time.Time, lead time.Duration) bool {
	for _, s := range sc.message {
		if s.dev == dev {
			return false // the message's stamp, already given
		}
	}
	last, ok := sc.stamped[dev]
	return ok && last+1-t.UnixMilli() > lead.Milliseconds()
}

// maxUntimedSources bounds the sources the status message names.
const maxUntimedSources = 16

// timeReport counts readings without a device time, by source, and those
// refused for running ahead of the clock, for the metrics, the status
// message and a warning in the log.
type timeReport struct {
	stamped  *prometheus.CounterVec // cw_gateway_readings_without_device_time_total{source}
	limited  prometheus.Counter     // cw_gateway_readings_rate_limited_total
	warn     func(source string)    // logs the first untimed reading of a source
	limitLog *decode.LimitedLogger  // logs refusals, at most once a minute per source

	mu      sync.Mutex
	sources map[string]bool
	refusal uint64
}

func (r *timeReport) untimed(source string) {
	r.stamped.WithLabelValues(source).Inc()
	r.mu.Lock()
	first := !r.sources[source] && len(r.sources) < maxUntimedSources
	if first {
		r.sources[source] = true
	}
	r.mu.Unlock()
	if first {
		r.warn(source)
	}
}

func (r *timeReport) refused(source, address string, now time.Time) {
	r.limited.Inc()
	r.limitLog.Warn(now, source, "device sends untimed messages faster than its arrival stamps may advance; readings refused",
		"source", source, "address", address)
	r.mu.Lock()
	r.refusal++
	r.mu.Unlock()
}

// snapshot returns the untimed sources, sorted, and the readings refused.
func (r *timeReport) snapshot() ([]string, uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Sorted(maps.Keys(r.sources)), r.refusal
}
