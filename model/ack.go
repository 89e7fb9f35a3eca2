package model

import (
	"encoding/json"
	"fmt"
)

// AckStatus is the collector's verdict on a batch.
type AckStatus string

const (
	// AckStored: every reading of the batch is in InfluxDB (or was rejected
	// per reading and counted); the gateway may delete the range.
	AckStored AckStatus = "stored"
	// AckRejected: the batch as a whole cannot be stored (undecodable, or
	// for another facility). Resending cannot help; the gateway deletes the
	// range and counts it.
	AckRejected AckStatus = "rejected"
)

// Ack confirms a batch to its gateway. It is JSON: acks are small and rare
// next to batches, and readable on the wire with mosquitto_sub.
type Ack struct {
	V        int       `json:"v"`
	First    uint64    `json:"first"`
	Count    uint64    `json:"count"`
	Status   AckStatus `json:"status"`
	Rejected uint64    `json:"rejected,omitempty"` // readings refused one by one (out of range, too old)
	Reason   string    `json:"reason,omitempty"`
}

// EncodeAck renders an Ack.
func EncodeAck(a Ack) []byte {
	a.V = WireVersion
	b, _ := json.Marshal(a) // cannot fail: plain struct
	return b
}

// DecodeAck parses and checks an Ack.
func DecodeAck(p []byte) (Ack, error) {
	var a Ack
	if err := json.Unmarshal(p, &a); err != nil {
		return a, fmt.Errorf("ack: %w", err)
	}
	if a.V != WireVersion {
		return a, fmt.Errorf("ack: version %d, want %d", a.V, WireVersion)
	}
	if a.Count == 0 {
		return a, fmt.Errorf("ack: count is zero")
	}
	if a.Status != AckStored && a.Status != AckRejected {
		return a, fmt.Errorf("ack: unknown status %q", a.Status)
	}
	return a, nil
}
