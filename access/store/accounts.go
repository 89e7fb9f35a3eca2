package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cradlewatch/cradlewatch/access"
	"github.com/cradlewatch/cradlewatch/model"
)

// Account is a person who logs in: by password (PasswordHash set) or by
// OpenID Connect (OIDCIssuer and OIDCSubject set), or both.
type Account struct {
	ID           string
	Username     string
	DisplayName  string
	PasswordHash string // argon2id PHC string, "" when password login is off
	OIDCIssuer   string
	OIDCSubject  string
	Role         access.Role
	Region       model.RegionCode
	Facilities   []string
	Disabled     bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Principal is the account as the authorisation layer sees it.
func (a Account) Principal() access.Principal {
	return access.Principal{Kind: access.KindPerson, ID: a.ID, Name: a.Username, Role: a.Role,
		Region: a.Region, Facilities: a.Facilities}
}

const accountColumns = `id, username, display_name, password_hash, oidc_issuer, oidc_subject, role, region, facilities, disabled, created_at, updated_at`

// CreateAccount inserts a; ErrExists when the username (or the OIDC
// identity) is taken. The role and scope must be valid.
func (s *Store) CreateAccount(ctx context.Context, a Account) error {
	if err := a.Principal().Validate(); err != nil {
		return fmt.Errorf("store: account %s: %w", a.Username, err)
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO accounts (`+accountColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		a.ID, a.Username, a.DisplayName, nullString(a.PasswordHash), nullString(a.OIDCIssuer), nullString(a.OIDCSubject),
		string(a.Role), a.Region.String(), joinList(a.Facilities), a.Disabled, nanos(a.CreatedAt), nanos(a.UpdatedAt))
	if isUniqueViolation(err) {
		return fmt.Errorf("%w: account %s", ErrExists, a.Username)
	}
	return err
}

// AccountByUsername finds an account by its login name.
func (s *Store) AccountByUsername(ctx context.Context, username string) (Account, error) {
	return s.account(ctx, `username = $1`, username)
}

// AccountsByUsernameFold finds the accounts whose login name equals
// username with ASCII letters compared case-insensitively (as Grafana
// compares logins), by username; none is not an error.
func (s *Store) AccountsByUsernameFold(ctx context.Context, username string) ([]Account, error) {
	return queryAll(ctx, s, `SELECT `+accountColumns+` FROM accounts WHERE lower(username) = lower($1) ORDER BY username`, scanAccount, username)
}

// AccountByID finds an account by ID.
func (s *Store) AccountByID(ctx context.Context, id string) (Account, error) {
	return s.account(ctx, `id = $1`, id)
}

// AccountByOIDC finds the account of an OpenID Connect identity.
func (s *Store) AccountByOIDC(ctx context.Context, issuer, subject string) (Account, error) {
	return s.account(ctx, `oidc_issuer = $1 AND oidc_subject = $2`, issuer, subject)
}

func (s *Store) account(ctx context.Context, where string, args ...any) (Account, error) {
	row := s.db.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE `+where, args...)
	a, err := scanAccount(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Account{}, ErrNotFound
	}
	return a, err
}

// Accounts lists every account by username.
func (s *Store) Accounts(ctx context.Context) ([]Account, error) {
	return queryAll(ctx, s, `SELECT `+accountColumns+` FROM accounts ORDER BY username`, scanAccount)
}

type scanner interface{ Scan(...any) error }

func scanAccount(r scanner) (Account, error) {
	var (
		a                 Account
		pw, iss, sub      sql.NullString
		role, region, fac string
		created, updated  int64
	)
	if err := r.Scan(&a.ID, &a.Username, &a.DisplayName, &pw, &iss, &sub, &role, &region, &fac, &a.Disabled, &created, &updated); err != nil {
		return Account{}, err
	}
	a.PasswordHash, a.OIDCIssuer, a.OIDCSubject = pw.String, iss.String, sub.String
	a.Role, a.Facilities = access.Role(role), splitList(fac)
	var err error
	if a.Region, err = parseRegion(region, a.Role); err != nil {
		return Account{}, fmt.Errorf("store: account %s: %w", a.Username, err)
	}
	a.CreatedAt, a.UpdatedAt = fromNanos(created), fromNanos(updated)
	return a, nil
}

// SetRole changes an account's role and scope (the caller audits it) and
// ends its sessions, so the change takes effect at once.
func (s *Store) SetRole(ctx context.Context, id string, role access.Role, region model.RegionCode, facilities []string, now time.Time) error {
	p := access.Principal{Kind: access.KindPerson, ID: id, Role: role, Region: region, Facilities: facilities}
	if err := p.Validate(); err != nil {
		return fmt.Errorf("store: account %s: %w", id, err)
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE accounts SET role = $1, region = $2, facilities = $3, updated_at = $4 WHERE id = $5`,
			string(role), region.String(), joinList(facilities), nanos(now), id)
		if err := affectedOne(res, err); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM sessions WHERE account_id = $1`, id)
		return err
	})
}

// SetPassword replaces an account's password hash and ends its sessions.
func (s *Store) SetPassword(ctx context.Context, id, hash string, now time.Time) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE accounts SET password_hash = $1, updated_at = $2 WHERE id = $3`, nullString(hash), nanos(now), id)
		if err := affectedOne(res, err); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM sessions WHERE account_id = $1`, id)
		return err
	})
}

// SetDisabled disables (or enables) an account; disabling ends its sessions.
func (s *Store) SetDisabled(ctx context.Context, id string, disabled bool, now time.Time) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE accounts SET disabled = $1, updated_at = $2 WHERE id = $3`, disabled, nanos(now), id)
		if err := affectedOne(res, err); err != nil {
			return err
		}
		if !disabled {
			return nil
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM sessions WHERE account_id = $1`, id)
		return err
	})
}

func affectedOne(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

func parseRegion(s string, role access.Role) (model.RegionCode, error) {
	switch {
	case s != "":
		return model.ParseRegionCode(s)
	case role == access.RoleAdmin || role == access.RoleAuditor:
		// The country is stored as "" (its String); only these roles hold it.
		return model.Nationwide(), nil
	}
	return model.RegionCode{}, nil
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

func joinList(l []string) string { return strings.Join(l, ",") }

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
