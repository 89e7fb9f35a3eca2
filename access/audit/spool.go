package audit

import (
	"encoding/json"
	"errors"
	"time"
)

// The writer's local buffer ("spool") is a record log (internal/recordlog):
// CRC-framed records, one JSON record each. Damage is quarantined beside it
// (<chain>.spool.quarantine) and every good record after it is kept.

// spoolRecord is a Record on disk; the time as Unix nanoseconds, exactly.
type spoolRecord struct {
	Chain     string `json:"chain"`
	Seq       int64  `json:"seq"`
	At        int64  `json:"at"`
	Actor     string `json:"actor"`
	ActorName string `json:"actor_name,omitempty"`
	ActorRole string `json:"actor_role,omitempty"`
	Action    string `json:"action"`
	Facility  string `json:"facility,omitempty"`
	Region    string `json:"region,omitempty"`
	Subject   string `json:"subject,omitempty"`
	Detail    string `json:"detail"`
	Prev      string `json:"prev"`
	Hash      string `json:"hash"`
}

func encodeRecord(r Record) ([]byte, error) {
	return json.Marshal(spoolRecord{r.Chain, r.Seq, r.Time.UnixNano(), r.Actor, r.ActorName, r.ActorRole, r.Action,
		r.Facility, r.Region, r.Subject, r.Detail, r.Prev, r.Hash})
}

// decodeRecord reads a buffered record and checks its own hash: a record
// the log's CRCs pass but whose content was altered is refused (and so
// quarantined by the log).
func decodeRecord(b []byte) (Record, error) {
	var s spoolRecord
	if err := json.Unmarshal(b, &s); err != nil {
		return Record{}, err
	}
	r := Record{s.Chain, s.Seq, time.Unix(0, s.At).UTC(), s.Actor, s.ActorName, s.ActorRole, s.Action,
		s.Facility, s.Region, s.Subject, s.Detail, s.Prev, s.Hash}
	if r.ComputeHash() != r.Hash {
		return Record{}, errors.New("record hash mismatch")
	}
	return r, nil
}
