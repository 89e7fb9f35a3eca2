package mqttsub

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// MQTT 3.1.1 packet types (high nibble of the first byte), as far as a
// subscriber meets them.
const (
	typeConnack  = 0x2
	typePublish  = 0x3
	typePuback   = 0x4
	typePubrec   = 0x5
	typePubrel   = 0x6
	typePubcomp  = 0x7
	typeSuback   = 0x9
	typeUnsuback = 0xb
	typePingresp = 0xd
)

// maxHeader is the longest fixed header: one type byte and a remaining
// length of at most four bytes.
const maxHeader = 5

// errProtocol marks packets no conforming broker sends; the connection is
// closed and made again.
var errProtocol = errors.New("mqtt protocol violation")

// remainingLength decodes the variable-length integer after the type byte in
// hdr (hdr[0] is the type byte). It returns the length, the fixed header's
// size, and need > 0 when hdr is too short to tell (need is the header size
// to peek next).
func remainingLength(hdr []byte) (length, size, need int, err error) {
	mult := 1
	for i := 1; i < maxHeader; i++ {
		if i >= len(hdr) {
			return 0, 0, i + 1, nil
		}
		b := hdr[i]
		length += int(b&0x7f) * mult
		if b&0x80 == 0 {
			return length, i + 1, 0, nil
		}
		mult *= 128
	}
	return 0, 0, 0, fmt.Errorf("%w: remaining length longer than four bytes", errProtocol)
}

// publish is a PUBLISH packet's fields, slices of the packet's bytes.
type publish struct {
	topic    []byte
	payload  []byte
	id       uint16
	qos      byte
	dup      bool
	retained bool
}

// parsePublish reads a PUBLISH packet's variable header and payload from
// body, the bytes after the fixed header; flags are the low nibble of the
// type byte. Only the topic length and the packet identifier are checked:
// what the topic and payload mean is the handler's business.
func parsePublish(flags byte, body []byte) (publish, error) {
	p := publish{qos: (flags >> 1) & 3, dup: flags&0x8 != 0, retained: flags&0x1 != 0}
	if p.qos == 3 {
		return p, fmt.Errorf("%w: PUBLISH with QoS 3", errProtocol)
	}
	if len(body) < 2 {
		return p, fmt.Errorf("%w: PUBLISH of %d bytes has no topic length", errProtocol, len(body))
	}
	n := int(binary.BigEndian.Uint16(body))
	rest := body[2:]
	if n > len(rest) {
		return p, fmt.Errorf("%w: PUBLISH topic of %d bytes in %d", errProtocol, n, len(rest))
	}
	p.topic, rest = rest[:n], rest[n:]
	if p.qos > 0 {
		if len(rest) < 2 {
			return p, fmt.Errorf("%w: QoS %d PUBLISH without packet identifier", errProtocol, p.qos)
		}
		p.id, rest = binary.BigEndian.Uint16(rest), rest[2:]
	}
	p.payload = rest
	return p, nil
}

// appendAck appends the packet that acknowledges a QoS 1 (PUBACK) or QoS 2
// (PUBREC) PUBLISH, or completes a QoS 2 one (PUBCOMP after PUBREL).
func appendAck(b []byte, typ byte, id uint16) []byte {
	return append(b, typ<<4, 2, byte(id>>8), byte(id))
}
