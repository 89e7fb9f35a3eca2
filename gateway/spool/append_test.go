package spool

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// appendGroups appends n appends of k records each ("g<i>-<j>") and waits
// until they are durable.
func appendGroups(t *testing.T, s *Spool, n, k int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, n)
	wg.Add(n)
	for i := range n {
		recs := make([][]byte, k)
		for j := range recs {
			recs[j] = fmt.Appendf(nil, "g%04d-%d", i, j)
		}
		s.Append(recs, func(_ uint64, err error) { errs[i] = err; wg.Done() })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// frameEnds returns the offset after each frame of a segment file and
// whether the frame ends an append.
func frameEnds(t *testing.T, path string) (ends []int64, last []bool) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fr := newFrameReader(bytes.NewReader(b[segHeaderSize:]), segHeaderSize, int64(len(b)), 1, 0)
	defer fr.release()
	fr.marks = segVersion(b) >= 2
	for {
		if _, _, _, err := fr.next(nil, false); err == io.EOF {
			return ends, last
		} else if err != nil {
			t.Fatal(err)
		}
		ends, last = append(ends, fr.off), append(last, fr.end)
	}
}

// A crash that leaves an append's first records on disk and not its last
// (a write cut short, a disk that filled in the middle of it) leaves an
// append that was never reported durable: its sender still has it and
// delivers it again. Open cuts such a tail back to the last whole append,
// at every record boundary inside the last append, and counts the repair;
// a part kept would be stored twice once the whole comes again (found by
// the chaos suite as readings of a message stored without its receipt).
func TestOpenKeepsOnlyWholeAppends(t *testing.T) {
	opts := repairOpts
	opts.Dir = t.TempDir()
	h := start(t, opts)
	appendGroups(t, h.Spool, 20, 3)
	h.stop(t)
	ends, last := frameEnds(t, lastSegment(t, opts.Dir))
	n := len(ends)
	if n < 6 || !last[n-1] || last[n-2] || last[n-3] || !last[n-4] {
		t.Fatalf("the last segment's marks are %v, want every third record to end an append", last)
	}
	for _, cut := range []int64{ends[n-3], ends[n-2]} { // after one, after two of the last append's three records
		dir := copyDir(t, opts.Dir)
		if err := os.Truncate(lastSegment(t, dir), cut); err != nil {
			t.Fatal(err)
		}
		s, reg, recs := reopen(t, dir)
		if len(recs) != 19*3 || string(recs[len(recs)-1].Data) != "g0018-2" {
			t.Fatalf("cut at %d: %d records survive, the last %q; want the 19 whole appends", cut, len(recs), recs[len(recs)-1].Data)
		}
		if v := metricValue(t, reg, "cw_gateway_spool_torn_tail_repairs_total"); v != 1 {
			t.Errorf("cut at %d: repairs = %v, want 1", cut, v)
		}
		if v := metricValue(t, reg, "cw_gateway_spool_truncated_bytes_total"); v != float64(cut-ends[n-4]) {
			t.Errorf("cut at %d: truncated bytes = %v, want %d", cut, v, cut-ends[n-4])
		}
		if next := s.Stats().Next; next != 19*3+1 {
			t.Errorf("cut at %d: next index %d, want %d", cut, next, 19*3+1)
		}
		s.Close()
	}
}

// A segment ends with a whole append: an append that does not fit in the
// active segment starts the next one, since a sealed segment, fsynced
// before the next was created, is never cut back.
func TestSegmentsEndWithWholeAppends(t *testing.T) {
	opts := repairOpts // 2 KiB segments
	opts.Dir = t.TempDir()
	h := start(t, opts)
	appendGroups(t, h.Spool, 200, 5)
	h.stop(t)
	segs := segmentFiles(t, opts.Dir)
	if len(segs) < 3 {
		t.Fatalf("%d segments, want several", len(segs))
	}
	for _, name := range segs {
		ends, last := frameEnds(t, filepath.Join(opts.Dir, name))
		if len(ends) == 0 || !last[len(last)-1] {
			t.Errorf("segment %s ends inside an append (marks %v)", name, last)
		}
	}
}

// Segments of format 1, written before appends were marked, are read as
// they were: every record counts as a whole append, nothing is cut.
func TestFormat1SegmentsKeepEveryRecord(t *testing.T) {
	dir := t.TempDir()
	seg := append([]byte("CWSPOOL"), 1)
	for i := range 10 {
		start := len(seg)
		seg = appendFrameHeader(seg, len(rec(i)))
		seg = append(seg, rec(i)...)
		sealFrame(seg[start:], uint64(i+1))
	}
	if err := os.WriteFile(filepath.Join(dir, segmentName(1)), seg, 0o644); err != nil {
		t.Fatal(err)
	}
	s, reg, recs := reopen(t, dir)
	checkRecords(t, recs, 10)
	if v := metricValue(t, reg, "cw_gateway_spool_torn_tail_repairs_total"); v != 0 {
		t.Errorf("repairs = %v, want none", v)
	}
	s.Close()
	// New appends go on in the same segment, marked, and a reopen keeps
	// the old records and the new.
	opts := repairOpts
	opts.Dir = dir
	h := start(t, opts)
	appendN(t, h.Spool, 5, func(i int) []byte { return rec(10 + i) })
	h.stop(t)
	_, _, recs = reopen(t, dir)
	checkRecords(t, recs, 15)
}
