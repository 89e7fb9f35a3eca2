package recordlog

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// record i's content: distinct, of varying length, JSON-like like the
// logs' real records.
func record(i int) []byte {
	return fmt.Appendf(nil, `{"seq":%d,"pad":%q}`, i, strings.Repeat("x", i%37))
}

type opened struct {
	l    *Log
	recs [][]byte
	reg  *prometheus.Registry
}

func open(t *testing.T, path string) opened {
	t.Helper()
	reg := prometheus.NewRegistry()
	var recs [][]byte
	l, err := Open(Options{Path: path, Name: "test", Registerer: reg}, func(b []byte) error {
		recs = append(recs, append([]byte(nil), b...))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return opened{l, recs, reg}
}

// writeLog creates a log of n records and returns its path and the byte
// offset of each record.
func writeLog(t *testing.T, n int) (string, []int64) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "log")
	o := open(t, path)
	var offs []int64
	for i := range n {
		offs = append(offs, o.l.Size())
		if err := o.l.Write(record(i)); err != nil { // Close fsyncs
			t.Fatal(err)
		}
	}
	if err := o.l.Close(); err != nil {
		t.Fatal(err)
	}
	return path, offs
}

func seqs(recs [][]byte) []int {
	var out []int
	for _, r := range recs {
		var i int
		fmt.Sscanf(string(r), `{"seq":%d`, &i)
		out = append(out, i)
	}
	return out
}

func upTo(n int, skip ...int) []int {
	var out []int
	for i := range n {
		if !slices.Contains(skip, i) {
			out = append(out, i)
		}
	}
	return out
}

func metric(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				if m.GetCounter() != nil {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func mutate(t *testing.T, path string, f func(b []byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, f(b), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestAppendReopen(t *testing.T) {
	path, _ := writeLog(t, 20)
	o := open(t, path)
	if got := seqs(o.recs); !slices.Equal(got, upTo(20)) {
		t.Fatalf("records %v", got)
	}
	if r := o.l.Recovery(); len(r.Regions) != 0 || r.Err() != nil || r.Records != 20 {
		t.Fatalf("recovery %+v", r)
	}
	// Write without fsync, then Close: Close makes it durable.
	if err := o.l.Write(record(20), record(21)); err != nil {
		t.Fatal(err)
	}
	o.l.Close()
	if err := o.l.Append(record(22)); err == nil {
		t.Fatal("append after close succeeded")
	}
	if got := seqs(open(t, path).recs); !slices.Equal(got, upTo(22)) {
		t.Fatalf("after Write+Close: %v", got)
	}
}

// TestTornTail: a crash in the middle of an append leaves part of a
// record. Open cuts it off (a torn tail, counted as such, not as
// corruption), keeps its bytes in quarantine, and appends continue.
func TestTornTail(t *testing.T) {
	for _, cut := range []int{1, FrameLen - 1, FrameLen, FrameLen + 3} {
		t.Run(fmt.Sprint(cut), func(t *testing.T) {
			path, _ := writeLog(t, 10)
			torn := appendFrame(nil, record(10))[:cut]
			mutate(t, path, func(b []byte) []byte { return append(b, torn...) })
			o := open(t, path)
			r := o.l.Recovery()
			if got := seqs(o.recs); !slices.Equal(got, upTo(10)) {
				t.Fatalf("records %v", got)
			}
			if !r.Torn() || r.Err() != nil || len(r.Regions) != 1 || r.Regions[0].Len != int64(cut) {
				t.Fatalf("recovery %+v", r)
			}
			if metric(t, o.reg, "cw_recordlog_torn_tails_total") != 1 || metric(t, o.reg, "cw_recordlog_corrupt_regions_total") != 0 {
				t.Fatal("torn tail counted as corruption, or not counted")
			}
			q, err := ReadQuarantine(path)
			if err != nil || len(q) != 1 || q[0].Kind != Torn || !bytes.Equal(q[0].Bytes, torn) {
				t.Fatalf("quarantine %+v %v", q, err)
			}
			if err := o.l.Append(record(11)); err != nil {
				t.Fatal(err)
			}
			o.l.Close()
			o = open(t, path)
			if got := seqs(o.recs); !slices.Equal(got, upTo(12, 10)) || len(o.l.Recovery().Regions) != 0 {
				t.Fatalf("after repair: %v %+v", got, o.l.Recovery())
			}
		})
	}
}

// TestMidFileDamage: damage in the middle is quarantined with its offset
// and every good record after it is kept; the repaired log opens clean.
func TestMidFileDamage(t *testing.T) {
	const n = 200
	tests := []struct {
		name    string
		damage  func(b []byte, offs []int64) []byte
		lost    []int // records expected lost
		regions int
	}{
		{"flipped byte in data", func(b []byte, offs []int64) []byte {
			b[offs[50]+FrameLen+3] ^= 0x10
			return b
		}, []int{50}, 1},
		{"flipped byte in frame", func(b []byte, offs []int64) []byte {
			b[offs[77]+5] ^= 0x01
			return b
		}, []int{77}, 1},
		{"garbage length", func(b []byte, offs []int64) []byte {
			copy(b[offs[100]:], []byte{0xff, 0xff, 0xff, 0x7f})
			return b
		}, []int{100}, 1},
		{"plausible wrong length", func(b []byte, offs []int64) []byte {
			b[offs[10]] += 7 // still within the file and the limit
			return b
		}, []int{10}, 1},
		{"two damaged records", func(b []byte, offs []int64) []byte {
			b[offs[20]+FrameLen] ^= 1
			b[offs[150]+FrameLen] ^= 1
			return b
		}, []int{20, 150}, 2},
		{"damaged header", func(b []byte, offs []int64) []byte {
			b[2] = 'X'
			return b
		}, nil, 1},
		{"damaged last record before a good one? no: last record", func(b []byte, offs []int64) []byte {
			b[offs[n-1]+FrameLen+1] ^= 0xff
			return b
		}, []int{n - 1}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path, offs := writeLog(t, n)
			orig, _ := os.ReadFile(path)
			mutate(t, path, func(b []byte) []byte { return tc.damage(b, offs) })
			o := open(t, path)
			if got := seqs(o.recs); !slices.Equal(got, upTo(n, tc.lost...)) {
				t.Fatalf("records %v, want all but %v", got, tc.lost)
			}
			r := o.l.Recovery()
			if len(r.Regions) != tc.regions {
				t.Fatalf("regions %+v", r.Regions)
			}
			// The last record damaged is a torn tail, not corruption.
			wantErr := !slices.Contains(tc.lost, n-1)
			var ce *CorruptError
			if gotErr := errors.As(r.Err(), &ce); gotErr != wantErr {
				t.Fatalf("Err() = %v", r.Err())
			}
			q, err := ReadQuarantine(path)
			if err != nil || len(q) != tc.regions {
				t.Fatalf("quarantine %+v %v", q, err)
			}
			for _, g := range q {
				// The quarantined bytes are the damaged file's bytes at
				// that offset: compare with the original where undamaged.
				if g.Offset < 0 || int(g.Offset)+len(g.Bytes) > len(orig) {
					t.Fatalf("quarantined piece out of range: %d+%d", g.Offset, len(g.Bytes))
				}
			}
			o.l.Close()
			o = open(t, path)
			if r := o.l.Recovery(); len(r.Regions) != 0 || !slices.Equal(seqs(o.recs), upTo(n, tc.lost...)) {
				t.Fatalf("second open: %+v", r)
			}
		})
	}
}

// TestZeroedPage: a 4 KiB page of zeros (a lost block) in the middle.
func TestZeroedPage(t *testing.T) {
	path, offs := writeLog(t, 400)
	const page = 4096
	start := int64(page * 2)
	mutate(t, path, func(b []byte) []byte {
		clear(b[start : start+page])
		return b
	})
	o := open(t, path)
	var lost []int
	for i, off := range offs {
		end := int64(len(record(i))) + FrameLen + off
		if off < start+page && end > start {
			lost = append(lost, i)
		}
	}
	if got := seqs(o.recs); !slices.Equal(got, upTo(400, lost...)) {
		t.Fatalf("records %v, want all but %v", got, lost)
	}
	r := o.l.Recovery()
	if len(r.Regions) != 1 || r.Regions[0].Kind != Corrupt || r.Regions[0].Offset != offs[lost[0]] {
		t.Fatalf("regions %+v", r.Regions)
	}
	if metric(t, o.reg, "cw_recordlog_corrupt_regions_total") != 1 || metric(t, o.reg, "cw_recordlog_corrupt_bytes_total") != float64(r.Regions[0].Len) {
		t.Fatal("corruption not counted")
	}
}

// TestZeroTail: a file system that extended the file and lost its data
// shows zeros at the end: a torn tail.
func TestZeroTail(t *testing.T) {
	path, _ := writeLog(t, 30)
	mutate(t, path, func(b []byte) []byte { return append(b, make([]byte, 8192)...) })
	o := open(t, path)
	if !slices.Equal(seqs(o.recs), upTo(30)) || !o.l.Recovery().Torn() || o.l.Recovery().Err() != nil {
		t.Fatalf("%+v", o.l.Recovery())
	}
}

// TestRejectedRecord: a record with good CRCs that the caller cannot
// decode is quarantined; the records after it are kept.
func TestRejectedRecord(t *testing.T) {
	path, _ := writeLog(t, 10)
	var got []int
	l, err := Open(Options{Path: path}, func(b []byte) error {
		if strings.Contains(string(b), `"seq":4,`) {
			return errors.New("unknown record type")
		}
		got = append(got, seqs([][]byte{b})[0])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r := l.Recovery()
	l.Close()
	if !slices.Equal(got, upTo(10, 4)) || len(r.Regions) != 1 || r.Regions[0].Kind != Rejected || !strings.Contains(r.Err().Error(), "unknown record type") {
		t.Fatalf("%v %+v", got, r)
	}
	q, _ := ReadQuarantine(path)
	if len(q) != 1 || !bytes.Contains(q[0].Bytes, record(4)) {
		t.Fatalf("quarantine %+v", q)
	}
}

// TestRandomDamage flips random bytes and zeroes random spans: whatever is
// damaged, every record whose bytes were not touched comes back, in order.
func TestRandomDamage(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 11))
	for round := range 100 {
		path, offs := writeLog(t, 60)
		b, _ := os.ReadFile(path)
		touched := map[int]bool{}
		for range 1 + rnd.IntN(4) {
			at := len(Header) + rnd.IntN(len(b)-len(Header))
			span := 1
			if rnd.IntN(3) == 0 {
				span = 1 + rnd.IntN(300)
			}
			for i := at; i < min(at+span, len(b)); i++ {
				old := b[i]
				if span == 1 {
					b[i] ^= byte(1 + rnd.IntN(255))
				} else {
					b[i] = 0
				}
				if b[i] != old {
					touched[i] = true
				}
			}
		}
		os.WriteFile(path, b, 0o600)
		var want []int
		for i, off := range offs {
			end := int(off) + FrameLen + len(record(i))
			ok := true
			for j := int(off); j < end; j++ {
				if touched[j] {
					ok = false
				}
			}
			if ok {
				want = append(want, i)
			}
		}
		o := open(t, path)
		if got := seqs(o.recs); !slices.Equal(got, want) {
			t.Fatalf("round %d: records %v, want %v", round, got, want)
		}
		o.l.Close()
	}
}

func TestRewriteAndLimits(t *testing.T) {
	path, _ := writeLog(t, 10)
	o := open(t, path)
	if err := o.l.Rewrite([][]byte{record(7), record(8)}); err != nil {
		t.Fatal(err)
	}
	if err := o.l.Append(record(9)); err != nil {
		t.Fatal(err)
	}
	if err := o.l.Append(make([]byte, DefaultMaxRecord+1)); err == nil {
		t.Fatal("oversized record accepted")
	}
	o.l.Close()
	if got := seqs(open(t, path).recs); !slices.Equal(got, []int{7, 8, 9}) {
		t.Fatalf("after rewrite %v", got)
	}
	// A temporary file of an interrupted rewrite is removed by Open.
	tmp := path + ".123.tmp"
	os.WriteFile(tmp, []byte("junk"), 0o600)
	open(t, path)
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temp file left: %v", err)
	}
}

// TestCreationCutShort: a crash while the header was written leaves a
// prefix of it; Open starts the log afresh without calling it damage.
func TestCreationCutShort(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	os.WriteFile(path, []byte(Header[:3]), 0o600)
	o := open(t, path)
	if len(o.l.Recovery().Regions) != 0 || len(o.recs) != 0 {
		t.Fatalf("%+v", o.l.Recovery())
	}
	if err := o.l.Append(record(1)); err != nil {
		t.Fatal(err)
	}
}

func TestZeroFrameNeverChecksOut(t *testing.T) {
	if _, _, ok := recordAt(make([]byte, 64), 0, DefaultMaxRecord); ok {
		t.Fatal("an all-zero frame checks out")
	}
}

func TestMetricsShareARegistry(t *testing.T) {
	dir := t.TempDir()
	reg := prometheus.NewRegistry()
	a, err := Open(Options{Path: filepath.Join(dir, "a"), Name: "a", Registerer: reg}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(Options{Path: filepath.Join(dir, "b"), Name: "b", Registerer: reg}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	a.Append(record(1))
	b.Append(record(1), record(2))
	if n, err := testutil.GatherAndCount(reg, "cw_recordlog_appends_total"); err != nil || n != 2 {
		t.Fatalf("%d series, %v", n, err)
	}
	// Reopening on the same registry reuses the collectors.
	a.Close()
	a2, err := Open(Options{Path: filepath.Join(dir, "a"), Name: "a", Registerer: reg}, nil)
	if err != nil {
		t.Fatal(err)
	}
	a2.Close()
}

func FuzzOpen(f *testing.F) {
	var seed []byte
	seed = append(seed, Header...)
	for i := range 5 {
		seed = appendFrame(seed, record(i))
	}
	f.Add(seed)
	f.Add([]byte(Header))
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), "log")
		os.WriteFile(path, b, 0o600)
		var n int
		l, err := Open(Options{Path: path}, func([]byte) error { n++; return nil })
		if err != nil {
			t.Fatal(err)
		}
		l.Close()
		// Whatever was read, the repaired log reads back the same records
		// without damage.
		var m int
		l, err = Open(Options{Path: path}, func([]byte) error { m++; return nil })
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		if m != n || len(l.Recovery().Regions) != 0 {
			t.Fatalf("first open %d records, second %d, regions %+v", n, m, l.Recovery().Regions)
		}
	})
}

// TestScan reads a log another process owns without changing it.
func TestScan(t *testing.T) {
	path, offs := writeLog(t, 10)
	b, _ := os.ReadFile(path)
	b[offs[3]+FrameLen] ^= 1
	b = append(b, appendFrame(nil, record(10))[:5]...) // an append in progress
	var got [][]byte
	err := Scan(b, func(r []byte) error { got = append(got, r); return nil })
	var ce *CorruptError
	if !errors.As(err, &ce) || len(ce.Regions) != 1 || ce.Regions[0].Offset != offs[3] {
		t.Fatalf("err %v", err)
	}
	if !slices.Equal(seqs(got), upTo(10, 3)) {
		t.Fatalf("records %v", seqs(got))
	}
	after, _ := os.ReadFile(path)
	if bytes.Equal(after, b) {
		t.Fatal("test damaged the file itself")
	}
}
