package mqttsub

import (
	"bytes"
	"errors"
	"testing"
)

func TestRemainingLength(t *testing.T) {
	cases := []struct {
		name               string
		hdr                []byte
		length, size, need int
		bad                bool
	}{
		{"zero", []byte{0x30, 0x00}, 0, 2, 0, false},
		{"one byte max", []byte{0x30, 0x7f}, 127, 2, 0, false},
		{"two bytes min", []byte{0x30, 0x80, 0x01}, 128, 3, 0, false},
		{"two bytes max", []byte{0x30, 0xff, 0x7f}, 16383, 3, 0, false},
		{"three bytes min", []byte{0x30, 0x80, 0x80, 0x01}, 16384, 4, 0, false},
		{"four bytes max", []byte{0x30, 0xff, 0xff, 0xff, 0x7f}, 268435455, 5, 0, false},
		{"needs a third byte", []byte{0x30, 0x80}, 0, 0, 3, false},
		{"needs a fifth byte", []byte{0x30, 0x80, 0x80, 0x80}, 0, 0, 5, false},
		{"five length bytes", []byte{0x30, 0x80, 0x80, 0x80, 0x80}, 0, 0, 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			length, size, need, err := remainingLength(c.hdr)
			if c.bad {
				if !errors.Is(err, errProtocol) {
					t.Fatalf("err %v, want a protocol error", err)
				}
				return
			}
			if err != nil || length != c.length || size != c.size || need != c.need {
				t.Fatalf("got (%d, %d, %d, %v), want (%d, %d, %d, nil)", length, size, need, err, c.length, c.size, c.need)
			}
		})
	}
}

func TestParsePublish(t *testing.T) {
	body := func(topic string, id []byte, payload string) []byte {
		b := []byte{byte(len(topic) >> 8), byte(len(topic))}
		b = append(b, topic...)
		b = append(b, id...)
		return append(b, payload...)
	}
	cases := []struct {
		name  string
		flags byte
		body  []byte
		want  publish
		bad   bool
	}{
		{"QoS 0", 0x0, body("a/b", nil, "{}"), publish{topic: []byte("a/b"), payload: []byte("{}")}, false},
		{"QoS 1", 0x2, body("a/b", []byte{0x12, 0x34}, "x"), publish{topic: []byte("a/b"), payload: []byte("x"), id: 0x1234, qos: 1}, false},
		{"QoS 2, dup, retained", 0xd, body("t", []byte{0, 7}, ""), publish{topic: []byte("t"), payload: []byte{}, id: 7, qos: 2, dup: true, retained: true}, false},
		{"empty topic allowed here", 0x0, body("", nil, "p"), publish{topic: []byte{}, payload: []byte("p")}, false},
		{"QoS 3", 0x6, body("t", []byte{0, 1}, ""), publish{}, true},
		{"no topic length", 0x0, []byte{0x00}, publish{}, true},
		{"topic longer than the packet", 0x0, []byte{0x00, 0x09, 'a'}, publish{}, true},
		{"QoS 1 without identifier", 0x2, body("t", []byte{0}, ""), publish{}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := parsePublish(c.flags, c.body)
			if c.bad {
				if !errors.Is(err, errProtocol) {
					t.Fatalf("err %v, want a protocol error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(p.topic, c.want.topic) || !bytes.Equal(p.payload, c.want.payload) || p.id != c.want.id ||
				p.qos != c.want.qos || p.dup != c.want.dup || p.retained != c.want.retained {
				t.Fatalf("got %+v, want %+v", p, c.want)
			}
		})
	}
}

func TestAppendAck(t *testing.T) {
	got := appendAck(appendAck(nil, typePuback, 0x0102), typePubcomp, 0xfffe)
	want := []byte{0x40, 0x02, 0x01, 0x02, 0x70, 0x02, 0xff, 0xfe}
	if !bytes.Equal(got, want) {
		t.Fatalf("% x, want % x", got, want)
	}
}

// FuzzParsePublish: no input panics, and what is returned lies within the
// packet.
func FuzzParsePublish(f *testing.F) {
	f.Add(byte(0x2), []byte{0x00, 0x01, 't', 0x00, 0x01, 'p'})
	f.Add(byte(0x0), []byte{0x00, 0x00})
	f.Add(byte(0x6), []byte{})
	f.Fuzz(func(t *testing.T, flags byte, body []byte) {
		p, err := parsePublish(flags&0x0f, body)
		if err != nil {
			return
		}
		if len(p.topic)+len(p.payload) > len(body) || p.qos > 2 {
			t.Fatalf("parsed %+v from %d bytes", p, len(body))
		}
	})
}
