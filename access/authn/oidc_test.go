package authn_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/access"
	"github.com/cradlewatch/cradlewatch/access/audit"
	"github.com/cradlewatch/cradlewatch/access/authn"
	"github.com/cradlewatch/cradlewatch/access/authn/oidctest"
	"github.com/cradlewatch/cradlewatch/access/store"
	"github.com/cradlewatch/cradlewatch/access/store/storetest"
	"github.com/cradlewatch/cradlewatch/access/web"
	"github.com/prometheus/client_golang/prometheus"
)

var fastHash = authn.PasswordParams{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

type oidcRig struct {
	t     *testing.T
	idp   *oidctest.Provider
	srv   *httptest.Server
	st    *store.Store
	audit *audit.Writer
	reg   *prometheus.Registry
}

func newOIDCRig(t *testing.T, st *store.Store, roles map[string]access.Role) *oidcRig {
	t.Helper()
	r := &oidcRig{t: t, idp: oidctest.New(t), st: st, reg: prometheus.NewRegistry()}
	var err error
	r.audit, err = audit.NewWriter(audit.WriterOptions{Chain: "console-1", Dir: t.TempDir(), Sink: st})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.audit.Close() })
	auth, err := authn.New(authn.Options{Store: st, Audit: r.audit, Password: fastHash, Registerer: r.reg})
	if err != nil {
		t.Fatal(err)
	}
	front, _ := web.New(web.Options{Auth: auth})
	mux := http.NewServeMux()
	r.srv = httptest.NewTLSServer(mux)
	t.Cleanup(r.srv.Close)
	x, err := auth.NewOIDC(context.Background(), authn.OIDCOptions{Issuer: r.idp.URL, ClientID: r.idp.ClientID,
		ClientSecret: r.idp.ClientSecret, RedirectURL: r.srv.URL + "/auth/oidc/callback", Roles: roles})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("GET /auth/oidc/login", front.Public(x.LoginHandler()))
	mux.Handle("GET /auth/oidc/callback", front.Public(x.CallbackHandler()))
	mux.Handle("GET /whoami", front.Private(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		p, _ := access.FromContext(req.Context())
		json.NewEncoder(w).Encode(map[string]any{"role": p.Role, "region": p.Region.String(), "facilities": p.Facilities, "name": p.Name})
	})))
	mux.Handle("GET /", http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { io.WriteString(w, "home "+req.URL.Path) }))
	return r
}

func (r *oidcRig) browser(follow bool) *http.Client {
	jar, _ := cookiejar.New(nil)
	c := new(http.Client)
	*c = *r.srv.Client()
	c.Jar = jar
	if !follow {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	return c
}

// login runs the whole flow in a fresh browser; it returns the final
// status and body, and the browser.
func (r *oidcRig) login(returnTo string) (int, string, *http.Client) {
	r.t.Helper()
	c := r.browser(true)
	resp, err := c.Get(r.srv.URL + "/auth/oidc/login?return_to=" + url.QueryEscape(returnTo))
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), c
}

func (r *oidcRig) whoami(c *http.Client) (int, map[string]any) {
	resp, err := c.Get(r.srv.URL + "/whoami")
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func TestOIDC(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e *storetest.Engine, _ *store.Store) {
		t.Run("login maps claims to role and region", func(t *testing.T) { testOIDCLogin(t, newOIDCRig(t, e.Open(t), nil)) })
		t.Run("forged and misdirected logins are refused", func(t *testing.T) { testOIDCHostile(t, e) })
	})
}

func testOIDCLogin(t *testing.T, r *oidcRig) {
	r.idp.Login("u-1001", map[string]any{"cw_role": "county", "cw_region": "110105", "preferred_username": "李科长"})
	code, body, c := r.login("/alerts?state=firing")
	if code != http.StatusOK || body != "home /alerts" {
		t.Fatalf("login ended %d %q", code, body)
	}
	code, who := r.whoami(c)
	if code != 200 || who["role"] != "county" || who["region"] != "110105" || who["name"] != "oidc|u-1001" {
		t.Fatalf("whoami %d %v", code, who)
	}
	// The province's identity service moves the person: the next login
	// brings the new scope, and the change is audited.
	r.idp.Login("u-1001", map[string]any{"cw_role": "street", "cw_region": "110105001"})
	_, _, c2 := r.login("/")
	if _, who := r.whoami(c2); who["role"] != "street" || who["region"] != "110105001" {
		t.Fatalf("after the claims changed: %v", who)
	}
	if code, _ := r.whoami(c); code != http.StatusUnauthorized {
		t.Fatalf("old session survived the role change: %d", code)
	}
	// Operators: facilities as a list claim.
	r.idp.Login("u-2002", map[string]any{"cw_role": "operator", "cw_facilities": []any{"fac-b", "fac-a", "fac-a"}})
	_, _, c3 := r.login("//evil.example/phish")
	if _, who := r.whoami(c3); who["role"] != "operator" || len(who["facilities"].([]any)) != 2 {
		t.Fatalf("operator %v", who)
	}
	r.audit.Flush(context.Background())
	var actions []string
	r.st.ScanAudit(context.Background(), "console-1", func(rec audit.Record) error {
		actions = append(actions, rec.Action)
		return nil
	})
	want := "account.create login account.role login account.create login"
	if got := strings.Join(actions, " "); got != want {
		t.Fatalf("audit %s, want %s", got, want)
	}
}

func testOIDCHostile(t *testing.T, e *storetest.Engine) {
	otherKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	county := map[string]any{"cw_role": "county", "cw_region": "110105"}
	cases := []struct {
		name   string
		claims map[string]any
		knob   func(p *oidctest.Provider)
	}{
		{"signed with another key", county, func(p *oidctest.Provider) { p.SignWith = otherKey }},
		{"unsigned (alg none)", county, func(p *oidctest.Provider) { p.Unsigned = true }},
		{"for another client", county, func(p *oidctest.Provider) { p.Tamper = func(c map[string]any) { c["aud"] = "grafana" } }},
		{"from another issuer", county, func(p *oidctest.Provider) { p.Tamper = func(c map[string]any) { c["iss"] = "https://evil.example" } }},
		{"expired", county, func(p *oidctest.Provider) { p.Now = func() time.Time { return time.Now().Add(-time.Hour) } }},
		{"nonce of another login", county, func(p *oidctest.Provider) { p.Tamper = func(c map[string]any) { c["nonce"] = "replayed" } }},
		{"admin from the provider", map[string]any{"cw_role": "admin"}, nil},
		{"unknown role", map[string]any{"cw_role": "superuser", "cw_region": "110105"}, nil},
		{"county role with a street code", map[string]any{"cw_role": "county", "cw_region": "110105001"}, nil},
		{"no region", map[string]any{"cw_role": "county"}, nil},
		{"operator without facilities", map[string]any{"cw_role": "operator"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newOIDCRig(t, e.Open(t), nil)
			r.idp.Login("u-1", c.claims)
			if c.knob != nil {
				r.idp.Set(c.knob)
			}
			code, _, b := r.login("/")
			if code != http.StatusUnauthorized {
				t.Fatalf("login ended %d", code)
			}
			if code, _ := r.whoami(b); code != http.StatusUnauthorized {
				t.Fatal("a session was made")
			}
			if accs, _ := r.st.Accounts(context.Background()); len(accs) != 0 {
				t.Fatalf("account made: %+v", accs)
			}
		})
	}
	t.Run("callback opened in another browser (login CSRF)", func(t *testing.T) {
		r := newOIDCRig(t, e.Open(t), nil)
		r.idp.Login("attacker", county)
		cb := r.callbackURL()
		victim := r.browser(true)
		resp, err := victim.Get(cb)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("victim logged in as the attacker: %d", resp.StatusCode)
		}
	})
	t.Run("a callback used twice", func(t *testing.T) {
		r := newOIDCRig(t, e.Open(t), nil)
		r.idp.Login("u-1", county)
		c := r.browser(false)
		cb := r.callbackURLIn(c)
		for i, want := range []int{http.StatusFound, http.StatusUnauthorized} {
			resp, err := c.Get(cb)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Fatalf("use %d: %d", i+1, resp.StatusCode)
			}
			// The state cookie is gone after the first use; put it back to
			// show the server-side state is spent too.
			u, _ := url.Parse(r.srv.URL)
			c.Jar.SetCookies(u, []*http.Cookie{{Name: "cw_oidc_state", Value: mustQuery(t, cb, "state"), Path: "/"}})
		}
	})
	t.Run("role names mapped from the provider's vocabulary", func(t *testing.T) {
		r := newOIDCRig(t, e.Open(t), map[string]access.Role{"县级卫健委": access.RoleCounty})
		r.idp.Login("u-9", map[string]any{"cw_role": "县级卫健委", "cw_region": "110106"})
		_, _, c := r.login("/")
		if _, who := r.whoami(c); who["role"] != "county" || who["region"] != "110106" {
			t.Fatalf("%v", who)
		}
	})
}

// callbackURL starts a login in a throwaway browser and returns the
// callback URL the provider sends it to, without following it.
func (r *oidcRig) callbackURL() string { return r.callbackURLIn(r.browser(false)) }

func (r *oidcRig) callbackURLIn(c *http.Client) string {
	r.t.Helper()
	resp, err := c.Get(r.srv.URL + "/auth/oidc/login")
	if err != nil {
		r.t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = c.Get(resp.Header.Get("Location"))
	if err != nil {
		r.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.Header.Get("Location")
}

func mustQuery(t *testing.T, raw, key string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get(key)
}

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{"/alerts": "/alerts", "//evil.example": "/", "/\\evil": "/", "https://evil": "/", "": "/", "/a\r\nb": "/"} {
		if got := authn.LocalPath(in); got != want {
			t.Errorf("%q: %q", in, got)
		}
	}
}
