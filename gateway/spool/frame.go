package spool

import (
	"bufio"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"sync"
)

// Record framing; doc.go explains the choices.
const (
	frameHeaderSize = 16 // length:u32 crc:u32 index:u64, little endian
	segHeaderSize   = 8  // segMagic
	// MaxRecordBytes bounds one record's data. It also bounds what a reader
	// allocates for a corrupt length field.
	MaxRecordBytes = 1 << 20
)

// segMagic starts every segment file; its last byte is the format version.
var segMagic = [segHeaderSize]byte{'C', 'W', 'S', 'P', 'O', 'O', 'L', 1}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// frameSize is the bytes a record of n data bytes takes on disk.
func frameSize(n int) int64 { return frameHeaderSize + int64(n) }

// appendFrame appends one framed record to dst.
func appendFrame(dst []byte, index uint64, data []byte) []byte {
	var h [frameHeaderSize]byte
	binary.LittleEndian.PutUint32(h[0:4], uint32(len(data)))
	binary.LittleEndian.PutUint64(h[8:16], index)
	binary.LittleEndian.PutUint32(h[4:8], frameCRC(h[:], data))
	dst = append(dst, h[:]...)
	return append(dst, data...)
}

// frameCRC covers the length, the index and the data: a flipped length or
// index is caught as surely as a flipped data byte.
func frameCRC(h []byte, data []byte) uint32 {
	c := crc32.Update(0, castagnoli, h[0:4])
	c = crc32.Update(c, castagnoli, h[8:16])
	return crc32.Update(c, castagnoli, data)
}

// errBadFrame marks a frame that fails validation; frameReader wraps it with
// the reason.
var errBadFrame = errors.New("bad frame")

type frameError struct {
	off    int64
	reason string
}

func (e *frameError) Error() string { return e.reason }
func (e *frameError) Unwrap() error { return errBadFrame }

// frameReader walks the records of one segment body. It never trusts a
// length before checking it against MaxRecordBytes and the bytes left, so
// random input cannot make it allocate much or panic.
type frameReader struct {
	r     *bufio.Reader
	off   int64                 // file offset of the next frame
	limit int64                 // file offset where readable bytes end
	min   uint64                // smallest acceptable index (segment base, or last+1)
	max   uint64                // largest acceptable index; 0 for no bound
	buf   []byte                // reused unless the caller keeps the data
	hdr   [frameHeaderSize]byte // a local array would escape through io.ReadFull: one allocation per record
}

// newFrameReader reads frames from r, positioned at file offset off, up to
// file offset limit.
func newFrameReader(r io.Reader, off, limit int64, minIndex, maxIndex uint64) *frameReader {
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(r)
	return &frameReader{r: br, off: off, limit: limit, min: minIndex, max: maxIndex}
}

// readerPool recycles the 64 KiB read buffers: the uplink reads the newest
// records many times a second, and a fresh buffer per read was the largest
// allocation on the gateway's hot path.
var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 64<<10) }}

// release returns the frame reader's buffer to the pool; the reader must not
// be used afterwards.
func (fr *frameReader) release() {
	if fr.r != nil {
		fr.r.Reset(nil)
		readerPool.Put(fr.r)
		fr.r = nil
	}
}

// next returns the next record. With keep false, data aliases a buffer the
// next call reuses; with keep true, data is appended to dst (data is then a
// subslice of the returned grown, which the caller passes to the next call). It returns io.EOF exactly at limit and a
// *frameError for anything else that does not check out.
func (fr *frameReader) next(dst []byte, keep bool) (index uint64, data, grown []byte, err error) {
	if fr.off == fr.limit {
		return 0, nil, dst, io.EOF
	}
	left := fr.limit - fr.off
	if left < frameHeaderSize {
		return 0, nil, dst, fr.fail("torn frame header")
	}
	h := &fr.hdr
	if _, err := io.ReadFull(fr.r, h[:]); err != nil {
		return 0, nil, dst, fr.fail("short read of frame header: " + err.Error())
	}
	n := binary.LittleEndian.Uint32(h[0:4])
	crc := binary.LittleEndian.Uint32(h[4:8])
	index = binary.LittleEndian.Uint64(h[8:16])
	if n > MaxRecordBytes {
		return 0, nil, dst, fr.fail("record length out of range")
	}
	if int64(n) > left-frameHeaderSize {
		return 0, nil, dst, fr.fail("torn record data")
	}
	var buf []byte
	if keep {
		start := len(dst)
		dst = append(dst, make([]byte, n)...)
		buf = dst[start:]
	} else {
		if cap(fr.buf) < int(n) {
			fr.buf = make([]byte, n)
		}
		buf = fr.buf[:n]
	}
	if _, err := io.ReadFull(fr.r, buf); err != nil {
		return 0, nil, dst, fr.fail("short read of record data: " + err.Error())
	}
	if frameCRC(h[:], buf) != crc {
		return 0, nil, dst, fr.fail("checksum mismatch")
	}
	if index < fr.min || (fr.max != 0 && index > fr.max) {
		return 0, nil, dst, fr.fail("index out of order")
	}
	fr.off += frameSize(int(n))
	fr.min = index + 1
	return index, buf, dst, nil
}

func (fr *frameReader) fail(reason string) error {
	return &frameError{off: fr.off, reason: reason}
}

// checkSegHeader reports whether b starts with a valid segment header.
func checkSegHeader(b []byte) bool {
	return len(b) >= segHeaderSize && [segHeaderSize]byte(b[:segHeaderSize]) == segMagic
}
