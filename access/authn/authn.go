// Package authn proves who is asking: people by password (argon2id) or
// OpenID Connect, then by a server-side session cookie; machines by API
// token. It turns either into an access.Principal, limits failed logins
// per account and per source (limit), and records logins, lockouts, role
// changes and token issues in the audit trail.
package authn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/cradlewatch/cradlewatch/access"
	"github.com/cradlewatch/cradlewatch/access/audit"
	"github.com/cradlewatch/cradlewatch/access/limit"
	"github.com/cradlewatch/cradlewatch/access/store"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults (configuration keys in docs/security.md).
const (
	DefaultIdleTimeout     = 30 * time.Minute
	DefaultAbsoluteTimeout = 12 * time.Hour
	DefaultMaxTokenLife    = 365 * 24 * time.Hour
	DefaultCookieName      = "__Host-cw_session"
	// maxConcurrentHashes bounds memory under a login flood: each
	// argon2id hash holds 64 MiB while it runs.
	maxConcurrentHashes = 4
	// touchEvery: a session's or token's last use is written at most this
	// often, so reads do not turn into a write per request.
	touchEvery = time.Minute
)

// Default login limits: 5 wrong passwords in 15 minutes lock an account
// for 15 minutes; 20 failures (any account) lock a source address for an
// hour; 10 bad bearer tokens lock a source for an hour.
var DefaultLoginRules = map[string]limit.Rule{
	KeyAccount: {Max: 5, Window: 15 * time.Minute, Lockout: 15 * time.Minute},
	KeySource:  {Max: 20, Window: 15 * time.Minute, Lockout: time.Hour},
	KeyToken:   {Max: 10, Window: 15 * time.Minute, Lockout: time.Hour},
}

// Key kinds of the login limiter.
const (
	KeyAccount = "account"
	KeySource  = "source"
	KeyToken   = "token_source"
)

// AuditLog is where the authenticator records what it does
// (*audit.Writer).
type AuditLog interface {
	Append(audit.Event) (audit.Record, error)
}

// Options build an Authenticator.
type Options struct {
	Store *store.Store
	Audit AuditLog // nil: nothing recorded (tests)
	// Limiter counts failed logins; nil builds one with DefaultLoginRules
	// over the store (shared by every instance).
	Limiter         *limit.Limiter
	IdleTimeout     time.Duration
	AbsoluteTimeout time.Duration
	MaxTokenLife    time.Duration
	// CookieName: "__Host-" names require Secure, path "/" and no domain,
	// which browsers enforce. With Insecure (plain-HTTP demos on
	// localhost only) the name loses its prefix.
	CookieName string
	Insecure   bool
	SameSite   http.SameSite // default Lax: links from SMS and mail open logged in
	Password   PasswordParams
	Now        func() time.Time
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Authenticator authenticates requests and logs people in.
type Authenticator struct {
	o       Options
	st      *store.Store
	lim     *limit.Limiter
	log     *slog.Logger
	now     func() time.Time
	dummy   string // a hash to compare against when the account does not exist
	hashing chan struct{}
	logins  *prometheus.CounterVec
	authn   *prometheus.CounterVec
}

// ErrUnauthenticated means the request carries no valid credential.
var ErrUnauthenticated = errors.New("authentication required")

// ErrBadCredentials is the one answer to a wrong username or password, so
// that the response does not tell which was wrong.
var ErrBadCredentials = errors.New("invalid username or password")

// New builds an authenticator.
func New(o Options) (*Authenticator, error) {
	if o.Store == nil {
		return nil, errors.New("authn: no store")
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.AbsoluteTimeout <= 0 {
		o.AbsoluteTimeout = DefaultAbsoluteTimeout
	}
	if o.MaxTokenLife <= 0 {
		o.MaxTokenLife = DefaultMaxTokenLife
	}
	if o.CookieName == "" {
		o.CookieName = DefaultCookieName
	}
	if o.Insecure {
		o.CookieName = trimHostPrefix(o.CookieName)
	}
	if o.SameSite == 0 {
		o.SameSite = http.SameSiteLaxMode
	}
	if o.Password == (PasswordParams{}) {
		o.Password = DefaultPasswordParams
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	a := &Authenticator{o: o, st: o.Store, log: o.Logger.With("component", "authn"), now: o.Now,
		hashing: make(chan struct{}, maxConcurrentHashes),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cw_access_logins_total",
			Help: "Login attempts by method (password, oidc) and result (ok, bad_credentials, locked, disabled, error)."}, []string{"method", "result"}),
		authn: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cw_access_authentications_total",
			Help: "Requests authenticated or refused, by credential (session, token, none) and result (ok, expired, revoked, invalid, locked, missing)."}, []string{"credential", "result"}),
	}
	if o.Registerer != nil {
		for _, c := range []prometheus.Collector{a.logins, a.authn} {
			if err := o.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("authn: %w", err)
			}
		}
	}
	a.lim = o.Limiter
	if a.lim == nil {
		var err error
		a.lim, err = limit.New(limit.Options{Name: "login", Rules: DefaultLoginRules, Backend: o.Store.Limits(),
			Now: o.Now, Logger: o.Logger, Registerer: o.Registerer, OnLockout: a.recordLockout})
		if err != nil {
			return nil, err
		}
	}
	var err error
	if a.dummy, err = HashPassword("no such account, no such password", o.Password); err != nil {
		return nil, err
	}
	return a, nil
}

func trimHostPrefix(name string) string {
	if len(name) > 7 && name[:7] == "__Host-" {
		return name[7:]
	}
	return name
}

func (a *Authenticator) record(ev audit.Event) {
	if a.o.Audit == nil {
		return
	}
	if _, err := a.o.Audit.Append(ev); err != nil {
		a.log.Error("audit record not written", "action", ev.Action, "err", err)
	}
}

// recordLockout puts a lockout in the audit trail.
func (a *Authenticator) recordLockout(_ context.Context, k limit.Key, until time.Time) {
	a.record(audit.Event{Actor: audit.Service("login"), Action: audit.ActionLockout, Subject: k.Display,
		Detail: map[string]string{"kind": k.Kind, "until": until.UTC().Format(time.RFC3339)}})
}

// Login checks a username and password from source (the client address).
// Unknown accounts cost the same time as known ones; every failure counts
// against the account and the source; a locked account or source is
// refused before the password is looked at (*limit.LockedError).
func (a *Authenticator) Login(ctx context.Context, username, password, source string) (store.Account, error) {
	keys := []limit.Key{{Kind: KeyAccount, Value: username, Display: username}, {Kind: KeySource, Value: source, Display: source}}
	if err := a.lim.Check(ctx, keys...); err != nil {
		a.logins.WithLabelValues("password", "locked").Inc()
		return store.Account{}, err
	}
	acc, err := a.st.AccountByUsername(ctx, username)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		a.logins.WithLabelValues("password", "error").Inc()
		return store.Account{}, err
	}
	hash := acc.PasswordHash
	if hash == "" {
		hash = a.dummy
	}
	select {
	case a.hashing <- struct{}{}:
	case <-ctx.Done():
		return store.Account{}, ctx.Err()
	}
	ok, weaker, cerr := checkPassword(password, hash, a.o.Password)
	<-a.hashing
	if cerr != nil {
		a.log.Error("stored password hash unreadable", "account", acc.ID, "err", cerr)
	}
	if !ok || acc.PasswordHash == "" || err != nil {
		a.logins.WithLabelValues("password", "bad_credentials").Inc()
		if ferr := a.lim.Fail(ctx, keys...); ferr != nil {
			a.log.Error("failed login not counted", "err", ferr)
		}
		a.record(audit.Event{Actor: audit.Service("login"), Action: audit.ActionLoginFailed, Subject: username,
			Detail: map[string]string{"method": "password", "source": source}})
		return store.Account{}, ErrBadCredentials
	}
	if acc.Disabled {
		a.logins.WithLabelValues("password", "disabled").Inc()
		return store.Account{}, ErrBadCredentials
	}
	a.lim.Succeed(ctx, keys[0])
	if weaker {
		if h, err := HashPassword(password, a.o.Password); err == nil {
			a.st.SetPassword(ctx, acc.ID, h, a.now())
		}
	}
	a.logins.WithLabelValues("password", "ok").Inc()
	return acc, nil
}

// Authenticate returns the request's principal from its bearer token or
// session cookie, or ErrUnauthenticated (a *limit.LockedError for a
// source that sent too many bad tokens).
func (a *Authenticator) Authenticate(r *http.Request, source string) (access.Principal, error) {
	ctx := r.Context()
	if h := r.Header.Get("Authorization"); h != "" {
		return a.fromToken(ctx, h, source)
	}
	c, err := r.Cookie(a.o.CookieName)
	if err != nil || c.Value == "" {
		a.authn.WithLabelValues("none", "missing").Inc()
		return access.Principal{}, ErrUnauthenticated
	}
	return a.fromSession(ctx, c.Value)
}

func (a *Authenticator) fromToken(ctx context.Context, header, source string) (access.Principal, error) {
	key := limit.Key{Kind: KeyToken, Value: source, Display: source}
	if err := a.lim.Check(ctx, key); err != nil {
		a.authn.WithLabelValues("token", "locked").Inc()
		return access.Principal{}, err
	}
	fail := func(result string) (access.Principal, error) {
		a.authn.WithLabelValues("token", result).Inc()
		if err := a.lim.Fail(ctx, key); err != nil {
			a.log.Error("bad token not counted", "err", err)
		}
		return access.Principal{}, ErrUnauthenticated
	}
	raw, ok := cutBearer(header)
	if !ok {
		return fail("invalid")
	}
	id, secret, ok := parseToken(raw)
	if !ok {
		return fail("invalid")
	}
	tok, err := a.st.TokenByID(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fail("invalid")
	case err != nil:
		return access.Principal{}, err
	case !secretMatches(secret, tok.SecretHash):
		return fail("invalid")
	case !tok.RevokedAt.IsZero():
		return fail("revoked")
	}
	now := a.now()
	if !now.Before(tok.ExpiresAt) {
		return fail("expired")
	}
	if now.Sub(tok.LastUsedAt) >= touchEvery {
		a.st.TouchToken(ctx, tok.ID, now)
	}
	a.authn.WithLabelValues("token", "ok").Inc()
	return tok.Principal(), nil
}

func cutBearer(h string) (string, bool) {
	const p = "bearer "
	if len(h) < len(p) || !equalFold(h[:len(p)], p) {
		return "", false
	}
	return h[len(p):], true
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i]|0x20, b[i]|0x20
		if x != y {
			return false
		}
	}
	return true
}

// Limiter is the login limiter (for the provider callback guard to share
// a backend, and for tests).
func (a *Authenticator) Limiter() *limit.Limiter { return a.lim }
