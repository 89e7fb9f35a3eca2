package authn

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cradlewatch/cradlewatch/access"
	"github.com/cradlewatch/cradlewatch/access/audit"
	"github.com/cradlewatch/cradlewatch/access/store"
	"github.com/cradlewatch/cradlewatch/model"
)

// Grant is a role with its scope, as an administrator gives it.
type Grant struct {
	Role       access.Role
	Region     model.RegionCode
	Facilities []string
	Actions    []access.Action // tokens only
}

func (g Grant) principal(kind access.Kind, id string) access.Principal {
	return access.Principal{Kind: kind, ID: id, Role: g.Role, Region: g.Region, Facilities: g.Facilities, Actions: g.Actions}
}

func (g Grant) detail() map[string]any {
	acts := make([]string, len(g.Actions))
	for i, a := range g.Actions {
		acts[i] = string(a)
	}
	return map[string]any{"role": string(g.Role), "region": g.Region.String(), "facilities": g.Facilities, "actions": acts}
}

func newID() string { return hex.EncodeToString(randomBytes(12)) }

// CreateAccount creates a password account. Only the platform
// administrator may (actor is the authenticated administrator, or the
// cwadmin tool's administrator principal).
func (a *Authenticator) CreateAccount(ctx context.Context, actor access.Principal, username, displayName, password string, g Grant) (store.Account, error) {
	if err := access.Authorize(actor, access.ActionAdminister, access.ForRegion(model.Nationwide())); err != nil {
		return store.Account{}, err
	}
	username = strings.TrimSpace(username)
	if username == "" || strings.ContainsAny(username, " \t\n|") {
		return store.Account{}, fmt.Errorf("authn: username %q: no spaces or '|'", username)
	}
	hash, err := HashPassword(password, a.o.Password)
	if err != nil {
		return store.Account{}, err
	}
	now := a.now()
	acc := store.Account{ID: newID(), Username: username, DisplayName: displayName, PasswordHash: hash,
		Role: g.Role, Region: g.Region, Facilities: g.Facilities, CreatedAt: now, UpdatedAt: now}
	if err := a.st.CreateAccount(ctx, acc); err != nil {
		return store.Account{}, err
	}
	a.record(audit.Event{Actor: actor, Action: audit.ActionAccountCreate, Subject: acc.ID, Region: g.Region.String(),
		Detail: map[string]any{"username": username, "grant": g.detail()}})
	return acc, nil
}

// SetRole gives an account a new role and scope (administrator only),
// ends its sessions and records the change with both roles.
func (a *Authenticator) SetRole(ctx context.Context, actor access.Principal, accountID string, g Grant) error {
	if err := access.Authorize(actor, access.ActionAdminister, access.ForRegion(model.Nationwide())); err != nil {
		return err
	}
	before, err := a.st.AccountByID(ctx, accountID)
	if err != nil {
		return err
	}
	if err := a.st.SetRole(ctx, accountID, g.Role, g.Region, g.Facilities, a.now()); err != nil {
		return err
	}
	from := Grant{Role: before.Role, Region: before.Region, Facilities: before.Facilities}
	a.record(audit.Event{Actor: actor, Action: audit.ActionRoleChange, Subject: accountID, Region: g.Region.String(),
		Detail: map[string]any{"username": before.Username, "from": from.detail(), "to": g.detail()}})
	return nil
}

// SetPassword replaces an account's password (administrator only) and
// ends its sessions.
func (a *Authenticator) SetPassword(ctx context.Context, actor access.Principal, accountID, password string) error {
	if err := access.Authorize(actor, access.ActionAdminister, access.ForRegion(model.Nationwide())); err != nil {
		return err
	}
	hash, err := HashPassword(password, a.o.Password)
	if err != nil {
		return err
	}
	if err := a.st.SetPassword(ctx, accountID, hash, a.now()); err != nil {
		return err
	}
	a.record(audit.Event{Actor: actor, Action: audit.ActionRoleChange, Subject: accountID, Detail: map[string]string{"change": "password"}})
	return nil
}

// DisableAccount disables an account and ends its sessions.
func (a *Authenticator) DisableAccount(ctx context.Context, actor access.Principal, accountID string) error {
	if err := access.Authorize(actor, access.ActionAdminister, access.ForRegion(model.Nationwide())); err != nil {
		return err
	}
	if err := a.st.SetDisabled(ctx, accountID, true, a.now()); err != nil {
		return err
	}
	a.record(audit.Event{Actor: actor, Action: audit.ActionAccountDisable, Subject: accountID})
	return nil
}

// ErrTokenLife rejects a token without expiry or living too long.
var ErrTokenLife = errors.New("token lifetime out of range")

// IssueToken makes an API token with the grant, valid for ttl. The
// administrator may issue any; anyone else only one no wider than
// themselves (access.CanGrant). The full token is returned once; only
// its hash is kept.
func (a *Authenticator) IssueToken(ctx context.Context, actor access.Principal, name string, g Grant, ttl time.Duration) (string, store.Token, error) {
	if ttl <= 0 || ttl > a.o.MaxTokenLife {
		return "", store.Token{}, fmt.Errorf("%w: %v (at most %v)", ErrTokenLife, ttl, a.o.MaxTokenLife)
	}
	id, hash, full := newToken()
	if err := access.CanGrant(actor, g.principal(access.KindToken, id)); err != nil {
		return "", store.Token{}, err
	}
	now := a.now()
	tok := store.Token{ID: id, SecretHash: hash, Name: name, Role: g.Role, Region: g.Region, Facilities: g.Facilities,
		Actions: g.Actions, CreatedBy: actor.Actor(), CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if err := a.st.InsertToken(ctx, tok); err != nil {
		return "", store.Token{}, err
	}
	a.record(audit.Event{Actor: actor, Action: audit.ActionTokenIssue, Subject: id, Region: g.Region.String(),
		Detail: map[string]any{"name": name, "grant": g.detail(), "expires": tok.ExpiresAt.Format(time.RFC3339)}})
	return full, tok, nil
}

// RevokeToken revokes a token: the administrator any, others their own.
func (a *Authenticator) RevokeToken(ctx context.Context, actor access.Principal, id string) error {
	tok, err := a.st.TokenByID(ctx, id)
	if err != nil {
		return err
	}
	if actor.Role != access.RoleAdmin && tok.CreatedBy != actor.Actor() {
		return &access.Denied{Actor: actor.Actor(), Action: access.ActionAdminister, Reason: "only the administrator or the token's issuer revokes it"}
	}
	if err := a.st.RevokeToken(ctx, id, a.now()); err != nil {
		return err
	}
	a.record(audit.Event{Actor: actor, Action: audit.ActionTokenRevoke, Subject: id, Detail: map[string]string{"name": tok.Name}})
	return nil
}
