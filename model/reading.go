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

// Batch is what a gateway sends to the centre in one MQTT message. Readings
// have spool indexes First, First+1, ... First+len(Readings)+len(Gaps)-1 in
// that order (readings first, then gaps); the collector acknowledges the
// range, and the gateway deletes it from its spool only then.
type Batch struct {
	Gateway  string
	Facility string
	Region   Region
	First    uint64 // spool index of the first entry: the batch's sequence number
	Sent     time.Time
	Readings []Reading
	Gaps     []Gap
}

// Count is the number of spool entries the batch covers.
func (b *Batch) Count() uint64 { return uint64(len(b.Readings) + len(b.Gaps)) }
