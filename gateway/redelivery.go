package gateway

import (
	"hash/crc32"
	"sync"

	"github.com/cradlewatch/cradlewatch/gateway/spool"
	"github.com/cradlewatch/cradlewatch/model"
)

// Redelivery.
//
// A local broker delivers a QoS 1 message again when it did not get the
// acknowledgement: the connection dropped between the spool's fsync and
// the PUBACK, or the gateway was killed there. It sets the DUP flag and
// keeps the packet ID (Mosquitto for its delivery to the gateway, a
// sensor for its publish to the embedded broker). A message with its own
// device time is then the same InfluxDB point again, harmless; one stamped
// with its arrival time (Zigbee2MQTT without last_seen) would be stored a
// second time, a second later.
//
// So every stored message that got an arrival stamp leaves a receipt in
// the spool, after its readings and in the same fsync: its packet ID, a
// digest of topic and payload, and its device. A message with the DUP flag
// whose device has a receipt with the same packet ID and digest among the
// last receiptMemory is not stored again. Only DUP messages are
// checked: a device that sends the same payload twice (the temperature did
// not change) sends two readings. The memory is rebuilt from the spool's
// tail at start, so a redelivery after a restart is recognised too; what
// the spool no longer holds (released and deleted long ago) cannot be
// redelivered any more anyway.
//
// A redelivery can arrive while the original is still waiting for its
// group commit (the connection dropped and came back within it). It is then
// not stored either, and acknowledged once the original is durable; if the
// original fails, it is not acknowledged and the broker delivers it again.

// receiptMemory is how many recent stored messages are remembered: more
// than a local broker keeps unacknowledged for the gateway (Mosquitto's
// max_inflight_messages, 1,000 in deploy/) or a sensor has in flight to the
// embedded broker, and far fewer than the 65,536 packet IDs, so that a
// packet ID cannot come round again within it. About 1 MiB when full.
const receiptMemory = 16384

// spoolTailRecords is how much of the spool's tail New reads to rebuild
// the receipts.
const spoolTailRecords = 1 << 16

// receiptKey identifies a message: its device, packet ID and digest.
type receiptKey struct {
	dev    *model.Device
	pid    uint16
	digest uint64
}

// receipt is one remembered message.
type receipt struct {
	key     receiptKey
	seq     uint64 // 0: empty slot
	durable bool
}

// receiptRef names a receipt until it is durable; seq tells whether the
// slot was reused meanwhile.
type receiptRef struct {
	slot int
	seq  uint64
}

// receipts is the memory of recent stored messages, a ring of
// receiptMemory receipts with an index. Callers hold mu: the intake while
// it takes a message, the spool's committer while it settles an append.
type receipts struct {
	mu      sync.Mutex
	ring    []receipt // grows to receiptMemory, then wraps
	next    int       // the slot add fills once the ring is full
	index   map[receiptKey]int
	seq     uint64
	waiters map[uint64][]func() // by seq: acknowledgements of redeliveries waiting for the original
}

func newReceipts() *receipts {
	return &receipts{index: map[receiptKey]int{}, waiters: map[uint64][]func(){}}
}

// digest identifies a message's content: CRC-32C of topic and payload, and
// their lengths. It is compared only between messages of one device with
// one packet ID, so 32 bits of CRC leave no room for a mistake in practice.
func digest(topic, payload []byte) uint64 {
	c := crc32.Update(crc32.Update(0, castagnoli, topic), castagnoli, payload)
	return uint64(c)<<32 | uint64(len(topic)+len(payload))&0xffffffff
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// add remembers a message of dev.
func (r *receipts) add(dev *model.Device, pid uint16, dg uint64, durable bool) receiptRef {
	r.seq++
	x := receipt{key: receiptKey{dev, pid, dg}, seq: r.seq, durable: durable}
	slot := len(r.ring)
	if slot < receiptMemory {
		r.ring = append(r.ring, x)
	} else {
		slot = r.next
		r.next = (r.next + 1) % receiptMemory
		old := r.ring[slot]
		if r.index[old.key] == slot {
			delete(r.index, old.key)
		}
		delete(r.waiters, old.seq) // pushed out before it settled: never acknowledged here
		r.ring[slot] = x
	}
	r.index[x.key] = slot
	return receiptRef{slot: slot, seq: x.seq}
}

// find looks for a message of dev with packet ID pid and digest dg.
func (r *receipts) find(dev *model.Device, pid uint16, dg uint64) (receiptRef, *receipt) {
	slot, ok := r.index[receiptKey{dev, pid, dg}]
	if !ok {
		return receiptRef{}, nil
	}
	x := &r.ring[slot]
	return receiptRef{slot: slot, seq: x.seq}, x
}

// wait makes ack run once the receipt ref names is durable.
func (r *receipts) wait(ref receiptRef, ack func()) {
	r.waiters[ref.seq] = append(r.waiters[ref.seq], ack)
}

// settle marks refs durable (ok) or forgets them (their append failed),
// and returns the acknowledgements that were waiting for them.
func (r *receipts) settle(refs []receiptRef, ok bool) []func() {
	var run []func()
	for _, ref := range refs {
		x := &r.ring[ref.slot]
		if x.seq != ref.seq {
			continue // the slot was reused
		}
		if ok {
			x.durable = true
			run = append(run, r.waiters[ref.seq]...)
		} else if r.index[x.key] == ref.slot {
			delete(r.index, x.key)
		}
		delete(r.waiters, ref.seq)
	}
	return run
}

// rebuild fills the memory from the receipts in the spool's tail.
func (r *receipts) rebuild(sp *spool.Spool, devices map[string]*model.Device) (int, error) {
	st := sp.Stats()
	from := uint64(1)
	if st.Next > spoolTailRecords {
		from = st.Next - spoolTailRecords
	}
	n := 0
	var buf spool.ReadBuffer
	for from < st.Next {
		if err := sp.ReadInto(&buf, from, 4096, 0); err != nil {
			return n, err
		}
		if len(buf.Records) == 0 {
			break
		}
		for _, rec := range buf.Records {
			if model.EntryType(rec.Data) != entryReceipt {
				continue
			}
			pid, dg, dev, err := decodeReceipt(rec.Data)
			if d := devices[string(dev)]; err == nil && d != nil {
				r.add(d, pid, dg, true)
				n++
			}
		}
		from = buf.Records[len(buf.Records)-1].Index + 1
	}
	return n, nil
}
