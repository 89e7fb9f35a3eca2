package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/access"
	"github.com/cradlewatch/cradlewatch/access/audit"
	"github.com/cradlewatch/cradlewatch/access/authn"
	"github.com/cradlewatch/cradlewatch/access/store"
	"github.com/cradlewatch/cradlewatch/access/store/storetest"
	"github.com/cradlewatch/cradlewatch/internal/testenv"
)

// TestFrontDoor runs the attacks and boundaries of issue 14 through real
// HTTP (TLS, cookies), on SQLite and on PostgreSQL.
func TestFrontDoor(t *testing.T) {
	cases := []struct {
		name string
		fn   func(t *testing.T, r *rig)
	}{
		{"session cookie is secure", testSessionCookie},
		{"operator sees only its facilities", testOperatorBoundary},
		{"street and county see their regions", testRegionBoundaries},
		{"auditor reads and never acts", testAuditorReadOnly},
		{"tokens: scoped, expiring, revocable", testTokens},
		{"bad bearer tokens are locked out", testBadTokensLocked},
		{"cross-origin form post refused", testCrossOrigin},
		{"login brute force blocked, counted, logged once", testLoginBruteForce},
		{"a source spraying accounts is locked", testSourceSpray},
		{"sessions expire idle and absolute", testSessionExpiry},
		{"a role change ends the sessions", testRoleChangeEndsSessions},
		{"silences: reason, county for long, cap", testSilences},
		{"the actor is the identity", testActorFromIdentity},
		{"no internal error text, headers, body limit", testHardening},
	}
	for _, e := range storetest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) { c.fn(t, newRig(t, e.Open(t))) })
			}
		})
	}
}

var (
	gOperatorA = authn.Grant{Role: access.RoleOperator, Facilities: []string{"fac-a"}}
	gStreet1   = authn.Grant{Role: access.RoleStreet, Region: region("110105001")}
	gChaoyang  = authn.Grant{Role: access.RoleCounty, Region: region("110105")}
	gFengtai   = authn.Grant{Role: access.RoleCounty, Region: region("110106")}
	gCity      = authn.Grant{Role: access.RoleCity, Region: region("110100")}
	gAuditor   = authn.Grant{Role: access.RoleAuditor, Region: region("*")}
)

func testSessionCookie(t *testing.T, r *rig) {
	r.account("wang", gOperatorA)
	c := r.browser()
	code, _, h := c.do(http.MethodPost, "/api/v1/login", "application/json", `{"username":"wang","password":"`+password+`"}`)
	if code != http.StatusNoContent {
		t.Fatalf("login %d", code)
	}
	sc := h.Get("Set-Cookie")
	for _, want := range []string{"__Host-cw_session=", "Path=/", "Max-Age=43200", "HttpOnly", "Secure", "SameSite=Lax"} {
		if !strings.Contains(sc, want) {
			t.Errorf("cookie %q lacks %s", sc, want)
		}
	}
	if strings.Contains(sc, "Domain") {
		t.Errorf("cookie has a domain: %s", sc)
	}
	if code, _ := c.get("/api/v1/alerts"); code != http.StatusOK {
		t.Fatalf("after login %d", code)
	}
	if code, _ := c.postJSON("/api/v1/logout", `{}`); code != http.StatusNoContent {
		t.Fatalf("logout %d", code)
	}
	if code, _ := c.get("/api/v1/alerts"); code != http.StatusUnauthorized {
		t.Fatalf("after logout %d", code)
	}
	if code, _ := r.browser().get("/api/v1/alerts"); code != http.StatusUnauthorized {
		t.Fatalf("anonymous %d", code)
	}
	// A guessed or stale cookie value is nobody.
	forged := r.browser()
	forged.h.Set("Cookie", "__Host-cw_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	if code, _ := forged.get("/api/v1/alerts"); code != http.StatusUnauthorized {
		t.Fatalf("forged cookie %d", code)
	}
}

func testOperatorBoundary(t *testing.T, r *rig) {
	c, _ := r.loggedIn("wang", gOperatorA)
	expect(t, c, "GET", "/api/v1/facilities/fac-a/alerts", "", http.StatusOK)
	expect(t, c, "GET", "/api/v1/facilities/fac-b/alerts", "", http.StatusForbidden) // another facility's alert, same street
	expect(t, c, "GET", "/api/v1/facilities/fac-c/alerts", "", http.StatusForbidden)
	expect(t, c, "GET", "/api/v1/facilities/fac-zz/alerts", "", http.StatusForbidden) // unregistered
	if _, body := c.get("/api/v1/alerts"); strings.TrimSpace(body) != `["fac-a"]` {
		t.Fatalf("operator list %s", body)
	}
	expect(t, c, "GET", "/api/v1/alerts?region=110105001", "", http.StatusForbidden)
	expect(t, c, "POST", "/api/v1/ack", `{"facility":"fac-a","fingerprint":"f1"}`, http.StatusNoContent)
	expect(t, c, "POST", "/api/v1/ack", `{"facility":"fac-b","fingerprint":"f2"}`, http.StatusForbidden)
}

func testRegionBoundaries(t *testing.T, r *rig) {
	street, _ := r.loggedIn("street1", gStreet1)
	if _, body := street.get("/api/v1/alerts"); strings.TrimSpace(body) != `["fac-a"]` {
		t.Fatalf("street list %s", body)
	}
	expect(t, street, "GET", "/api/v1/facilities/fac-b/alerts", "", http.StatusForbidden)
	expect(t, street, "GET", "/api/v1/alerts?region=110105", "", http.StatusForbidden)

	county, _ := r.loggedIn("chaoyang", gChaoyang)
	if _, body := county.get("/api/v1/alerts"); strings.TrimSpace(body) != `["fac-a","fac-b"]` {
		t.Fatalf("county list %s", body)
	}
	expect(t, county, "GET", "/api/v1/alerts?region=110105", "", http.StatusOK)
	expect(t, county, "GET", "/api/v1/alerts?region=110106", "", http.StatusForbidden) // another county's list
	expect(t, county, "GET", "/api/v1/alerts?region=110100", "", http.StatusForbidden) // its city's
	expect(t, county, "GET", "/api/v1/facilities/fac-c/alerts", "", http.StatusForbidden)
	expect(t, county, "POST", "/api/v1/ack", `{"facility":"fac-c","fingerprint":"f"}`, http.StatusForbidden)
	expect(t, county, "POST", "/api/v1/ack", `{"facility":"fac-b","fingerprint":"f"}`, http.StatusNoContent)

	city, _ := r.loggedIn("beijing-city", gCity)
	if _, body := city.get("/api/v1/alerts"); strings.TrimSpace(body) != `["fac-a","fac-b","fac-c"]` {
		t.Fatalf("city list %s", body)
	}
	if got := testenv.Metric(t, r.reg, "cw_access_http_rejected_total", "reason", "forbidden"); got != 6 {
		t.Fatalf("forbidden counted %v", got)
	}
}

func testAuditorReadOnly(t *testing.T, r *rig) {
	a, _ := r.loggedIn("auditor", gAuditor)
	expect(t, a, "GET", "/api/v1/facilities/fac-c/alerts", "", http.StatusOK)
	expect(t, a, "POST", "/api/v1/ack", `{"facility":"fac-a","fingerprint":"f"}`, http.StatusForbidden)
	expect(t, a, "POST", "/api/v1/silences", silenceBody("fac-a", 2*time.Hour, "检修", r), http.StatusForbidden)
}

func testTokens(t *testing.T, r *rig) {
	ctx := context.Background()
	_, county := r.loggedIn("chaoyang", gChaoyang)
	// A county issues itself a view-only token (as Grafana's proxy would use).
	view := gChaoyang
	view.Actions = []access.Action{access.ActionView}
	tok, stored, err := r.auth.IssueToken(ctx, county.Principal(), "grafana", view, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, "cwt_"+stored.ID+"_") || len(tok) < 60 || strings.Contains(stored.SecretHash, tok[21:]) {
		t.Fatalf("token %s stored %+v", tok, stored)
	}
	c := r.bearer(tok)
	expect(t, c, "GET", "/api/v1/facilities/fac-a/alerts", "", http.StatusOK)
	expect(t, c, "GET", "/api/v1/facilities/fac-c/alerts", "", http.StatusForbidden)
	expect(t, c, "POST", "/api/v1/ack", `{"facility":"fac-a","fingerprint":"f"}`, http.StatusForbidden) // view only
	// It cannot widen itself: a county cannot mint a token for another county or a wider role.
	if _, _, err := r.auth.IssueToken(ctx, county.Principal(), "x", gFengtai, time.Hour); err == nil {
		t.Fatal("county issued a token for another county")
	}
	if _, _, err := r.auth.IssueToken(ctx, county.Principal(), "x", gCity, time.Hour); err == nil {
		t.Fatal("county issued a city token")
	}
	if _, _, err := r.auth.IssueToken(ctx, county.Principal(), "x", gChaoyang, 2*authn.DefaultMaxTokenLife); err == nil {
		t.Fatal("token beyond the maximum life")
	}
	// Expired.
	r.clock.Advance(24 * time.Hour)
	expect(t, c, "GET", "/api/v1/facilities/fac-a/alerts", "", http.StatusUnauthorized)
	// Revoked.
	tok2, st2, _ := r.auth.IssueToken(ctx, county.Principal(), "grafana-2", view, time.Hour)
	c2 := r.bearer(tok2)
	expect(t, c2, "GET", "/api/v1/alerts", "", http.StatusOK)
	other, _ := r.loggedIn("fengtai", gFengtai)
	_ = other
	fengtai, _ := r.st.AccountByUsername(ctx, "fengtai")
	if err := r.auth.RevokeToken(ctx, fengtai.Principal(), st2.ID); err == nil {
		t.Fatal("another account revoked the county's token")
	}
	if err := r.auth.RevokeToken(ctx, county.Principal(), st2.ID); err != nil {
		t.Fatal(err)
	}
	expect(t, c2, "GET", "/api/v1/alerts", "", http.StatusUnauthorized)
	// The secret is checked, not only the ID.
	forged := "cwt_" + st2.ID + "_" + strings.Repeat("A", 43)
	expect(t, r.bearer(forged), "GET", "/api/v1/alerts", "", http.StatusUnauthorized)
	if got := testenv.Metric(t, r.reg, "cw_access_authentications_total", "credential", "token", "result", "revoked"); got != 1 {
		t.Fatalf("revoked counted %v", got)
	}
	if got := testenv.Metric(t, r.reg, "cw_access_authentications_total", "credential", "token", "result", "expired"); got != 1 {
		t.Fatalf("expired counted %v", got)
	}
}

func testBadTokensLocked(t *testing.T, r *rig) {
	refused := 0
	for i := range 30 {
		code, _ := r.bearer("cwt_0123456789abcdef_" + strings.Repeat(string(rune('a'+i%26)), 43)).get("/api/v1/alerts")
		switch code {
		case http.StatusUnauthorized:
		case http.StatusTooManyRequests:
			refused++
		default:
			t.Fatalf("code %d", code)
		}
	}
	if refused != 20 {
		t.Fatalf("%d of 30 refused as locked, want 20", refused)
	}
	if n := r.logs.Count("locked out after too many failed attempts"); n != 1 {
		t.Fatalf("lockout logged %d times", n)
	}
}

func testCrossOrigin(t *testing.T, r *rig) {
	c, _ := r.loggedIn("wang", gOperatorA)
	// A form on another site posting to the API in the operator's browser.
	c.h.Set("Origin", "https://evil.example")
	c.h.Set("Sec-Fetch-Site", "cross-site")
	for _, ct := range []string{"application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x", "application/json"} {
		code, _, _ := c.do(http.MethodPost, "/api/v1/ack", ct, `{"facility":"fac-a","fingerprint":"f1"}`)
		if code != http.StatusForbidden {
			t.Fatalf("cross-site %s post: %d", ct, code)
		}
	}
	expect(t, c, "POST", "/api/v1/login", `{"username":"wang","password":"x"}`, http.StatusForbidden) // login CSRF too
	if got := testenv.Metric(t, r.reg, "cw_access_http_rejected_total", "reason", "cross_origin"); got != 5 {
		t.Fatalf("cross-origin counted %v", got)
	}
	if n := r.logs.Count("reason=cross_origin"); n != 1 {
		t.Fatalf("cross-origin logged %d times", n)
	}
	// Reads stay possible (a link from another site).
	if code, _ := c.get("/api/v1/alerts"); code != http.StatusOK {
		t.Fatalf("cross-site GET %d", code)
	}
	// Same site, but not JSON: an old browser without Sec-Fetch-Site still cannot post a form.
	c.h.Del("Origin")
	c.h.Del("Sec-Fetch-Site")
	code, _, _ := c.do(http.MethodPost, "/api/v1/ack", "text/plain", `{"facility":"fac-a","fingerprint":"f1"}`)
	if code != http.StatusUnsupportedMediaType {
		t.Fatalf("text/plain post: %d", code)
	}
	expect(t, c, "POST", "/api/v1/ack", `{"facility":"fac-a","fingerprint":"f1"}`, http.StatusNoContent)
}

func testLoginBruteForce(t *testing.T, r *rig) {
	r.account("wang", gOperatorA)
	c := r.browser()
	codes := map[int]int{}
	for i := range 50 {
		codes[c.login("wang", "guess-"+string(rune('a'+i%26))+"-000000")]++
	}
	if codes[http.StatusUnauthorized] != 5 || codes[http.StatusTooManyRequests] != 45 {
		t.Fatalf("codes %v", codes)
	}
	// While locked, even the right password is refused.
	if code := c.login("wang", password); code != http.StatusTooManyRequests {
		t.Fatalf("right password during lockout: %d", code)
	}
	if n := r.logs.Count("locked out after too many failed attempts"); n != 1 {
		t.Fatalf("lockout logged %d times", n)
	}
	if got := testenv.Metric(t, r.reg, "cw_access_lockouts_total", "limiter", "login", "kind", "account"); got != 1 {
		t.Fatalf("lockouts %v", got)
	}
	if got := testenv.Metric(t, r.reg, "cw_access_logins_total", "method", "password", "result", "locked"); got != 46 {
		t.Fatalf("locked logins %v", got)
	}
	r.clock.Advance(15 * time.Minute)
	if code := c.login("wang", password); code != http.StatusNoContent {
		t.Fatalf("after the lockout: %d", code)
	}
	// The trail has each failure and the one lockout, with no password in it.
	r.audit.Flush(context.Background())
	var failed, locks int
	r.st.ScanAudit(context.Background(), "console-1", func(rec audit.Record) error {
		switch rec.Action {
		case audit.ActionLoginFailed:
			failed++
		case audit.ActionLockout:
			locks++
		}
		if strings.Contains(rec.Detail, "guess") || strings.Contains(rec.Detail, password) {
			t.Errorf("password in the audit trail: %s", rec.Detail)
		}
		return nil
	})
	if failed != 5 || locks != 1 {
		t.Fatalf("audit: %d failures, %d lockouts", failed, locks)
	}
	// Unknown accounts answer exactly like wrong passwords.
	if code := r.browser().login("nobody", "whatever-password"); code != http.StatusUnauthorized {
		t.Fatalf("unknown account %d", code)
	}
}

func testSourceSpray(t *testing.T, r *rig) {
	c := r.browser()
	locked := 0
	for i := range 40 {
		if c.login("user-"+string(rune('a'+i%26))+string(rune('a'+i/26)), "wrong password 123") == http.StatusTooManyRequests {
			locked++
		}
	}
	if locked != 20 {
		t.Fatalf("%d of 40 refused", locked)
	}
	if got := testenv.Metric(t, r.reg, "cw_access_lockouts_total", "limiter", "login", "kind", "source"); got != 1 {
		t.Fatalf("source lockouts %v", got)
	}
}

func testSessionExpiry(t *testing.T, r *rig) {
	c, _ := r.loggedIn("wang", gOperatorA)
	r.clock.Advance(authn.DefaultIdleTimeout)
	expect(t, c, "GET", "/api/v1/alerts", "", http.StatusUnauthorized)
	c.login("wang", password)
	for range 35 { // busy all day: every 20 minutes
		r.clock.Advance(20 * time.Minute)
		expect(t, c, "GET", "/api/v1/alerts", "", http.StatusOK)
	}
	r.clock.Advance(20 * time.Minute) // 12 h since login
	expect(t, c, "GET", "/api/v1/alerts", "", http.StatusUnauthorized)
}

func testRoleChangeEndsSessions(t *testing.T, r *rig) {
	c, acc := r.loggedIn("li", gChaoyang)
	expect(t, c, "GET", "/api/v1/alerts?region=110105", "", http.StatusOK)
	if err := r.auth.SetRole(context.Background(), r.admin, acc.ID, gFengtai); err != nil {
		t.Fatal(err)
	}
	expect(t, c, "GET", "/api/v1/alerts?region=110105", "", http.StatusUnauthorized)
	c.login("li", password)
	expect(t, c, "GET", "/api/v1/alerts?region=110105", "", http.StatusForbidden)
	expect(t, c, "GET", "/api/v1/alerts?region=110106", "", http.StatusOK)
	// Only the administrator changes roles.
	if err := r.auth.SetRole(context.Background(), acc.Principal(), acc.ID, gCity); err == nil {
		t.Fatal("an account raised its own role")
	}
	r.audit.Flush(context.Background())
	found := false
	r.st.ScanAudit(context.Background(), "console-1", func(rec audit.Record) error {
		if rec.Action == audit.ActionRoleChange && rec.Subject == acc.ID && strings.Contains(rec.Detail, `"110105"`) && strings.Contains(rec.Detail, `"110106"`) {
			found = rec.Actor == "service:cwadmin"
		}
		return nil
	})
	if !found {
		t.Fatal("role change not audited with both roles and its actor")
	}
}

func silenceBody(facility string, d time.Duration, reason string, r *rig) string {
	start := r.clock.Now()
	return `{"facility":"` + facility + `","start":"` + start.Format(time.RFC3339) + `","end":"` + start.Add(d).Format(time.RFC3339) + `","reason":"` + reason + `"}`
}

func testSilences(t *testing.T, r *rig) {
	op, _ := r.loggedIn("wang", gOperatorA)
	county, _ := r.loggedIn("chaoyang", gChaoyang)
	expect(t, op, "POST", "/api/v1/silences", silenceBody("fac-a", 2*time.Hour, "", r), http.StatusUnprocessableEntity)
	expect(t, op, "POST", "/api/v1/silences", silenceBody("fac-a", 48*time.Hour, "装修", r), http.StatusForbidden)
	expect(t, op, "POST", "/api/v1/silences", silenceBody("fac-b", 2*time.Hour, "检修", r), http.StatusForbidden)
	expect(t, county, "POST", "/api/v1/silences", silenceBody("fac-c", 2*time.Hour, "检修", r), http.StatusForbidden)
	expect(t, county, "POST", "/api/v1/silences", silenceBody("fac-a", 7*24*time.Hour, "装修", r), http.StatusCreated)
	r.clock.Advance(7 * 24 * time.Hour)
	county.login("chaoyang", password) // a week later: a new session
	// The next week in a row is past the cap of 7 days in 30.
	expect(t, county, "POST", "/api/v1/silences", silenceBody("fac-a", 7*24*time.Hour, "装修", r), http.StatusUnprocessableEntity)
	expect(t, county, "POST", "/api/v1/silences", silenceBody("fac-a", time.Hour, "装修", r), http.StatusUnprocessableEntity)
	r.clock.Advance(23 * 24 * time.Hour)
	county.login("chaoyang", password)
	expect(t, county, "POST", "/api/v1/silences", silenceBody("fac-a", time.Hour, "装修", r), http.StatusCreated)
}

func testActorFromIdentity(t *testing.T, r *rig) {
	c, acc := r.loggedIn("wang", gOperatorA)
	// The old API took the actor from the body: that field is now refused.
	expect(t, c, "POST", "/api/v1/ack", `{"facility":"fac-a","fingerprint":"f1","actor":"县卫健委"}`, http.StatusBadRequest)
	expect(t, c, "POST", "/api/v1/ack", `{"facility":"fac-a","fingerprint":"f1"}`, http.StatusNoContent)
	r.audit.Flush(context.Background())
	var got []audit.Record
	r.st.ScanAudit(context.Background(), "console-1", func(rec audit.Record) error {
		if rec.Action == audit.ActionAcknowledge {
			got = append(got, rec)
		}
		return nil
	})
	if len(got) != 1 || got[0].Actor != "person:"+acc.ID || got[0].ActorName != "wang" || got[0].ActorRole != "operator fac-a" {
		t.Fatalf("ack records %+v", got)
	}
}

func testHardening(t *testing.T, r *rig) {
	c, _ := r.loggedIn("wang", gOperatorA)
	code, body, h := c.do(http.MethodGet, "/api/v1/boom", "", "")
	if code != http.StatusInternalServerError || strings.Contains(body, "pq:") || strings.Contains(body, "10.0.3.7") || !strings.Contains(body, `"ref"`) {
		t.Fatalf("5xx body leaked: %d %s", code, body)
	}
	if !strings.Contains(r.logs.String(), "10.0.3.7") {
		t.Fatal("the hidden text did not reach the log")
	}
	for k, want := range map[string]string{
		"Content-Security-Policy": "frame-ancestors 'none'", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
		"X-Frame-Options": "DENY", "Strict-Transport-Security": "max-age=", "Cache-Control": "no-store",
	} {
		if !strings.Contains(h.Get(k), want) {
			t.Errorf("header %s = %q", k, h.Get(k))
		}
	}
	code, body = c.get("/api/v1/panic")
	if code != http.StatusInternalServerError || strings.Contains(body, "secret state") {
		t.Fatalf("panic: %d %s", code, body)
	}
	big := `{"facility":"fac-a","fingerprint":"` + strings.Repeat("x", 2<<20) + `"}`
	expect(t, c, "POST", "/api/v1/ack", big, http.StatusRequestEntityTooLarge)
}

func expect(t *testing.T, c *client, method, path, body string, want int) {
	t.Helper()
	ct := ""
	if method == http.MethodPost {
		ct = "application/json"
	}
	code, b, _ := c.do(method, path, ct, body)
	if code != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, code, strings.TrimSpace(b), want)
	}
}

var _ = store.ErrNotFound
