package audit

import (
	"context"
	"errors"
	"time"
)

// ErrChainConflict is returned by a Sink when a record's place (chain,
// seq) is taken by a different record: two writers share a chain name, or
// a writer lost its local state. Nothing is overwritten.
var ErrChainConflict = errors.New("audit: chain conflict")

// Sink is where a Writer stores records and anchors (access/store).
type Sink interface {
	// AppendAudit stores records of one chain in order, atomically. A
	// record already stored with the same hash is skipped (a resend after
	// a lost reply); one stored with another hash is ErrChainConflict.
	AppendAudit(ctx context.Context, recs []Record) error
	// AuditHead is the chain's last stored record.
	AuditHead(ctx context.Context, chain string) (Record, bool, error)
	// InsertAnchor stores a signed head.
	InsertAnchor(ctx context.Context, a Anchor) error
}

// Source is what Verify reads (access/store).
type Source interface {
	AuditChains(ctx context.Context) ([]string, error)
	// ScanAudit calls fn for each record of the chain in order of Seq.
	ScanAudit(ctx context.Context, chain string, fn func(Record) error) error
	Anchors(ctx context.Context, chain string) ([]Anchor, error)
	Quarantined(ctx context.Context) ([]Quarantine, error)
	Quarantine(ctx context.Context, q Quarantine) error
}

// Quarantine marks a finding of Verify as known and investigated: the
// record stays where it is (nothing is deleted), and later runs report it
// as quarantined rather than as new, as long as the record still has the
// hash it had when it was quarantined.
type Quarantine struct {
	Chain      string
	Seq        int64
	Kind       ProblemKind
	RecordHash string // the stored Hash at the time ("" for a missing record)
	Reason     string
	At         time.Time
}
