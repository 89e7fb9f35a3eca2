package spool

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

var repairOpts = Options{SegmentBytes: 2048, MaxBytes: 1 << 20, CommitInterval: CommitEveryAppend}

// fixture writes n records into a fresh spool and returns its directory.
func fixture(t *testing.T, n int) string {
	t.Helper()
	opts := repairOpts
	opts.Dir = t.TempDir()
	h := start(t, opts)
	appendN(t, h.Spool, n, rec)
	h.stop(t)
	return opts.Dir
}

// copyDir copies the spool files of src into a new temp dir.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// frameOffsets returns the offset of every frame in a segment file and the
// file's size.
func frameOffsets(t *testing.T, path string) ([]int64, int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fr := newFrameReader(bytes.NewReader(b[segHeaderSize:]), segHeaderSize, int64(len(b)), 1, 0)
	var offs []int64
	for {
		at := fr.off
		if _, _, _, err := fr.next(nil, false); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		offs = append(offs, at)
	}
	return offs, int64(len(b))
}

// reopen opens dir with a fresh registry and reads every record.
func reopen(t *testing.T, dir string) (*Spool, *prometheus.Registry, []Record) {
	t.Helper()
	reg := prometheus.NewRegistry()
	opts := repairOpts
	opts.Dir, opts.Registerer = dir, reg
	s, err := Open(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	recs, err := s.Read(0, 0, 0)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return s, reg, recs
}

func checkRecords(t *testing.T, recs []Record, n int) {
	t.Helper()
	if len(recs) != n {
		t.Fatalf("%d records survive, want %d", len(recs), n)
	}
	for i, r := range recs {
		if r.Index != uint64(i+1) || !bytes.Equal(r.Data, rec(i)) {
			t.Fatalf("record %d = {%d %q}", i, r.Index, r.Data)
		}
	}
}

func lastSegment(t *testing.T, dir string) string {
	t.Helper()
	segs := segmentFiles(t, dir)
	return filepath.Join(dir, segs[len(segs)-1])
}

func TestTornTailEveryOffset(t *testing.T) {
	const n = 100
	src := fixture(t, n)
	offs, size := frameOffsets(t, lastSegment(t, src))
	if len(offs) < 3 {
		t.Fatalf("last segment has %d records", len(offs))
	}
	inLast := len(offs)
	// Cut at every byte of the last two records.
	for cut := offs[inLast-2]; cut < size; cut++ {
		dir := copyDir(t, src)
		if err := os.Truncate(lastSegment(t, dir), cut); err != nil {
			t.Fatal(err)
		}
		// Records wholly before the cut survive; a cut exactly between
		// two records tears nothing.
		survivors, boundary := n-inLast, false
		for _, o := range offs {
			if o < cut {
				survivors++
			}
			boundary = boundary || o == cut
		}
		wantRepairs := 0.0
		if !boundary {
			wantRepairs = 1
			survivors-- // the torn record
		}
		s, reg, recs := reopen(t, dir)
		checkRecords(t, recs, survivors)
		if v := metricValue(t, reg, "cw_gateway_spool_torn_tail_repairs_total"); v != wantRepairs {
			t.Fatalf("cut %d: repairs = %v, want %v", cut, v, wantRepairs)
		}
		if next := s.Stats().Next; next != uint64(survivors+1) {
			t.Fatalf("cut %d: next index %d, want %d", cut, next, survivors+1)
		}
		s.Close()
	}
}

func TestGarbageTail(t *testing.T) {
	src := fixture(t, 50)
	tests := []struct {
		name    string
		garbage []byte
	}{
		{"zeros", make([]byte, 4096)},
		{"short", []byte{7}},
		{"random", []byte("\x13\x00\x00\x00\xde\xad\xbe\xef\x33\x00\x00\x00\x00\x00\x00\x00garbage-garbage")},
		{"huge length", []byte{0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 51, 0, 0, 0, 0, 0, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyDir(t, src)
			f, err := os.OpenFile(lastSegment(t, dir), os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.Write(tt.garbage)
			f.Close()
			_, reg, recs := reopen(t, dir)
			checkRecords(t, recs, 50)
			if v := metricValue(t, reg, "cw_gateway_spool_torn_tail_repairs_total"); v != 1 {
				t.Errorf("repairs = %v, want 1", v)
			}
			if v := metricValue(t, reg, "cw_gateway_spool_truncated_bytes_total"); v != float64(len(tt.garbage)) {
				t.Errorf("truncated bytes = %v, want %d", v, len(tt.garbage))
			}
		})
	}
}

func TestCorruptRecordInLastSegment(t *testing.T) {
	const n = 100
	src := fixture(t, n)
	offs, size := frameOffsets(t, lastSegment(t, src))
	bad := len(offs) / 2 // a record in the middle of the last segment
	dir := copyDir(t, src)
	f, err := os.OpenFile(lastSegment(t, dir), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{'!'}, offs[bad]+frameHeaderSize+2); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, reg, recs := reopen(t, dir)
	checkRecords(t, recs, n-len(offs)+bad)
	if v := metricValue(t, reg, "cw_gateway_spool_torn_tail_repairs_total"); v != 1 {
		t.Errorf("repairs = %v, want 1", v)
	}
	if v := metricValue(t, reg, "cw_gateway_spool_truncated_bytes_total"); v != float64(size-offs[bad]) {
		t.Errorf("truncated bytes = %v, want %d", v, size-offs[bad])
	}
}

func TestCorruptSealedSegment(t *testing.T) {
	src := fixture(t, 100)
	segs := segmentFiles(t, src)
	path := filepath.Join(src, segs[0])
	offs, _ := frameOffsets(t, path)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte{'!'}, offs[3]+frameHeaderSize)
	f.Close()
	opts := repairOpts
	opts.Dir = src
	_, err = Open(opts)
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Offset != offs[3] {
		t.Fatalf("Open = %v, want *CorruptError at offset %d", err, offs[3])
	}
}

func TestTornSegmentHeader(t *testing.T) {
	src := fixture(t, 10)
	dir := copyDir(t, src)
	// A rotation cut short: the new segment exists with part of its header.
	if err := os.WriteFile(filepath.Join(dir, segmentName(11)), []byte("CWS"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, reg, recs := reopen(t, dir)
	checkRecords(t, recs, 10)
	if v := metricValue(t, reg, "cw_gateway_spool_torn_tail_repairs_total"); v != 1 {
		t.Errorf("repairs = %v, want 1", v)
	}
	if next := s.Stats().Next; next != 11 {
		t.Errorf("next = %d, want 11", next)
	}
}

func TestBadCheckpointIgnored(t *testing.T) {
	dir := copyDir(t, fixture(t, 10))
	if err := os.WriteFile(filepath.Join(dir, checkpointName), []byte("not a checkpoint"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, reg, recs := reopen(t, dir)
	checkRecords(t, recs, 10)
	if st := s.Stats(); st.Released != 0 || st.Depth != 10 {
		t.Errorf("Stats = %+v, want nothing released", st)
	}
	if v := metricValue(t, reg, "cw_gateway_spool_checkpoint_corrupt_total"); v != 1 {
		t.Errorf("checkpoint_corrupt_total = %v, want 1", v)
	}
}
