package pathbench

import (
	"encoding/json"
	"testing"
)

func TestPayloadIsZigbee2MQTTState(t *testing.T) {
	for _, c := range []struct{ dev, k int }{{0, 0}, {999, 12345}, {7, 1 << 20}} {
		p := Payload(nil, c.dev, c.k)
		var got map[string]float64
		if err := json.Unmarshal(p, &got); err != nil {
			t.Fatalf("payload %s: %v", p, err)
		}
		ranges := map[string][2]float64{"temperature": {-40, 60}, "humidity": {0, 100}, "battery": {0, 100}, "linkquality": {0, 255}}
		if len(got) != len(ranges) || len(got) != ReadingsPerMessage {
			t.Fatalf("payload %s: want exactly the keys %v", p, ranges)
		}
		for k, r := range ranges {
			if v, ok := got[k]; !ok || v < r[0] || v > r[1] {
				t.Errorf("payload %s: %s = %v, want within %v", p, k, v, r)
			}
		}
	}
}

// TestScheduleSpacing checks what keeps the gateway's millisecond arrival
// stamps distinct: every message is sent exactly once, each device by one
// publisher, and a device's consecutive messages are Devices/Publishers
// apart in that publisher's stream.
func TestScheduleSpacing(t *testing.T) {
	tests := []Load{
		{Messages: 10000, Devices: 1000, Publishers: 4},
		{Messages: 1001, Devices: 10, Publishers: 3},
		{Messages: 5, Devices: 10, Publishers: 1},
	}
	for _, l := range tests {
		sent := make([]int, l.Messages)
		owner := map[int]int{}
		for p := 0; p < l.Publishers; p++ {
			pos := 0
			last := map[int]int{}
			err := l.schedule(p, func(k, dev int) error {
				sent[k]++
				if o, ok := owner[dev]; ok && o != p {
					t.Errorf("%+v: device %d on publishers %d and %d", l, dev, o, p)
				}
				owner[dev] = p
				if prev, ok := last[dev]; ok && pos-prev < l.Devices/l.Publishers {
					t.Errorf("%+v: device %d repeats after %d messages", l, dev, pos-prev)
				}
				last[dev] = pos
				pos++
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		for k, n := range sent {
			if n != 1 {
				t.Fatalf("%+v: message %d sent %d times", l, k, n)
			}
		}
	}
}

func BenchmarkPayload(b *testing.B) {
	var buf []byte
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		buf = Payload(buf[:0], i%1000, i)
	}
}
