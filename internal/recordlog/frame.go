package recordlog

import (
	"encoding/binary"
	"hash/crc32"
)

// Format constants (see doc.go).
const (
	// Header is the first 8 bytes of every log file.
	Header = "CWRLOG\x00\x01"
	// FrameLen is the size of a record's frame before its data.
	FrameLen = 12
	// DefaultMaxRecord bounds a record's data unless Options.MaxRecord says
	// otherwise, so that a corrupt length cannot make Open allocate much.
	DefaultMaxRecord = 1 << 20
)

var (
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
	// frameSeed is the CRC of the file header; the frame check continues
	// from it, so an all-zero frame never checks out.
	frameSeed = crc32.Checksum([]byte(Header), castagnoli)
)

// appendFrame appends data with its frame to buf.
func appendFrame(buf, data []byte) []byte {
	var f [FrameLen]byte
	binary.LittleEndian.PutUint32(f[0:4], uint32(len(data)))
	binary.LittleEndian.PutUint32(f[4:8], crc32.Checksum(data, castagnoli))
	binary.LittleEndian.PutUint32(f[8:12], crc32.Update(frameSeed, castagnoli, f[0:8]))
	buf = append(buf, f[:]...)
	return append(buf, data...)
}

// recordAt checks the record starting at b[off:] and returns its data and
// its total length (frame and data); ok is false when it does not check
// out. The frame check comes first and is cheap, so that scanning for the
// next record after damage costs one short CRC per offset.
func recordAt(b []byte, off, maxRecord int) (data []byte, n int, ok bool) {
	if len(b)-off < FrameLen {
		return nil, 0, false
	}
	f := b[off : off+FrameLen]
	if crc32.Update(frameSeed, castagnoli, f[0:8]) != binary.LittleEndian.Uint32(f[8:12]) {
		return nil, 0, false
	}
	size := binary.LittleEndian.Uint32(f[0:4])
	if uint64(size) > uint64(maxRecord) || uint64(size) > uint64(len(b)-off-FrameLen) {
		return nil, 0, false
	}
	data = b[off+FrameLen : off+FrameLen+int(size)]
	if crc32.Checksum(data, castagnoli) != binary.LittleEndian.Uint32(f[4:8]) {
		return nil, 0, false
	}
	return data, FrameLen + int(size), true
}

// nextRecord returns the offset of the first record that checks out at or
// after from, or -1.
func nextRecord(b []byte, from, maxRecord int) int {
	for off := from; off+FrameLen <= len(b); off++ {
		if _, _, ok := recordAt(b, off, maxRecord); ok {
			return off
		}
	}
	return -1
}
