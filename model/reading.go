package model

import (
	"fmt"
	"time"
)

// Reading is one measured value of one device, at the time the device (or the
// gateway, when the device sends no time) measured it. Its identity in
// InfluxDB is facility + room + device + kind + Time, so a resent reading
// overwrites itself with the same value.
type Reading struct {
	Device string    // device ID, unique within the facility
	Room   string    // room ID the device is installed in; "" when unknown
	Kind   Kind      // what was measured
	Time   time.Time // when it was measured; millisecond precision on the wire
	Value  float64   // in Kind.Unit()
}

// Gap tells the centre that the gateway dropped readings it had accepted,
// because its spool was full. It travels inside a batch so that it is as
// durable as a reading.
type Gap struct {
	From    time.Time // measurement time of the oldest dropped reading
	To      time.Time // measurement time of the newest dropped reading
	Count   uint64    // how many readings were dropped
	Devices []string  // which devices lost readings
}

// Batch is what a gateway sends to the centre in one MQTT message. It covers
// the gateway's spool indexes [First, First+Span): its readings and gaps are
// the entries stored under those indexes (Span can exceed their number where
// the spool dropped entries, which a Gap then reports). The collector
// acknowledges the range, and the gateway deletes it from its spool only then.
type Batch struct {
	Gateway  string
	Facility string
	Region   Region
	First    uint64 // spool index of the first entry: the batch's sequence number
	Span     uint64 // number of spool indexes covered; 0 when encoding means Count()
	Sent     time.Time
	Lane     Lane // which of the gateway's uplink lanes sent it
	// Draining is set by the gateway while older entries than this batch's
	// are still unacknowledged in its spool (a backlog lane is draining):
	// the centre then knows the facility's stream is not yet complete up to
	// this batch's readings, and does not announce what it may still revise.
	Draining bool
	Readings []Reading
	Gaps     []Gap
}

// Lane says why a gateway sent a batch, so that the centre can tell current
// data from history. It travels in the batch's flags byte (docs/wire.md).
type Lane uint8

// Lanes of the gateway's uplink.
const (
	LaneLive    Lane = 0 // the spool's head: current readings
	LaneBacklog Lane = 1 // older entries sent after an outage, in index order
	LaneUrgent  Lane = 2 // a safety-relevant state change sent at once, ahead of the group commit's batch
)

// String names the lane.
func (l Lane) String() string {
	switch l {
	case LaneLive:
		return "live"
	case LaneBacklog:
		return "backlog"
	case LaneUrgent:
		return "urgent"
	}
	return fmt.Sprintf("lane(%d)", uint8(l))
}

// Count is the number of entries (readings and gaps) the batch carries.
func (b *Batch) Count() uint64 { return uint64(len(b.Readings) + len(b.Gaps)) }

// Covers is the number of spool indexes the batch acknowledges: Span, or
// Count when Span is not set.
func (b *Batch) Covers() uint64 {
	if b.Span > 0 {
		return b.Span
	}
	return b.Count()
}
