package gateway

import (
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/gateway/decode"
	"github.com/cradlewatch/cradlewatch/model"
)

// centreReportLogEvery is how often one reason of the centre's is logged:
// a facility whose file lists a device wrongly gets its readings refused
// in every batch, and one line a quarter of an hour says so without
// flooding the box's journal.
const centreReportLogEvery = 15 * time.Minute

// centreReport keeps what the centre said about this gateway's batches in
// its acknowledgements: the readings it refused, by reason
// (model.Ack.Rejections), and the claims of the gateway it did not believe
// and overrode with the registry's (model.Ack.Ignored, such as a region
// the facility's file gets wrong). They are counted, logged once per
// reason and interval, and carried in the gateway's status message, so
// that the facility (its logs and metrics) and the centre (the status in
// InfluxDB) both see why readings went missing.
type centreReport struct {
	rejected *prometheus.CounterVec // cw_gateway_centre_rejected_readings_total{reason}
	ignored  *prometheus.CounterVec // cw_gateway_centre_ignored_claims_total{claim}
	log      *decode.LimitedLogger

	mu       sync.Mutex
	byReason map[string]uint64 // since the gateway started
	claims   map[string]bool   // ignored claims since the gateway started
	lastMs   int64             // when the last acknowledgement with either arrived
}

func newCentreReport(reg prometheus.Registerer, log *slog.Logger) *centreReport {
	r := &centreReport{
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cw_gateway_centre_rejected_readings_total",
			Help: "Readings the centre refused, by reason (model.Reject*; other for a reason this gateway does not know), from its acknowledgements."},
			[]string{"reason"}),
		ignored: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cw_gateway_centre_ignored_claims_total",
			Help: "Acknowledgements saying the centre did not believe a claim of the batch and used the registry's instead, by claim (region_mismatch, bad_region, ...): the facility's file needs fixing."},
			[]string{"claim"}),
		log:      decode.NewLimitedLogger(log, centreReportLogEvery),
		byReason: map[string]uint64{},
		claims:   map[string]bool{},
	}
	reg.MustRegister(r.rejected, r.ignored)
	for _, reason := range append(slices.Clone(model.RejectReasons), model.RejectOther) {
		r.rejected.WithLabelValues(reason)
		r.ignored.WithLabelValues(reason)
	}
	return r
}

// record takes an acknowledgement's rejections and ignored claims. A
// rejected batch (Status rejected) names its reason and count only: its
// readings count under that reason.
func (r *centreReport) record(a model.Ack, now time.Time) {
	rejections := a.Rejections
	if len(rejections) == 0 && a.Rejected > 0 {
		rejections = map[string]uint64{a.Reason: a.Rejected}
	}
	if len(rejections) == 0 && len(a.Ignored) == 0 {
		return
	}
	r.mu.Lock()
	for reason, n := range rejections {
		reason = model.KnownReject(reason)
		r.byReason[reason] += n
		r.rejected.WithLabelValues(reason).Add(float64(n))
	}
	for _, claim := range a.Ignored {
		claim = model.KnownReject(claim)
		r.claims[claim] = true
		r.ignored.WithLabelValues(claim).Inc()
	}
	r.lastMs = now.UnixMilli()
	r.mu.Unlock()
	for reason, n := range rejections {
		reason = model.KnownReject(reason)
		r.log.Warn(now, "rejected/"+reason, "the centre refused readings of this gateway", "reason", reason, "readings", n,
			"first", a.First, "count", a.Count)
	}
	for _, claim := range a.Ignored {
		claim = model.KnownReject(claim)
		r.log.Warn(now, "ignored/"+claim, "the centre did not believe a claim of this gateway and used the registry's: fix the facility file",
			"claim", claim, "first", a.First, "count", a.Count)
	}
}

// snapshot returns the refused readings by reason, the ignored claims
// (sorted) and when the last report came (Unix ms; 0 if none), for the
// status message.
func (r *centreReport) snapshot() (map[string]uint64, []string, int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.byReason) == 0 && len(r.claims) == 0 {
		return nil, nil, 0
	}
	return maps.Clone(r.byReason), slices.Sorted(maps.Keys(r.claims)), r.lastMs
}
