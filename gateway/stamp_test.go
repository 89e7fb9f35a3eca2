package gateway

import (
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/model"
)

// Readings without a device time get their arrival time, strictly
// increasing per device, so a burst of one device's messages (a broker
// replaying its queue) never merges into one InfluxDB point.
func TestArrivalStampsIncreasePerDevice(t *testing.T) {
	a, b := &model.Device{ID: "a"}, &model.Device{ID: "b"}
	base := time.UnixMilli(1_790_000_000_000)
	type obs struct {
		dev     *model.Device
		arrival time.Duration // after base
		want    time.Duration // stamp after base
	}
	cases := []struct {
		name     string
		messages [][]obs
	}{
		{"spread out: arrival times kept", [][]obs{
			{{a, 0, 0}}, {{a, 5 * time.Millisecond, 5 * time.Millisecond}}, {{b, 5 * time.Millisecond, 5 * time.Millisecond}},
		}},
		{"burst of one device: one millisecond apart", [][]obs{
			{{a, 0, 0}, {a, 0, 0}}, {{a, 0, 1 * time.Millisecond}, {a, 0, 1 * time.Millisecond}}, {{a, 0, 2 * time.Millisecond}},
		}},
		{"sub-millisecond arrivals", [][]obs{
			{{a, 100 * time.Microsecond, 0}}, {{a, 900 * time.Microsecond, 1 * time.Millisecond}}, {{a, 2 * time.Millisecond, 2 * time.Millisecond}},
		}},
		{"devices independent", [][]obs{
			{{a, 0, 0}, {b, 0, 0}}, {{a, 0, 1 * time.Millisecond}}, {{b, 0, 1 * time.Millisecond}}, {{b, 3 * time.Millisecond, 3 * time.Millisecond}},
		}},
		{"clock going back: still increasing", [][]obs{
			{{a, 10 * time.Millisecond, 10 * time.Millisecond}}, {{a, 0, 11 * time.Millisecond}},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var sc scratch
			for i, msg := range c.messages {
				sc.message = sc.message[:0]
				for _, o := range msg {
					got := sc.arrival(o.dev, base.Add(o.arrival))
					if want := base.Add(o.want); !got.Equal(want) {
						t.Errorf("message %d, device %s: stamp %s, want %s", i, o.dev.ID, got.Sub(base), o.want)
					}
				}
			}
		})
	}
}
