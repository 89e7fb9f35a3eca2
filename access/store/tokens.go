package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/cradlewatch/cradlewatch/access"
	"github.com/cradlewatch/cradlewatch/model"
)

// Token is an API token as stored: its secret only as a SHA-256 hash.
type Token struct {
	ID         string
	SecretHash string
	Name       string
	Role       access.Role
	Region     model.RegionCode
	Facilities []string
	Actions    []access.Action
	CreatedBy  string // actor
	CreatedAt  time.Time
	ExpiresAt  time.Time
	RevokedAt  time.Time // zero while valid
	LastUsedAt time.Time
}

// Principal is the token as the authorisation layer sees it.
func (t Token) Principal() access.Principal {
	return access.Principal{Kind: access.KindToken, ID: t.ID, Name: t.Name, Role: t.Role, Region: t.Region,
		Facilities: t.Facilities, Actions: t.Actions}
}

const tokenColumns = `id, secret_hash, name, role, region, facilities, actions, created_by, created_at, expires_at, revoked_at, last_used_at`

// InsertToken stores a new token.
func (s *Store) InsertToken(ctx context.Context, t Token) error {
	if err := t.Principal().Validate(); err != nil {
		return fmt.Errorf("store: token %s: %w", t.Name, err)
	}
	if t.ExpiresAt.IsZero() {
		return fmt.Errorf("store: token %s: no expiry", t.Name)
	}
	actions := make([]string, len(t.Actions))
	for i, a := range t.Actions {
		actions[i] = string(a)
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO tokens (`+tokenColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, NULL)`,
		t.ID, t.SecretHash, t.Name, string(t.Role), t.Region.String(), joinList(t.Facilities), joinList(actions),
		t.CreatedBy, nanos(t.CreatedAt), nanos(t.ExpiresAt))
	if isUniqueViolation(err) {
		return fmt.Errorf("%w: token %s", ErrExists, t.ID)
	}
	return err
}

// TokenByID finds a token by its public ID.
func (s *Store) TokenByID(ctx context.Context, id string) (Token, error) {
	row := s.db.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE id = $1`, id)
	t, err := scanToken(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Token{}, ErrNotFound
	}
	return t, err
}

// Tokens lists every token, newest first.
func (s *Store) Tokens(ctx context.Context) ([]Token, error) {
	return queryAll(ctx, s, `SELECT `+tokenColumns+` FROM tokens ORDER BY created_at DESC, id`, scanToken)
}

func scanToken(r scanner) (Token, error) {
	var (
		t                       Token
		role, region, fac, acts string
		created, expires        int64
		revoked, used           sql.NullInt64
	)
	if err := r.Scan(&t.ID, &t.SecretHash, &t.Name, &role, &region, &fac, &acts, &t.CreatedBy, &created, &expires, &revoked, &used); err != nil {
		return Token{}, err
	}
	t.Role, t.Facilities = access.Role(role), splitList(fac)
	for _, a := range splitList(acts) {
		t.Actions = append(t.Actions, access.Action(a))
	}
	var err error
	if t.Region, err = parseRegion(region, t.Role); err != nil {
		return Token{}, fmt.Errorf("store: token %s: %w", t.ID, err)
	}
	t.CreatedAt, t.ExpiresAt = fromNanos(created), fromNanos(expires)
	t.RevokedAt, t.LastUsedAt = nullNanos(revoked), nullNanos(used)
	return t, nil
}

// RevokeToken revokes a token at now; revoking twice keeps the first time.
func (s *Store) RevokeToken(ctx context.Context, id string, now time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2`, nanos(now), id)
	return affectedOne(res, err)
}

// TouchToken records a token's use.
func (s *Store) TouchToken(ctx context.Context, id string, now time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE tokens SET last_used_at = $1 WHERE id = $2`, nanos(now), id)
	return err
}
