package influxproxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"

	"github.com/cradlewatch/cradlewatch/access/store"
	"github.com/cradlewatch/cradlewatch/internal/config"
	"github.com/cradlewatch/cradlewatch/model"
)

// Resolver maps a Grafana login to the region its owner may read. The
// proxy asks it on every request, so an implementation answers from
// memory or a cache. An unknown login is ErrUnknownUser, a login refused
// for a reason the user can act on a *UserRefusedError; any other error is
// refused the same way and logged. Implementations: UsersFile (a YAML
// file, for small sites) and AccessResolver (the access database).
type Resolver interface {
	Region(ctx context.Context, login string) (model.RegionCode, error)
}

// ErrUnknownUser is a login that maps to no region.
var ErrUnknownUser = errors.New("unknown user")

// Nationwide is how the users file writes the whole country.
const Nationwide = "country"

// UsersFile is a Resolver read from YAML, for small sites without the
// access database:
//
//	users:
//	  chaoyang-wjw: "110105"       # a county health commission
//	  jianwai-street: "110105001"  # a street office
//	  beijing-wjw: "110000"        # a province
//	  platform-admin: country      # everything
//
// Logins compare case-insensitively, as Grafana's do. Edit the file and
// restart the proxy to change it.
type UsersFile struct {
	users map[string]model.RegionCode
}

// LoadUsersFile reads and checks path; errors are *config.Error naming
// the file and the login.
func LoadUsersFile(path string) (*UsersFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &config.Error{File: path, Reason: fmt.Sprintf("cannot read: %v", err)}
	}
	var doc struct {
		Users map[string]string `yaml:"users"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, &config.Error{File: path, Reason: err.Error()}
	}
	f := &UsersFile{users: map[string]model.RegionCode{}}
	logins := make([]string, 0, len(doc.Users))
	for l := range doc.Users {
		logins = append(logins, l)
	}
	sort.Strings(logins)
	for _, login := range logins {
		key := "users." + login
		code := doc.Users[login]
		if strings.TrimSpace(login) == "" {
			return nil, &config.Error{File: path, Key: "users", Reason: "empty login"}
		}
		var rc model.RegionCode
		if code == Nationwide {
			rc = model.Nationwide()
		} else if rc, err = model.ParseRegionCode(code); err != nil {
			return nil, &config.Error{File: path, Key: key, Reason: err.Error() + ` (or "country" for the whole country)`}
		}
		low := strings.ToLower(login)
		if _, dup := f.users[low]; dup {
			return nil, &config.Error{File: path, Key: key, Reason: "login listed twice (logins compare case-insensitively)"}
		}
		f.users[low] = rc
	}
	return f, nil
}

// Region implements Resolver.
func (f *UsersFile) Region(_ context.Context, login string) (model.RegionCode, error) {
	if rc, ok := f.users[strings.ToLower(login)]; ok {
		return rc, nil
	}
	return model.RegionCode{}, ErrUnknownUser
}

// Len is the number of logins.
func (f *UsersFile) Len() int { return len(f.users) }

// Users is the resolver the configuration names, with what it holds open.
type Users struct {
	Resolver
	// Source says what it reads, for the log.
	Source string
	ping   func(context.Context) error
	close  func() error
}

// OpenUsers builds the resolver of cfg.UsersSource: the users file, read
// now, or the access database, opened (and migrated, as every service that
// opens it does) now and asked per login through a cache of
// cfg.UsersCacheTTL. Close releases it.
func OpenUsers(ctx context.Context, cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Users, error) {
	if cfg.UsersSource != UsersSourceAccess {
		f, err := LoadUsersFile(cfg.UsersFile)
		if err != nil {
			return nil, err
		}
		return &Users{Resolver: f, Source: fmt.Sprintf("users file %s (%d logins)", cfg.UsersFile, f.Len())}, nil
	}
	so, err := cfg.Access.Database.StoreOptions("access.database", logger)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, so)
	if err != nil {
		return nil, fmt.Errorf("influxproxy: access database: %w", err)
	}
	r, err := NewAccessResolver(AccessResolverOptions{Store: st, TTL: cfg.UsersCacheTTL, Registerer: reg})
	if err != nil {
		st.Close()
		return nil, err
	}
	return &Users{Resolver: r, Source: fmt.Sprintf("access database (%s), cached %v", so.Driver, cfg.UsersCacheTTL),
		ping: st.Ping, close: st.Close}, nil
}

// Ping checks what the resolver reads (the access database); nil for a
// file.
func (u *Users) Ping(ctx context.Context) error {
	if u.ping == nil {
		return nil
	}
	return u.ping(ctx)
}

// Close releases the database; idempotent.
func (u *Users) Close() error {
	c := u.close
	u.close = nil
	if c == nil {
		return nil
	}
	return c()
}
