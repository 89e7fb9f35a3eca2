package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"time"
)

// Record is one entry of the audit trail: who (Actor, from the
// authenticated identity), did what (Action) to what (Facility, Region,
// Subject), when, with details (Detail, JSON), and its place in its
// writer's chain (Chain, Seq, Prev, Hash).
type Record struct {
	Chain     string    // the writer's chain: "alerting-0", "console-1"
	Seq       int64     // 1, 2, 3 ... within the chain, without gaps
	Time      time.Time // UTC; kept to the nanosecond
	Actor     string    // "person:<account id>", "token:<id>", "service:<name>"
	ActorName string    // login or token name, for reading
	ActorRole string    // the role the actor acted in
	Action    string    // see the Action constants
	Facility  string
	Region    string // the facility's registered region or the region acted on
	Subject   string // the alert fingerprint, account ID, token ID ...
	Detail    string // JSON object, hashed exactly as stored
	Prev      string // hex SHA-256 of the previous record of the chain (Genesis for Seq 1)
	Hash      string // hex SHA-256 of this record (ComputeHash)
}

// hashVersion starts every hashed encoding, so a future format cannot be
// confused with this one.
const hashVersion = "cwaudit/v1"

// Genesis is the Prev of a chain's first record: a hash of the chain's
// name, so that a chain's first record cannot be moved to another chain.
func Genesis(chain string) string {
	h := sha256.New()
	h.Write([]byte(hashVersion + " genesis\n"))
	h.Write([]byte(chain))
	return hex.EncodeToString(h.Sum(nil))
}

// ComputeHash is the record's hash: SHA-256 over every field but Hash, each
// length-prefixed so that no two different records encode alike.
func (r Record) ComputeHash() string {
	h := sha256.New()
	h.Write([]byte(hashVersion + " record\n"))
	var n [binary.MaxVarintLen64]byte
	for _, f := range []string{
		r.Chain, strconv.FormatInt(r.Seq, 10), strconv.FormatInt(r.Time.UnixNano(), 10),
		r.Actor, r.ActorName, r.ActorRole, r.Action, r.Facility, r.Region, r.Subject, r.Detail, r.Prev,
	} {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(f)))])
		h.Write([]byte(f))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Anchor is a chain's head at one moment, signed with the anchor key
// (Ed25519), which lives outside the data directory: whoever can write the
// database cannot rewrite the chain up to an anchor without the key.
type Anchor struct {
	Chain     string
	Seq       int64
	Hash      string // the Hash of record Seq
	Time      time.Time
	KeyID     string // KeyID of the public key
	Signature string // base64 (standard) Ed25519 signature of SignedBytes
}

// SignedBytes is what an anchor's signature covers.
func (a Anchor) SignedBytes() []byte {
	return []byte(hashVersion + " anchor\n" + a.Chain + "\n" + strconv.FormatInt(a.Seq, 10) + "\n" +
		a.Hash + "\n" + strconv.FormatInt(a.Time.UnixNano(), 10) + "\n" + a.KeyID)
}

// Actions recorded in the trail. Detail carries the specifics.
const (
	ActionAlertTransition = "alert.transition" // an alert's state changed (detail: from, to, rule, severity, value)
	ActionNotification    = "notification"     // a notice was delivered, silenced or dead (detail: channel, outcome, phone_key)
	ActionAcknowledge     = "alert.acknowledge"
	ActionSilenceAdd      = "silence.add" // detail: id, start, end, reason
	ActionSilenceEnd      = "silence.end" // detail: id, end
	ActionLogin           = "login"       // detail: method, source
	ActionLoginFailed     = "login.failed"
	ActionLockout         = "lockout" // detail: key kind, until
	ActionLogout          = "logout"  //
	ActionAccountCreate   = "account.create"
	ActionRoleChange      = "account.role" // detail: from, to (role, region, facilities)
	ActionAccountDisable  = "account.disable"
	ActionTokenIssue      = "token.issue"
	ActionTokenRevoke     = "token.revoke"
	ActionSpoolQuarantine = "audit.spool_quarantine" // the writer set aside a corrupt local record
)
