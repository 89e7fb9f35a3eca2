package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/access"
	"github.com/cradlewatch/cradlewatch/access/audit"
	"github.com/cradlewatch/cradlewatch/access/authn"
	"github.com/cradlewatch/cradlewatch/access/limit/limittest"
	"github.com/cradlewatch/cradlewatch/access/store"
	"github.com/cradlewatch/cradlewatch/access/web"
	"github.com/cradlewatch/cradlewatch/model"
	"github.com/prometheus/client_golang/prometheus"
)

// fastHash keeps the tests quick; production uses authn.DefaultPasswordParams.
var fastHash = authn.PasswordParams{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// The registry of the tests: facility → registered region.
var registry = map[string]model.Region{
	"fac-a": "110105001", // Chaoyang, street 1
	"fac-b": "110105002", // Chaoyang, street 2
	"fac-c": "110106003", // Fengtai
}

const password = "correct horse battery"

// rig is a front door over a real store, audit writer and authenticator,
// serving a small alert API shaped like the alerting service's.
type rig struct {
	t     *testing.T
	st    *store.Store
	auth  *authn.Authenticator
	front *web.Front
	srv   *httptest.Server
	clock *limittest.Clock
	reg   *prometheus.Registry
	logs  *limittest.LogBuffer
	audit *audit.Writer
	admin access.Principal

	mu       sync.Mutex
	silences map[string][]access.Interval
}

func newRig(t *testing.T, st *store.Store) *rig {
	t.Helper()
	r := &rig{t: t, st: st, clock: limittest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)),
		reg: prometheus.NewRegistry(), logs: &limittest.LogBuffer{}, silences: map[string][]access.Interval{},
		admin: access.Principal{Kind: access.KindService, ID: "cwadmin", Name: "cwadmin", Role: access.RoleAdmin, Region: model.Nationwide()}}
	logger := slog.New(slog.NewTextHandler(r.logs, nil))
	var err error
	r.audit, err = audit.NewWriter(audit.WriterOptions{Chain: "console-1", Dir: t.TempDir(), Sink: st, Now: r.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.audit.Close() })
	r.auth, err = authn.New(authn.Options{Store: st, Audit: r.audit, Password: fastHash, Now: r.clock.Now, Logger: logger, Registerer: r.reg})
	if err != nil {
		t.Fatal(err)
	}
	r.front, err = web.New(web.Options{Auth: r.auth, JSONOnly: true, HSTS: true, Now: r.clock.Now, Logger: logger, Registerer: r.reg})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /api/v1/login", r.front.Public(r.auth.LoginHandler()))
	mux.Handle("POST /api/v1/logout", r.front.Private(r.auth.LogoutHandler()))
	mux.Handle("GET /api/v1/alerts", r.front.Private(http.HandlerFunc(r.listAlerts)))
	mux.Handle("GET /api/v1/facilities/{id}/alerts", r.front.Private(http.HandlerFunc(r.facilityAlerts)))
	mux.Handle("POST /api/v1/ack", r.front.Private(http.HandlerFunc(r.ack)))
	mux.Handle("POST /api/v1/silences", r.front.Private(http.HandlerFunc(r.silence)))
	mux.Handle("GET /api/v1/boom", r.front.Private(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, `pq: password authentication failed for user "cw" at 10.0.3.7`, http.StatusInternalServerError)
	})))
	mux.Handle("GET /api/v1/panic", r.front.Private(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("secret state") })))
	r.srv = httptest.NewTLSServer(mux)
	t.Cleanup(r.srv.Close)
	return r
}

func (r *rig) listAlerts(w http.ResponseWriter, req *http.Request) {
	p, _ := access.FromContext(req.Context())
	if q := req.URL.Query().Get("region"); q != "" {
		code, err := model.ParseRegionCode(q)
		if err != nil {
			web.Error(w, http.StatusBadRequest, "bad region")
			return
		}
		if err := access.Authorize(p, access.ActionView, access.ForRegion(code)); err != nil {
			r.front.Forbidden(w, req, err)
			return
		}
	}
	var out []string
	for id, region := range registry {
		if access.Authorize(p, access.ActionView, access.ForFacility(id, region)) == nil {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	json.NewEncoder(w).Encode(out)
}

func (r *rig) facilityAlerts(w http.ResponseWriter, req *http.Request) {
	p, _ := access.FromContext(req.Context())
	id := req.PathValue("id")
	if err := access.Authorize(p, access.ActionView, access.ForFacility(id, registry[id])); err != nil {
		r.front.Forbidden(w, req, err)
		return
	}
	json.NewEncoder(w).Encode([]string{id + "/co2_hourly"})
}

func (r *rig) ack(w http.ResponseWriter, req *http.Request) {
	p, _ := access.FromContext(req.Context())
	var body struct {
		Facility    string `json:"facility"`
		Fingerprint string `json:"fingerprint"`
	}
	if !web.DecodeJSON(w, req, &body) {
		return
	}
	if err := access.Authorize(p, access.ActionAcknowledge, access.ForFacility(body.Facility, registry[body.Facility])); err != nil {
		r.front.Forbidden(w, req, err)
		return
	}
	if _, err := r.audit.Append(audit.Event{Actor: p, Action: audit.ActionAcknowledge, Facility: body.Facility,
		Region: string(registry[body.Facility]), Subject: body.Fingerprint}); err != nil {
		web.Internal(w, req, slog.Default(), err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (r *rig) silence(w http.ResponseWriter, req *http.Request) {
	p, _ := access.FromContext(req.Context())
	var body struct {
		Facility string    `json:"facility"`
		Start    time.Time `json:"start"`
		End      time.Time `json:"end"`
		Reason   string    `json:"reason"`
	}
	if !web.DecodeJSON(w, req, &body) {
		return
	}
	sr := access.SilenceRequest{Facility: body.Facility, Region: registry[body.Facility], Start: body.Start, End: body.End, Reason: body.Reason}
	r.mu.Lock()
	defer r.mu.Unlock()
	err := access.DefaultSilencePolicy().Check(p, sr, r.silences[body.Facility])
	switch {
	case errors.Is(err, access.ErrDenied):
		r.front.Forbidden(w, req, err)
		return
	case err != nil:
		web.Error(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	r.silences[body.Facility] = append(r.silences[body.Facility], access.Interval{Start: body.Start, End: body.End})
	w.WriteHeader(http.StatusCreated)
}

// client is a browser: its own cookie jar.
type client struct {
	r *rig
	c *http.Client
	h http.Header // sent with every request (Authorization, Origin ...)
}

func (r *rig) browser() *client {
	jar, _ := cookiejar.New(nil)
	c := new(http.Client)
	*c = *r.srv.Client() // the server's client is shared: each browser gets its own copy and jar
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &client{r: r, c: c, h: http.Header{}}
}

func (r *rig) bearer(token string) *client {
	c := r.browser()
	c.h.Set("Authorization", "Bearer "+token)
	return c
}

func (c *client) do(method, path, contentType, body string) (int, string, http.Header) {
	c.r.t.Helper()
	req, err := http.NewRequest(method, c.r.srv.URL+path, strings.NewReader(body))
	if err != nil {
		c.r.t.Fatal(err)
	}
	for k, v := range c.h {
		req.Header[k] = v
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func (c *client) get(path string) (int, string) {
	code, body, _ := c.do(http.MethodGet, path, "", "")
	return code, body
}

func (c *client) postJSON(path, body string) (int, string) {
	code, b, _ := c.do(http.MethodPost, path, "application/json", body)
	return code, b
}

func (c *client) login(user, pw string) int {
	c.r.t.Helper()
	code, _ := c.postJSON("/api/v1/login", `{"username":"`+user+`","password":"`+pw+`"}`)
	return code
}

// account creates a password account with the given role and scope.
func (r *rig) account(name string, g authn.Grant) store.Account {
	r.t.Helper()
	acc, err := r.auth.CreateAccount(context.Background(), r.admin, name, name, password, g)
	if err != nil {
		r.t.Fatal(err)
	}
	return acc
}

// loggedIn is a browser logged in as a new account.
func (r *rig) loggedIn(name string, g authn.Grant) (*client, store.Account) {
	r.t.Helper()
	acc := r.account(name, g)
	c := r.browser()
	if code := c.login(name, password); code != http.StatusNoContent {
		r.t.Fatalf("login %s: %d", name, code)
	}
	return c, acc
}

func region(s string) model.RegionCode {
	if s == "*" {
		return model.Nationwide()
	}
	return model.MustRegionCode(s)
}
