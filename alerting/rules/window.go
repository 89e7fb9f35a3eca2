package rules

// window is a rolling mean over event time, kept as a ring of equal buckets
// (sum and count per bucket): memory is fixed per series whatever the
// reporting rate, and adding a reading allocates nothing. The mean covers
// the buckets (head-n, head], so its span is the window rounded to a bucket
// width (1 min for a 1 h window of 60 buckets, 24 min for 24 h).
type window struct {
	width  int64 // ns per bucket
	head   int64 // newest bucket number seen; buckets are t/width
	sums   []float64
	counts []uint32
	ids    []int64 // bucket number held by each slot; -1 empty
}

func newWindow(span int64, n int) *window {
	w := &window{width: span / int64(n), sums: make([]float64, n), counts: make([]uint32, n), ids: make([]int64, n)}
	if w.width <= 0 {
		w.width = 1
	}
	for i := range w.ids {
		w.ids[i] = -1
	}
	w.head = -1
	return w
}

// add puts a reading into the window; false when it is older than the
// window (it cannot change the mean any more).
func (w *window) add(t int64, v float64) bool {
	b := t / w.width
	n := int64(len(w.ids))
	if w.head >= 0 && b <= w.head-n {
		return false
	}
	if b > w.head {
		w.head = b
	}
	s := b % n
	if w.ids[s] != b {
		w.ids[s], w.sums[s], w.counts[s] = b, 0, 0
	}
	w.sums[s] += v
	w.counts[s]++
	return true
}

// mean is the mean of the window ending at the newest bucket, and the
// share of buckets that hold data (the coverage).
func (w *window) mean() (mean, coverage float64) {
	n := int64(len(w.ids))
	var sum float64
	var cnt uint32
	filled := 0
	for i, id := range w.ids {
		// Summing afresh each time avoids the drift of a running sum, and
		// costs n additions (60 by default).
		if id > w.head-n && id <= w.head && w.counts[i] > 0 {
			sum += w.sums[i]
			cnt += w.counts[i]
			filled++
		}
	}
	if cnt == 0 {
		return 0, 0
	}
	return sum / float64(cnt), float64(filled) / float64(n)
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
