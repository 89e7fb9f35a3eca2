package gateway

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/gateway/decode"
	"github.com/cradlewatch/cradlewatch/gateway/spool"
	"github.com/cradlewatch/cradlewatch/model"
)

// maxUnregistered bounds the list of unregistered devices kept for the
// status message; the metric counts all of them.
const maxUnregistered = 64

type ingestMetrics struct {
	accepted     prometheus.Counter
	spoolFailed  prometheus.Counter
	unregistered *prometheus.CounterVec
	gaps         prometheus.Counter
	redeliveries *prometheus.CounterVec
	urgent       prometheus.Counter
	untimed      *prometheus.CounterVec
	rateLimited  prometheus.Counter
}

// Outcomes of a redelivered message (the outcome label of
// cw_gateway_redeliveries_total).
const (
	redeliveryDuplicate = "duplicate" // its original is stored: not stored again
	redeliveryWaiting   = "waiting"   // its original is being stored: acknowledged with it
	redeliveryStored    = "stored"    // no original found: stored
)

func newIngestMetrics(reg prometheus.Registerer) *ingestMetrics {
	m := &ingestMetrics{
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cw_gateway_readings_accepted_total", Help: "Readings of registered devices handed to the spool.",
		}),
		spoolFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cw_gateway_spool_append_failures_total", Help: "Messages left unacknowledged because the spool could not store them.",
		}),
		unregistered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cw_gateway_unregistered_observations_total", Help: "Values from devices not in the facility file (not forwarded), by source.",
		}, []string{"source"}),
		gaps: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cw_gateway_gaps_total", Help: "Gap entries written after the spool's drop policy removed readings.",
		}),
		redeliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cw_gateway_redeliveries_total", Help: "Messages the local broker or a sensor sent again (DUP flag), by outcome: duplicate (stored before, not stored again), waiting (being stored, acknowledged with the original), stored (no original found).",
		}, []string{"outcome"}),
		urgent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cw_gateway_readings_urgent_total", Help: "Readings of state changes stored at once and sent on the urgent lane.",
		}),
		untimed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cw_gateway_readings_without_device_time_total", Help: "Readings that carried no device time and were dated on arrival, by source.",
		}, []string{"source"}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cw_gateway_readings_rate_limited_total", Help: "Readings without a device time refused because their device's arrival stamps would have run ahead of the clock by more than local.max_stamp_lead.",
		}),
	}
	reg.MustRegister(m.accepted, m.spoolFailed, m.unregistered, m.gaps, m.redeliveries, m.urgent, m.untimed, m.rateLimited)
	for _, o := range []string{redeliveryDuplicate, redeliveryWaiting, redeliveryStored} {
		m.redeliveries.WithLabelValues(o)
	}
	return m
}

// newTimeReport counts untimed and refused readings and warns once per
// source about readings without a device time.
func (g *Gateway) newTimeReport() *timeReport {
	return &timeReport{stamped: g.m.untimed, limited: g.m.rateLimited, sources: map[string]bool{},
		limitLog: decode.NewLimitedLogger(g.log, time.Minute),
		warn: func(source string) {
			g.log.Warn("readings carry no device time and are dated on arrival; what a device, a bridge or the local broker queued is dated when it arrives: set Zigbee2MQTT's advanced.last_seen (epoch or ISO_8601), a time path for json sources",
				"source", source)
		}}
}

// unregistered remembers devices that publish but are not in the facility
// file, so the status message can name them (the installer then adds them).
type unregistered struct {
	m    *ingestMetrics
	mu   sync.Mutex
	seen map[string]bool
}

func newUnregistered(m *ingestMetrics) *unregistered {
	return &unregistered{m: m, seen: map[string]bool{}}
}

func (u *unregistered) saw(source, address string) {
	u.m.unregistered.WithLabelValues(source).Inc()
	key := source + ":" + address
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.seen[key] && len(u.seen) < maxUnregistered {
		u.seen[key] = true
	}
}

func (u *unregistered) list() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Sorted(maps.Keys(u.seen))
}

// gapCollector turns what the spool's drop policy removed into a gap entry
// for the centre. The spool calls add from its own goroutine, so the entry
// is appended from another one (run), never from inside the callback.
type gapCollector struct {
	written prometheus.Counter // cw_gateway_gaps_total
	mu      sync.Mutex
	pending *model.Gap
	devices map[string]bool
	wake    chan struct{}
}

func newGapCollector(written prometheus.Counter) *gapCollector {
	return &gapCollector{written: written, wake: make(chan struct{}, 1)}
}

func (c *gapCollector) add(dropped []spool.Record) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var r model.Reading
	for _, rec := range dropped {
		// Urgent marks and receipts are not readings: the gap counts
		// readings only.
		if model.EntryType(rec.Data) != model.EntryReading || model.DecodeReadingEntry(rec.Data, &r) != nil {
			continue
		}
		if c.pending == nil {
			c.pending = &model.Gap{From: r.Time, To: r.Time}
			c.devices = map[string]bool{}
		}
		g := c.pending
		if r.Time.Before(g.From) {
			g.From = r.Time
		}
		if r.Time.After(g.To) {
			g.To = r.Time
		}
		g.Count++
		c.devices[r.Device] = true
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *gapCollector) take() *model.Gap {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.pending
	if g == nil {
		return nil
	}
	for d := range c.devices {
		g.Devices = append(g.Devices, d)
	}
	sort.Strings(g.Devices)
	c.pending, c.devices = nil, nil
	return g
}

type appender interface {
	AppendSync(ctx context.Context, recs [][]byte) (uint64, error)
}

func (c *gapCollector) run(ctx context.Context, sp appender, log *slog.Logger) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-c.wake:
		}
		g := c.take()
		if g == nil {
			continue
		}
		if _, err := sp.AppendSync(ctx, [][]byte{model.AppendGapEntry(nil, g)}); err != nil {
			log.Error("could not record a gap", "from", g.From.Format(time.RFC3339), "to", g.To.Format(time.RFC3339), "count", g.Count, "err", err)
			continue
		}
		c.written.Inc()
		log.Warn("spool full: readings dropped, gap recorded for the centre", "count", g.Count, "from", g.From, "to", g.To, "devices", len(g.Devices))
	}
}
