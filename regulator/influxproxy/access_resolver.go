package influxproxy

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/access"
	"github.com/cradlewatch/cradlewatch/access/store"
	"github.com/cradlewatch/cradlewatch/model"
)

// Defaults of the access database resolver.
const (
	// DefaultUsersCacheTTL is how long an answer of the access database is
	// used: the bound on how stale a login's region may be (a disabled
	// account, a changed role) when Grafana asks.
	DefaultUsersCacheTTL = 30 * time.Second
	// maxCachedLogins bounds the cache: logins come from Grafana, which is
	// trusted, but a bug there must not grow the proxy without bound.
	maxCachedLogins = 4096
)

// Outcomes of a login lookup, the result label of
// cw_influxproxy_user_lookups_total.
const (
	lookupOK        = "ok"        // scoped to the account's region
	lookupUnknown   = "unknown"   // no such account
	lookupDisabled  = "disabled"  // the account is disabled
	lookupOperator  = "operator"  // an operator: scoped by facilities, not a region
	lookupAmbiguous = "ambiguous" // several accounts differ only in letter case
	lookupInvalid   = "invalid"   // a role without a region scope the proxy knows
	lookupError     = "error"     // the database did not answer (never cached)
)

var lookupResults = []string{lookupOK, lookupUnknown, lookupDisabled, lookupOperator, lookupAmbiguous, lookupInvalid, lookupError}

// AccountStore is what AccessResolver needs of the access database
// (*store.Store).
type AccountStore interface {
	AccountByUsername(ctx context.Context, username string) (store.Account, error)
	AccountsByUsernameFold(ctx context.Context, username string) ([]store.Account, error)
}

// AccessResolverOptions configure an AccessResolver.
type AccessResolverOptions struct {
	Store AccountStore
	// TTL is how long an answer is kept (DefaultUsersCacheTTL when zero).
	TTL time.Duration
	// Now is the cache's clock (time.Now when nil).
	Now        func() time.Time
	Registerer prometheus.Registerer
}

// AccessResolver maps a Grafana login to the region of the access
// database's account of that name (access/store): a street, county, city
// or province office its region, an auditor its region, the administrator
// the whole country. Logins compare as Grafana's do: exactly, or else with
// ASCII letters case-insensitively when that names one account.
//
// Refused, each with a reason a person can act on (UserRefusedError):
// a disabled account, and an operator. An operator's scope is a list of
// facilities, narrower than any region, and the proxy scopes by one region
// tag; rather than widen an operator to its street, it refuses: an
// operator sees its facilities in the console.
//
// Answers are cached for TTL (unknown and refused logins too), so a change
// in the access database reaches Grafana's queries within TTL; an error
// of the database is not cached and refuses the request.
type AccessResolver struct {
	o       AccessResolverOptions
	lookups *prometheus.CounterVec

	mu    sync.Mutex
	cache map[string]cachedLogin
}

type cachedLogin struct {
	region  model.RegionCode
	err     error
	result  string
	expires time.Time
}

// UserRefusedError is a login that is an account the proxy will not
// scope; Reason is shown to the Grafana user.
type UserRefusedError struct{ Reason string }

func (e *UserRefusedError) Error() string { return e.Reason }

// NewAccessResolver builds the resolver and registers its metrics.
func NewAccessResolver(o AccessResolverOptions) (*AccessResolver, error) {
	if o.Store == nil {
		return nil, errors.New("influxproxy: access resolver without a store")
	}
	if o.TTL == 0 {
		o.TTL = DefaultUsersCacheTTL
	}
	if o.TTL < 0 {
		return nil, fmt.Errorf("influxproxy: negative cache TTL %v", o.TTL)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	r := &AccessResolver{o: o, cache: map[string]cachedLogin{},
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cw_influxproxy_user_lookups_total",
			Help: "Grafana logins resolved against the access database, by source (cache, database) and result (ok, unknown, disabled, operator, ambiguous, invalid, error).",
		}, []string{"source", "result"})}
	if err := o.Registerer.Register(r.lookups); err != nil {
		return nil, fmt.Errorf("influxproxy: %w", err)
	}
	for _, res := range lookupResults {
		r.lookups.WithLabelValues("database", res)
		if res != lookupError {
			r.lookups.WithLabelValues("cache", res)
		}
	}
	return r, nil
}

// Region implements Resolver.
func (r *AccessResolver) Region(ctx context.Context, login string) (model.RegionCode, error) {
	now := r.o.Now()
	r.mu.Lock()
	c, ok := r.cache[login]
	r.mu.Unlock()
	if ok && now.Before(c.expires) {
		r.lookups.WithLabelValues("cache", c.result).Inc()
		return c.region, c.err
	}
	rc, result, err := r.lookup(ctx, login)
	r.lookups.WithLabelValues("database", result).Inc()
	if result == lookupError {
		return model.RegionCode{}, err
	}
	r.mu.Lock()
	if len(r.cache) >= maxCachedLogins {
		for k, v := range r.cache {
			if !now.Before(v.expires) {
				delete(r.cache, k)
			}
		}
		if len(r.cache) >= maxCachedLogins {
			clear(r.cache)
		}
	}
	r.cache[login] = cachedLogin{region: rc, err: err, result: result, expires: now.Add(r.o.TTL)}
	r.mu.Unlock()
	return rc, err
}

// lookup asks the database.
func (r *AccessResolver) lookup(ctx context.Context, login string) (model.RegionCode, string, error) {
	acc, err := r.o.Store.AccountByUsername(ctx, login)
	if errors.Is(err, store.ErrNotFound) {
		var found []store.Account
		found, err = r.o.Store.AccountsByUsernameFold(ctx, login)
		switch {
		case err != nil:
		case len(found) == 0:
			return model.RegionCode{}, lookupUnknown, ErrUnknownUser
		case len(found) > 1:
			return model.RegionCode{}, lookupAmbiguous, &UserRefusedError{Reason: fmt.Sprintf(
				"login %q matches %d accounts that differ only in letter case: log in to Grafana with the exact account name", login, len(found))}
		default:
			acc = found[0]
		}
	}
	if err != nil {
		return model.RegionCode{}, lookupError, fmt.Errorf("access database: %w", err)
	}
	switch {
	case acc.Disabled:
		return model.RegionCode{}, lookupDisabled, &UserRefusedError{Reason: "the account is disabled"}
	case acc.Role == access.RoleOperator:
		return model.RegionCode{}, lookupOperator, &UserRefusedError{Reason: "an operator's scope is its facilities, not a region, " +
			"and Grafana's region proxy scopes by region only: operators see their facilities in the console"}
	case acc.Role == access.RoleAdmin:
		return model.Nationwide(), lookupOK, nil
	case acc.Role == access.RoleAuditor, acc.Role.Level() != model.LevelNone:
		if acc.Region.IsZero() {
			return model.RegionCode{}, lookupInvalid, &UserRefusedError{Reason: fmt.Sprintf("role %s without a region", acc.Role)}
		}
		return acc.Region, lookupOK, nil
	}
	return model.RegionCode{}, lookupInvalid, &UserRefusedError{Reason: fmt.Sprintf("role %q has no region scope", acc.Role)}
}
