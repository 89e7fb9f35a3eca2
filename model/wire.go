package model

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"time"
)

// WireVersion is the version of the wire contract this package speaks. It is
// the "v1" in topics, the version byte of a batch and the "v" of JSON messages.
const WireVersion = 1

// Limits a decoder enforces on outside input.
const (
	MaxBatchBytes    = 1 << 20 // largest batch message accepted
	MaxBatchReadings = 20000   // largest number of readings in one batch
	maxStringTable   = 4096
	maxGapDevices    = 4096
)

const (
	magic0, magic1 = 'C', 'W'
	msgBatch       = 1 // a batch of a live lane, not draining: no flags byte
	msgBatchFlags  = 2 // a batch followed by a flags byte (lane, draining)
	flagLaneMask   = 0x03
	flagDraining   = 0x04
	scaleFloat     = 0xFF // value follows as 8 bytes IEEE-754, little endian
	maxScale       = 6
)

var (
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
	pow10      = [...]float64{1, 10, 100, 1e3, 1e4, 1e5, 1e6}
)

// ErrCorrupt wraps every decoding failure of a batch.
var ErrCorrupt = errors.New("corrupt batch")

// AppendValue appends v in the compact decimal form used on the wire and in
// the spool: a scale byte s and the zigzag varint of v·10^s, or scale 0xFF
// and the 8 raw bytes when no s ≤ 6 represents v exactly.
func AppendValue(dst []byte, v float64) []byte {
	if m, s, ok := Decimal(v); ok {
		dst = append(dst, byte(s))
		return binary.AppendVarint(dst, m)
	}
	dst = append(dst, scaleFloat)
	return binary.LittleEndian.AppendUint64(dst, math.Float64bits(v))
}

// Decimal finds the smallest scale s ≤ 6 at which v is the decimal m·10^-s
// exactly (m/10^s rounds to v, |m| < 2^53): sensor values are mostly short
// decimals. ok is false when no such scale exists (and for NaN and ±Inf).
func Decimal(v float64) (m int64, s int, ok bool) {
	for s := 0; s <= maxScale; s++ {
		f := math.Round(v * pow10[s])
		if math.Abs(f) < 1<<53 && f/pow10[s] == v {
			return int64(f), s, true
		}
	}
	return 0, 0, false
}

// ReadValue decodes what AppendValue wrote; n is the bytes used (0 on error).
func ReadValue(p []byte) (v float64, n int) {
	if len(p) < 1 {
		return 0, 0
	}
	s := p[0]
	if s == scaleFloat {
		if len(p) < 9 {
			return 0, 0
		}
		return math.Float64frombits(binary.LittleEndian.Uint64(p[1:9])), 9
	}
	if s > maxScale {
		return 0, 0
	}
	m, k := binary.Varint(p[1:])
	if k <= 0 {
		return 0, 0
	}
	return float64(m) / pow10[s], 1 + k
}

// EncodeBatch appends the binary form of b to dst. Layout (all integers
// varints unless said otherwise; docs/wire.md has the table):
//
//	"CW" version=1 type=1, or type=2 and a flags byte (lane, draining)
//	gateway facility region              (length-prefixed strings)
//	first span sent_ms
//	n_strings string*                    (device and room IDs, each once)
//	n_readings (device_idx room_idx kind:byte dt_ms value)*
//	n_gaps (from_ms to_ms count n_dev dev_idx*)*
//	crc32c:4 bytes little endian over everything before it
//
// dt_ms is the reading's time minus the previous reading's (the first:
// minus sent_ms), zigzag-encoded, so time-ordered readings cost one or two bytes.
func EncodeBatch(dst []byte, b *Batch) []byte {
	start := len(dst)
	if flags := byte(b.Lane) & flagLaneMask; flags != 0 || b.Draining {
		if b.Draining {
			flags |= flagDraining
		}
		dst = append(dst, magic0, magic1, WireVersion, msgBatchFlags, flags)
	} else {
		// The common case keeps the original layout, byte for byte.
		dst = append(dst, magic0, magic1, WireVersion, msgBatch)
	}
	dst = appendString(dst, b.Gateway)
	dst = appendString(dst, b.Facility)
	dst = appendString(dst, string(b.Region))
	dst = binary.AppendUvarint(dst, b.First)
	dst = binary.AppendUvarint(dst, b.Covers())
	sent := b.Sent.UnixMilli()
	dst = binary.AppendVarint(dst, sent)

	table := make(map[string]uint64, 16)
	order := make([]string, 0, 16)
	intern := func(s string) {
		if _, ok := table[s]; !ok {
			table[s] = uint64(len(order))
			order = append(order, s)
		}
	}
	for i := range b.Readings {
		intern(b.Readings[i].Device)
		intern(b.Readings[i].Room)
	}
	for i := range b.Gaps {
		for _, d := range b.Gaps[i].Devices {
			intern(d)
		}
	}
	dst = binary.AppendUvarint(dst, uint64(len(order)))
	for _, s := range order {
		dst = appendString(dst, s)
	}

	dst = binary.AppendUvarint(dst, uint64(len(b.Readings)))
	prev := sent
	for i := range b.Readings {
		r := &b.Readings[i]
		dst = binary.AppendUvarint(dst, table[r.Device])
		dst = binary.AppendUvarint(dst, table[r.Room])
		dst = append(dst, byte(r.Kind))
		t := r.Time.UnixMilli()
		dst = binary.AppendVarint(dst, t-prev)
		prev = t
		dst = AppendValue(dst, r.Value)
	}
	dst = binary.AppendUvarint(dst, uint64(len(b.Gaps)))
	for i := range b.Gaps {
		g := &b.Gaps[i]
		dst = binary.AppendVarint(dst, g.From.UnixMilli())
		dst = binary.AppendVarint(dst, g.To.UnixMilli())
		dst = binary.AppendUvarint(dst, g.Count)
		dst = binary.AppendUvarint(dst, uint64(len(g.Devices)))
		for _, d := range g.Devices {
			dst = binary.AppendUvarint(dst, table[d])
		}
	}
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// batchReader walks a batch payload; the first error sticks.
type batchReader struct {
	p   []byte
	err error
}

func (r *batchReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrCorrupt, what)
	}
}

func (r *batchReader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.p)
	if n <= 0 {
		r.fail(what)
		return 0
	}
	r.p = r.p[n:]
	return v
}

func (r *batchReader) varint(what string) int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.p)
	if n <= 0 {
		r.fail(what)
		return 0
	}
	r.p = r.p[n:]
	return v
}

func (r *batchReader) byte(what string) byte {
	if r.err != nil {
		return 0
	}
	if len(r.p) < 1 {
		r.fail(what)
		return 0
	}
	c := r.p[0]
	r.p = r.p[1:]
	return c
}

func (r *batchReader) string(what string) string {
	n := r.uvarint(what)
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.p)) || n > MaxIDLen*4 {
		r.fail(what + " length")
		return ""
	}
	s := string(r.p[:n])
	r.p = r.p[n:]
	return s
}

// count reads a count and checks it against what could possibly follow
// (each element takes at least minBytes), so hostile counts cannot make the
// decoder allocate.
func (r *batchReader) count(what string, limit uint64, minBytes int) int {
	n := r.uvarint(what)
	if r.err != nil {
		return 0
	}
	if n > limit || n*uint64(minBytes) > uint64(len(r.p)) {
		r.fail(what + " out of range")
		return 0
	}
	return int(n)
}

// DecodeBatch parses a batch into b, reusing b's slices. It never panics and
// never allocates more than a constant times len(p), whatever p holds; every
// failure wraps ErrCorrupt. Identifiers are checked with ValidateID and
// kinds and values with Kind.InRange only by the caller, who decides how to
// count a bad reading.
func DecodeBatch(p []byte, b *Batch) error {
	if len(p) > MaxBatchBytes {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrCorrupt, len(p), MaxBatchBytes)
	}
	if len(p) < 8 || p[0] != magic0 || p[1] != magic1 {
		return fmt.Errorf("%w: not a CradleWatch batch", ErrCorrupt)
	}
	if p[2] != WireVersion || (p[3] != msgBatch && p[3] != msgBatchFlags) {
		return fmt.Errorf("%w: version %d type %d, want version %d type %d or %d", ErrCorrupt, p[2], p[3], WireVersion, msgBatch, msgBatchFlags)
	}
	body := p[:len(p)-4]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(p[len(p)-4:]) {
		return fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	r := batchReader{p: body[4:]}
	b.Lane, b.Draining = LaneLive, false
	if p[3] == msgBatchFlags {
		flags := r.byte("flags")
		if flags&^(flagLaneMask|flagDraining) != 0 || Lane(flags&flagLaneMask) > LaneUrgent {
			r.fail(fmt.Sprintf("unknown flags %#02x", flags))
		}
		b.Lane, b.Draining = Lane(flags&flagLaneMask), flags&flagDraining != 0
	}
	b.Gateway = r.string("gateway")
	b.Facility = r.string("facility")
	b.Region = Region(r.string("region"))
	b.First = r.uvarint("first")
	b.Span = r.uvarint("span")
	sent := r.varint("sent")
	b.Sent = time.UnixMilli(sent)

	nstr := r.count("string table size", maxStringTable, 1)
	table := make([]string, nstr)
	for i := range table {
		table[i] = r.string("string")
	}
	lookup := func(what string) string {
		i := r.uvarint(what)
		if r.err == nil && i >= uint64(len(table)) {
			r.fail(what + " index out of range")
			return ""
		}
		if r.err != nil {
			return ""
		}
		return table[i]
	}

	n := r.count("reading count", MaxBatchReadings, 5)
	b.Readings = b.Readings[:0]
	prev := sent
	for i := 0; i < n && r.err == nil; i++ {
		var rd Reading
		rd.Device = lookup("device")
		rd.Room = lookup("room")
		rd.Kind = Kind(r.byte("kind"))
		prev += r.varint("time")
		rd.Time = time.UnixMilli(prev)
		if r.err == nil {
			v, k := ReadValue(r.p)
			if k == 0 {
				r.fail("value")
				break
			}
			r.p = r.p[k:]
			rd.Value = v
		}
		b.Readings = append(b.Readings, rd)
	}
	ng := r.count("gap count", MaxBatchReadings, 4)
	b.Gaps = b.Gaps[:0]
	for i := 0; i < ng && r.err == nil; i++ {
		var g Gap
		g.From = time.UnixMilli(r.varint("gap from"))
		g.To = time.UnixMilli(r.varint("gap to"))
		g.Count = r.uvarint("gap count")
		nd := r.count("gap devices", maxGapDevices, 1)
		for j := 0; j < nd && r.err == nil; j++ {
			g.Devices = append(g.Devices, lookup("gap device"))
		}
		b.Gaps = append(b.Gaps, g)
	}
	if r.err == nil && len(r.p) != 0 {
		r.fail(fmt.Sprintf("%d trailing bytes", len(r.p)))
	}
	return r.err
}
