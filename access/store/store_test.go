package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/access"
	"github.com/cradlewatch/cradlewatch/access/limit"
	"github.com/cradlewatch/cradlewatch/access/limit/limittest"
	"github.com/cradlewatch/cradlewatch/access/store"
	"github.com/cradlewatch/cradlewatch/access/store/storetest"
	"github.com/cradlewatch/cradlewatch/model"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func account(id, name string, role access.Role, region string, facilities ...string) store.Account {
	a := store.Account{ID: id, Username: name, DisplayName: name, Role: role, Facilities: facilities,
		PasswordHash: "$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA", CreatedAt: t0, UpdatedAt: t0}
	switch {
	case region == "*":
		a.Region = model.Nationwide()
	case region != "":
		a.Region = model.MustRegionCode(region)
	}
	return a
}

// TestStore runs every case on SQLite and on PostgreSQL (one server for
// all cases, a fresh database for each).
func TestStore(t *testing.T) {
	cases := []struct {
		name string
		fn   func(t *testing.T, e *storetest.Engine, s *store.Store)
	}{
		{"accounts", testAccounts},
		{"tokens and sessions", testTokensAndSessions},
		{"an OIDC state is used once", testOIDCStateIsUsedOnce},
		{"limits backend", func(t *testing.T, e *storetest.Engine, _ *store.Store) {
			limittest.Run(t, func(t *testing.T) limit.Backend { return e.Open(t).Limits() })
		}},
		{"audit tampering is found", testAuditTampering},
		{"audit quarantine", testAuditQuarantine},
		{"audit writer through an outage", testWriterOutage},
	}
	for _, e := range storetest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) { c.fn(t, e, e.Open(t)) })
			}
		})
	}
}

func testAccounts(t *testing.T, _ *storetest.Engine, s *store.Store) {
	ctx := context.Background()
	for _, a := range []store.Account{
		account("a1", "wang", access.RoleOperator, "", "fac-a", "fac-b"),
		account("a2", "li.county", access.RoleCounty, "110105"),
		account("a3", "root", access.RoleAdmin, "*"),
		account("a4", "audit", access.RoleAuditor, "*"),
	} {
		if err := s.CreateAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateAccount(ctx, account("a5", "wang", access.RoleCounty, "110106")); !errors.Is(err, store.ErrExists) {
		t.Fatalf("duplicate username: %v", err)
	}
	if err := s.CreateAccount(ctx, account("a6", "bad", access.RoleCounty, "110105001")); err == nil {
		t.Fatal("county account with a street code stored")
	}
	got, err := s.AccountByUsername(ctx, "wang")
	if err != nil || got.Role != access.RoleOperator || !slices.Equal(got.Facilities, []string{"fac-a", "fac-b"}) || !got.CreatedAt.Equal(t0) {
		t.Fatalf("%+v %v", got, err)
	}
	root, _ := s.AccountByID(ctx, "a3")
	if root.Region != model.Nationwide() || root.Principal().Validate() != nil {
		t.Fatalf("admin region %v", root.Region)
	}
	if _, err := s.AccountByUsername(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	// A role change ends the account's sessions at once.
	s.InsertSession(ctx, store.Session{IDHash: "h1", AccountID: "a2", Method: "password", CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour)})
	if err := s.SetRole(ctx, "a2", access.RoleCounty, model.MustRegionCode("110106"), nil, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionByHash(ctx, "h1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("session survived a role change: %v", err)
	}
	if err := s.SetRole(ctx, "a2", access.RoleStreet, model.MustRegionCode("110106"), nil, t0); err == nil {
		t.Fatal("street role with a county code accepted")
	}
	if err := s.SetRole(ctx, "nobody", access.RoleCounty, model.MustRegionCode("110106"), nil, t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	s.InsertSession(ctx, store.Session{IDHash: "h2", AccountID: "a1", Method: "password", CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour)})
	if err := s.SetDisabled(ctx, "a1", true, t0); err != nil {
		t.Fatal(err)
	}
	if a, _ := s.AccountByID(ctx, "a1"); !a.Disabled {
		t.Fatal("not disabled")
	}
	if _, err := s.SessionByHash(ctx, "h2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("session survived disabling")
	}
	oidc := account("a7", "oidc|sub-1", access.RoleStreet, "110105001")
	oidc.PasswordHash, oidc.OIDCIssuer, oidc.OIDCSubject = "", "https://idp.example", "sub-1"
	if err := s.CreateAccount(ctx, oidc); err != nil {
		t.Fatal(err)
	}
	if a, err := s.AccountByOIDC(ctx, "https://idp.example", "sub-1"); err != nil || a.ID != "a7" || a.PasswordHash != "" {
		t.Fatalf("%+v %v", a, err)
	}
	all, _ := s.Accounts(ctx)
	if len(all) != 5 {
		t.Fatalf("%d accounts", len(all))
	}
}

func testTokensAndSessions(t *testing.T, _ *storetest.Engine, s *store.Store) {
	ctx := context.Background()
	tok := store.Token{ID: "t1", SecretHash: "ab", Name: "grafana", Role: access.RoleCounty, Region: model.MustRegionCode("110105"),
		Actions: []access.Action{access.ActionView}, CreatedBy: "person:a3", CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour)}
	if err := s.InsertToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	noExpiry := tok
	noExpiry.ID, noExpiry.ExpiresAt = "t2", time.Time{}
	if err := s.InsertToken(ctx, noExpiry); err == nil {
		t.Fatal("token without expiry stored")
	}
	if err := s.InsertToken(ctx, tok); !errors.Is(err, store.ErrExists) {
		t.Fatalf("duplicate token: %v", err)
	}
	s.TouchToken(ctx, "t1", t0.Add(time.Minute))
	if err := s.RevokeToken(ctx, "t1", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	s.RevokeToken(ctx, "t1", t0.Add(2*time.Hour))
	got, err := s.TokenByID(ctx, "t1")
	if err != nil || !got.RevokedAt.Equal(t0.Add(time.Hour)) || !got.LastUsedAt.Equal(t0.Add(time.Minute)) ||
		!slices.Equal(got.Actions, []access.Action{access.ActionView}) || got.Region != tok.Region {
		t.Fatalf("%+v %v", got, err)
	}
	if err := s.RevokeToken(ctx, "nope", t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}

	s.CreateAccount(ctx, account("a1", "wang", access.RoleOperator, "", "fac-a"))
	for i, exp := range []time.Time{t0.Add(time.Hour), t0.Add(-time.Minute), t0.Add(time.Hour)} {
		seen := t0
		if i == 2 {
			seen = t0.Add(-3 * time.Hour) // idle
		}
		if err := s.InsertSession(ctx, store.Session{IDHash: string(rune('a' + i)), AccountID: "a1", Method: "password", CreatedAt: t0.Add(-4 * time.Hour), LastSeenAt: seen, ExpiresAt: exp}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.InsertSession(ctx, store.Session{IDHash: "x", AccountID: "ghost", CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0}); err == nil {
		t.Fatal("session of no account stored (foreign key)")
	}
	n, err := s.DeleteExpiredSessions(ctx, t0, t0.Add(-2*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("expired %d %v", n, err)
	}
	if se, err := s.SessionByHash(ctx, "a"); err != nil || se.AccountID != "a1" {
		t.Fatalf("%+v %v", se, err)
	}

	s.InsertOIDCLogin(ctx, store.OIDCLogin{StateHash: "st", Nonce: "n", Verifier: "v", ExpiresAt: t0.Add(time.Minute)})
	if l, err := s.TakeOIDCLogin(ctx, "st"); err != nil || l.Nonce != "n" {
		t.Fatal(l, err)
	}
	if _, err := s.TakeOIDCLogin(ctx, "st"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a state used twice: %v", err)
	}
}

// testOIDCStateIsUsedOnce races callbacks carrying the same state: one wins.
func testOIDCStateIsUsedOnce(t *testing.T, _ *storetest.Engine, s *store.Store) {
	ctx := context.Background()
	s.InsertOIDCLogin(ctx, store.OIDCLogin{StateHash: "st", Nonce: "n", Verifier: "v", ExpiresAt: t0.Add(time.Minute)})
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.TakeOIDCLogin(ctx, "st"); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d callbacks used one state", wins)
	}
}

func TestOpenRefusesNonsense(t *testing.T) {
	ctx := context.Background()
	if _, err := store.Open(ctx, store.Options{Driver: "mysql", DSN: "x"}); err == nil {
		t.Fatal("unknown driver")
	}
	if _, err := store.Open(ctx, store.Options{Driver: "sqlite"}); err == nil {
		t.Fatal("sqlite without a path")
	}
	// Opening twice migrates once; the second open finds the schema.
	path := filepath.Join(t.TempDir(), "a.db")
	for range 2 {
		s, err := store.Open(ctx, store.Options{Driver: "sqlite", DSN: path})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		s.Close()
	}
}
