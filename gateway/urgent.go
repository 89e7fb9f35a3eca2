package gateway

import "github.com/cradlewatch/cradlewatch/model"

// The urgent lane.
//
// A smoke alarm must reach a phone in seconds, so the path from the local
// broker to the centre has no fixed wait for it. A reading of a state kind
// (model.Kind.IsState: smoke, gas, door, window, camera online and
// recording, device online: kinds that report on change) whose value differs
// from the last one of its device and kind, or is the first since the
// gateway started, is urgent. The group of messages it arrived with is
// appended at once with spool.AppendNow (an fsync of its own instead of the
// group commit's wait of up to spool.commit_interval), its urgent readings
// after an urgent mark entry (entries.go); once durable, the uplink sends
// them in a batch of their own on the urgent lane (model.LaneUrgent)
// without waiting for a free slot in the window (uplink_lanes.go).
// Repeated states (a door sensor reports its contact with every battery
// report) and periodic samples keep the group commit and the normal
// batches: an urgent reading costs an fsync, and only changes are worth it.

// stateKey is one state series of a device.
type stateKey struct {
	dev  *model.Device
	kind model.Kind
}

// states remembers the last value of every state series an intake saw,
// bounded by the registered devices and their kinds.
type states map[stateKey]float64

// changed reports whether v is a state change of dev's kind, and remembers
// it.
func (s states) changed(dev *model.Device, kind model.Kind, v float64) bool {
	if !kind.IsState() {
		return false
	}
	k := stateKey{dev, kind}
	if last, ok := s[k]; ok && last == v {
		return false
	}
	s[k] = v
	return true
}
