package spool

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// seedSegment is a valid segment with three records, for the fuzz corpora.
func seedSegment() []byte {
	b := append([]byte(nil), segMagic[:]...)
	b = appendFrame(b, 1, []byte("door open"))
	b = appendFrame(b, 2, []byte("t=23.5"))
	return appendFrame(b, 5, nil)
}

// FuzzFrameReader feeds random bytes to the record reader: it must never
// panic, must stop at the first bad frame, and must only return records that
// re-encode to the bytes it read.
func FuzzFrameReader(f *testing.F) {
	f.Add(seedSegment()[segHeaderSize:])
	f.Add([]byte{})
	f.Add(make([]byte, 40))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, body []byte) {
		fr := newFrameReader(bytes.NewReader(body), 0, int64(len(body)), 1, 0)
		var last uint64
		for {
			at := fr.off
			index, data, _, err := fr.next(nil, false)
			if err == io.EOF {
				if fr.off != int64(len(body)) {
					t.Fatalf("EOF at %d of %d", fr.off, len(body))
				}
				return
			}
			if err != nil {
				if !errors.Is(err, errBadFrame) {
					t.Fatalf("unexpected error type %T: %v", err, err)
				}
				return
			}
			if index <= last {
				t.Fatalf("index %d after %d", index, last)
			}
			last = index
			if !bytes.Equal(appendFrame(nil, index, data), body[at:fr.off]) {
				t.Fatalf("record at %d does not re-encode to its bytes", at)
			}
		}
	})
}

// FuzzOpenSegment writes random bytes as the last segment file: Open must
// repair it (never fail, never panic) and the spool must then read and
// append normally.
func FuzzOpenSegment(f *testing.F) {
	f.Add(seedSegment())
	f.Add(seedSegment()[:20])
	f.Add([]byte("CWSPOOL"))
	f.Add(append(seedSegment(), 0, 0, 0))
	f.Fuzz(func(t *testing.T, file []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, segmentName(1)), file, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := Open(Options{Dir: dir, SegmentBytes: 4096, MaxBytes: 1 << 20})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer s.Close()
		recs, err := s.Read(0, 0, 0)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		for i := 1; i < len(recs); i++ {
			if recs[i].Index <= recs[i-1].Index {
				t.Fatalf("index %d after %d", recs[i].Index, recs[i-1].Index)
			}
		}
		if st := s.Stats(); st.Depth != len(recs) {
			t.Fatalf("Depth %d, read %d", st.Depth, len(recs))
		}
	})
}
