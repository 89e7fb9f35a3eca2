package rules

import (
	"time"

	"github.com/cradlewatch/cradlewatch/model"
)

// Remember gives the thresholds back what a batch evaluated at evaluated
// taught them, without judging anything: each rolling mean takes the
// readings (a reading it holds already is not counted again) and each
// threshold's last value and time follow, as ObserveBatch left them. It is
// for the service's journal of what it evaluated since its last snapshot
// of the rules' memory (SnapshotSeries): after a crash, RestoreSeries and
// then Remember for each journalled batch give the windows that a run
// without the crash has. Alerts are not touched (their state comes from
// the state store), nor are the rate-of-rise samples, the ventilation
// count and the devices' clocks, which the snapshot does not hold either.
// Readings ObserveBatch refused at evaluated are refused again.
func (e *Engine) Remember(b *model.Batch, evaluated time.Time) {
	f := e.fac[b.Facility]
	if f == nil {
		return
	}
	now := evaluated.UnixNano()
	for i := range b.Readings {
		r := &b.Readings[i]
		t := r.Time.UnixNano()
		if t > now+e.maxFuture || !r.Kind.InRange(r.Value) {
			continue
		}
		d, err := e.device(f, r.Device, r.Room, false) // finds it, or learns it as observe does
		if err != nil {
			continue
		}
		s, err := e.series(f, d, r.Kind)
		if err != nil {
			continue
		}
		for _, th := range s.thresholds {
			th.remember(t, r.Value)
		}
	}
}

// remember is observe without the verdict.
func (th *threshold) remember(t int64, v float64) {
	value := single(v)
	if th.win != nil {
		if r := th.win.add(t, v); r != added && r != unchecked {
			return
		}
		mean, cov := th.win.mean()
		if cov < th.a.p.minCoverage {
			return
		}
		value = mean
		t = max(t, th.lastT)
	} else if th.has && t < th.lastT {
		return
	}
	th.last, th.lastT, th.has, th.lastLive = value, t, true, false
}
