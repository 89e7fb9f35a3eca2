package spool

import (
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
	// appendEnd is the top bit of the length field: the record is the last
	// of its Append (segment format 2). Recovery keeps whole appends only.
	appendEnd  = 1 << 31
	lengthMask = appendEnd - 1
)

// segMagic starts every segment file written now; its last byte is the
// format version: 2 marks the last record of each Append (appendEnd).
// Version 1 segments, without the mark, are still read; each of their
// records counts as a whole append.
var segMagic = [segHeaderSize]byte{'C', 'W', 'S', 'P', 'O', 'O', 'L', 2}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// frameSize is the bytes a record of n data bytes takes on disk.
func frameSize(n int) int64 { return frameHeaderSize + int64(n) }

// appendFrame appends one framed record to dst, a whole append by itself
// (appendEnd set). The header is written in place: a header array passed
// to the CRC escapes to the heap, one allocation per record on the
// committer's hot path.
func appendFrame(dst []byte, index uint64, data []byte) []byte {
	start := len(dst)
	dst = appendFrameHeader(dst, len(data))
	dst = append(dst, data...)
	markAppendEnd(dst[start:])
	sealFrame(dst[start:], index)
	return dst
}

// markAppendEnd sets appendEnd in the length field of frame f, before it is
// sealed (the CRC covers the length field).
func markAppendEnd(f []byte) {
	binary.LittleEndian.PutUint32(f[0:4], binary.LittleEndian.Uint32(f[0:4])|appendEnd)
}

// appendFrameHeader appends the header of a frame of n data bytes with
// index and CRC still zero; sealFrame fills them once the index is known.
func appendFrameHeader(dst []byte, n int) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(n))
	return append(dst, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
}

// sealFrame stores index and the CRC in frame f (header and data, length
// already set).
func sealFrame(f []byte, index uint64) {
	binary.LittleEndian.PutUint64(f[8:16], index)
	binary.LittleEndian.PutUint32(f[4:8], frameCRC(f))
}

// frameCRC covers the length, the index and the data of frame f (header
// and data, contiguous): a flipped length or index is caught as surely as a
// flipped data byte. Index and data are adjacent, so one CRC update covers
// both; the 4 length bytes go through the table inline, which costs less
// than a second call into the hardware CRC for so few bytes.
func frameCRC(f []byte) uint32 {
	c := ^uint32(0)
	for _, v := range f[0:4] {
		c = castagnoli[byte(c)^v] ^ c>>8
	}
	return crc32.Update(^c, castagnoli, f[8:])
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
	src   io.Reader
	pbuf  *[]byte // from readBufPool; nil once released
	buf   []byte  // *pbuf: bytes buf[r:w] are read and not yet consumed
	r, w  int
	off   int64  // file offset of the next frame
	limit int64  // file offset where readable bytes end
	min   uint64 // smallest acceptable index (segment base, or last+1)
	max   uint64 // largest acceptable index; 0 for no bound
	big   []byte // a frame larger than buf, reused
	// marks: the segment marks the last record of each append (format 2);
	// end then says whether the record next returned last is one. Without
	// marks every record counts as a whole append.
	marks bool
	end   bool
}

// readBufSize is the chunk a frameReader reads at a time.
const readBufSize = 64 << 10

// readBufPool recycles the read buffers: the uplink reads the newest
// records many times a second, and a fresh buffer per read was the largest
// allocation on the gateway's hot path.
var readBufPool = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}

// newFrameReader reads frames from src, positioned at file offset off, up
// to file offset limit.
func newFrameReader(src io.Reader, off, limit int64, minIndex, maxIndex uint64) *frameReader {
	pb := readBufPool.Get().(*[]byte)
	return &frameReader{src: src, pbuf: pb, buf: *pb, off: off, limit: limit, min: minIndex, max: maxIndex}
}

// release returns the frame reader's buffer to the pool; the reader must not
// be used afterwards.
func (fr *frameReader) release() {
	if fr.pbuf != nil {
		readBufPool.Put(fr.pbuf)
		fr.pbuf, fr.buf, fr.src = nil, nil, nil
	}
}

// fill makes at least n (at most len(buf)) unconsumed bytes available in
// buf[r:w]. A source that ends first gives io.ErrUnexpectedEOF.
func (fr *frameReader) fill(n int) error {
	if fr.r > 0 {
		fr.w = copy(fr.buf, fr.buf[fr.r:fr.w])
		fr.r = 0
	}
	for fr.w < n {
		m, err := fr.src.Read(fr.buf[fr.w:])
		fr.w += m
		if fr.w >= n {
			break
		}
		if err == io.EOF || (err == nil && m == 0) {
			return io.ErrUnexpectedEOF
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// next returns the next record. With keep false, data aliases a buffer the
// next call reuses; with keep true, data is appended to dst (data is then a
// subslice of the returned grown, which the caller passes to the next
// call). It returns io.EOF exactly at limit and a *frameError for anything
// else that does not check out.
//
// Frames are checked where they lie in the read buffer, so a record is
// copied at most once, into dst.
func (fr *frameReader) next(dst []byte, keep bool) (index uint64, data, grown []byte, err error) {
	if fr.off == fr.limit {
		return 0, nil, dst, io.EOF
	}
	left := fr.limit - fr.off
	if left < frameHeaderSize {
		return 0, nil, dst, fr.fail("torn frame header")
	}
	if fr.w-fr.r < frameHeaderSize {
		if err := fr.fill(frameHeaderSize); err != nil {
			return 0, nil, dst, fr.fail("short read of frame header: " + err.Error())
		}
	}
	h := fr.buf[fr.r : fr.r+frameHeaderSize]
	raw := binary.LittleEndian.Uint32(h[0:4])
	n := raw & lengthMask
	crc := binary.LittleEndian.Uint32(h[4:8])
	index = binary.LittleEndian.Uint64(h[8:16])
	if n > MaxRecordBytes {
		return 0, nil, dst, fr.fail("record length out of range")
	}
	if int64(n) > left-frameHeaderSize {
		return 0, nil, dst, fr.fail("torn record data")
	}
	size := frameHeaderSize + int(n)
	var f []byte
	if size <= len(fr.buf) {
		if fr.w-fr.r < size {
			if err := fr.fill(size); err != nil {
				return 0, nil, dst, fr.fail("short read of record data: " + err.Error())
			}
		}
		f = fr.buf[fr.r : fr.r+size] // valid until the next fill
		fr.r += size
	} else {
		if cap(fr.big) < size {
			fr.big = make([]byte, size)
		}
		f = fr.big[:size]
		k := copy(f, fr.buf[fr.r:fr.w])
		fr.r, fr.w = 0, 0
		if _, err := io.ReadFull(fr.src, f[k:]); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, nil, dst, fr.fail("short read of record data: " + err.Error())
		}
	}
	if frameCRC(f) != crc {
		return 0, nil, dst, fr.fail("checksum mismatch")
	}
	if index < fr.min || (fr.max != 0 && index > fr.max) {
		return 0, nil, dst, fr.fail("index out of order")
	}
	fr.off += int64(size)
	fr.min = index + 1
	fr.end = !fr.marks || raw&appendEnd != 0
	data = f[frameHeaderSize:]
	if keep {
		start := len(dst)
		dst = append(dst, data...)
		// Capped, so that appending to one record cannot overwrite the next.
		data = dst[start:len(dst):len(dst)]
	}
	return index, data, dst, nil
}

func (fr *frameReader) fail(reason string) error {
	return &frameError{off: fr.off, reason: reason}
}

// segVersion is the format version of the segment header b starts with,
// 0 when it is not a valid one.
func segVersion(b []byte) byte {
	if len(b) < segHeaderSize || [segHeaderSize - 1]byte(b[:segHeaderSize-1]) != [segHeaderSize - 1]byte(segMagic[:segHeaderSize-1]) {
		return 0
	}
	if v := b[segHeaderSize-1]; v == 1 || v == 2 {
		return v
	}
	return 0
}

// checkSegHeader reports whether b starts with a valid segment header.
func checkSegHeader(b []byte) bool { return segVersion(b) != 0 }
