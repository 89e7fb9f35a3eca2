package authn

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/cradlewatch/cradlewatch/access"
	"github.com/cradlewatch/cradlewatch/access/audit"
	"github.com/cradlewatch/cradlewatch/access/limit"
	"github.com/cradlewatch/cradlewatch/access/store"
	"github.com/cradlewatch/cradlewatch/model"
)

// Claims names the ID token claims that carry a person's role, region
// and facilities (a province's unified identity service names them its
// own way).
type Claims struct {
	Role       string // default "cw_role"
	Region     string // default "cw_region": a 6-digit or 9-digit code
	Facilities string // default "cw_facilities": a list or a comma-separated string
	Name       string // default "preferred_username"
}

// OIDCOptions configure login through an OpenID Connect provider.
type OIDCOptions struct {
	Issuer       string
	ClientID     string
	ClientSecret string // from a secret file (access/secret)
	RedirectURL  string // this service's callback URL, registered at the provider
	Scopes       []string
	Claims       Claims
	// Roles maps a role claim value to a role; the role names themselves
	// ("county", ...) always map to themselves.
	Roles map[string]access.Role
	// AllowAdmin lets the provider grant the platform administrator role.
	// Off by default: administrators are made with cwadmin.
	AllowAdmin bool
	// HTTPClient talks to the provider (nil: http.DefaultClient).
	HTTPClient *http.Client
}

// pendingLogin bounds the time between leaving for the provider and
// coming back.
const pendingLogin = 10 * time.Minute

// stateCookie binds a pending login to the browser that started it, so a
// callback URL planted in another browser logs nobody in (login CSRF).
const stateCookie = "cw_oidc_state"

// OIDC logs people in through an OpenID Connect provider (authorization
// code flow with PKCE, state bound to the browser, nonce in the ID token).
type OIDC struct {
	a        *Authenticator
	o        OIDCOptions
	issuer   string
	verifier *oidc.IDTokenVerifier
	cfg      oauth2.Config
}

// NewOIDC discovers the provider (its /.well-known/openid-configuration).
func (a *Authenticator) NewOIDC(ctx context.Context, o OIDCOptions) (*OIDC, error) {
	if o.Issuer == "" || o.ClientID == "" || o.RedirectURL == "" {
		return nil, errors.New("authn: oidc needs issuer, client_id and redirect_url")
	}
	if o.HTTPClient != nil {
		ctx = oidc.ClientContext(ctx, o.HTTPClient)
	}
	p, err := oidc.NewProvider(ctx, o.Issuer)
	if err != nil {
		return nil, fmt.Errorf("authn: oidc discovery at %s: %w", o.Issuer, err)
	}
	def := func(s *string, d string) {
		if *s == "" {
			*s = d
		}
	}
	def(&o.Claims.Role, "cw_role")
	def(&o.Claims.Region, "cw_region")
	def(&o.Claims.Facilities, "cw_facilities")
	def(&o.Claims.Name, "preferred_username")
	if len(o.Scopes) == 0 {
		o.Scopes = []string{oidc.ScopeOpenID, "profile"}
	}
	return &OIDC{a: a, o: o, issuer: o.Issuer,
		verifier: p.Verifier(&oidc.Config{ClientID: o.ClientID, Now: a.now}),
		cfg: oauth2.Config{ClientID: o.ClientID, ClientSecret: o.ClientSecret, Endpoint: p.Endpoint(),
			RedirectURL: o.RedirectURL, Scopes: o.Scopes}}, nil
}

// LoginHandler serves GET ?return_to=/path: it remembers the login and
// sends the browser to the provider.
func (x *OIDC) LoginHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		state := base64.RawURLEncoding.EncodeToString(randomBytes(32))
		nonce := base64.RawURLEncoding.EncodeToString(randomBytes(32))
		verifier := oauth2.GenerateVerifier()
		err := x.a.st.InsertOIDCLogin(r.Context(), store.OIDCLogin{StateHash: hashSecret(state), Nonce: nonce, Verifier: verifier,
			ReturnTo: LocalPath(r.URL.Query().Get("return_to")), ExpiresAt: x.a.now().Add(pendingLogin)})
		if err != nil {
			x.a.log.Error("oidc login not started", "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: stateCookie, Value: state, Path: "/", MaxAge: int(pendingLogin.Seconds()),
			Secure: !x.a.o.Insecure, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		http.Redirect(w, r, x.cfg.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), http.StatusFound)
	})
}

// LocalPath keeps a return address on this site: a path starting with a
// single "/" ("//evil.example" and "/\evil" are refused), else "/".
func LocalPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") || strings.ContainsAny(p, "\r\n") {
		return "/"
	}
	return p
}

// CallbackHandler serves the provider's redirect: it checks the state
// against the browser's cookie, takes the pending login (once), exchanges
// the code (PKCE), verifies the ID token (signature, issuer, audience,
// expiry, nonce), maps its claims to a role and region, keeps the account
// in step with them and starts a session.
func (x *OIDC) CallbackHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		src := source(r)
		srcKey := limit.Key{Kind: KeySource, Value: src, Display: src}
		if err := x.a.lim.Check(ctx, srcKey); err != nil {
			x.a.logins.WithLabelValues("oidc", "locked").Inc()
			http.Error(w, "too many failed attempts; try again later", http.StatusTooManyRequests)
			return
		}
		acc, returnTo, err := x.callback(r)
		if err != nil {
			x.a.logins.WithLabelValues("oidc", "bad_credentials").Inc()
			x.a.log.Info("oidc login refused", "source", src, "err", err)
			x.a.lim.Fail(ctx, srcKey)
			http.SetCookie(w, &http.Cookie{Name: stateCookie, Path: "/", MaxAge: -1, Secure: !x.a.o.Insecure, HttpOnly: true})
			http.Error(w, "login failed", http.StatusUnauthorized)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: stateCookie, Path: "/", MaxAge: -1, Secure: !x.a.o.Insecure, HttpOnly: true})
		if err := x.a.StartSession(ctx, w, acc, "oidc", src); err != nil {
			x.a.log.Error("session not started", "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		x.a.logins.WithLabelValues("oidc", "ok").Inc()
		http.Redirect(w, r, returnTo, http.StatusFound)
	})
}

func (x *OIDC) callback(r *http.Request) (store.Account, string, error) {
	ctx := r.Context()
	if x.o.HTTPClient != nil {
		ctx = oidc.ClientContext(ctx, x.o.HTTPClient)
	}
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		return store.Account{}, "", fmt.Errorf("provider answered %q", e)
	}
	state := q.Get("state")
	c, err := r.Cookie(stateCookie)
	if err != nil || state == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(state)) != 1 {
		return store.Account{}, "", errors.New("state does not match this browser's login")
	}
	pending, err := x.a.st.TakeOIDCLogin(ctx, hashSecret(state))
	if err != nil {
		return store.Account{}, "", fmt.Errorf("unknown or used state: %w", err)
	}
	if !x.a.now().Before(pending.ExpiresAt) {
		return store.Account{}, "", errors.New("login took too long")
	}
	tok, err := x.cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(pending.Verifier))
	if err != nil {
		return store.Account{}, "", fmt.Errorf("code exchange: %w", err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok {
		return store.Account{}, "", errors.New("no id_token in the token response")
	}
	idt, err := x.verifier.Verify(ctx, raw)
	if err != nil {
		return store.Account{}, "", fmt.Errorf("id token: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(pending.Nonce)) != 1 {
		return store.Account{}, "", errors.New("id token nonce does not match")
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return store.Account{}, "", err
	}
	g, name, err := x.grant(claims)
	if err != nil {
		return store.Account{}, "", err
	}
	acc, err := x.account(ctx, idt.Subject, name, g)
	return acc, pending.ReturnTo, err
}

// grant maps the ID token's claims to a role and scope.
func (x *OIDC) grant(claims map[string]any) (Grant, string, error) {
	str := func(k string) string { s, _ := claims[k].(string); return strings.TrimSpace(s) }
	roleClaim := str(x.o.Claims.Role)
	role, ok := x.o.Roles[roleClaim]
	if !ok {
		r, err := access.ParseRole(roleClaim)
		if err != nil {
			return Grant{}, "", fmt.Errorf("claim %s: %w", x.o.Claims.Role, err)
		}
		role = r
	}
	if role == access.RoleAdmin && !x.o.AllowAdmin {
		return Grant{}, "", errors.New("the provider may not grant the administrator role (oidc.allow_admin)")
	}
	g := Grant{Role: role}
	switch region := str(x.o.Claims.Region); {
	case role == access.RoleOperator:
	case region == "" && (role == access.RoleAdmin || role == access.RoleAuditor):
		g.Region = model.Nationwide()
	default:
		code, err := model.ParseRegionCode(region)
		if err != nil {
			return Grant{}, "", fmt.Errorf("claim %s: %w", x.o.Claims.Region, err)
		}
		g.Region = code
	}
	if role == access.RoleOperator {
		switch v := claims[x.o.Claims.Facilities].(type) {
		case string:
			for _, f := range strings.Split(v, ",") {
				if f = strings.TrimSpace(f); f != "" {
					g.Facilities = append(g.Facilities, f)
				}
			}
		case []any:
			for _, f := range v {
				if s, ok := f.(string); ok && s != "" {
					g.Facilities = append(g.Facilities, s)
				}
			}
		}
		slices.Sort(g.Facilities)
		g.Facilities = slices.Compact(g.Facilities)
	}
	if err := g.principal(access.KindPerson, "oidc").Validate(); err != nil {
		return Grant{}, "", fmt.Errorf("claims give no valid role: %w", err)
	}
	return g, str(x.o.Claims.Name), nil
}

// account finds or creates the account of the identity and brings its
// role and scope in line with the claims (a change is audited).
func (x *OIDC) account(ctx context.Context, subject, name string, g Grant) (store.Account, error) {
	if subject == "" {
		return store.Account{}, errors.New("id token without subject")
	}
	actor := audit.Service("oidc")
	acc, err := x.a.st.AccountByOIDC(ctx, x.issuer, subject)
	switch {
	case errors.Is(err, store.ErrNotFound):
		now := x.a.now()
		if name == "" {
			name = subject
		}
		acc = store.Account{ID: newID(), Username: "oidc|" + subject, DisplayName: name, OIDCIssuer: x.issuer, OIDCSubject: subject,
			Role: g.Role, Region: g.Region, Facilities: g.Facilities, CreatedAt: now, UpdatedAt: now}
		if err := x.a.st.CreateAccount(ctx, acc); err != nil {
			return store.Account{}, err
		}
		x.a.record(audit.Event{Actor: actor, Action: audit.ActionAccountCreate, Subject: acc.ID, Region: g.Region.String(),
			Detail: map[string]any{"username": acc.Username, "issuer": x.issuer, "grant": g.detail()}})
		return acc, nil
	case err != nil:
		return store.Account{}, err
	case acc.Disabled:
		return store.Account{}, errors.New("account disabled")
	}
	if acc.Role != g.Role || acc.Region != g.Region || !slices.Equal(acc.Facilities, g.Facilities) {
		from := Grant{Role: acc.Role, Region: acc.Region, Facilities: acc.Facilities}
		if err := x.a.st.SetRole(ctx, acc.ID, g.Role, g.Region, g.Facilities, x.a.now()); err != nil {
			return store.Account{}, err
		}
		x.a.record(audit.Event{Actor: actor, Action: audit.ActionRoleChange, Subject: acc.ID, Region: g.Region.String(),
			Detail: map[string]any{"username": acc.Username, "from": from.detail(), "to": g.detail(), "by": "oidc claims"}})
		acc.Role, acc.Region, acc.Facilities = g.Role, g.Region, g.Facilities
	}
	return acc, nil
}
