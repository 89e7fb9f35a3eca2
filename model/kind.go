package model

import "fmt"

// Kind is what a reading measures. Its numeric value is part of the wire
// contract: never renumber, only append.
type Kind uint8

// Kinds of reading. Units are fixed per kind (see Unit) and decoders
// normalise to them before a reading enters the spool.
const (
	KindUnknown         Kind = 0
	KindTemperature     Kind = 1  // °C
	KindHumidity        Kind = 2  // % relative humidity
	KindCO2             Kind = 3  // ppm
	KindPM25            Kind = 4  // µg/m³
	KindPM10            Kind = 5  // µg/m³
	KindHCHO            Kind = 6  // formaldehyde, mg/m³
	KindTVOC            Kind = 7  // mg/m³
	KindDoor            Kind = 8  // 1 open, 0 closed
	KindWindow          Kind = 9  // 1 open, 0 closed
	KindCameraOnline    Kind = 10 // 1 online, 0 offline
	KindCameraRecording Kind = 11 // 1 recording, 0 not
	KindCameraRetention Kind = 12 // days of recordings kept
	KindCameraLatency   Kind = 13 // seconds, probe round trip
	KindBattery         Kind = 14 // %
	KindLinkQuality     Kind = 15 // 0-255 (Zigbee LQI)
	KindDeviceOnline    Kind = 16 // 1 online, 0 offline (availability / LWT)
	KindSmoke           Kind = 17 // 1 alarm, 0 clear
	KindGas             Kind = 18 // 1 alarm, 0 clear
	kindCount                = 19
)

type kindInfo struct {
	name  string
	unit  string
	state bool    // a state change rather than a periodic sample
	min   float64 // physical lower limit; readings outside are rejected
	max   float64 // physical upper limit
}

var kinds = [kindCount]kindInfo{
	KindUnknown:         {"unknown", "", false, 0, 0},
	KindTemperature:     {"temperature", "°C", false, -50, 100},
	KindHumidity:        {"humidity", "%", false, 0, 100},
	KindCO2:             {"co2", "ppm", false, 0, 50000},
	KindPM25:            {"pm25", "µg/m³", false, 0, 5000},
	KindPM10:            {"pm10", "µg/m³", false, 0, 5000},
	KindHCHO:            {"hcho", "mg/m³", false, 0, 50},
	KindTVOC:            {"tvoc", "mg/m³", false, 0, 100},
	KindDoor:            {"door", "open", true, 0, 1},
	KindWindow:          {"window", "open", true, 0, 1},
	KindCameraOnline:    {"camera_online", "online", true, 0, 1},
	KindCameraRecording: {"camera_recording", "recording", true, 0, 1},
	KindCameraRetention: {"camera_retention", "days", false, 0, 36500},
	KindCameraLatency:   {"camera_latency", "s", false, 0, 600},
	KindBattery:         {"battery", "%", false, 0, 100},
	KindLinkQuality:     {"linkquality", "lqi", false, 0, 255},
	KindDeviceOnline:    {"device_online", "online", true, 0, 1},
	KindSmoke:           {"smoke", "alarm", true, 0, 1},
	KindGas:             {"gas", "alarm", true, 0, 1},
}

var kindByName = func() map[string]Kind {
	m := make(map[string]Kind, kindCount)
	for k := Kind(1); k < kindCount; k++ {
		m[kinds[k].name] = k
	}
	return m
}()

// String returns the kind's name, which is also its InfluxDB measurement.
func (k Kind) String() string {
	if k < kindCount {
		return kinds[k].name
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Valid reports whether k is a known kind other than KindUnknown.
func (k Kind) Valid() bool { return k > KindUnknown && k < kindCount }

// Unit is the canonical unit of the kind.
func (k Kind) Unit() string {
	if k.Valid() {
		return kinds[k].unit
	}
	return ""
}

// IsState reports whether readings of this kind are state changes (door,
// camera online, alarm) rather than periodic samples. The spool drops
// periodic samples first when it is full.
func (k Kind) IsState() bool { return k.Valid() && kinds[k].state }

// InRange reports whether v is physically plausible for the kind.
func (k Kind) InRange(v float64) bool {
	if !k.Valid() {
		return false
	}
	i := kinds[k]
	return v >= i.min && v <= i.max // false for NaN
}

// ParseKind maps a kind's name to the kind.
func ParseKind(name string) (Kind, error) {
	if k, ok := kindByName[name]; ok {
		return k, nil
	}
	return KindUnknown, fmt.Errorf("unknown reading kind %q", name)
}

// Kinds lists every valid kind in wire order.
func Kinds() []Kind {
	out := make([]Kind, 0, kindCount-1)
	for k := Kind(1); k < kindCount; k++ {
		out = append(out, k)
	}
	return out
}
