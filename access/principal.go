package access

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/cradlewatch/cradlewatch/model"
)

// Kind says how a principal proved who it is.
type Kind string

// Kinds of principal.
const (
	KindPerson  Kind = "person"  // an account, by session cookie (password or OpenID Connect login)
	KindToken   Kind = "token"   // an API token
	KindService Kind = "service" // a CradleWatch service by its service credential
)

// Principal is who is asking: an authenticated person, API token or
// service. It is built only by the authentication layer (access/authn) and
// travels in the request's context (WithPrincipal, FromContext); handlers
// never build one from what a request body says.
type Principal struct {
	Kind Kind
	// ID is the account or token ID (the service name for services). With
	// Kind it is the stable actor of the audit trail.
	ID string
	// Name is the login name or the token's name, for people to read.
	Name string
	Role Role
	// Region is the scope of office roles, the admin and the auditor
	// (model.Nationwide for the whole country). Zero for operators.
	Region model.RegionCode
	// Facilities are an operator's facilities.
	Facilities []string
	// Actions, when not empty, narrows what the principal may do below
	// its role (API tokens are issued for chosen actions).
	Actions []Action
}

// Validate reports a principal whose role and scope do not fit together:
// an office role needs a code of its own level, the admin the country, the
// auditor any region, an operator at least one facility.
func (p Principal) Validate() error {
	if _, err := ParseRole(string(p.Role)); err != nil {
		return err
	}
	for _, a := range p.Actions {
		if _, err := ParseAction(string(a)); err != nil {
			return err
		}
	}
	switch p.Role {
	case RoleOperator:
		if len(p.Facilities) == 0 {
			return fmt.Errorf("an operator needs at least one facility")
		}
		if !p.Region.IsZero() {
			return fmt.Errorf("an operator is scoped by facilities, not by region %q", p.Region)
		}
		for _, f := range p.Facilities {
			if f == "" || strings.ContainsAny(f, ", \t\n") {
				return fmt.Errorf("facility ID %q is empty or contains a comma or space", f)
			}
		}
		return nil
	case RoleAuditor:
		if p.Region.IsZero() {
			return fmt.Errorf("an auditor needs a region (or the whole country)")
		}
	default:
		if p.Region.Level() != p.Role.Level() {
			return fmt.Errorf("role %s needs a %s code, got %s", p.Role, p.Role.Level(), describe(p.Region))
		}
	}
	if len(p.Facilities) > 0 {
		return fmt.Errorf("role %s is scoped by region; facilities are for operators", p.Role)
	}
	return nil
}

func describe(c model.RegionCode) string {
	switch {
	case c.IsZero():
		return "none"
	case c.Level() == model.LevelCountry:
		return "the whole country"
	}
	return fmt.Sprintf("%s code %s", c.Level(), c)
}

// Actor is the principal as the audit trail records it: "person:<id>",
// "token:<id>" or "service:<name>".
func (p Principal) Actor() string { return string(p.Kind) + ":" + p.ID }

// OwnsFacility reports whether the facility is one of an operator's.
func (p Principal) OwnsFacility(id string) bool {
	return p.Role == RoleOperator && slices.Contains(p.Facilities, id)
}

// Scope is what a principal may see, in the form a data filter needs: the
// InfluxQL proxy adds Region's tag condition (model.RegionCode.Tag) or a
// facility condition to every query.
type Scope struct {
	Region     model.RegionCode // zero for operators
	Facilities []string         // operators only
}

// Scope returns the principal's scope.
func (p Principal) Scope() Scope {
	if p.Role == RoleOperator {
		return Scope{Facilities: slices.Clone(p.Facilities)}
	}
	return Scope{Region: p.Region}
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p. Only the authentication
// middleware calls it.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the request's principal, if it was authenticated.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

type sourceKey struct{}

// WithSource returns ctx carrying the client's address as the front
// door determined it (the peer, or the address a trusted proxy reported).
// Only the HTTP middleware (access/web) calls it.
func WithSource(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, sourceKey{}, addr)
}

// SourceFromContext returns the client's address set by WithSource.
func SourceFromContext(ctx context.Context) string {
	s, _ := ctx.Value(sourceKey{}).(string)
	return s
}
