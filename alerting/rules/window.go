package rules

// window is a rolling mean over event time, kept as a ring of equal buckets
// (sum and count per bucket): memory is fixed per series whatever the
// reporting rate, and adding a reading allocates nothing. The mean covers
// the buckets (head-n, head], so its span is the window rounded to a bucket
// width (1 min for a 1 h window of 60 buckets, 24 min for 24 h). Sums are
// in fixed point (fixed.go), so the mean is exact.
type window struct {
	width  int64  // ns per bucket
	head   int64  // newest bucket number seen; buckets are t/width
	limit  uint32 // readings a bucket takes (maxWindowReadings / buckets)
	sums   []int64
	counts []uint32
	ids    []int64 // bucket number held by each slot; -1 empty
}

// addResult is what became of a reading offered to a window.
type addResult uint8

const (
	added  addResult = iota
	tooOld           // older than the window: it cannot change the mean any more
	full             // its bucket holds its share of maxWindowReadings
)

func newWindow(span int64, n int) *window {
	w := &window{width: span / int64(n), limit: uint32(maxWindowReadings / n),
		sums: make([]int64, n), counts: make([]uint32, n), ids: make([]int64, n)}
	if w.width <= 0 {
		w.width = 1
	}
	for i := range w.ids {
		w.ids[i] = -1
	}
	w.head = -1
	return w
}

// add puts a reading into the window.
func (w *window) add(t int64, v float64) addResult {
	b := t / w.width
	n := int64(len(w.ids))
	if w.head >= 0 && b <= w.head-n {
		return tooOld
	}
	s := b % n
	if w.ids[s] == b && w.counts[s] >= w.limit {
		return full
	}
	if b > w.head {
		w.head = b
	}
	if w.ids[s] != b {
		w.ids[s], w.sums[s], w.counts[s] = b, 0, 0
	}
	w.sums[s] += fixed(v)
	w.counts[s]++
	return added
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
