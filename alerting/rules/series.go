package rules

import (
	"encoding/binary"
	"math"
	"time"
)

// SeriesVersion is the layout version of SeriesSnapshot. Version 1 kept a
// window's sums as floating-point numbers (WindowState.Sums); they are read
// and converted to fixed point. Version 2 keeps them in fixed point
// (WindowState.Fixed), the judged level exactly (ThresholdState.Sum, N)
// and the reading times each bucket remembers (WindowState.Seen).
const SeriesVersion = 2

// SeriesSnapshot is what the engine's thresholds know between readings:
// each one's last value and, for a rolling mean, its buckets. The service
// saves it periodically and at shutdown and gives it back at start, so a
// restart in the middle of an hour does not reset the hourly CO2 mean, nor
// a 24-hour PM2.5 mean, nor forget that a door is open.
type SeriesSnapshot struct {
	Version    int              `json:"version"`
	Taken      time.Time        `json:"taken"`
	Thresholds []ThresholdState `json:"thresholds"`
	// Journal is the service's: the last of its journals of evaluated
	// batches that the snapshot covers (see Remember); 0 none.
	Journal uint64 `json:"journal,omitempty"`
}

// ThresholdState is one threshold's memory, keyed by its alert's
// fingerprint (rule, facility, room, device).
type ThresholdState struct {
	Fingerprint string `json:"fingerprint"`
	// Judged: Value and Time hold the last value judged (the mean, for a
	// window) and its event time in Unix ns; a window below its
	// min_coverage has buckets but no verdict yet.
	Judged bool    `json:"judged"`
	Value  float64 `json:"value"`
	// Sum and N are the judged level exactly: the sum of N readings in
	// steps of 1e-7 of the unit (one reading: N is 1). Absent (version 1):
	// Value, rounded to a step.
	Sum    int64        `json:"sum,omitempty"`
	N      int64        `json:"n,omitempty"`
	Time   int64        `json:"time_ns"`
	Window *WindowState `json:"window,omitempty"`
}

// WindowState is a rolling mean's ring: the buckets up to Head (bucket
// number = event time / Width), oldest first; a bucket without data has
// count 0. Fixed holds the sums in steps of 1e-7 of the unit; Sums, the
// floating-point sums of version 1, is only read. Seen holds, per bucket,
// the measurement times of its readings, so a reading delivered again after
// a restart is still recognised: offsets from the bucket's start in steps
// of SeenUnit ns, as uvarints, the first one the largest offset added plus
// one when the bucket remembers only some of its readings (0 when all),
// then the offsets in increasing order, each as its difference from the
// previous one. A bucket without Seen (version 1) cannot tell, and its
// readings are added again unchecked.
type WindowState struct {
	Width    int64     `json:"width_ns"`
	Head     int64     `json:"head"`
	Sums     []float64 `json:"sums,omitempty"`
	Fixed    []int64   `json:"fixed"`
	Counts   []uint32  `json:"counts"`
	SeenUnit int64     `json:"seen_unit_ns,omitempty"`
	Seen     [][]byte  `json:"seen,omitempty"`
}

// SnapshotSeries copies every threshold's memory. It allocates; call it
// every few minutes, not per reading.
func (e *Engine) SnapshotSeries(taken time.Time) SeriesSnapshot {
	s := SeriesSnapshot{Version: SeriesVersion, Taken: taken}
	for _, f := range e.fac {
		for _, th := range f.thresholds {
			// A mean not yet judged (below min_coverage) still has
			// buckets to keep.
			if !th.has && (th.win == nil || th.win.head < 0) {
				continue
			}
			ts := ThresholdState{Fingerprint: th.a.Fingerprint, Judged: th.has, Value: finite(th.last.v),
				Sum: th.last.sum, N: th.last.n, Time: th.lastT}
			if th.win != nil {
				ts.Window = th.win.state()
			}
			s.Thresholds = append(s.Thresholds, ts)
		}
	}
	// Memory of thresholds not built again since the last restore (a
	// device not heard from yet) is kept for the next start.
	for _, ts := range e.restoringSeries {
		s.Thresholds = append(s.Thresholds, ts)
	}
	return s
}

// RestoreSeries gives the thresholds their memory back, after the
// facilities were added; thresholds built later (a device first heard
// after the start) get theirs when they are built. A window whose rule
// changed its span or buckets is dropped and counted. It returns how many
// were applied now. A restored value counts as replayed: it is announced
// only once the facility has caught up.
func (e *Engine) RestoreSeries(s SeriesSnapshot) int {
	for _, ts := range s.Thresholds {
		e.restoringSeries[ts.Fingerprint] = ts
	}
	n := 0
	for _, f := range e.fac {
		for _, th := range f.thresholds {
			if e.restoreSeries(th) {
				n++
			}
		}
	}
	return n
}

// restoreSeries applies the restored memory of th, if any.
func (e *Engine) restoreSeries(th *threshold) bool {
	ts, ok := e.restoringSeries[th.a.Fingerprint]
	if !ok {
		return false
	}
	delete(e.restoringSeries, th.a.Fingerprint)
	if (ts.Window == nil) != (th.win == nil) || (th.win != nil && !th.win.restore(ts.Window)) {
		e.m.seriesRestored.WithLabelValues("changed").Inc()
		return false
	}
	th.last, th.lastT, th.has, th.lastLive = ts.level(), ts.Time, ts.Judged, false
	e.m.seriesRestored.WithLabelValues("applied").Inc()
	return true
}

// level is the judged level: exact from version 2, the value rounded to a
// step from version 1.
func (ts ThresholdState) level() level {
	if ts.N > 0 {
		return level{sum: ts.Sum, n: ts.N, v: ts.Value}
	}
	if math.IsNaN(ts.Value) || math.IsInf(ts.Value, 0) {
		return level{}
	}
	return level{sum: fixedLimit(ts.Value), n: 1, v: ts.Value}
}

func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

func (w *window) state() *WindowState {
	n := int64(len(w.ids))
	s := &WindowState{Width: w.width, Head: w.head, Fixed: make([]int64, n), Counts: make([]uint32, n),
		SeenUnit: w.unit, Seen: make([][]byte, n)}
	if w.head < 0 {
		return s
	}
	for i := int64(0); i < n; i++ {
		b := w.head - n + 1 + i
		if b < 0 {
			continue
		}
		slot := b % n
		if w.ids[slot] == b {
			s.Fixed[i], s.Counts[i] = w.sums[slot], w.counts[slot]
			s.Seen[i] = w.seenState(slot)
		}
	}
	return s
}

// restore loads a saved ring; false when it does not fit this window. A
// version 1 ring's floating-point sums are rounded to fixed point.
func (w *window) restore(s *WindowState) bool {
	n := int64(len(w.ids))
	v1 := s.Fixed == nil && s.Sums != nil
	if s.Width != w.width || int64(len(s.Counts)) != n || (v1 && int64(len(s.Sums)) != n) || (!v1 && int64(len(s.Fixed)) != n) {
		return false
	}
	for i := range w.ids {
		w.ids[i], w.sums[i], w.counts[i] = -1, 0, 0
		w.seen[i], w.top[i], w.spill[i] = w.seen[i][:0], 0, false
	}
	w.head = s.Head
	if s.Head < 0 {
		return true
	}
	for i := int64(0); i < n; i++ {
		b := s.Head - n + 1 + i
		if b < 0 || s.Counts[i] == 0 || s.Counts[i] > w.limit {
			continue
		}
		sum := int64(0)
		if v1 {
			mean := s.Sums[i] / float64(s.Counts[i])
			if math.IsNaN(mean) || math.IsInf(mean, 0) || math.Abs(mean) > fixedLimitBound {
				continue
			}
			sum = fixed(s.Sums[i])
		} else {
			sum = s.Fixed[i]
			if mean := sum / int64(s.Counts[i]); mean > fixedLimit(fixedLimitBound) || mean < fixedLimit(-fixedLimitBound) {
				continue // not a window this engine wrote: it could overflow the mean
			}
		}
		slot := b % n
		w.ids[slot], w.sums[slot], w.counts[slot] = b, sum, s.Counts[i]
		var seen []byte
		if s.SeenUnit == w.unit && int64(len(s.Seen)) == n {
			seen = s.Seen[i]
		}
		if !w.restoreSeen(slot, seen) {
			// Which readings it holds is not known: every reading of this
			// bucket is added unchecked.
			w.seen[slot], w.top[slot], w.spill[slot] = w.seen[slot][:0], math.MaxUint32, true
		}
	}
	return true
}

// seenState encodes the reading times a slot remembers (see WindowState).
func (w *window) seenState(slot int64) []byte {
	var first uint64
	if w.spill[slot] {
		first = uint64(w.top[slot]) + 1
	}
	out := binary.AppendUvarint(make([]byte, 0, 2+2*len(w.seen[slot])), first)
	prev := uint32(0)
	for _, off := range w.seen[slot] {
		out = binary.AppendUvarint(out, uint64(off-prev))
		prev = off
	}
	return out
}

// restoreSeen decodes a slot's reading times; false when b is missing or
// does not decode to increasing offsets within the bucket.
func (w *window) restoreSeen(slot int64, b []byte) bool {
	if len(b) == 0 {
		return false
	}
	first, n := binary.Uvarint(b)
	if n <= 0 || first > math.MaxUint32+1 {
		return false
	}
	b = b[n:]
	seen := w.seen[slot][:0]
	prev, maxOff := uint64(0), uint64(w.width/w.unit)
	for len(b) > 0 && len(seen) < seenLimit {
		d, n := binary.Uvarint(b)
		if n <= 0 || (len(seen) > 0 && d == 0) || prev+d > maxOff {
			return false
		}
		prev += d
		seen = append(seen, uint32(prev))
		b = b[n:]
	}
	if len(b) > 0 {
		return false
	}
	w.seen[slot], w.spill[slot] = seen, first > 0
	switch {
	case first > 0:
		w.top[slot] = uint32(first - 1)
	case len(seen) > 0:
		w.top[slot] = seen[len(seen)-1]
	}
	if uint64(len(seen)) > uint64(w.counts[slot]) || (first == 0 && uint64(len(seen)) != uint64(w.counts[slot])) {
		return false // it remembers all its readings, or fewer, never more
	}
	return true
}
