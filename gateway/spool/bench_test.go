package spool

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"
)

// benchDir is where benchmarks write: CW_SPOOL_BENCH_DIR if set (point it at
// the SD card to measure the real thing), else a temp dir.
func benchDir(b *testing.B) string {
	if d := os.Getenv("CW_SPOOL_BENCH_DIR"); d != "" {
		dir, err := os.MkdirTemp(d, "spool-bench-")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
		return dir
	}
	return b.TempDir()
}

// reportCommits adds fsyncs per second and the mean fsync latency.
func reportCommits(b *testing.B, s *Spool, elapsed time.Duration) {
	st := s.Stats()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(st.Commits)/elapsed.Seconds(), "fsyncs/s")
	if st.Commits > 0 {
		b.ReportMetric(float64(st.FsyncTime.Microseconds())/float64(st.Commits), "µs/fsync")
		b.ReportMetric(float64(b.N)/float64(st.Commits), "records/fsync")
	}
}

// BenchmarkAppend measures appends of 60-byte records (a reading entry is
// about that size): many in flight with the default group commit, as the
// gateway's MQTT handler produces them, and one at a time with an fsync
// per append.
func BenchmarkAppend(b *testing.B) {
	data := make([]byte, 60)
	for i := range data {
		data[i] = byte('a' + i%26)
	}
	b.Run("group-commit-default", func(b *testing.B) {
		h := start(b, Options{Dir: benchDir(b), MaxBytes: 1 << 30})
		var wg sync.WaitGroup
		done := func(uint64, error) { wg.Done() }
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		t0 := time.Now()
		b.ResetTimer()
		wg.Add(b.N)
		for range b.N {
			h.Append([][]byte{data}, done)
		}
		wg.Wait()
		b.StopTimer()
		reportCommits(b, h.Spool, time.Since(t0))
	})
	b.Run("fsync-per-append", func(b *testing.B) {
		h := start(b, Options{Dir: benchDir(b), MaxBytes: 1 << 30, CommitInterval: CommitEveryAppend})
		ctx := context.Background()
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		t0 := time.Now()
		b.ResetTimer()
		for range b.N {
			if _, err := h.AppendSync(ctx, [][]byte{data}); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		reportCommits(b, h.Spool, time.Since(t0))
	})
}

// BenchmarkRead measures the uplink's forward reads of 1000 records.
func BenchmarkRead(b *testing.B) {
	h := start(b, Options{Dir: benchDir(b), MaxBytes: 1 << 30})
	data := make([]byte, 60)
	const n = 100000
	appendN(b, h.Spool, n, func(int) []byte { return data })
	b.SetBytes(1000 * int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	next := uint64(1)
	for range b.N {
		recs, err := h.Read(next, 1000, 0)
		if err != nil {
			b.Fatal(err)
		}
		if len(recs) < 1000 {
			next = 1
			continue
		}
		next = recs[len(recs)-1].Index + 1
	}
}
