package rules

import (
	"math"
	"slices"
)

// window is a rolling mean over event time, kept as a ring of equal buckets
// (sum and count per bucket): memory is fixed per series whatever the
// reporting rate, and adding a reading allocates nothing once the buckets'
// memories have grown. The mean covers the buckets (head-n, head], so its
// span is the window rounded to a bucket width (1 min for a 1 h window of
// 60 buckets, 24 min for 24 h). Sums are in fixed point (fixed.go), so the
// mean is exact.
//
// Each bucket remembers the measurement times of the readings it holds (up
// to seenLimit of them), so a reading delivered twice (a gateway resending
// a batch whose acknowledgement it missed, the broker handing a message
// over again after a reconnect or a crash) is recognised and not counted
// twice. A window is one device's one kind, so the time is the reading's
// identity (device, kind, measurement time; the wire carries milliseconds,
// strictly increasing per device).
type window struct {
	width  int64  // ns per bucket
	head   int64  // newest bucket number seen; buckets are t/width
	limit  uint32 // readings a bucket takes (maxWindowReadings / buckets)
	unit   int64  // ns per step of the remembered times: 1 ms, coarser for buckets of more than 49 days
	sums   []int64
	counts []uint32
	ids    []int64    // bucket number held by each slot; -1 empty
	seen   [][]uint32 // per slot: offsets of the readings' times from the bucket's start, in unit, sorted
	top    []uint32   // per slot: the largest offset added
	spill  []bool     // per slot: readings were added beyond seenLimit without being remembered
}

// seenLimit is how many reading times a bucket remembers (4 KiB): for a
// one-minute bucket a reading every 60 ms, for a day's 24-minute buckets
// one every 1.4 s. Beyond it readings are still added; one that is not
// newer than every reading of its bucket and not remembered is added
// without the check (counted: cw_alerting_window_unchecked_total).
const seenLimit = 1024

// addResult is what became of a reading offered to a window.
type addResult uint8

const (
	added     addResult = iota
	unchecked           // added, but its bucket could not tell whether it held it already
	duplicate           // the bucket holds a reading of this time already: not added again
	tooOld              // older than the window: it cannot change the mean any more
	full                // its bucket holds its share of maxWindowReadings
)

func newWindow(span int64, n int) *window {
	w := &window{width: span / int64(n), limit: uint32(maxWindowReadings / n), unit: 1e6,
		sums: make([]int64, n), counts: make([]uint32, n), ids: make([]int64, n),
		seen: make([][]uint32, n), top: make([]uint32, n), spill: make([]bool, n)}
	if w.width <= 0 {
		w.width = 1
	}
	if steps := w.width / w.unit; steps >= math.MaxUint32 {
		w.unit = w.width/math.MaxUint32 + 1
	}
	for i := range w.ids {
		w.ids[i] = -1
	}
	w.head = -1
	return w
}

// add puts a reading into the window.
func (w *window) add(t int64, v float64) addResult {
	if t < 0 {
		return tooOld
	}
	b := t / w.width
	n := int64(len(w.ids))
	if w.head >= 0 && b <= w.head-n {
		return tooOld
	}
	s := b % n
	off := uint32((t - b*w.width) / w.unit)
	res, pos := added, 0
	if w.ids[s] == b {
		if w.counts[s] >= w.limit {
			return full
		}
		if off <= w.top[s] {
			var found bool
			if pos, found = slices.BinarySearch(w.seen[s], off); found {
				return duplicate
			}
			if w.spill[s] {
				res = unchecked
			}
		} else {
			pos = len(w.seen[s])
		}
	} else {
		w.ids[s], w.sums[s], w.counts[s] = b, 0, 0
		w.seen[s], w.top[s], w.spill[s] = w.seen[s][:0], 0, false
	}
	if b > w.head {
		w.head = b
	}
	if len(w.seen[s]) < seenLimit {
		w.seen[s] = slices.Insert(w.seen[s], pos, off)
	} else {
		w.spill[s] = true
	}
	w.top[s] = max(w.top[s], off)
	w.sums[s] += fixed(v)
	w.counts[s]++
	return res
}

// mean is the exact mean of the window ending at the newest bucket, and
// the share of buckets that hold data (the coverage).
func (w *window) mean() (l level, coverage float64) {
	n := int64(len(w.ids))
	filled := 0
	for i, id := range w.ids {
		// Summing afresh each time costs n additions (60 by default) and
		// needs no bookkeeping when buckets leave the window.
		if id > w.head-n && id <= w.head && w.counts[i] > 0 {
			l.sum += w.sums[i]
			l.n += int64(w.counts[i])
			filled++
		}
	}
	if l.n == 0 {
		return level{}, 0
	}
	l.v = float64(l.sum) / float64(l.n) / fixedScale
	return l, float64(filled) / float64(n)
}

// riseRing keeps recent samples to find the lowest value within a span,
// for the rate-of-rise rule. When it is full the oldest sample is dropped,
// which shortens the span looked at (sized for the expected rate).
type riseRing struct {
	t    []int64
	v    []float64
	head int // index of the oldest sample
	n    int
}

func newRiseRing(n int) *riseRing { return &riseRing{t: make([]int64, n), v: make([]float64, n)} }

// add records a sample and returns the lowest value of samples within span
// before t (including this one).
func (r *riseRing) add(t int64, v float64, span int64) float64 {
	c := len(r.t)
	for r.n > 0 && r.t[r.head] < t-span {
		r.head = (r.head + 1) % c
		r.n--
	}
	if r.n == c {
		r.head = (r.head + 1) % c
		r.n--
	}
	i := (r.head + r.n) % c
	r.t[i], r.v[i] = t, v
	r.n++
	lowest := v
	for k := 0; k < r.n; k++ {
		j := (r.head + k) % c
		if r.t[j] >= t-span && r.v[j] < lowest {
			lowest = r.v[j]
		}
	}
	return lowest
}
