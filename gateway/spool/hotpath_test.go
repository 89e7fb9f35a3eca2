package spool

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strings"
	"sync"
	"testing"
)

// TestFrameCRC checks the split CRC (length bytes by table, index and data
// in one update) against the definition in doc.go: CRC32-C of bytes 0-3,
// 8-15 and the data.
func TestFrameCRC(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 30, 100, readBufSize + 100} {
		data := bytes.Repeat([]byte{byte(n), 0x5a}, n)[:n]
		f := appendFrame(nil, 0x0102030405060708, data)
		def := append(append(append([]byte(nil), f[0:4]...), f[8:16]...), data...)
		want := crc32.Checksum(def, crc32.MakeTable(crc32.Castagnoli))
		if got := binary.LittleEndian.Uint32(f[4:8]); got != want {
			t.Errorf("%d bytes: stored CRC %08x, want %08x", n, got, want)
		}
	}
}

// varied returns records of 1 to 60 bytes, so groups straddle segment ends
// at every offset.
func varied(i int) []byte { return fmt.Appendf(nil, "%d%s", i, strings.Repeat("x", i%53)) }

// TestAppendGroupAcrossSegments: one Append larger than a segment is split
// over several, every record keeps its index, and the split survives a
// restart.
func TestAppendGroupAcrossSegments(t *testing.T) {
	tests := []struct {
		name   string
		groups []int // records per Append
	}{
		{"one group spans segments", []int{300}},
		{"groups end at various offsets", []int{1, 63, 64, 65, 7, 200}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			h := start(t, Options{Dir: dir, SegmentBytes: 2048, MaxBytes: 1 << 20, CommitInterval: CommitEveryAppend})
			n := 0
			for _, k := range tt.groups {
				recs := make([][]byte, k)
				for i := range recs {
					recs[i] = varied(n + i)
				}
				first, err := h.AppendSync(context.Background(), recs)
				if err != nil || first != uint64(n+1) {
					t.Fatalf("AppendSync = %d, %v; want %d", first, err, n+1)
				}
				n += k
			}
			check := func(s *Spool) {
				t.Helper()
				recs, err := s.Read(0, 0, 0)
				if err != nil {
					t.Fatal(err)
				}
				if len(recs) != n {
					t.Fatalf("read %d records, want %d", len(recs), n)
				}
				for i, r := range recs {
					if r.Index != uint64(i+1) || !bytes.Equal(r.Data, varied(i)) {
						t.Fatalf("record %d = {%d %q}, want {%d %q}", i, r.Index, r.Data, i+1, varied(i))
					}
				}
				if st := s.Stats(); st.Depth != n || st.Next != uint64(n+1) || st.Segments < 3 {
					t.Fatalf("Stats = %+v", st)
				}
				s.mu.RLock()
				defer s.mu.RUnlock()
				for _, g := range s.segs {
					if g.size > 2048 {
						t.Errorf("segment %d holds %d bytes, above SegmentBytes", g.base, g.size)
					}
					if g.count > 0 && (g.first != g.base || g.last-g.first+1 != uint64(g.count)) {
						t.Errorf("segment %d: first %d last %d count %d", g.base, g.first, g.last, g.count)
					}
				}
			}
			check(h.Spool)
			h.stop(t)
			s, _, _ := reopen(t, dir)
			defer s.Close()
			check(s)
		})
	}
}

// TestAppendCopies: the caller may reuse its slices once Append returns,
// and reused request buffers never mix records of different appends.
func TestAppendCopies(t *testing.T) {
	h := start(t, Options{CommitInterval: CommitEveryAppend})
	var want [][]byte
	buf := make([]byte, 8)
	recs := make([][]byte, 5)
	for round := range 20 {
		var wg sync.WaitGroup
		for i := range 1 + round%7 {
			for j := range recs {
				recs[j] = buf[:]
			}
			copy(buf, fmt.Sprintf("r%02d-%03d", round, i))
			for range recs {
				want = append(want, bytes.Clone(buf))
			}
			wg.Add(1)
			h.Append(recs, func(_ uint64, err error) {
				if err != nil {
					t.Error(err)
				}
				wg.Done()
			})
			copy(buf, "clobber!")
			clear(recs)
		}
		wg.Wait()
	}
	got := readAll(t, h.Spool, 0)
	if len(got) != len(want) {
		t.Fatalf("read %d records, want %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i].Data, want[i]) {
			t.Fatalf("record %d = %q, want %q", got[i].Index, got[i].Data, want[i])
		}
	}
}

// TestLargeRecord: a record larger than the read buffer is read whole by
// Read and by Open's scan.
func TestLargeRecord(t *testing.T) {
	dir := t.TempDir()
	h := start(t, Options{Dir: dir, SegmentBytes: 1 << 20, MaxBytes: 4 << 20, CommitInterval: CommitEveryAppend})
	big := bytes.Repeat([]byte("0123456789abcdef"), (readBufSize+1000)/16)
	recs := [][]byte{[]byte("before"), big, []byte("after")}
	if _, err := h.AppendSync(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	check := func(got []Record) {
		t.Helper()
		if len(got) != len(recs) {
			t.Fatalf("read %d records, want %d", len(got), len(recs))
		}
		for i, r := range got {
			if !bytes.Equal(r.Data, recs[i]) {
				t.Fatalf("record %d: %d bytes differ from the %d appended", r.Index, len(r.Data), len(recs[i]))
			}
		}
	}
	check(readAll(t, h.Spool, 0))
	h.stop(t)
	s, _, got := reopen(t, dir)
	defer s.Close()
	check(got)
}

// TestReadIntoMatchesRead: ReadInto returns what Read returns, with one
// buffer reused across calls of every shape.
func TestReadIntoMatchesRead(t *testing.T) {
	h := start(t, Options{SegmentBytes: 2048, MaxBytes: 1 << 20})
	const n = 500
	appendN(t, h.Spool, n, varied)
	var b ReadBuffer
	tests := []struct {
		name                 string
		from                 uint64
		maxRecords, maxBytes int
	}{
		{"all", 0, 0, 0},
		{"from middle", 123, 0, 0},
		{"record limit spans segments", 60, 100, 0},
		{"byte limit", 60, 0, 400},
		{"byte limit below one record", 7, 0, 1},
		{"both limits", 300, 50, 1000},
		{"past the end", n + 1, 0, 0},
		{"one record", 1, 1, 1 << 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := h.Read(tt.from, tt.maxRecords, tt.maxBytes)
			if err != nil {
				t.Fatal(err)
			}
			if err := h.ReadInto(&b, tt.from, tt.maxRecords, tt.maxBytes); err != nil {
				t.Fatal(err)
			}
			sameRecords(t, b.Records, want)
		})
	}
	// The uplink's pattern: forward in batches, one buffer.
	next := uint64(1)
	for {
		if err := h.ReadInto(&b, next, 37, 400); err != nil {
			t.Fatal(err)
		}
		if len(b.Records) == 0 {
			break
		}
		for _, r := range b.Records {
			if r.Index != next || !bytes.Equal(r.Data, varied(int(next-1))) {
				t.Fatalf("forward read: got {%d %q}, want index %d", r.Index, r.Data, next)
			}
			next++
		}
	}
	if next != n+1 {
		t.Errorf("forward read stopped at %d, want %d", next, n+1)
	}
	if err := h.ReadInto(&b, 1, -1, 0); err == nil || len(b.Records) != 0 {
		t.Errorf("negative limit: err %v, %d records; want an error and none", err, len(b.Records))
	}
}

func sameRecords(t *testing.T, got, want []Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].Index != want[i].Index || !bytes.Equal(got[i].Data, want[i].Data) {
			t.Fatalf("record %d = {%d %q}, want {%d %q}", i, got[i].Index, got[i].Data, want[i].Index, want[i].Data)
		}
	}
}

// TestReadDataCapped: appending to a returned record's data must not
// overwrite the next record, which shares its buffer.
func TestReadDataCapped(t *testing.T) {
	h := start(t, Options{})
	appendN(t, h.Spool, 3, rec)
	got := readAll(t, h.Spool, 0)
	_ = append(got[0].Data, "overwrite"...)
	if !bytes.Equal(got[1].Data, rec(1)) {
		t.Errorf("record 2 = %q after appending to record 1, want %q", got[1].Data, rec(1))
	}
}

// TestSegmentAddRange: adding a run of records equals adding them one by
// one, dense or sparse.
func TestSegmentAddRange(t *testing.T) {
	tests := []struct {
		name     string
		sparse   []uint64
		periodic []bool
	}{
		{"dense, all state", nil, []bool{false, false, false}},
		{"dense, one periodic", nil, []bool{false, true, false}},
		{"sparse", []uint64{3, 5}, []bool{true, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mk := func() *segment {
				g := &segment{base: 1}
				for _, i := range tt.sparse {
					g.add(i, true)
				}
				g.compact(append([]uint64(nil), tt.sparse...))
				return g
			}
			one, run := mk(), mk()
			anyPeriodic := false
			for i, p := range tt.periodic {
				one.add(uint64(10+i), !p)
				anyPeriodic = anyPeriodic || p
			}
			run.addRange(10, len(tt.periodic), anyPeriodic)
			if fmt.Sprint(*one) != fmt.Sprint(*run) {
				t.Errorf("addRange gave %+v, add one by one %+v", *run, *one)
			}
			for from := uint64(0); from < 15; from++ {
				if a, b := one.countFrom(from), run.countFrom(from); a != b {
					t.Errorf("countFrom(%d) = %d, want %d", from, b, a)
				}
			}
		})
	}
}

// TestPeriodicClassification: the committer and Open's scan agree on
// whether a segment holds a periodic record, which is what the drop policy
// asks.
func TestPeriodicClassification(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Dir: dir, SegmentBytes: 2048, MaxBytes: 1 << 20, IsState: isStateTest, CommitInterval: CommitEveryAppend}
	h := start(t, opts)
	ctx := context.Background()
	// Segment 1: state only; then a new segment with periodic records
	// after state ones.
	if _, err := h.AppendSync(ctx, [][]byte{[]byte("s-door-1"), []byte("s-door-2")}); err != nil {
		t.Fatal(err)
	}
	state := func(s *Spool) []bool {
		s.mu.RLock()
		defer s.mu.RUnlock()
		var out []bool
		for _, g := range s.segs {
			out = append(out, g.hasPeriodic)
		}
		return out
	}
	if got := state(h.Spool); fmt.Sprint(got) != "[false]" {
		t.Fatalf("after state records: hasPeriodic %v, want [false]", got)
	}
	recs := make([][]byte, 150)
	for i := range recs {
		recs[i] = fmt.Appendf(nil, "s-%03d", i)
		if i >= 100 {
			recs[i] = fmt.Appendf(nil, "p-%03d", i)
		}
	}
	if _, err := h.AppendSync(ctx, recs); err != nil {
		t.Fatal(err)
	}
	live := state(h.Spool)
	h.stop(t)
	opts.Registerer = nil
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if reopened := state(s); fmt.Sprint(reopened) != fmt.Sprint(live) {
		t.Errorf("hasPeriodic after Open %v, while running %v", reopened, live)
	}
	if live[0] || !live[len(live)-1] {
		t.Errorf("hasPeriodic %v: want false for the first segment, true for the last", live)
	}
}
