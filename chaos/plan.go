package chaos

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/internal/netcut"
)

// Local broker layouts of a facility.
const (
	layoutMosquitto = "mosquitto" // the facility's own Mosquitto; the gateway subscribes to it
	layoutEmbedded  = "embedded"  // the gateway's embedded broker; sensors publish to the gateway process
)

// Where the facilities are and who is told.
const (
	region      = "110105001"
	shards      = 2
	streetPhone = "13900000001"
	countyPhone = "13700000001"
	// platformPhone is the platform team's on-call number: told of the
	// platform's own incidents (the centre's broker away), never a
	// facility's operator.
	platformPhone = "13600000001"
	// Rooms of the alarm devices, one per scripted incident kind: a room
	// name in a message tells which device it is about.
	roomSensors  = "room-1"
	roomKitchen  = "kitchen"
	roomEntrance = "entrance"
	deviceSmoke  = "smoke-1"
	deviceDoor   = "door-1"
	// Zigbee2MQTT friendly names of the alarm devices.
	addrSmoke = "kitchen/smoke"
	addrDoor  = "entrance/door"
)

// facility is one facility of the run: its registry record, its layout and
// the processes serving it.
type facility struct {
	idx      int
	ID       string
	Name     string
	Gateway  string
	Layout   string
	PowerCut bool // the gateway runs the power-cut test build
	Tmpfs    bool // the spool lives on a tmpfs of its own
	Shard    int  // the alerting instance that owns it
	Phone    string
	Devices  []device

	// Filled in as the run starts.
	gatewayPassword string
	localPort       int    // the local broker's port (either layout)
	localPassword   string // the gateway's and the sensors' local password
	httpAddr        string // the gateway's operational listener
	spoolDir        string
	gateway         *proc
	localBroker     *proc // Mosquitto layout only
	uplink          *netcut.Proxy
	sensor          *sensor
	disk            *disk // Tmpfs only

	cutMu   sync.Mutex
	cuts    []string // the variants of its scheduled power cuts, in order
	cutNext int

	// linkDown are the spans in which the gateway was not subscribed to
	// its local Mosquitto: from the broker's stop until the gateway's
	// subscriber was connected again (its reconnect lags the broker's
	// start and the sensors' own reconnect).
	linkMu   sync.Mutex
	linkDown []interval
}

// device is one CO2 sensor of a facility's Zigbee2MQTT.
type device struct {
	ID, Address string
	Timed       bool // sends last_seen
}

// hostile is the registered facility whose credentials attack the others.
type hostile struct {
	ID, Gateway, Password string
}

// planFacilities lays out n facilities: layouts alternate, the second pair
// of each four runs the power-cut build, and facility IDs are chosen so
// that each layout has facilities on both alerting shards. Two spools live
// on a tmpfs: the first Mosquitto facility's and the first embedded
// power-cut one's.
func planFacilities(n, devices int) ([]*facility, hostile) {
	out := make([]*facility, n)
	num := 100
	for i := range out {
		layout := layoutMosquitto
		if i%2 == 1 {
			layout = layoutEmbedded
		}
		shard := (i%2 + (i/2)%2) % shards
		var id string
		for {
			num++
			id = fmt.Sprintf("%s-%04d", region, num)
			if rules.ShardOf(id, shards) == shard {
				break
			}
		}
		f := &facility{
			idx: i, ID: id, Name: fmt.Sprintf("混沌托育园%04d", num), Gateway: fmt.Sprintf("gw-%04d", num),
			Layout: layout, PowerCut: (i/2)%2 == 1, Tmpfs: i%4 == 0 || i%4 == 3, Shard: shard,
			Phone: fmt.Sprintf("1380000%04d", num),
		}
		for d := range devices {
			f.Devices = append(f.Devices, device{ID: fmt.Sprintf("co2-%02d", d), Address: fmt.Sprintf("%s/co2-%02d", roomSensors, d), Timed: d%2 == 0})
		}
		out[i] = f
	}
	num = 666
	return out, hostile{ID: fmt.Sprintf("%s-%04d", region, num), Gateway: fmt.Sprintf("gw-%04d", num)}
}

// closedHours is an opening-hours line that keeps a facility closed for the
// whole run: one minute, twelve hours from now in the facility's time zone.
// Door openings are then after hours (door_open_after_hours), and no rule
// of opening hours (temperature, CO2 means) judges the load's readings.
func closedHours(now time.Time) string {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		loc = time.FixedZone("CST", 8*3600)
	}
	t := now.In(loc).Add(12 * time.Hour)
	h, m := t.Hour(), t.Minute()
	if h == 23 && m == 59 {
		m = 58
	}
	day := strings.ToLower(t.Weekday().String()[:3])
	return fmt.Sprintf("%s %02d:%02d-%02d:%02d", day, h, m, h+(m+1)/60, (m+1)%60)
}

// facilityYAML is the facility's registry file.
func (f *facility) facilityYAML(hours string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "facility: {id: %q, name: %q, region: %q, timezone: Asia/Shanghai, opening_hours: [%q]}\n", f.ID, f.Name, region, hours)
	fmt.Fprintf(&b, "gateways: [%s]\n", f.Gateway)
	fmt.Fprintf(&b, "operators:\n  - {name: 园长, phone: %q, role: director}\n", f.Phone)
	fmt.Fprintf(&b, "rooms:\n  - {id: %s, name: 活动室, type: activity}\n  - {id: %s, name: 厨房, type: kitchen}\n  - {id: %s, name: 门厅, type: entrance}\n",
		roomSensors, roomKitchen, roomEntrance)
	b.WriteString("devices:\n")
	for _, d := range f.Devices {
		fmt.Fprintf(&b, "  - {id: %s, room: %s, source: zigbee2mqtt, address: %q, kinds: [co2], interval: 60s}\n", d.ID, roomSensors, d.Address)
	}
	fmt.Fprintf(&b, "  - {id: %s, room: %s, source: zigbee2mqtt, address: %q, kinds: [co2]}\n", deviceFlood, roomSensors, addrFlood)
	fmt.Fprintf(&b, "  - {id: %s, room: %s, source: zigbee2mqtt, address: %q, kinds: [smoke]}\n", deviceSmoke, roomKitchen, addrSmoke)
	fmt.Fprintf(&b, "  - {id: %s, room: %s, source: zigbee2mqtt, address: %q, kinds: [door]}\n", deviceDoor, roomEntrance, addrDoor)
	return b.String()
}

// hostileYAML is the hostile facility's registry file: registered, with a
// gateway account of its own, and nothing else.
func (h hostile) facilityYAML(hours string) string {
	return fmt.Sprintf("facility: {id: %q, name: 可疑托育园, region: %q, timezone: Asia/Shanghai, opening_hours: [%q]}\ngateways: [%s]\nrooms:\n  - {id: room-1, name: 活动室, type: activity}\n",
		h.ID, region, hours, h.Gateway)
}
