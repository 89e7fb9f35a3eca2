package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/cradlewatch/cradlewatch/access/audit"
)

// The store is the audit trail's Sink and Source.
var (
	_ audit.Sink   = (*Store)(nil)
	_ audit.Source = (*Store)(nil)
)

const auditColumns = `chain, seq, at, actor, actor_name, actor_role, action, facility, region, subject, detail, prev_hash, hash`

// AppendAudit implements audit.Sink.
func (s *Store) AppendAudit(ctx context.Context, recs []audit.Record) error {
	if len(recs) == 0 {
		return nil
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for _, r := range recs {
			var have string
			err := tx.QueryRowContext(ctx, `SELECT hash FROM audit_records WHERE chain = $1 AND seq = $2`, r.Chain, r.Seq).Scan(&have)
			switch {
			case err == nil && have == r.Hash:
				continue // stored by an earlier attempt whose reply was lost
			case err == nil:
				return fmt.Errorf("%w: %s #%d is stored with hash %.12s, not %.12s", audit.ErrChainConflict, r.Chain, r.Seq, have, r.Hash)
			case !errors.Is(err, sql.ErrNoRows):
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO audit_records (`+auditColumns+`)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
				r.Chain, r.Seq, nanos(r.Time), r.Actor, r.ActorName, r.ActorRole, r.Action, r.Facility, r.Region, r.Subject,
				r.Detail, r.Prev, r.Hash); err != nil {
				if isUniqueViolation(err) {
					return fmt.Errorf("%w: %s #%d written concurrently by another writer", audit.ErrChainConflict, r.Chain, r.Seq)
				}
				return err
			}
		}
		return nil
	})
}

// AuditHead implements audit.Sink.
func (s *Store) AuditHead(ctx context.Context, chain string) (audit.Record, bool, error) {
	row := s.db.QueryRowContext(ctx, `SELECT `+auditColumns+` FROM audit_records WHERE chain = $1 ORDER BY seq DESC LIMIT 1`, chain)
	r, err := scanRecord(row)
	if errors.Is(err, sql.ErrNoRows) {
		return audit.Record{}, false, nil
	}
	return r, err == nil, err
}

// InsertAnchor implements audit.Sink.
func (s *Store) InsertAnchor(ctx context.Context, a audit.Anchor) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO audit_anchors (chain, seq, hash, at, key_id, signature) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (chain, seq) DO NOTHING`, a.Chain, a.Seq, a.Hash, nanos(a.Time), a.KeyID, a.Signature)
	return err
}

// AuditChains implements audit.Source: every chain with records or anchors.
func (s *Store) AuditChains(ctx context.Context) ([]string, error) {
	return queryAll(ctx, s, `SELECT chain FROM audit_records UNION SELECT chain FROM audit_anchors ORDER BY 1`,
		func(r scanner) (c string, err error) { return c, r.Scan(&c) })
}

// auditPage is how many records ScanAudit reads per query, so a long chain
// streams without one huge result set.
const auditPage = 1000

// ScanAudit implements audit.Source.
func (s *Store) ScanAudit(ctx context.Context, chain string, fn func(audit.Record) error) error {
	after := int64(-1 << 62)
	for {
		rows, err := s.db.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit_records WHERE chain = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
			chain, after, auditPage)
		if err != nil {
			return err
		}
		var page []audit.Record
		for rows.Next() {
			r, err := scanRecord(rows)
			if err != nil {
				rows.Close()
				return err
			}
			page = append(page, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, r := range page {
			if err := fn(r); err != nil {
				return err
			}
		}
		if len(page) < auditPage {
			return nil
		}
		after = page[len(page)-1].Seq
	}
}

// AuditRecords returns the records of a facility since a time (for the
// console's history and the silence cap's history), oldest first.
func (s *Store) AuditRecords(ctx context.Context, facility, action string, since time.Time) ([]audit.Record, error) {
	return queryAll(ctx, s, `SELECT `+auditColumns+` FROM audit_records WHERE facility = $1 AND action = $2 AND at >= $3 ORDER BY at, chain, seq`,
		scanRecord, facility, action, nanos(since))
}

func scanRecord(r scanner) (audit.Record, error) {
	var rec audit.Record
	var at int64
	err := r.Scan(&rec.Chain, &rec.Seq, &at, &rec.Actor, &rec.ActorName, &rec.ActorRole, &rec.Action, &rec.Facility,
		&rec.Region, &rec.Subject, &rec.Detail, &rec.Prev, &rec.Hash)
	rec.Time = fromNanos(at)
	return rec, err
}

// Anchors implements audit.Source.
func (s *Store) Anchors(ctx context.Context, chain string) ([]audit.Anchor, error) {
	return queryAll(ctx, s, `SELECT chain, seq, hash, at, key_id, signature FROM audit_anchors WHERE chain = $1 ORDER BY seq`,
		func(r scanner) (audit.Anchor, error) {
			var a audit.Anchor
			var at int64
			err := r.Scan(&a.Chain, &a.Seq, &a.Hash, &at, &a.KeyID, &a.Signature)
			a.Time = fromNanos(at)
			return a, err
		}, chain)
}

// Quarantined implements audit.Source.
func (s *Store) Quarantined(ctx context.Context) ([]audit.Quarantine, error) {
	return queryAll(ctx, s, `SELECT chain, seq, kind, record_hash, reason, at FROM audit_quarantine ORDER BY chain, seq, kind`,
		func(r scanner) (audit.Quarantine, error) {
			var q audit.Quarantine
			var kind string
			var at int64
			err := r.Scan(&q.Chain, &q.Seq, &kind, &q.RecordHash, &q.Reason, &at)
			q.Kind, q.At = audit.ProblemKind(kind), fromNanos(at)
			return q, err
		})
}

// Quarantine implements audit.Source. Quarantining a finding again
// replaces the earlier entry (the record's hash may have changed since).
func (s *Store) Quarantine(ctx context.Context, q audit.Quarantine) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO audit_quarantine (chain, seq, kind, record_hash, reason, at) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (chain, seq, kind) DO UPDATE SET record_hash = excluded.record_hash, reason = excluded.reason, at = excluded.at`,
		q.Chain, q.Seq, string(q.Kind), q.RecordHash, q.Reason, nanos(q.At))
	return err
}
