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
	Rejected uint64    `json:"rejected,omitempty"` // readings refused (one by one, or the whole batch when Status is rejected)
	Reason   string    `json:"reason,omitempty"`   // why a rejected batch was refused (a Reject* value)
	// Rejections counts the refused readings by reason (Reject* values), so
	// the facility sees why; its values add up to Rejected. Gateways that
	// predate it ignore the key.
	Rejections map[string]uint64 `json:"rejections,omitempty"`
	// Ignored lists claims of the gateway the centre did not believe (Reject*
	// values, such as region_mismatch): the batch was stored with the
	// registry's attribution instead, and the facility's file needs fixing.
	Ignored []string `json:"ignored,omitempty"`
}

// Ignore records a claim the centre did not believe, once.
func (a *Ack) Ignore(reason string) {
	for _, r := range a.Ignored {
		if r == reason {
			return
		}
	}
	a.Ignored = append(a.Ignored, reason)
}

// Reject adds n refused readings for reason.
func (a *Ack) Reject(reason string, n uint64) {
	if n == 0 {
		return
	}
	if a.Rejections == nil {
		a.Rejections = map[string]uint64{}
	}
	a.Rejections[reason] += n
	a.Rejected += n
}

// Why a reading or a batch was refused: the reason label of the services'
// rejection counters and the keys of Ack.Rejections.
const (
	RejectCorrupt             = "corrupt"              // the batch could not be decoded, or its span is wrong
	RejectFacilityMismatch    = "facility_mismatch"    // the batch names another facility than its topic
	RejectGatewayMismatch     = "gateway_mismatch"     // the batch names another gateway than its topic
	RejectBadRegion           = "bad_region"           // the batch's region code is not 9 digits (ignored: stored under the registry's)
	RejectUnknownFacility     = "unknown_facility"     // the facility is not in the registry
	RejectUnregisteredGateway = "unregistered_gateway" // the gateway is not registered to the facility
	RejectRegionMismatch      = "region_mismatch"      // the batch claims another region than the registry's (ignored: stored under the registry's)
	RejectBadID               = "bad_id"               // a device or room ID breaks ValidateID
	RejectUnregisteredDevice  = "unregistered_device"  // the device is not listed for the facility, nor for any other
	RejectForeignDevice       = "foreign_device"       // the device is listed for another facility only
	RejectBadKind             = "bad_kind"             // unknown kind
	RejectOutOfRange          = "out_of_range"         // value not finite or physically impossible
	RejectFuture              = "future"               // measured further ahead than the centre allows
	RejectTooOld              = "too_old"              // older than the centre keeps (max_age)
	RejectDatabase            = "database"             // the database refused the single point
)

// RejectReasons lists every Reject* value: the label values of counters
// that start at zero, and what a gateway takes from an ack as a label
// (anything else it counts as RejectOther).
var RejectReasons = []string{RejectCorrupt, RejectFacilityMismatch, RejectGatewayMismatch, RejectBadRegion,
	RejectUnknownFacility, RejectUnregisteredGateway, RejectRegionMismatch, RejectBadID, RejectUnregisteredDevice,
	RejectForeignDevice, RejectBadKind, RejectOutOfRange, RejectFuture, RejectTooOld, RejectDatabase}

// RejectOther stands for a reason a gateway does not know (a newer
// centre's), so that a label never takes a value from the wire.
const RejectOther = "other"

// KnownReject returns reason if it is one of RejectReasons, else
// RejectOther.
func KnownReject(reason string) string {
	for _, r := range RejectReasons {
		if r == reason {
			return r
		}
	}
	return RejectOther
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
