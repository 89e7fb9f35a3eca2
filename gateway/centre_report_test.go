package gateway

import (
	"bytes"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/model"
)

// TestCentreReport: the rejections and ignored claims of the collector's
// acknowledgements are counted by reason (an unknown reason as "other",
// never a label taken from the wire), logged once per reason and interval,
// carried in the status, and counted once however often a resent batch is
// acknowledged.
func TestCentreReport(t *testing.T) {
	h := newHarness(t, newFakeSpool(), LaneConfig{BacklogBatches: 100})
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	h.u.report = newCentreReport(reg, slog.New(slog.NewTextHandler(&logs, nil)))
	h.readings(40, time.Second)
	h.u.fill()
	sent := h.pub.take()
	if len(sent) != 4 {
		t.Fatalf("sent %d batches, want 4", len(sent))
	}
	ack := func(b model.Batch, mutate func(*model.Ack)) {
		a := model.Ack{V: model.WireVersion, First: b.First, Count: b.Covers(), Status: model.AckStored}
		mutate(&a)
		h.u.handleAck(a)
	}
	// Batch 0: three unregistered, one too old, a claim ignored.
	ack(sent[0], func(a *model.Ack) {
		a.Reject(model.RejectUnregisteredDevice, 3)
		a.Reject(model.RejectTooOld, 1)
		a.Ignore(model.RejectRegionMismatch)
	})
	// The same ack again (a resent batch acknowledged twice): not counted.
	ack(sent[0], func(a *model.Ack) {
		a.Reject(model.RejectUnregisteredDevice, 3)
		a.Reject(model.RejectTooOld, 1)
		a.Ignore(model.RejectRegionMismatch)
	})
	// Batch 1, a minute later: the same reasons again, and one of a newer
	// centre's that this gateway does not know.
	h.clock = h.clock.Add(time.Minute)
	ack(sent[1], func(a *model.Ack) {
		a.Reject(model.RejectUnregisteredDevice, 2)
		a.Reject("quantum_flux", 4)
		a.Ignore(model.RejectRegionMismatch)
		a.Ignore("made_up_claim")
	})
	// Batch 2: refused as a whole (the old form: Reason and Rejected only).
	ack(sent[2], func(a *model.Ack) {
		a.Status, a.Reason, a.Rejected = model.AckRejected, model.RejectUnregisteredGateway, 10
	})
	// Batch 3: all stored, nothing to report.
	ack(sent[3], func(*model.Ack) {})

	r := h.u.report
	for reason, want := range map[string]float64{model.RejectUnregisteredDevice: 5, model.RejectTooOld: 1, model.RejectOther: 4,
		model.RejectUnregisteredGateway: 10, model.RejectFuture: 0} {
		if got := h.counter(r.rejected.WithLabelValues(reason)); got != want {
			t.Errorf("cw_gateway_centre_rejected_readings_total{reason=%q} = %v, want %v", reason, got, want)
		}
	}
	for claim, want := range map[string]float64{model.RejectRegionMismatch: 2, model.RejectOther: 1, model.RejectBadRegion: 0} {
		if got := h.counter(r.ignored.WithLabelValues(claim)); got != want {
			t.Errorf("cw_gateway_centre_ignored_claims_total{claim=%q} = %v, want %v", claim, got, want)
		}
	}
	if got := h.counter(h.u.m.rejected); got != 20 {
		t.Errorf("cw_gateway_uplink_readings_rejected_total = %v, want 20", got)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	known := append(slices.Clone(model.RejectReasons), model.RejectOther)
	for _, mf := range mfs {
		if n := len(mf.GetMetric()); n != len(known) {
			t.Errorf("%s has %d series, want %d (the known reasons and other)", mf.GetName(), n, len(known))
		}
		for _, m := range mf.GetMetric() {
			if v := m.GetLabel()[0].GetValue(); !slices.Contains(known, v) {
				t.Errorf("%s{%s}: a label value from the wire", mf.GetName(), v)
			}
		}
	}

	// The status says it all, as of the last report.
	byReason, claims, at := r.snapshot()
	wantReasons := map[string]uint64{model.RejectUnregisteredDevice: 5, model.RejectTooOld: 1, model.RejectOther: 4, model.RejectUnregisteredGateway: 10}
	if !maps.Equal(byReason, wantReasons) || !slices.Equal(claims, []string{model.RejectOther, model.RejectRegionMismatch}) || at != h.clock.UnixMilli() {
		t.Errorf("status: %v %v %d", byReason, claims, at)
	}
	st := model.Status{V: model.WireVersion, State: model.GatewayOnline, CentreRejected: byReason, CentreIgnored: claims, CentreReportMs: at}
	back, err := model.DecodeStatus(model.EncodeStatus(st))
	if err != nil || !maps.Equal(back.CentreRejected, wantReasons) || !slices.Equal(back.CentreIgnored, claims) || back.CentreReportMs != at {
		t.Errorf("status round trip: %+v, %v", back, err)
	}

	// Logged once per reason within the interval: batch 1's repeats are
	// not logged again; a reason repeated after the interval is.
	for _, want := range []struct {
		what string
		n    int
	}{
		{"reason=" + model.RejectUnregisteredDevice, 1}, {"reason=" + model.RejectTooOld, 1}, {"reason=" + model.RejectOther, 1},
		{"reason=" + model.RejectUnregisteredGateway, 1}, {"claim=" + model.RejectRegionMismatch, 1}, {"claim=" + model.RejectOther, 1},
	} {
		if got := strings.Count(logs.String(), want.what+" "); got != want.n {
			t.Errorf("%s logged %d times, want %d:\n%s", want.what, got, want.n, logs.String())
		}
	}
	if strings.Contains(logs.String(), "quantum_flux") || strings.Contains(logs.String(), "made_up_claim") {
		t.Error("a reason from the wire reached the log as it came")
	}
	h.readings(10, time.Second)
	h.u.fill()
	more := h.pub.take()
	h.clock = h.clock.Add(centreReportLogEvery)
	ack(more[0], func(a *model.Ack) { a.Reject(model.RejectUnregisteredDevice, 1) })
	if got := strings.Count(logs.String(), "reason="+model.RejectUnregisteredDevice+" "); got != 2 {
		t.Errorf("after the interval the reason was logged %d times in all, want 2", got)
	}
}

// A gateway that has heard nothing of the kind reports nothing: the
// status carries no empty map (omitempty keeps old statuses unchanged).
func TestCentreReportEmpty(t *testing.T) {
	r := newCentreReport(prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	r.record(model.Ack{V: model.WireVersion, First: 1, Count: 5, Status: model.AckStored}, testStart)
	if byReason, claims, at := r.snapshot(); byReason != nil || claims != nil || at != 0 {
		t.Errorf("snapshot %v %v %d, want nothing", byReason, claims, at)
	}
	if b := model.EncodeStatus(model.Status{State: model.GatewayOnline}); strings.Contains(string(b), "centre_") {
		t.Errorf("an empty report in the status: %s", b)
	}
}
