package spool

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

// isStateTest classifies test records: state records start with 's' (door,
// online, alarm changes), gap entries with 'g'.
func isStateTest(rec []byte) bool { return len(rec) > 0 && (rec[0] == 's' || rec[0] == 'g') }

func mixed(i int) []byte {
	if i%5 == 0 {
		return fmt.Appendf(nil, "s-door-%05d", i)
	}
	return fmt.Appendf(nil, "p-temp-%05d", i)
}

// dropRecorder collects OnDrop calls and, like the gateway, appends a gap
// record for each.
type dropRecorder struct {
	mu      sync.Mutex
	dropped []Record
	calls   int
	s       *Spool
}

func (d *dropRecorder) onDrop(recs []Record) {
	d.mu.Lock()
	d.dropped = append(d.dropped, recs...)
	d.calls++
	s := d.s
	d.mu.Unlock()
	// Runs on the committer: Append must not block here.
	s.Append([][]byte{fmt.Appendf(nil, "g-%d-%d", recs[0].Index, len(recs))}, nil)
}

func diskBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	for _, name := range segmentFiles(t, dir) {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		n += fi.Size()
	}
	return n
}

func TestDropPeriodicFirst(t *testing.T) {
	d := &dropRecorder{}
	opts := Options{Dir: t.TempDir(), SegmentBytes: 2048, MaxBytes: 4 * 2048, CommitInterval: CommitEveryAppend,
		IsState: isStateTest, OnDrop: d.onDrop}
	h := start(t, opts)
	d.s = h.Spool
	const n = 400
	for i := 0; i < n; i += 10 { // in groups, so drops happen as the spool fills
		appendN(t, h.Spool, 10, func(j int) []byte { return mixed(i + j) })
	}
	h.stop(t) // the gap appends are committed by now

	if got := diskBytes(t, opts.Dir); got > opts.MaxBytes {
		t.Errorf("%d bytes on disk, MaxBytes %d", got, opts.MaxBytes)
	}
	if d.calls == 0 {
		t.Fatal("nothing dropped; the test does not exercise the policy")
	}
	var lastDropped uint64
	for i, r := range d.dropped {
		if isStateTest(r.Data) {
			t.Fatalf("state record %d %q dropped while periodic ones remained", r.Index, r.Data)
		}
		if i > 0 && r.Index <= d.dropped[i-1].Index {
			t.Fatalf("dropped out of order: %d after %d", r.Index, d.dropped[i-1].Index)
		}
		lastDropped = r.Index
	}
	if v := metricValue(t, h.reg, "cw_gateway_spool_dropped_records_total", "periodic"); v != float64(len(d.dropped)) {
		t.Errorf("dropped{periodic} = %v, want %d", v, len(d.dropped))
	}
	if v := metricValue(t, h.reg, "cw_gateway_spool_dropped_records_total", "state"); v != 0 {
		t.Errorf("dropped{state} = %v, want 0", v)
	}

	_, _, recs := reopen(t, opts.Dir)
	var states, gaps int
	present := map[uint64]bool{}
	for _, r := range recs {
		present[r.Index] = true
		switch r.Data[0] {
		case 's':
			states++
		case 'g':
			gaps++
		case 'p':
			if r.Index < lastDropped {
				t.Errorf("periodic record %d kept although newer %d was dropped", r.Index, lastDropped)
			}
		}
	}
	if states != n/5 {
		t.Errorf("%d state records kept, want all %d", states, n/5)
	}
	if gaps != d.calls {
		t.Errorf("%d gap records, want one per OnDrop call (%d)", gaps, d.calls)
	}
	for _, r := range d.dropped {
		if present[r.Index] {
			t.Errorf("dropped record %d still present", r.Index)
		}
	}
	if len(recs)+len(d.dropped) != n+gaps {
		t.Errorf("%d kept + %d dropped != %d appended", len(recs), len(d.dropped), n+gaps)
	}
}

func TestDropStateWhenNothingPeriodicLeft(t *testing.T) {
	var dropped []Record
	opts := Options{Dir: t.TempDir(), SegmentBytes: 2048, MaxBytes: 4 * 2048, CommitInterval: CommitEveryAppend,
		IsState: isStateTest, OnDrop: func(r []Record) { dropped = append(dropped, r...) }}
	h := start(t, opts)
	const n = 600
	appendN(t, h.Spool, n, func(i int) []byte { return fmt.Appendf(nil, "s-door-%05d", i) })
	h.stop(t)
	if len(dropped) == 0 {
		t.Fatal("nothing dropped")
	}
	if v := metricValue(t, h.reg, "cw_gateway_spool_dropped_records_total", "state"); v != float64(len(dropped)) {
		t.Errorf("dropped{state} = %v, want %d", v, len(dropped))
	}
	// Oldest first: the dropped records are exactly 1..k.
	for i, r := range dropped {
		if r.Index != uint64(i+1) {
			t.Fatalf("dropped[%d] = %d, want %d", i, r.Index, i+1)
		}
	}
	_, _, recs := reopen(t, opts.Dir)
	idx := make([]uint64, len(recs))
	for i, r := range recs {
		idx[i] = r.Index
	}
	if len(recs) == 0 || recs[0].Index != uint64(len(dropped)+1) || !slices.IsSorted(idx) || recs[len(recs)-1].Index != n {
		t.Errorf("kept %d records from %d, want %d..%d", len(recs), recs[0].Index, len(dropped)+1, n)
	}
}
