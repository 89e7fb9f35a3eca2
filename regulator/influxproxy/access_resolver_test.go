package influxproxy

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cradlewatch/cradlewatch/access"
	"github.com/cradlewatch/cradlewatch/access/store"
	"github.com/cradlewatch/cradlewatch/access/store/storetest"
	"github.com/cradlewatch/cradlewatch/model"
)

// clock is a settable clock for the cache.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time          { return c.now }
func (c *clock) advance(d time.Duration) { c.now = c.now.Add(d) }

// account makes a store account of role over region (or facilities, for
// an operator).
func account(id, username string, role access.Role, region string, facilities ...string) store.Account {
	a := store.Account{ID: id, Username: username, Role: role, Facilities: facilities,
		CreatedAt: time.Unix(1_780_000_000, 0), UpdatedAt: time.Unix(1_780_000_000, 0)}
	switch {
	case region == Nationwide:
		a.Region = model.Nationwide()
	case region != "":
		a.Region = model.MustRegionCode(region)
	}
	return a
}

// The accounts of the resolver's tests: one of each role, a disabled
// county, and two logins that differ only in letter case.
var resolverAccounts = []store.Account{
	account("a1", "chaoyang-wjw", access.RoleCounty, "110105"),
	account("a2", "jianwai", access.RoleStreet, "110105001"),
	account("a3", "beijing-city", access.RoleCity, "110100"),
	account("a4", "beijing-wjw", access.RoleProvince, "110000"),
	account("a5", "platform", access.RoleAdmin, Nationwide),
	account("a6", "auditor-cy", access.RoleAuditor, "110105"),
	account("a7", "auditor-all", access.RoleAuditor, Nationwide),
	account("a8", "wang-laoshi", access.RoleOperator, "", "110105001-0001"),
	account("a9", "haidian-old", access.RoleCounty, "110108"),
	account("a10", "Li", access.RoleCounty, "110108"),
	account("a11", "LI", access.RoleCounty, "110105"),
	account("a12", "Zhao-WJW", access.RoleCounty, "110108"),
}

// regionCase is one login and what it must resolve to: a region, or a
// refusal saying why.
type regionCase struct {
	login  string
	region string // "" when refused
	want   string // a fragment of the refusal, or "unknown"
}

var regionCases = []regionCase{
	{"chaoyang-wjw", "110105", ""},
	{"jianwai", "110105001", ""},
	{"beijing-city", "110100", ""},
	{"beijing-wjw", "110000", ""},
	{"platform", "", ""}, // the whole country: String() is ""
	{"auditor-cy", "110105", ""},
	{"auditor-all", "", ""},
	{"zhao-wjw", "110108", ""}, // Grafana's login in another case: one account
	{"wang-laoshi", "", "operator"},
	{"haidian-old", "", "disabled"},
	{"li", "", "differ only in letter case"},
	{"Li", "110108", ""}, // exact wins over folding
	{"mallory", "", "unknown"},
	{"", "", "unknown"},
	{"chaoyang-wjw' OR '1'='1", "", "unknown"},
}

func checkRegion(t *testing.T, r Resolver, c regionCase) {
	t.Helper()
	rc, err := r.Region(context.Background(), c.login)
	var refused *UserRefusedError
	switch {
	case c.want == "unknown":
		if !errors.Is(err, ErrUnknownUser) {
			t.Errorf("%q: %v, %v; want unknown", c.login, rc, err)
		}
	case c.want != "":
		if !errors.As(err, &refused) || !strings.Contains(refused.Reason, c.want) || !rc.IsZero() {
			t.Errorf("%q: %v, %v; want refused: %s", c.login, rc, err, c.want)
		}
	default:
		if err != nil || rc.IsZero() || rc.String() != c.region {
			t.Errorf("%q: %v, %v; want %q", c.login, rc, err, c.region)
		}
	}
}

// TestAccessResolverOnTheDatabase resolves every role against SQLite and
// PostgreSQL, then changes the database under a warm cache: the change is
// not seen before the TTL and is seen after it, and an account created
// meanwhile is found then too.
func TestAccessResolverOnTheDatabase(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ *storetest.Engine, st *store.Store) {
		ctx := context.Background()
		for _, a := range resolverAccounts {
			if err := st.CreateAccount(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		c := &clock{now: time.Unix(1_780_000_000, 0)}
		if err := st.SetDisabled(ctx, "a9", true, c.now); err != nil {
			t.Fatal(err)
		}
		reg := prometheus.NewRegistry()
		r, err := NewAccessResolver(AccessResolverOptions{Store: st, TTL: time.Minute, Now: c.Now, Registerer: reg})
		if err != nil {
			t.Fatal(err)
		}
		for _, rc := range regionCases {
			checkRegion(t, r, rc)
		}
		if got := testutil.ToFloat64(r.lookups.WithLabelValues("database", lookupOK)); got != 9 {
			t.Errorf("database lookups ok = %v, want 9", got)
		}

		// The county is disabled, the street office moves to county rank,
		// the operator is made a street office, a new account appears.
		if err := st.SetDisabled(ctx, "a1", true, c.now); err != nil {
			t.Fatal(err)
		}
		if err := st.SetRole(ctx, "a2", access.RoleCounty, model.MustRegionCode("110108"), nil, c.now); err != nil {
			t.Fatal(err)
		}
		if err := st.SetRole(ctx, "a8", access.RoleStreet, model.MustRegionCode("110105001"), nil, c.now); err != nil {
			t.Fatal(err)
		}
		if err := st.CreateAccount(ctx, account("a13", "mallory", access.RoleStreet, "110105002")); err != nil {
			t.Fatal(err)
		}
		c.advance(time.Minute - time.Nanosecond) // the cache still answers
		for _, rc := range regionCases[:9] {
			checkRegion(t, r, rc)
		}
		checkRegion(t, r, regionCase{"mallory", "", "unknown"})
		c.advance(time.Nanosecond) // the bound: from now on the database's word
		for _, rc := range []regionCase{
			{"chaoyang-wjw", "", "disabled"},
			{"jianwai", "110108", ""},
			{"wang-laoshi", "110105001", ""},
			{"mallory", "110105002", ""},
			{"beijing-wjw", "110000", ""},
		} {
			checkRegion(t, r, rc)
		}
		if got := testutil.ToFloat64(r.lookups.WithLabelValues("cache", lookupOK)); got != 8 {
			t.Errorf("cached ok answers = %v, want 8", got)
		}

		// The database goes away: refused (not served stale), not cached.
		st.Close()
		c.advance(time.Minute)
		if _, err := r.Region(ctx, "beijing-wjw"); err == nil || errors.Is(err, ErrUnknownUser) {
			t.Errorf("with the database closed: %v, want an error", err)
		}
		if got := testutil.ToFloat64(r.lookups.WithLabelValues("database", lookupError)); got != 1 {
			t.Errorf("database errors = %v, want 1", got)
		}
	})
}

// flakyStore fails its first n lookups, then answers from accounts.
type flakyStore struct {
	fail     int
	accounts map[string]store.Account
	calls    int
}

func (f *flakyStore) AccountByUsername(_ context.Context, u string) (store.Account, error) {
	f.calls++
	if f.fail > 0 {
		f.fail--
		return store.Account{}, errors.New("connection refused")
	}
	if a, ok := f.accounts[u]; ok {
		return a, nil
	}
	return store.Account{}, store.ErrNotFound
}

func (f *flakyStore) AccountsByUsernameFold(context.Context, string) ([]store.Account, error) {
	return nil, nil
}

// TestAccessResolverCache: an error is never cached (the next request asks
// again), an answer is reused until its TTL, and the cache stays bounded
// under a flood of distinct logins.
func TestAccessResolverCache(t *testing.T) {
	f := &flakyStore{fail: 2, accounts: map[string]store.Account{"cy": account("1", "cy", access.RoleCounty, "110105")}}
	c := &clock{now: time.Unix(1_780_000_000, 0)}
	r, err := NewAccessResolver(AccessResolverOptions{Store: f, TTL: 10 * time.Second, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := r.Region(context.Background(), "cy"); err == nil {
			t.Fatal("a failing database answered")
		}
	}
	for range 5 {
		checkRegion(t, r, regionCase{"cy", "110105", ""})
	}
	if f.calls != 3 {
		t.Errorf("database asked %d times, want 3 (two failures, one answer kept)", f.calls)
	}
	for i := range 3 * maxCachedLogins {
		if _, err := r.Region(context.Background(), "flood-"+string(rune('a'+i%26))+strings.Repeat("x", i%97)+time.Duration(i).String()); !errors.Is(err, ErrUnknownUser) {
			t.Fatal(err)
		}
	}
	if n := len(r.cache); n > maxCachedLogins {
		t.Errorf("cache holds %d logins, bound %d", n, maxCachedLogins)
	}
	for _, o := range []AccessResolverOptions{{}, {Store: f, TTL: -time.Second}} {
		if _, err := NewAccessResolver(o); err == nil {
			t.Errorf("NewAccessResolver(%+v) accepted", o)
		}
	}
}

// TestProxyOnTheAccessDatabase runs the proxy configured with
// users_source: access on a SQLite file written by the access store: a
// county's query is scoped to its county, an operator's and a disabled
// account's are refused with the reason, counted, and never reach
// InfluxDB.
func TestProxyOnTheAccessDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.db")
	st, err := store.Open(context.Background(), store.Options{Driver: store.DriverSQLite, DSN: path})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range resolverAccounts {
		if err := st.CreateAccount(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.SetDisabled(context.Background(), "a9", true, time.Now()); err != nil {
		t.Fatal(err)
	}
	st.Close()

	up := newFakeInflux(t)
	cfg := testConfig(up.srv.URL)
	cfg.UsersSource, cfg.UsersFile = UsersSourceAccess, ""
	cfg.Access.Database.Driver, cfg.Access.Database.Path = store.DriverSQLite, path
	reg := prometheus.NewRegistry()
	p, err := New(Options{Config: cfg, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	e := &handlerEnv{p: p, h: p.Handler(), up: up, reg: reg}
	q := url.Values{"db": {"cradlewatch"}, "q": {"SELECT value FROM co2"}}

	if w := e.query("chaoyang-wjw", q, true); w.Code != http.StatusOK {
		t.Fatalf("county: %d %s", w.Code, w.Body)
	}
	if got := e.up.last().Form.Get("q"); !strings.Contains(got, "county::tag = '110105'") {
		t.Fatalf("county's query reached InfluxDB as %q", got)
	}
	sent := e.up.count()
	for login, why := range map[string]string{"wang-laoshi": "operator", "haidian-old": "disabled", "nobody": "not mapped"} {
		w := e.query(login, q, true)
		if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), why) {
			t.Errorf("%s: %d %s, want 403 saying %q", login, w.Code, w.Body, why)
		}
	}
	if e.up.count() != sent {
		t.Error("a refused login's query reached InfluxDB")
	}
	if got := e.refusals(ReasonUser); got != 3 {
		t.Errorf("refusals{user} = %v, want 3", got)
	}
	if got := testutil.ToFloat64(p.users.Resolver.(*AccessResolver).lookups.WithLabelValues("database", lookupOperator)); got != 1 {
		t.Errorf("lookups{operator} = %v, want 1", got)
	}
	if err := p.ready.Check(); err != nil {
		t.Errorf("readiness with the access database open: %v", err)
	}
}
