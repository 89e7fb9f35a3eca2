package gateway

import (
	"encoding/binary"
	"errors"

	"github.com/cradlewatch/cradlewatch/model"
)

// Spool entries of the gateway's own, beside model's readings (type 1) and
// gaps (type 2). They never leave the gateway: the uplink reads past them,
// and the batch that covers their indexes carries nothing for them (a
// batch's span may exceed its entries; docs/wire.md).
const (
	// entryReceipt records that a message was stored, so that its
	// redelivery is recognised, also after a restart (redelivery.go):
	// type=3 packet_id:u16 digest:u64 (little endian) device (length-prefixed).
	entryReceipt byte = 3
	// entryUrgent marks the next n entries (readings) as safety-relevant
	// state changes, which the uplink sends at once in a batch of their own
	// on the urgent lane (urgent.go): type=4 n:uvarint.
	entryUrgent byte = 4
)

var errEntry = errors.New("gateway: corrupt spool entry")

// appendReceipt appends a receipt entry.
func appendReceipt(dst []byte, pid uint16, digest uint64, device string) []byte {
	dst = append(dst, entryReceipt)
	dst = binary.LittleEndian.AppendUint16(dst, pid)
	dst = binary.LittleEndian.AppendUint64(dst, digest)
	dst = binary.AppendUvarint(dst, uint64(len(device)))
	return append(dst, device...)
}

// decodeReceipt parses a receipt entry; device aliases p.
func decodeReceipt(p []byte) (pid uint16, digest uint64, device []byte, err error) {
	if len(p) < 11 || p[0] != entryReceipt {
		return 0, 0, nil, errEntry
	}
	pid = binary.LittleEndian.Uint16(p[1:])
	digest = binary.LittleEndian.Uint64(p[3:])
	n, k := binary.Uvarint(p[11:])
	if k <= 0 || n != uint64(len(p)-11-k) {
		return 0, 0, nil, errEntry
	}
	return pid, digest, p[11+k:], nil
}

// appendUrgentMark appends the mark of n urgent readings that follow it.
func appendUrgentMark(dst []byte, n int) []byte {
	return binary.AppendUvarint(append(dst, entryUrgent), uint64(n))
}

// urgentCount returns n of an urgent mark, 0 for any other entry.
func urgentCount(p []byte) int {
	if len(p) < 2 || p[0] != entryUrgent {
		return 0
	}
	n, k := binary.Uvarint(p[1:])
	if k <= 0 || k != len(p)-1 || n > 1<<16 {
		return 0
	}
	return int(n)
}

// entryIsState classifies spool entries for the drop policy: as
// model.EntryIsState, with urgent marks kept like the state changes they
// announce and receipts dropped like samples (losing one only means a
// redelivery is stored again).
func entryIsState(p []byte) bool {
	switch model.EntryType(p) {
	case entryReceipt:
		return false
	case entryUrgent:
		return true
	}
	return model.EntryIsState(p)
}
