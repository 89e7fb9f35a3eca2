package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// Session is a logged-in browser, kept on the server: the cookie holds a
// random value whose SHA-256 is IDHash, so the table alone opens nothing.
type Session struct {
	IDHash     string
	AccountID  string
	Method     string // "password", "oidc"
	Source     string // client address at login
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time // absolute expiry
}

// InsertSession stores a new session.
func (s *Store) InsertSession(ctx context.Context, se Session) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO sessions (id_hash, account_id, method, source, created_at, last_seen_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		se.IDHash, se.AccountID, se.Method, se.Source, nanos(se.CreatedAt), nanos(se.LastSeenAt), nanos(se.ExpiresAt))
	return err
}

// SessionByHash finds a session.
func (s *Store) SessionByHash(ctx context.Context, idHash string) (Session, error) {
	var (
		se                     Session
		created, seen, expires int64
	)
	err := s.db.QueryRowContext(ctx, `SELECT id_hash, account_id, method, source, created_at, last_seen_at, expires_at
		FROM sessions WHERE id_hash = $1`, idHash).Scan(&se.IDHash, &se.AccountID, &se.Method, &se.Source, &created, &seen, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, ErrNotFound
	}
	se.CreatedAt, se.LastSeenAt, se.ExpiresAt = fromNanos(created), fromNanos(seen), fromNanos(expires)
	return se, err
}

// TouchSession moves a session's idle clock.
func (s *Store) TouchSession(ctx context.Context, idHash string, now time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2`, nanos(now), idHash)
	return err
}

// DeleteSession ends one session (logout, expiry).
func (s *Store) DeleteSession(ctx context.Context, idHash string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = $1`, idHash)
	return err
}

// DeleteSessionsOf ends every session of an account.
func (s *Store) DeleteSessionsOf(ctx context.Context, accountID string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE account_id = $1`, accountID)
	return err
}

// DeleteExpiredSessions removes sessions past their absolute expiry or idle
// since before idleBefore, and expired pending OpenID Connect logins. It
// returns how many sessions went.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now, idleBefore time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at < $2`, nanos(now), nanos(idleBefore))
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	_, err = s.db.ExecContext(ctx, `DELETE FROM oidc_logins WHERE expires_at <= $1`, nanos(now))
	return n, err
}

// OIDCLogin is a login started at the identity provider and not yet back.
type OIDCLogin struct {
	StateHash string
	Nonce     string
	Verifier  string // PKCE code verifier
	ReturnTo  string
	ExpiresAt time.Time
}

// InsertOIDCLogin stores a pending login.
func (s *Store) InsertOIDCLogin(ctx context.Context, l OIDCLogin) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO oidc_logins (state_hash, nonce, verifier, return_to, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		l.StateHash, l.Nonce, l.Verifier, l.ReturnTo, nanos(l.ExpiresAt))
	return err
}

// TakeOIDCLogin returns a pending login and deletes it: a state is good for
// one callback only.
func (s *Store) TakeOIDCLogin(ctx context.Context, stateHash string) (OIDCLogin, error) {
	var l OIDCLogin
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var exp int64
		err := tx.QueryRowContext(ctx, `SELECT state_hash, nonce, verifier, return_to, expires_at FROM oidc_logins WHERE state_hash = $1`, stateHash).
			Scan(&l.StateHash, &l.Nonce, &l.Verifier, &l.ReturnTo, &exp)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		l.ExpiresAt = fromNanos(exp)
		res, err := tx.ExecContext(ctx, `DELETE FROM oidc_logins WHERE state_hash = $1`, stateHash)
		return affectedOne(res, err)
	})
	return l, err
}
