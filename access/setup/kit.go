package setup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/cradlewatch/cradlewatch/access"
	"github.com/cradlewatch/cradlewatch/access/audit"
	"github.com/cradlewatch/cradlewatch/access/authn"
	"github.com/cradlewatch/cradlewatch/access/callback"
	"github.com/cradlewatch/cradlewatch/access/limit"
	"github.com/cradlewatch/cradlewatch/access/secret"
	"github.com/cradlewatch/cradlewatch/access/store"
	"github.com/cradlewatch/cradlewatch/access/web"
	"github.com/prometheus/client_golang/prometheus"
)

// Env is what the service passes from outside the configuration.
type Env struct {
	// DataDirs are the service's data directories: the anchor key must
	// lie outside all of them.
	DataDirs   []string
	Now        func() time.Time
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Kit is the access pieces of one service.
type Kit struct {
	Store *store.Store
	Audit *audit.Writer
	Auth  *authn.Authenticator
	OIDC  *authn.OIDC // nil without an issuer
	// Front guards the JSON API (Content-Type: application/json only);
	// Pages guards HTML pages whose forms post
	// application/x-www-form-urlencoded. Both refuse cross-origin
	// state-changing requests.
	Front    *web.Front
	Pages    *web.Front
	Phones   *audit.PhoneKeyer
	Silences access.SilencePolicy
	env      Env
	cfg      Config
}

// Open reads the secrets (placeholders refused), opens and migrates the
// database, and builds the pieces. Close releases them.
func Open(ctx context.Context, c Config, env Env) (*Kit, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if env.Now == nil {
		env.Now = time.Now
	}
	if env.Logger == nil {
		env.Logger = slog.New(slog.DiscardHandler)
	}
	phoneKey, err := secret.Load("access.phone_key_file", c.PhoneKeyFile, "")
	if err != nil {
		return nil, err
	}
	phones, err := audit.NewPhoneKeyer(phoneKey)
	if err != nil {
		return nil, fmt.Errorf("access.phone_key_file: %w", err)
	}
	var signing []byte
	if c.Audit.AnchorKeyFile != "" {
		k, err := audit.LoadSigningKey(c.Audit.AnchorKeyFile, append([]string{c.Audit.SpoolDir}, env.DataDirs...)...)
		if err != nil {
			return nil, fmt.Errorf("access.audit.anchor_key_file: %w", err)
		}
		signing = k
	}
	so, err := c.Database.StoreOptions("access.database", env.Logger)
	if err != nil {
		return nil, err
	}
	kit := &Kit{Phones: phones, Silences: c.Silences.Policy(), env: env, cfg: c}
	if kit.Store, err = store.Open(ctx, so); err != nil {
		return nil, err
	}
	fail := func(err error) (*Kit, error) {
		kit.Close()
		return nil, err
	}
	if kit.Audit, err = audit.NewWriter(audit.WriterOptions{Chain: c.Audit.Chain, Dir: c.Audit.SpoolDir, Sink: kit.Store,
		SigningKey: signing, AnchorEvery: c.Audit.AnchorEvery, MaxBuffer: c.Audit.MaxBufferBytes, Now: env.Now,
		Logger: env.Logger, Registerer: env.Registerer}); err != nil {
		return fail(err)
	}
	ao := authn.Options{Store: kit.Store, Audit: kit.Audit, IdleTimeout: c.Sessions.IdleTimeout,
		AbsoluteTimeout: c.Sessions.AbsoluteTimeout, MaxTokenLife: c.Tokens.MaxLife, Insecure: c.Sessions.InsecureCookies,
		Now: env.Now, Logger: env.Logger, Registerer: env.Registerer}
	rules := map[string]limit.Rule{authn.KeyAccount: c.Login.Account.rule(), authn.KeySource: c.Login.Source.rule(),
		authn.KeyToken: c.Login.TokenSource.rule()}
	if ao.Limiter, err = limit.New(limit.Options{Name: "login", Rules: rules, Backend: kit.Store.Limits(), Now: env.Now,
		Logger: env.Logger, Registerer: env.Registerer}); err != nil {
		return fail(err)
	}
	if kit.Auth, err = authn.New(ao); err != nil {
		return fail(err)
	}
	if c.OIDC.Issuer != "" {
		cs, err := secret.Load("access.oidc.client_secret_file", c.OIDC.ClientSecretFile, "")
		if err != nil {
			return fail(err)
		}
		roles := map[string]access.Role{}
		for v, r := range c.OIDC.Roles {
			roles[v] = access.Role(r)
		}
		if kit.OIDC, err = kit.Auth.NewOIDC(ctx, authn.OIDCOptions{Issuer: c.OIDC.Issuer, ClientID: c.OIDC.ClientID,
			ClientSecret: string(cs), RedirectURL: c.OIDC.RedirectURL, Roles: roles, AllowAdmin: c.OIDC.AllowAdmin,
			Claims: authn.Claims{Role: c.OIDC.Claims.Role, Region: c.OIDC.Claims.Region, Facilities: c.OIDC.Claims.Facilities, Name: c.OIDC.Claims.Name}}); err != nil {
			return fail(err)
		}
	}
	proxies, err := prefixes("access.http.trusted_proxies", c.HTTP.TrustedProxies)
	if err != nil {
		return fail(err)
	}
	wo := web.Options{Auth: kit.Auth, TrustedOrigins: c.HTTP.TrustedOrigins, TrustedProxies: proxies,
		MaxBody: c.HTTP.MaxBody, JSONOnly: true, HSTS: c.HTTP.TLSCertFile != "" || !c.Sessions.InsecureCookies,
		Now: env.Now, Logger: env.Logger, Registerer: env.Registerer}
	if kit.Front, err = web.New(wo); err != nil {
		return fail(err)
	}
	wo.JSONOnly = false
	if kit.Pages, err = web.New(wo); err != nil {
		return fail(err)
	}
	return kit, nil
}

// Guard builds the callback guard of one SMS provider (key names the
// configuration section, "notify.callbacks.aliyun"). Its counters live in
// the access database, shared by every instance.
func (k *Kit) Guard(provider, key string, c CallbackConfig) (*callback.Guard, error) {
	s, err := secret.Load(key+".secret_file", c.SecretFile, "")
	if err != nil {
		return nil, err
	}
	allow, err := prefixes(key+".allow", c.Allow)
	if err != nil {
		return nil, err
	}
	proxies, _ := prefixes("access.http.trusted_proxies", k.cfg.HTTP.TrustedProxies)
	return callback.New(callback.Options{Provider: provider, Secret: s, Allow: allow, TrustedProxies: proxies,
		Backend: k.Store.Limits(), Phones: k.Phones, Now: k.env.Now, Logger: k.env.Logger, Registerer: k.env.Registerer})
}

// Server is the front door's listener with the configured TLS and the
// secure timeouts.
func (k *Kit) Server(addr string, h http.Handler) (*web.Server, error) {
	return web.NewServer(web.ServerOptions{Addr: addr, Handler: h, CertFile: k.cfg.HTTP.TLSCertFile, KeyFile: k.cfg.HTTP.TLSKeyFile,
		Logger: k.env.Logger})
}

// Run moves audit records to the database until ctx ends.
func (k *Kit) Run(ctx context.Context) error { return k.Audit.Run(ctx) }

// Close releases what Open acquired; closing twice is harmless.
func (k *Kit) Close() error {
	var errs []error
	if k.Audit != nil {
		errs = append(errs, k.Audit.Close())
	}
	if k.Store != nil {
		errs = append(errs, k.Store.Close())
	}
	return errors.Join(errs...)
}
