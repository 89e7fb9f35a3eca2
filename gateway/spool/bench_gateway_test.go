package spool

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/internal/testenv"
	"github.com/cradlewatch/cradlewatch/model"
)

// Shape of the gateway's traffic: the MQTT handler appends the readings of
// a group of messages at once, the uplink reads batches of up to 1000
// records or 256 KiB and releases them when the centre acknowledges.
const (
	benchGroup      = 64
	benchReadMax    = 1000
	benchReadBytes  = 256 << 10
	benchCommitWait = 20 * time.Millisecond // short, so the last group is not timed waiting for the 500 ms tick
)

// benchEntries returns n reading entries as the gateway stores them (25 or
// 26 bytes each), one in eight a state change (a door).
func benchEntries(n int) [][]byte {
	out := make([][]byte, n)
	t0 := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	for i := range out {
		r := model.Reading{Device: "th-0017", Room: "room-2", Kind: model.KindTemperature,
			Time: t0.Add(time.Duration(i) * time.Second), Value: 21.5 + float64(i%10)/10}
		if i%8 == 7 {
			r.Kind, r.Device, r.Value = model.KindDoor, "door-03", 1
		}
		out[i] = model.AppendReadingEntry(nil, &r)
	}
	return out
}

// BenchmarkGatewayPath runs the spool as the gateway does: one goroutine
// appends groups of 64 records, another reads batches and releases them.
// One op is one record, so ns/op and B/op are per record; cpu-ns/record is
// the process's user+system CPU time per record, which counts the
// committer, the reader and the garbage collector too, and allocs/record
// is allocs/op with its fraction.
func BenchmarkGatewayPath(b *testing.B) {
	for _, mode := range []struct {
		name string
		into bool
	}{{"Read", false}, {"ReadInto", true}} {
		b.Run(mode.name, func(b *testing.B) { benchGatewayPath(b, mode.into) })
	}
}

func benchGatewayPath(b *testing.B, into bool) {
	h := start(b, Options{Dir: benchDir(b), MaxBytes: 1 << 30, CommitInterval: benchCommitWait,
		CheckpointInterval: 100 * time.Millisecond, IsState: model.EntryIsState})
	group := benchEntries(benchGroup)
	size := 0
	for _, r := range group {
		size += len(r)
	}
	var acked atomic.Int64
	done := func(uint64, error) { acked.Add(1) }
	total := uint64(b.N)

	readErr := make(chan error, 1)
	b.ReportAllocs()
	b.SetBytes(int64(size / len(group)))
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu0 := testenv.ProcessCPU()
	t0 := time.Now()
	b.ResetTimer()
	go func() {
		next := uint64(1)
		var buf ReadBuffer
		for next <= total {
			var recs []Record
			var err error
			if into {
				err = h.ReadInto(&buf, next, benchReadMax, benchReadBytes)
				recs = buf.Records
			} else {
				recs, err = h.Read(next, benchReadMax, benchReadBytes)
			}
			if err != nil {
				readErr <- err
				return
			}
			if len(recs) == 0 {
				<-h.Committed()
				continue
			}
			next = recs[len(recs)-1].Index + 1
			if err := h.Release(next); err != nil {
				readErr <- err
				return
			}
		}
		readErr <- nil
	}()
	for left := b.N; left > 0; left -= benchGroup {
		h.Append(group[:min(left, benchGroup)], done)
	}
	if err := <-readErr; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	elapsed := time.Since(t0)
	b.ReportMetric(float64(testenv.ProcessCPU()-cpu0)/float64(b.N), "cpu-ns/record")
	// allocs/op is rounded down to an integer; this keeps the fraction.
	runtime.ReadMemStats(&ms1)
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(b.N), "allocs/record")
	reportCommits(b, h.Spool, elapsed)
}
