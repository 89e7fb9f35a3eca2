// Package setup builds the access pieces of a service from its
// configuration: the store, the audit writer, the authenticator, the
// front door's middleware, the phone keyer and provider-callback guards.
// A service embeds Config under its "access" key and calls Open:
//
//	kit, err := setup.Open(ctx, cfg.Access, setup.Env{DataDir: cfg.StateDir, Logger: l, Registerer: reg})
//	defer kit.Close()
//	g.Go("audit", kit.Run)
//	mux.Handle("POST /api/v1/ack", kit.Front.Private(ack))
package setup

import (
	"log/slog"
	"net/netip"
	"time"

	"github.com/cradlewatch/cradlewatch/access"
	"github.com/cradlewatch/cradlewatch/access/audit"
	"github.com/cradlewatch/cradlewatch/access/authn"
	"github.com/cradlewatch/cradlewatch/access/limit"
	"github.com/cradlewatch/cradlewatch/access/secret"
	"github.com/cradlewatch/cradlewatch/access/store"
	"github.com/cradlewatch/cradlewatch/internal/config"
)

// Config is the "access" section of a service's configuration. Every key
// is documented in docs/security.md ("Configuration keys").
type Config struct {
	Database DatabaseConfig `mapstructure:"database"`
	Sessions SessionsConfig `mapstructure:"sessions"`
	Tokens   TokensConfig   `mapstructure:"tokens"`
	Login    LoginConfig    `mapstructure:"login"`
	OIDC     OIDCConfig     `mapstructure:"oidc"`
	Silences SilencesConfig `mapstructure:"silences"`
	Audit    AuditConfig    `mapstructure:"audit"`
	// PhoneKeyFile holds the HMAC key of phone-number pseudonyms.
	PhoneKeyFile string     `mapstructure:"phone_key_file"`
	HTTP         HTTPConfig `mapstructure:"http"`
}

// DatabaseConfig names the access database.
type DatabaseConfig struct {
	Driver  string `mapstructure:"driver"`   // sqlite or postgres
	Path    string `mapstructure:"path"`     // SQLite file
	DSNFile string `mapstructure:"dsn_file"` // PostgreSQL URL (with its password), or $CW_ACCESS_DSN
}

// Validate checks the driver and, for SQLite, the file; key names the
// section ("access.database").
func (d DatabaseConfig) Validate(key string) error {
	switch d.Driver {
	case store.DriverSQLite:
		if d.Path == "" {
			return config.Errorf(key+".path", "the SQLite file is required")
		}
	case store.DriverPostgres:
	default:
		return config.Errorf(key+".driver", "%q: want sqlite or postgres", d.Driver)
	}
	return nil
}

// StoreOptions are the options that open the database: for PostgreSQL the
// URL is read from dsn_file (or $CW_ACCESS_DSN), placeholders refused;
// key names the section in errors.
func (d DatabaseConfig) StoreOptions(key string, logger *slog.Logger) (store.Options, error) {
	if err := d.Validate(key); err != nil {
		return store.Options{}, err
	}
	o := store.Options{Driver: d.Driver, DSN: d.Path, Logger: logger}
	if d.Driver == store.DriverPostgres {
		v, err := secret.Load(key+".dsn_file", d.DSNFile, "CW_ACCESS_DSN")
		if err != nil {
			return store.Options{}, err
		}
		o.DSN = string(v)
	}
	return o, nil
}

// SessionsConfig sets session expiry and the cookie.
type SessionsConfig struct {
	IdleTimeout     time.Duration `mapstructure:"idle_timeout"`
	AbsoluteTimeout time.Duration `mapstructure:"absolute_timeout"`
	InsecureCookies bool          `mapstructure:"insecure_cookies"`
}

// TokensConfig bounds API tokens.
type TokensConfig struct {
	MaxLife time.Duration `mapstructure:"max_life"`
}

// RuleConfig is one failed-attempt limit.
type RuleConfig struct {
	Max     int           `mapstructure:"max"`
	Window  time.Duration `mapstructure:"window"`
	Lockout time.Duration `mapstructure:"lockout"`
}

func (r RuleConfig) rule() limit.Rule {
	return limit.Rule{Max: r.Max, Window: r.Window, Lockout: r.Lockout}
}

func ruleConfig(r limit.Rule) RuleConfig {
	return RuleConfig{Max: r.Max, Window: r.Window, Lockout: r.Lockout}
}

// LoginConfig are the login limits.
type LoginConfig struct {
	Account     RuleConfig `mapstructure:"account"`
	Source      RuleConfig `mapstructure:"source"`
	TokenSource RuleConfig `mapstructure:"token_source"`
}

// OIDCConfig configures OpenID Connect login (off without an issuer).
type OIDCConfig struct {
	Issuer           string            `mapstructure:"issuer"`
	ClientID         string            `mapstructure:"client_id"`
	ClientSecretFile string            `mapstructure:"client_secret_file"`
	RedirectURL      string            `mapstructure:"redirect_url"`
	Claims           ClaimsConfig      `mapstructure:"claims"`
	Roles            map[string]string `mapstructure:"roles"`
	AllowAdmin       bool              `mapstructure:"allow_admin"`
}

// ClaimsConfig names the ID token's claims.
type ClaimsConfig struct {
	Role       string `mapstructure:"role"`
	Region     string `mapstructure:"region"`
	Facilities string `mapstructure:"facilities"`
	Name       string `mapstructure:"name"`
}

// SilencesConfig is the silence policy.
type SilencesConfig struct {
	MaxLength   time.Duration `mapstructure:"max_length"`
	LongSilence time.Duration `mapstructure:"long_silence"`
	CapWindow   time.Duration `mapstructure:"cap_window"`
	Cap         time.Duration `mapstructure:"cap"`
}

// Policy is the configured policy.
func (s SilencesConfig) Policy() access.SilencePolicy {
	return access.SilencePolicy{MaxLength: s.MaxLength, LongSilence: s.LongSilence, CapWindow: s.CapWindow, Cap: s.Cap}
}

// AuditConfig is this process's audit writer.
type AuditConfig struct {
	Chain          string        `mapstructure:"chain"`
	SpoolDir       string        `mapstructure:"spool_dir"`
	AnchorKeyFile  string        `mapstructure:"anchor_key_file"`
	AnchorEvery    time.Duration `mapstructure:"anchor_every"`
	MaxBufferBytes int64         `mapstructure:"max_buffer_bytes"`
}

// HTTPConfig is the front door's listener and middleware.
type HTTPConfig struct {
	TrustedOrigins []string `mapstructure:"trusted_origins"`
	TrustedProxies []string `mapstructure:"trusted_proxies"`
	MaxBody        int64    `mapstructure:"max_body"`
	TLSCertFile    string   `mapstructure:"tls_cert_file"`
	TLSKeyFile     string   `mapstructure:"tls_key_file"`
}

// CallbackConfig is one SMS provider's callback guard (alerting's
// notify.callbacks.<provider>).
type CallbackConfig struct {
	SecretFile string   `mapstructure:"secret_file"`
	Allow      []string `mapstructure:"allow"`
}

// Default is the configuration with every default of docs/security.md.
func Default() Config {
	pol := access.DefaultSilencePolicy()
	return Config{
		Database: DatabaseConfig{Driver: store.DriverSQLite},
		Sessions: SessionsConfig{IdleTimeout: authn.DefaultIdleTimeout, AbsoluteTimeout: authn.DefaultAbsoluteTimeout},
		Tokens:   TokensConfig{MaxLife: authn.DefaultMaxTokenLife},
		Login: LoginConfig{Account: ruleConfig(authn.DefaultLoginRules[authn.KeyAccount]),
			Source: ruleConfig(authn.DefaultLoginRules[authn.KeySource]), TokenSource: ruleConfig(authn.DefaultLoginRules[authn.KeyToken])},
		OIDC:     OIDCConfig{Claims: ClaimsConfig{Role: "cw_role", Region: "cw_region", Facilities: "cw_facilities", Name: "preferred_username"}},
		Silences: SilencesConfig{MaxLength: pol.MaxLength, LongSilence: pol.LongSilence, CapWindow: pol.CapWindow, Cap: pol.Cap},
		Audit:    AuditConfig{AnchorEvery: audit.DefaultAnchorEvery, MaxBufferBytes: audit.DefaultMaxBuffer},
		HTTP:     HTTPConfig{MaxBody: 1 << 20},
	}
}

// Validate checks what can be checked without reading files; Open reads
// the secrets and refuses placeholders. Keys are named under "access.".
func (c Config) Validate() error {
	k := func(s string) string { return "access." + s }
	if err := c.Database.Validate(k("database")); err != nil {
		return err
	}
	if c.Sessions.IdleTimeout <= 0 || c.Sessions.AbsoluteTimeout < c.Sessions.IdleTimeout {
		return config.Errorf(k("sessions"), "idle_timeout must be positive and absolute_timeout at least as long")
	}
	if c.Tokens.MaxLife <= 0 {
		return config.Errorf(k("tokens.max_life"), "must be positive")
	}
	for name, r := range map[string]RuleConfig{"login.account": c.Login.Account, "login.source": c.Login.Source, "login.token_source": c.Login.TokenSource} {
		if err := r.rule().Validate(); err != nil {
			return config.Errorf(k(name), "%v", err)
		}
	}
	if c.OIDC.Issuer != "" {
		if c.OIDC.ClientID == "" || c.OIDC.RedirectURL == "" || c.OIDC.ClientSecretFile == "" {
			return config.Errorf(k("oidc"), "issuer needs client_id, client_secret_file and redirect_url")
		}
		for v, r := range c.OIDC.Roles {
			if _, err := access.ParseRole(r); err != nil {
				return config.Errorf(k("oidc.roles."+v), "%v", err)
			}
		}
	}
	if err := c.Silences.Policy().Validate(); err != nil {
		return config.Errorf(k("silences"), "%v", err)
	}
	switch {
	case c.Audit.Chain == "":
		return config.Errorf(k("audit.chain"), "this process's chain name is required (unique per process: alerting-0, console-1)")
	case c.Audit.SpoolDir == "":
		return config.Errorf(k("audit.spool_dir"), "a persistent directory for the local audit buffer is required")
	case c.PhoneKeyFile == "":
		return config.Errorf(k("phone_key_file"), "the phone pseudonym key file is required")
	}
	for _, p := range c.HTTP.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			return config.Errorf(k("http.trusted_proxies"), "%q: want a CIDR such as 10.0.0.0/8", p)
		}
	}
	if (c.HTTP.TLSCertFile == "") != (c.HTTP.TLSKeyFile == "") {
		return config.Errorf(k("http"), "tls_cert_file and tls_key_file go together")
	}
	return nil
}

func prefixes(key string, ss []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range ss {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, config.Errorf(key, "%q: want a CIDR", s)
		}
		out = append(out, p)
	}
	return out, nil
}
