package model

import "time"

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
	Readings []Reading
	Gaps     []Gap
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
