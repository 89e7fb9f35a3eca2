package model

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestAckRejectionsAreBackwardsCompatible: an ack with per-reason counts is
// read by a gateway that predates them (unknown keys are ignored), and an
// ack from a collector that predates them decodes with none.
func TestAckRejectionsAreBackwardsCompatible(t *testing.T) {
	a := Ack{First: 7, Count: 10, Status: AckStored}
	a.Reject(RejectUnregisteredDevice, 2)
	a.Reject(RejectTooOld, 1)
	a.Reject(RejectTooOld, 0)
	a.Reject(RejectUnregisteredDevice, 1)
	if a.Rejected != 4 || a.Rejections[RejectUnregisteredDevice] != 3 || a.Rejections[RejectTooOld] != 1 || len(a.Rejections) != 2 {
		t.Fatalf("ack %+v", a)
	}
	wire := EncodeAck(a)
	got, err := DecodeAck(wire)
	if err != nil {
		t.Fatal(err)
	}
	a.V = WireVersion
	if !reflect.DeepEqual(got, a) {
		t.Fatalf("round trip %+v, want %+v", got, a)
	}
	// The ack as the previous wire version's gateway reads it.
	var old struct {
		V        int       `json:"v"`
		First    uint64    `json:"first"`
		Count    uint64    `json:"count"`
		Status   AckStatus `json:"status"`
		Rejected uint64    `json:"rejected,omitempty"`
		Reason   string    `json:"reason,omitempty"`
	}
	if err := json.Unmarshal(wire, &old); err != nil || old.Rejected != 4 || old.Count != 10 {
		t.Fatalf("old reader: %+v %v", old, err)
	}
	// An ack of a collector that predates the counts.
	prev, err := DecodeAck([]byte(`{"v":1,"first":3,"count":2,"status":"stored","rejected":1}`))
	if err != nil || prev.Rejected != 1 || prev.Rejections != nil {
		t.Fatalf("old ack: %+v %v", prev, err)
	}
	// Nothing rejected: the key is absent on the wire.
	if s := string(EncodeAck(Ack{First: 1, Count: 1, Status: AckStored})); s != `{"v":1,"first":1,"count":1,"status":"stored"}` {
		t.Fatalf("clean ack %s", s)
	}
}

func TestSchemaNamesAreDistinct(t *testing.T) {
	for m, s := range Schema() {
		seen := map[string]bool{}
		for _, n := range append(append([]string(nil), s.Tags...), s.Fields...) {
			if seen[n] {
				// InfluxDB 3 refuses a tag and a field of one name.
				t.Errorf("%s: %q is used twice", m, n)
			}
			seen[n] = true
		}
		if _, err := ParseKind(m); err == nil {
			t.Errorf("measurement %s is also a reading kind", m)
		}
	}
}
