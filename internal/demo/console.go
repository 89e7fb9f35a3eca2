package demo

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/cradlewatch/cradlewatch/access"
	"github.com/cradlewatch/cradlewatch/access/audit"
	"github.com/cradlewatch/cradlewatch/access/authn"
	"github.com/cradlewatch/cradlewatch/alerting"
	"github.com/cradlewatch/cradlewatch/console"
	"github.com/cradlewatch/cradlewatch/internal/obs"
	"github.com/cradlewatch/cradlewatch/model"
)

// demoLogin is an account the demo creates at start, with a password
// drawn then and printed on the banner. No configuration file holds it.
type demoLogin struct {
	User, Password, What string
}

// consoleSite is the console's part of the demo: its secrets (outside its
// data folder, as production wants), its configuration and its accounts.
type consoleSite struct {
	c      *console.Console
	cfg    console.Config
	logins []demoLogin
	// CtlSecret is the control bus secret the alerting service needs to
	// answer the console's commands (ctl.secret_file).
	CtlSecret string
	// countyToken is an API token of the demo's county, for the banner's
	// example of the JSON API.
	countyToken string
}

// alerting gives the demo's alerting service its part of the front
// door's deployment: the control bus secret, the access database (the
// console's SQLite file: one database, as in production), its own audit
// chain, the phone key and the anchor key, and links to the console in
// its messages.
func (s *consoleSite) alerting(cfg *alerting.Config, dir string) {
	cfg.Ctl.SecretFile = s.CtlSecret
	a := &cfg.Access
	a.Database = s.cfg.Access.Database
	a.PhoneKeyFile = s.cfg.Access.PhoneKeyFile
	a.Audit.Chain, a.Audit.SpoolDir, a.Audit.AnchorKeyFile = "alerting-0", filepath.Join(dir, "alerting-audit"), s.cfg.Access.Audit.AnchorKeyFile
	cfg.Notify.Links.BaseURL, cfg.Notify.Links.KeyFile = "http://"+s.c.Addr(), s.cfg.Shortlink.KeyFile
}

// startConsole builds the console on the demo's registry, InfluxDB and
// central broker, and creates an operator and a county account.
func startConsole(ctx context.Context, root, dir, brokerAddr, influxURL, rulesFile string, fac string, region model.Region, log *slog.Logger) (*consoleSite, error) {
	data, secrets := filepath.Join(dir, "console"), filepath.Join(dir, "secrets")
	for _, d := range []string{data, secrets} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	key := func(name string) (string, error) {
		b := make([]byte, 32)
		rand.Read(b)
		p := filepath.Join(secrets, name)
		return p, os.WriteFile(p, []byte(hex.EncodeToString(b)), 0o600)
	}
	site := &consoleSite{}
	cfg := console.DefaultConfig()
	var err error
	if site.CtlSecret, err = key("ctl.key"); err != nil {
		return nil, err
	}
	if cfg.Shortlink.KeyFile, err = key("shortlink.key"); err != nil {
		return nil, err
	}
	if cfg.Access.PhoneKeyFile, err = key("phone.key"); err != nil {
		return nil, err
	}
	cfg.Access.Audit.AnchorKeyFile = filepath.Join(secrets, "anchor.key")
	if _, err := audit.GenerateKey(cfg.Access.Audit.AnchorKeyFile); err != nil {
		return nil, err
	}
	cfg.Ctl.SecretFile = site.CtlSecret
	cfg.Ctl.ReadTimeout = time.Second
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Ops.Listen = "127.0.0.1:0"
	cfg.Facilities = filepath.Join(dir, "facilities")
	cfg.Rules = rulesFile
	cfg.CalendarDir = filepath.Join(root, "configs", "calendar")
	cfg.Influx.URL = influxURL
	cfg.MQTT.Broker = brokerAddr
	cfg.MQTT.ClientID = "cw-console-demo"
	cfg.Access.Database.Path = filepath.Join(data, "access.db")
	cfg.Access.Audit.Chain = "console-demo"
	cfg.Access.Audit.SpoolDir = filepath.Join(data, "audit")
	cfg.Access.Sessions.InsecureCookies = true // plain HTTP on loopback only
	cfg.RegionNames = map[string]string{region.County(): "演示区县"}
	reg := obs.NewRegistry()
	if site.c, err = console.New(ctx, console.Options{Config: cfg, DataDirs: []string{data}, Logger: log, Registerer: reg, Gatherer: reg}); err != nil {
		return nil, err
	}
	site.cfg = cfg
	demo := access.Principal{Kind: access.KindService, ID: "demo", Name: "demo", Role: access.RoleAdmin, Region: model.Nationwide()}
	for _, a := range []struct {
		user, what string
		g          authn.Grant
	}{
		{"demo-operator", "operator of " + fac, authn.Grant{Role: access.RoleOperator, Facilities: []string{fac}}},
		{"demo-county", "county " + region.County(), authn.Grant{Role: access.RoleCounty, Region: model.MustRegionCode(region.County())}},
	} {
		b := make([]byte, 12)
		rand.Read(b)
		pw := base64.RawURLEncoding.EncodeToString(b)
		if _, err := site.c.Authenticator().CreateAccount(ctx, demo, a.user, a.user, pw, a.g); err != nil {
			site.c.Close()
			return nil, fmt.Errorf("demo: account %s: %w", a.user, err)
		}
		site.logins = append(site.logins, demoLogin{a.user, pw, a.what})
		if a.g.Role == access.RoleCounty {
			if site.countyToken, _, err = site.c.Authenticator().IssueToken(ctx, demo, "demo-county-api", a.g, 24*time.Hour); err != nil {
				site.c.Close()
				return nil, fmt.Errorf("demo: token: %w", err)
			}
		}
	}
	return site, nil
}

// banner is the console's lines of the demo's banner.
func (s *consoleSite) banner(fac string) string {
	base := "http://" + s.c.Addr()
	out := fmt.Sprintf("  console                  %s   (public page: %s/public/f/%s)\n", base, base, fac)
	for _, l := range s.logins {
		out += fmt.Sprintf("    login %-14s password %s   (%s)\n", l.User, l.Password, l.What)
	}
	out += fmt.Sprintf("  alerts API (the county)  curl -s -H 'Authorization: Bearer %s' %s/api/v1/alerts\n", s.countyToken, base)
	return out
}
