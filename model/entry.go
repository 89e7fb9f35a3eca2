package model

import (
	"encoding/binary"
	"fmt"
	"time"
)

// Entry types: the first byte of an encoded entry. An entry is one record of
// the gateway's spool and one element of a batch.
const (
	EntryReading byte = 1
	EntryGap     byte = 2
)

// AppendReadingEntry appends the spool form of a reading:
// type=1 kind:byte time_ms:varint value device room (length-prefixed strings).
func AppendReadingEntry(dst []byte, r *Reading) []byte {
	dst = append(dst, EntryReading, byte(r.Kind))
	dst = binary.AppendVarint(dst, r.Time.UnixMilli())
	dst = AppendValue(dst, r.Value)
	dst = appendString(dst, r.Device)
	return appendString(dst, r.Room)
}

// AppendGapEntry appends the spool form of a gap:
// type=2 from_ms to_ms count n_devices device*.
func AppendGapEntry(dst []byte, g *Gap) []byte {
	dst = append(dst, EntryGap)
	dst = binary.AppendVarint(dst, g.From.UnixMilli())
	dst = binary.AppendVarint(dst, g.To.UnixMilli())
	dst = binary.AppendUvarint(dst, g.Count)
	dst = binary.AppendUvarint(dst, uint64(len(g.Devices)))
	for _, d := range g.Devices {
		dst = appendString(dst, d)
	}
	return dst
}

// EntryType returns the type byte of an encoded entry, 0 if empty.
func EntryType(p []byte) byte {
	if len(p) == 0 {
		return 0
	}
	return p[0]
}

// EntryIsState reports whether an encoded entry is a state change (or a gap,
// which is just as precious); the spool's drop policy keeps those longest.
func EntryIsState(p []byte) bool {
	if len(p) < 2 {
		return false
	}
	return p[0] == EntryGap || Kind(p[1]).IsState()
}

// DecodeReadingEntry parses what AppendReadingEntry wrote.
func DecodeReadingEntry(p []byte, r *Reading) error {
	if len(p) < 2 || p[0] != EntryReading {
		return fmt.Errorf("%w: not a reading entry", ErrCorrupt)
	}
	br := batchReader{p: p[2:]}
	r.Kind = Kind(p[1])
	r.Time = time.UnixMilli(br.varint("time"))
	if br.err == nil {
		v, k := ReadValue(br.p)
		if k == 0 {
			br.fail("value")
		} else {
			r.Value = v
			br.p = br.p[k:]
		}
	}
	r.Device = br.string("device")
	r.Room = br.string("room")
	return br.err
}

// DecodeGapEntry parses what AppendGapEntry wrote.
func DecodeGapEntry(p []byte, g *Gap) error {
	if len(p) < 1 || p[0] != EntryGap {
		return fmt.Errorf("%w: not a gap entry", ErrCorrupt)
	}
	br := batchReader{p: p[1:]}
	g.From = time.UnixMilli(br.varint("gap from"))
	g.To = time.UnixMilli(br.varint("gap to"))
	g.Count = br.uvarint("gap count")
	n := br.count("gap devices", maxGapDevices, 1)
	g.Devices = g.Devices[:0]
	for i := 0; i < n && br.err == nil; i++ {
		g.Devices = append(g.Devices, br.string("gap device"))
	}
	return br.err
}
