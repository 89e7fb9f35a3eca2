package influxproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/cradlewatch/cradlewatch/model"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The service credential of the tests.
const (
	testUser   = "grafana"
	testSecret = "kq4Lr7Tz2Wm9Xb3N"
)

// mapResolver is a Resolver over a map, and fails for "broken".
type mapResolver map[string]model.RegionCode

func (m mapResolver) Region(_ context.Context, login string) (model.RegionCode, error) {
	if login == "broken" {
		return model.RegionCode{}, errors.New("access database down")
	}
	if rc, ok := m[login]; ok {
		return rc, nil
	}
	return model.RegionCode{}, ErrUnknownUser
}

var testUsers = mapResolver{
	"chaoyang": model.MustRegionCode("110105"),
	"haidian":  model.MustRegionCode("110108"),
	"admin":    model.Nationwide(),
}

func testConfig(upstream string) Config {
	c := DefaultConfig()
	c.Listen = "127.0.0.1:0"
	c.Upstream.URL = upstream
	c.GrafanaAuth = GrafanaAuthConfig{User: testUser, Password: testSecret}
	c.HTTP.Listen = ""
	return c
}

// fakeInflux records what reaches "InfluxDB" and answers an empty result.
type fakeInflux struct {
	mu   sync.Mutex
	reqs []*http.Request
	srv  *httptest.Server
}

func newFakeInflux(t *testing.T) *fakeInflux {
	f := &fakeInflux{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		f.mu.Lock()
		f.reqs = append(f.reqs, r)
		f.mu.Unlock()
		w.Header().Set("X-Influxdb-Version", "1.8.3")
		if u, _, _ := r.BasicAuth(); u == "wrong-reader" {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"authorization failed"}`)
			return
		}
		if r.URL.Path == "/ping" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"results":[{"statement_id":0}]}`)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeInflux) last() *http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) == 0 {
		return nil
	}
	return f.reqs[len(f.reqs)-1]
}

func (f *fakeInflux) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.reqs)
}

type handlerEnv struct {
	p    *Proxy
	h    http.Handler
	up   *fakeInflux
	reg  *prometheus.Registry
	logs *bytes.Buffer
}

func newHandlerEnv(t *testing.T, mutate func(*Config)) *handlerEnv {
	up := newFakeInflux(t)
	cfg := testConfig(up.srv.URL)
	cfg.Upstream.Username, cfg.Upstream.Password = "reader", "reader-password"
	if mutate != nil {
		mutate(&cfg)
	}
	reg := prometheus.NewRegistry()
	var logs bytes.Buffer
	p, err := New(Options{Config: cfg, Resolver: testUsers, Registerer: reg,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return &handlerEnv{p: p, h: p.Handler(), up: up, reg: reg, logs: &logs}
}

// query sends a GET /query as Grafana does.
func (e *handlerEnv) query(user string, form url.Values, auth bool) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "/query?"+form.Encode(), nil)
	if auth {
		r.SetBasicAuth(testUser, testSecret)
	}
	if user != "" {
		r.Header.Set(UserHeader, user)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

func (e *handlerEnv) refusals(r Reason) float64 {
	return testutil.ToFloat64(e.p.m.refusals.WithLabelValues(string(r)))
}

func TestHandlerRefuses(t *testing.T) {
	e := newHandlerEnv(t, nil)
	q := url.Values{"db": {"cradlewatch"}, "q": {"SELECT value FROM co2"}}
	cases := []struct {
		name   string
		send   func() *httptest.ResponseRecorder
		status int
		reason Reason
	}{
		{"no credentials", func() *httptest.ResponseRecorder { return e.query("chaoyang", q, false) }, 401, ReasonAuth},
		{"wrong secret", func() *httptest.ResponseRecorder {
			r := httptest.NewRequest(http.MethodGet, "/query?"+q.Encode(), nil)
			r.SetBasicAuth(testUser, testSecret+"x")
			r.Header.Set(UserHeader, "chaoyang")
			w := httptest.NewRecorder()
			e.h.ServeHTTP(w, r)
			return w
		}, 401, ReasonAuth},
		{"user header without credentials", func() *httptest.ResponseRecorder { return e.query("admin", q, false) }, 401, ReasonAuth},
		{"no user", func() *httptest.ResponseRecorder { return e.query("", q, true) }, 403, ReasonUser},
		{"unknown user", func() *httptest.ResponseRecorder { return e.query("mallory", q, true) }, 403, ReasonUser},
		{"resolver down", func() *httptest.ResponseRecorder { return e.query("broken", q, true) }, 403, ReasonUser},
		{"other database", func() *httptest.ResponseRecorder {
			return e.query("chaoyang", url.Values{"db": {"_internal"}, "q": {"SELECT * FROM runtime"}}, true)
		}, 403, ReasonDatabase},
		{"bad epoch", func() *httptest.ResponseRecorder {
			return e.query("chaoyang", url.Values{"q": {"SELECT value FROM co2"}, "epoch": {"fortnight"}}, true)
		}, 400, ReasonRequest},
		{"bad params", func() *httptest.ResponseRecorder {
			return e.query("chaoyang", url.Values{"q": {"SELECT value FROM co2"}, "params": {"[1]"}}, true)
		}, 400, ReasonRequest},
		{"no query", func() *httptest.ResponseRecorder { return e.query("chaoyang", url.Values{"db": {"cradlewatch"}}, true) }, 400, ReasonRequest},
		{"not InfluxQL", func() *httptest.ResponseRecorder {
			return e.query("chaoyang", url.Values{"q": {"SELECT FROM WHERE"}}, true)
		}, 400, ReasonParse},
		{"drop", func() *httptest.ResponseRecorder {
			return e.query("admin", url.Values{"q": {"DROP DATABASE cradlewatch"}}, true)
		}, 403, ReasonStatement},
		{"into", func() *httptest.ResponseRecorder {
			return e.query("admin", url.Values{"q": {"SELECT * INTO x FROM co2"}}, true)
		}, 403, ReasonInto},
		{"regex source", func() *httptest.ResponseRecorder {
			return e.query("chaoyang", url.Values{"q": {"SELECT * FROM /.*/"}}, true)
		}, 403, ReasonSource},
		{"write", func() *httptest.ResponseRecorder {
			r := httptest.NewRequest(http.MethodPost, "/write?db=cradlewatch", strings.NewReader("co2,county=110105 value=1"))
			r.SetBasicAuth(testUser, testSecret)
			w := httptest.NewRecorder()
			e.h.ServeHTTP(w, r)
			return w
		}, 403, ReasonPath},
		{"method", func() *httptest.ResponseRecorder {
			r := httptest.NewRequest(http.MethodDelete, "/query", nil)
			w := httptest.NewRecorder()
			e.h.ServeHTTP(w, r)
			return w
		}, 405, ReasonRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.refusals(tc.reason)
			w := tc.send()
			if w.Code != tc.status {
				t.Errorf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			var body struct{ Error string }
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || !strings.Contains(body.Error, string(tc.reason)) {
				t.Errorf("body %s: want an InfluxDB-style error naming %q", w.Body, tc.reason)
			}
			if got := e.refusals(tc.reason) - before; got != 1 {
				t.Errorf("refusals{reason=%q} grew by %v, want 1", tc.reason, got)
			}
			if strings.Contains(w.Body.String(), testSecret) {
				t.Error("the answer contains the service secret")
			}
		})
	}
	if n := e.up.count(); n != 0 {
		t.Errorf("%d refused requests reached InfluxDB", n)
	}
	if strings.Contains(e.logs.String(), testSecret) {
		t.Error("the log contains the service secret")
	}
}

func TestHandlerForwardsScoped(t *testing.T) {
	e := newHandlerEnv(t, nil)
	// POST as Grafana's httpMode POST: q in the body, db and epoch in the URL.
	form := url.Values{"q": {"SELECT value FROM co2 WHERE facility = $f"}, "params": {`{"f": "x' OR 1=1 OR facility = 'y"}`}}
	r := httptest.NewRequest(http.MethodPost, "/query?db=cradlewatch&epoch=ms", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(testUser, testSecret)
	r.Header.Set(UserHeader, "chaoyang")
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	if w.Code != 200 || w.Header().Get("X-Influxdb-Version") != "1.8.3" {
		t.Fatalf("status %d, headers %v: %s", w.Code, w.Header(), w.Body)
	}
	got := e.up.last()
	want := `SELECT value FROM co2 WHERE (facility = 'x\' OR 1=1 OR facility = \'y') AND county::tag = '110105'`
	if got.Method != http.MethodGet || got.Form.Get("q") != want || got.Form.Get("db") != "cradlewatch" || got.Form.Get("epoch") != "ms" {
		t.Errorf("InfluxDB got %s q=%q db=%q epoch=%q", got.Method, got.Form.Get("q"), got.Form.Get("db"), got.Form.Get("epoch"))
	}
	if got.Form.Has("params") || got.Header.Get(UserHeader) != "" {
		t.Errorf("params or the user header passed through: %v %v", got.Form, got.Header)
	}
	if u, p, _ := got.BasicAuth(); u != "reader" || p != "reader-password" {
		t.Errorf("InfluxDB got credentials %q/%q, want the proxy's own", u, p)
	}
	if n := testutil.ToFloat64(e.p.m.queries.WithLabelValues(resultOK)); n != 1 {
		t.Errorf("queries{result=ok} = %v", n)
	}
}

func TestHandlerLogsRefusalOnce(t *testing.T) {
	e := newHandlerEnv(t, nil)
	q := url.Values{"q": {"SHOW DATABASES"}}
	for range 5 {
		e.query("chaoyang", q, true)
	}
	e.query("haidian", q, true)
	if got := e.refusals(ReasonStatement); got != 6 {
		t.Errorf("refusals = %v, want 6", got)
	}
	if n := strings.Count(e.logs.String(), "request refused"); n != 2 {
		t.Errorf("%d log lines for 6 refusals by two users, want 2:\n%s", n, e.logs)
	}
}

func TestHandlerUpstream(t *testing.T) {
	e := newHandlerEnv(t, nil)
	r := httptest.NewRequest(http.MethodGet, "/ping", nil)
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	if w.Code != http.StatusNoContent || w.Header().Get("X-Influxdb-Version") == "" {
		t.Errorf("ping: %d %v", w.Code, w.Header())
	}
	if err := e.p.pingUpstream(); err != nil {
		t.Errorf("readiness: %v", err)
	}
	e.up.srv.Close()
	w = e.query("admin", url.Values{"q": {"SELECT value FROM co2"}}, true)
	if w.Code != http.StatusBadGateway {
		t.Errorf("InfluxDB down: status %d", w.Code)
	}
	if n := testutil.ToFloat64(e.p.m.queries.WithLabelValues(resultUnreachable)); n != 1 {
		t.Errorf("queries{result=unreachable} = %v", n)
	}
	if err := e.p.pingUpstream(); err == nil {
		t.Error("readiness passes with InfluxDB down")
	}
}

// newListeningProxy is a proxy with both listeners bound, in front of a
// fake InfluxDB.
func newListeningProxy(t *testing.T) *Proxy {
	up := newFakeInflux(t)
	cfg := testConfig(up.srv.URL)
	cfg.HTTP.Listen = "127.0.0.1:0"
	reg := prometheus.NewRegistry()
	p, err := New(Options{Config: cfg, Resolver: testUsers, Registerer: reg, Gatherer: reg})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestHandlerUpstreamRefusesAccount: InfluxDB refusing the proxy's own
// account is a 502 for Grafana, not a 401 that reads as its own.
func TestHandlerUpstreamRefusesAccount(t *testing.T) {
	e := newHandlerEnv(t, func(c *Config) { c.Upstream.Username = "wrong-reader" })
	w := e.query("admin", url.Values{"q": {"SELECT value FROM co2"}}, true)
	if w.Code != http.StatusBadGateway || !strings.Contains(w.Body.String(), "account") {
		t.Errorf("status %d: %s", w.Code, w.Body)
	}
	if n := testutil.ToFloat64(e.p.m.queries.WithLabelValues(resultInfluxError)); n != 1 {
		t.Errorf("queries{result=influx_error} = %v", n)
	}
}

// TestProxyServes runs the proxy on its listener, with the operational
// listener, and stops it.
func TestProxyServes(t *testing.T) {
	p := newListeningProxy(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodGet, "http://"+p.Addr()+"/query?q=SHOW+MEASUREMENTS", nil)
	req.SetBasicAuth(testUser, testSecret)
	req.Header.Set(UserHeader, "chaoyang")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("status %d", resp.StatusCode)
	}
	resp, err = client.Get("http://" + p.OpsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{"cw_influxproxy_queries_total", "cw_influxproxy_refusals_total", "cw_influxproxy_query_seconds"} {
		if !strings.Contains(string(b), m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestProxyCloseWithoutRun releases the listeners of a proxy never run.
func TestProxyCloseWithoutRun(t *testing.T) {
	p := newListeningProxy(t)
	addr, ops := p.Addr(), p.OpsAddr()
	p.Close()
	p.Close()
	for _, a := range []string{addr, ops} {
		if resp, err := http.Get("http://" + a + "/"); err == nil {
			resp.Body.Close()
			t.Errorf("%s still answers after Close", a)
		}
	}
}
