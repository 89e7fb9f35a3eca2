package spool

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

func TestRoundTrip(t *testing.T) {
	h := start(t, Options{})
	first, err := h.AppendSync(context.Background(), [][]byte{[]byte("a"), []byte("bb"), {}})
	if err != nil || first != 1 {
		t.Fatalf("AppendSync = %d, %v; want 1, nil", first, err)
	}
	idx := appendN(t, h.Spool, 5, rec)
	if idx[0] != 4 || idx[4] != 8 {
		t.Fatalf("indexes %v, want 4..8", idx)
	}
	got := readAll(t, h.Spool, 0)
	if len(got) != 8 {
		t.Fatalf("read %d records, want 8", len(got))
	}
	want := [][]byte{[]byte("a"), []byte("bb"), {}}
	for i := range 5 {
		want = append(want, rec(i))
	}
	for i, r := range got {
		if r.Index != uint64(i+1) || !bytes.Equal(r.Data, want[i]) {
			t.Errorf("record %d = {%d %q}, want {%d %q}", i, r.Index, r.Data, i+1, want[i])
		}
	}
	st := h.Stats()
	if st.Depth != 8 || st.Next != 9 || st.Durable != 9 || st.Released != 0 {
		t.Errorf("Stats = %+v", st)
	}
	if v := h.metric(t, "cw_gateway_spool_appended_records_total"); v != 8 {
		t.Errorf("appended_records_total = %v, want 8", v)
	}
	select {
	case <-h.Committed():
	default:
		t.Error("Committed not signalled")
	}
	lint(t, h.reg)
}

func TestRestartResumesAtReleasePoint(t *testing.T) {
	dir := t.TempDir()
	h := start(t, Options{Dir: dir, SegmentBytes: 2048, MaxBytes: 1 << 20})
	appendN(t, h.Spool, 100, rec)
	if err := h.Release(61); err != nil {
		t.Fatal(err)
	}
	if err := h.Release(200); !errors.Is(err, ErrReleaseAhead) {
		t.Errorf("Release(200) = %v, want ErrReleaseAhead", err)
	}
	h.stop(t)

	h = start(t, Options{Dir: dir, SegmentBytes: 2048, MaxBytes: 1 << 20})
	st := h.Stats()
	if st.Released != 61 || st.Depth != 40 || st.Next != 101 {
		t.Fatalf("after restart Stats = %+v, want Released 61, Depth 40, Next 101", st)
	}
	got := readAll(t, h.Spool, st.Released)
	if len(got) != 40 || got[0].Index != 61 || !bytes.Equal(got[0].Data, rec(60)) {
		t.Fatalf("read from release point: %d records, first %+v", len(got), got[0])
	}
	if idx := appendN(t, h.Spool, 1, rec); idx[0] != 101 {
		t.Errorf("index after restart = %d, want 101", idx[0])
	}
}

func TestIndexesNeverReused(t *testing.T) {
	// Everything released and its segments deleted: the next index must
	// still continue, from the checkpoint and the active segment's name.
	dir := t.TempDir()
	opts := Options{Dir: dir, SegmentBytes: 2048, MaxBytes: 1 << 20, CheckpointInterval: -1}
	h := start(t, opts)
	appendN(t, h.Spool, 300, rec)
	if err := h.Release(301); err != nil {
		t.Fatal(err)
	}
	h.stop(t)
	h = start(t, opts)
	if idx := appendN(t, h.Spool, 1, rec); idx[0] != 301 {
		t.Errorf("next index = %d, want 301", idx[0])
	}
}

func TestReleaseDeletesWholeSegments(t *testing.T) {
	dir := t.TempDir()
	h := start(t, Options{Dir: dir, SegmentBytes: 2048, MaxBytes: 1 << 20})
	appendN(t, h.Spool, 300, rec) // 29-byte frames, 70 per segment
	before := segmentFiles(t, dir)
	if len(before) < 4 {
		t.Fatalf("only %d segments", len(before))
	}
	// Release into the middle of the third segment.
	third, _ := parseSegmentName(before[2])
	if err := h.Release(third + 3); err != nil {
		t.Fatal(err)
	}
	h.stop(t) // persists the checkpoint and deletes

	after := segmentFiles(t, dir)
	if len(after) != len(before)-2 || after[0] != before[2] {
		t.Fatalf("segments after release %v, before %v: want the first two deleted", after, before)
	}
	h = start(t, Options{Dir: dir, SegmentBytes: 2048, MaxBytes: 1 << 20})
	got := readAll(t, h.Spool, 0)
	if got[0].Index != third {
		t.Errorf("first record after release = %d, want %d (rest of its segment kept)", got[0].Index, third)
	}
	if st := h.Stats(); st.Depth != 300-int(third+3)+1 {
		t.Errorf("Depth = %d, want %d", st.Depth, 300-int(third+3)+1)
	}
}

func TestReadAcrossSegments(t *testing.T) {
	h := start(t, Options{SegmentBytes: 2048, MaxBytes: 1 << 20})
	const n = 500
	appendN(t, h.Spool, n, rec)
	if segs := h.Stats().Segments; segs < 5 {
		t.Fatalf("only %d segments", segs)
	}
	tests := []struct {
		name                 string
		from                 uint64
		maxRecords, maxBytes int
		wantFirst, wantLen   int
	}{
		{"all", 0, 0, 0, 1, n},
		{"from middle", 123, 0, 0, 123, n - 122},
		{"record limit spans segments", 60, 100, 0, 60, 100},
		{"byte limit", 60, 0, 14 * 10, 60, 10},
		{"byte limit below one record", 7, 0, 1, 7, 1},
		{"past the end", n + 1, 0, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := h.Read(tt.from, tt.maxRecords, tt.maxBytes)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.wantLen {
				t.Fatalf("read %d records, want %d", len(got), tt.wantLen)
			}
			for i, r := range got {
				want := uint64(tt.wantFirst + i)
				if r.Index != want || !bytes.Equal(r.Data, rec(int(want-1))) {
					t.Fatalf("record %d = {%d %q}, want index %d", i, r.Index, r.Data, want)
				}
			}
		})
	}
	// The uplink's pattern: read forward in chunks, as the cursor does.
	next, seen := uint64(1), 0
	for {
		got, err := h.Read(next, 37, 400)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 {
			break
		}
		for _, r := range got {
			if r.Index != next {
				t.Fatalf("chunked read: got %d, want %d", r.Index, next)
			}
			next++
			seen++
		}
	}
	if seen != n {
		t.Errorf("chunked read saw %d records, want %d", seen, n)
	}
}

func TestAppendErrors(t *testing.T) {
	h := start(t, Options{SegmentBytes: 2048, MaxBytes: 1 << 20})
	if _, err := h.AppendSync(context.Background(), [][]byte{make([]byte, 4096)}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized record: %v, want ErrTooLarge", err)
	}
	h.stop(t)
	if _, err := h.AppendSync(context.Background(), [][]byte{[]byte("x")}); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
	if v := metricValue(t, h.reg, "cw_gateway_spool_append_errors_total", "closed"); v != 1 {
		t.Errorf("append_errors_total{reason=closed} = %v", v)
	}
}

func TestGroupCommit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, Options{CommitInterval: 500 * time.Millisecond})
		var got []uint64
		for i := range 3 {
			h.Append([][]byte{rec(i)}, func(first uint64, err error) {
				if err != nil {
					t.Error(err)
				}
				got = append(got, first)
			})
		}
		synctest.Wait()
		if len(got) != 0 || h.Stats().Commits != 0 {
			t.Fatalf("committed before the interval: %v", got)
		}
		time.Sleep(500 * time.Millisecond)
		synctest.Wait()
		if len(got) != 3 || h.Stats().Commits != 1 {
			t.Fatalf("after the interval: done %v, commits %d; want 3 records in 1 commit", got, h.Stats().Commits)
		}
		h.stop(t)
	})
}

// TestOneCommitPerInterval: records that arrive while a timed commit is
// being made wait for the next interval instead of getting an fsync of
// their own at once (which would double the fsyncs under steady load).
func TestOneCommitPerInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, Options{CommitInterval: 500 * time.Millisecond})
		done := make(chan uint64, 2)
		// The first record's callback runs on the committer, inside the
		// timed commit: the record it appends arrives "during" that commit.
		h.Append([][]byte{rec(0)}, func(first uint64, err error) {
			done <- first
			h.Append([][]byte{rec(1)}, func(first uint64, err error) { done <- first })
		})
		time.Sleep(500 * time.Millisecond)
		synctest.Wait()
		if c := h.Stats().Commits; c != 1 || len(done) != 1 {
			t.Fatalf("at the first tick: %d commits, %d records durable; want 1 and 1", c, len(done))
		}
		time.Sleep(500 * time.Millisecond)
		synctest.Wait()
		if c := h.Stats().Commits; c != 2 || len(done) != 2 {
			t.Fatalf("at the second tick: %d commits, %d records durable; want 2 and 2", c, len(done))
		}
		h.stop(t)
	})
}

func TestCheckpointBatched(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, Options{CheckpointInterval: 5 * time.Second})
		appendN(t, h.Spool, 10, rec)
		for i := uint64(2); i <= 10; i++ {
			if err := h.Release(i); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		if v := h.metric(t, "cw_gateway_spool_checkpoint_writes_total"); v != 0 {
			t.Fatalf("checkpoint written before the interval: %v", v)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if v := h.metric(t, "cw_gateway_spool_checkpoint_writes_total"); v != 1 {
			t.Fatalf("checkpoint writes after the interval = %v, want 1", v)
		}
		h.stop(t)
	})
}

// TestSegmentFormat pins the on-disk format documented in doc.go.
func TestSegmentFormat(t *testing.T) {
	dir := t.TempDir()
	h := start(t, Options{Dir: dir})
	if _, err := h.AppendSync(context.Background(), [][]byte{[]byte("door open"), []byte("t=23.5")}); err != nil {
		t.Fatal(err)
	}
	h.stop(t)
	got, err := os.ReadFile(filepath.Join(dir, segmentName(1)))
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "segment.golden")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("segment bytes differ from %s (run with -update if the format change is intended)\ngot  %x\nwant %x", golden, got, want)
	}
}
