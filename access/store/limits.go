package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/cradlewatch/cradlewatch/access/limit"
)

// Limits is the failed-attempt counters in the database (limit.Backend),
// shared by every instance that uses the same database.
func (s *Store) Limits() limit.Backend { return limitBackend{s} }

type limitBackend struct{ s *Store }

// Update implements limit.Backend: the row is created if missing, then
// locked for the read-modify-write (FOR UPDATE on PostgreSQL; SQLite's
// IMMEDIATE transaction holds the write lock from its start).
func (b limitBackend) Update(ctx context.Context, key string, fn func(limit.State) limit.State) (limit.State, error) {
	var out limit.State
	lockRow := ""
	if b.s.driver == DriverPostgres {
		lockRow = " FOR UPDATE"
	}
	err := b.s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO attempt_limits (key, failures, window_start, locked_until) VALUES ($1, 0, 0, 0)
			ON CONFLICT (key) DO NOTHING`, key); err != nil {
			return err
		}
		st, err := scanLimit(tx.QueryRowContext(ctx, `SELECT failures, window_start, locked_until FROM attempt_limits WHERE key = $1`+lockRow, key))
		if err != nil {
			return err
		}
		out = fn(st)
		if out == (limit.State{}) {
			_, err = tx.ExecContext(ctx, `DELETE FROM attempt_limits WHERE key = $1`, key)
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE attempt_limits SET failures = $1, window_start = $2, locked_until = $3 WHERE key = $4`,
			out.Failures, nanos0(out.WindowStart), nanos0(out.LockedUntil), key)
		return err
	})
	return out, err
}

// Get implements limit.Backend.
func (b limitBackend) Get(ctx context.Context, key string) (limit.State, error) {
	st, err := scanLimit(b.s.db.QueryRowContext(ctx, `SELECT failures, window_start, locked_until FROM attempt_limits WHERE key = $1`, key))
	if errors.Is(err, sql.ErrNoRows) {
		return limit.State{}, nil
	}
	return st, err
}

// Delete implements limit.Backend.
func (b limitBackend) Delete(ctx context.Context, key string) error {
	_, err := b.s.db.ExecContext(ctx, `DELETE FROM attempt_limits WHERE key = $1`, key)
	return err
}

func scanLimit(row *sql.Row) (limit.State, error) {
	var f, w, l int64
	if err := row.Scan(&f, &w, &l); err != nil {
		return limit.State{}, err
	}
	return limit.State{Failures: int(f), WindowStart: fromNanos(w), LockedUntil: fromNanos(l)}, nil
}
