package console

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"go.yaml.in/yaml/v3"

	"github.com/cradlewatch/cradlewatch/access"
	"github.com/cradlewatch/cradlewatch/access/authn"
	"github.com/cradlewatch/cradlewatch/model"
)

// api is a client of the JSON API: a bearer token, or a person's session
// (a logged-in browser's cookie jar).
type api struct {
	w      *world
	token  string
	cookie *client
}

// token issues an API token of g valid for ttl.
func (w *world) token(name string, g authn.Grant, ttl time.Duration) (string, string) {
	w.t.Helper()
	tok, rec, err := w.c.kit.Auth.IssueToken(w.t.Context(), admin, name, g, ttl)
	if err != nil {
		w.t.Fatal(err)
	}
	return tok, rec.ID
}

func (w *world) bearer(tok string) *api { return &api{w: w, token: tok} }

func (w *world) session(user string) *api { return &api{w: w, cookie: w.login(user)} }

// call sends a request with a JSON body (when body is not nil) and the
// given headers, and returns the answer.
func (a *api) call(method, path string, body any, headers ...string) response {
	a.w.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		if s, ok := body.(string); ok {
			b = []byte(s)
		}
		r = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, a.w.base+path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	c := a.cookie
	if c == nil {
		c = a.w.client()
	}
	return c.do(req)
}

func (a *api) expect(method, path string, body any, want int) response {
	a.w.t.Helper()
	r := a.call(method, path, body)
	if r.status != want {
		a.w.t.Fatalf("%s %s: %d %s, want %d", method, path, r.status, r.body, want)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		a.w.t.Fatalf("%s %s: Content-Type %q", method, path, ct)
	}
	return r
}

func decodeBody[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		t.Fatalf("body %s: %v", r.body, err)
	}
	return v
}

// counter reads a counter of the console's registry (0 when absent).
func (w *world) counter(name string, labels map[string]string) float64 {
	w.t.Helper()
	mfs, err := w.reg.Gather()
	if err != nil {
		w.t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if matches(m, labels) {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

func matches(m *dto.Metric, labels map[string]string) bool {
	have := map[string]string{}
	for _, l := range m.GetLabel() {
		have[l.GetName()] = l.GetValue()
	}
	for k, v := range labels {
		if have[k] != v {
			return false
		}
	}
	return true
}

func fingerprints(as []model.AlertView) string {
	var out []string
	for _, a := range as {
		out = append(out, a.Fingerprint)
	}
	return strings.Join(out, ",")
}

// TestAPIRolesAndRegions: every role at every boundary of the API, through
// the front door to the fake owner on the real broker: an operator sees
// and acts on its facility only and lists no region; a county its county,
// not another's; an auditor reads and never acts; a token limited to view
// cannot act; the actor of a command is the authenticated one, never a
// body field.
func TestAPIRolesAndRegions(t *testing.T) {
	w := newWorld(t, worldOpts{})
	opTok, _ := w.token("op-bot", authn.Grant{Role: access.RoleOperator, Facilities: []string{facA1}}, time.Hour)
	op := w.bearer(opTok)
	county := w.session("county-a")
	countyB := w.session("county-b")
	auditor := w.session("auditor-a")
	viewTok, _ := w.token("grafana", authn.Grant{Role: access.RoleCounty, Region: model.MustRegionCode("110105"), Actions: []access.Action{access.ActionView}}, time.Hour)
	viewer := w.bearer(viewTok)

	// Lists.
	if got := decodeBody[AlertsJSON](t, op.expect("GET", "/api/v1/alerts", nil, 200)); fingerprints(got.Alerts) != fpA1+","+fpA1b || got.Count != 2 || got.Incomplete {
		t.Fatalf("operator's list: %+v", got)
	}
	op.expect("GET", "/api/v1/alerts?region=110105", nil, 403) // an operator lists no region
	op.expect("GET", "/api/v1/alerts?facility="+facB1, nil, 403)
	op.expect("GET", "/api/v1/alerts?facility=110105001-9999", nil, 403) // not registered: the same answer
	if got := decodeBody[AlertsJSON](t, county.expect("GET", "/api/v1/alerts?state=firing", nil, 200)); fingerprints(got.Alerts) != fpA1 {
		t.Fatalf("county's firing alerts: %+v", got)
	}
	county.expect("GET", "/api/v1/alerts?region=110106", nil, 403) // another county's list
	county.expect("GET", "/api/v1/alerts?region=110100", nil, 403) // its city's
	county.expect("GET", "/api/v1/alerts?region=110105001", nil, 200)
	county.expect("GET", "/api/v1/alerts?region=11010", nil, 400)
	county.expect("GET", "/api/v1/alerts?severity=loud", nil, 400)
	if got := decodeBody[AlertsJSON](t, countyB.expect("GET", "/api/v1/alerts", nil, 200)); fingerprints(got.Alerts) != fpB1 {
		t.Fatalf("county B's list: %+v", got)
	}

	// One alert: its own facility's with history; another facility's is
	// forbidden by ID and not found without one.
	a := decodeBody[model.AlertView](t, op.expect("GET", "/api/v1/alerts/"+fpA1, nil, 200))
	if a.Facility != facA1 || len(a.History) == 0 {
		t.Fatalf("alert: %+v", a)
	}
	op.expect("GET", "/api/v1/alerts/"+fpA1+"?facility="+facA1, nil, 200)
	op.expect("GET", "/api/v1/alerts/"+fpB1+"?facility="+facB1, nil, 403)
	op.expect("GET", "/api/v1/alerts/"+fpB1, nil, 404)
	countyB.expect("GET", "/api/v1/alerts/"+fpA1+"?facility="+facA1, nil, 403)
	op.expect("GET", "/api/v1/alerts/XYZ", nil, 400)

	// Acting: the auditor, a view-only token, another county: never.
	for name, c := range map[string]*api{"auditor": auditor, "view-only token": viewer, "county B": countyB} {
		if r := c.call("POST", "/api/v1/alerts/"+fpA1+"/ack?facility="+facA1, AckJSON{}); r.status != 403 {
			t.Errorf("%s acknowledged: %d %s", name, r.status, r.body)
		}
	}
	if n := len(w.owner.commands(model.CommandAck)); n != 0 {
		t.Fatalf("refused acknowledgements reached the owner: %d", n)
	}
	// The body names no actor: an unknown field is refused.
	op.expect("POST", "/api/v1/alerts/"+fpA1+"/ack", `{"actor":"县卫健委"}`, 400)
	ack := decodeBody[model.AlertView](t, op.expect("POST", "/api/v1/alerts/"+fpA1+"/ack", AckJSON{Comment: "已开窗"}, 200))
	cmds := w.owner.commands(model.CommandAck)
	if ack.State != "acknowledged" || len(cmds) != 1 || cmds[0].Actor.Kind != "token" || cmds[0].Actor.Name != "op-bot" ||
		cmds[0].Actor.Role != "operator" || cmds[0].Comment != "已开窗" || cmds[0].Facility != facA1 {
		t.Fatalf("ack: %+v; commands %+v", ack, cmds)
	}
	op.expect("POST", "/api/v1/alerts/"+fpB1+"/ack?facility="+facB1, AckJSON{}, 403)
	if recs := w.auditRecords(facA1, "alert.acknowledge"); len(recs) == 0 || recs[len(recs)-1].Actor != "token:"+cmds[0].Actor.ID ||
		!strings.Contains(recs[len(recs)-1].Detail, `"via":"api"`) {
		t.Fatalf("audit: %+v", recs)
	}
	if n := w.counter("cw_console_api_requests_total", map[string]string{"endpoint": "ack", "result": "forbidden"}); n != 4 {
		t.Errorf("forbidden acknowledgements counted %v, want 4", n)
	}
}

// TestAPITokensSessionsAndCrossOrigin: an expired and a revoked token are
// refused; a state-changing request from another site (a form post, a
// text/plain "simple" request riding a session cookie) never reaches a
// handler.
func TestAPITokensSessionsAndCrossOrigin(t *testing.T) {
	w := newWorld(t, worldOpts{})
	tok, id := w.token("ci", authn.Grant{Role: access.RoleCounty, Region: model.MustRegionCode("110105")}, time.Hour)
	c := w.bearer(tok)
	c.expect("GET", "/api/v1/alerts", nil, 200)
	w.offset.Store(int64(2 * time.Hour))
	c.expect("GET", "/api/v1/alerts", nil, 401)
	w.offset.Store(0)
	c.expect("GET", "/api/v1/alerts", nil, 200)
	if err := w.c.kit.Auth.RevokeToken(t.Context(), admin, id); err != nil {
		t.Fatal(err)
	}
	c.expect("GET", "/api/v1/alerts", nil, 401)
	w.bearer("cwt_0123456789abcdef_"+strings.Repeat("A", 43)).expect("GET", "/api/v1/alerts", nil, 401)
	(&api{w: w}).expect("GET", "/api/v1/alerts", nil, 401)

	op := w.session("op-a")
	path := "/api/v1/alerts/" + fpA1 + "/ack"
	for name, r := range map[string]response{
		"form from another site": op.call("POST", path, nil, "Content-Type", "application/x-www-form-urlencoded", "Origin", "https://evil.example",
			"Sec-Fetch-Site", "cross-site"),
		"text/plain from another site": op.call("POST", path, nil, "Content-Type", "text/plain", "Origin", "https://evil.example"),
		"JSON from another site":       op.call("POST", path, "{}", "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"),
	} {
		if r.status != http.StatusForbidden {
			t.Errorf("%s: %d %s, want 403", name, r.status, r.body)
		}
	}
	if r := op.call("POST", path, nil, "Content-Type", "text/plain"); r.status != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain: %d, want 415", r.status)
	}
	if n := len(w.owner.commands(model.CommandAck)); n != 0 {
		t.Fatalf("a cross-origin request reached the owner (%d)", n)
	}
	if got := decodeBody[model.AlertView](t, op.expect("POST", path, "{}", 200)); got.AcknowledgedBy != "person:"+w.owner.commands(model.CommandAck)[0].Actor.ID {
		t.Fatalf("the same request from the console's own page: %+v", got)
	}
}

// TestAPISilences: the silence policy at the front door and at the owner:
// a reason, 24 h below a county, the cap over 30 days (the owner's
// history counted), ending a silence; refusals are 403 for the role and
// 422 for the silence.
func TestAPISilences(t *testing.T) {
	w := newWorld(t, worldOpts{})
	op, county, countyB := w.session("op-a"), w.session("county-a"), w.session("county-b")
	list := decodeBody[SilencesJSON](t, op.expect("GET", "/api/v1/facilities/"+facA1+"/silences", nil, 200))
	if len(list.Silences) != 1 || list.Silences[0].ID != "s0" {
		t.Fatalf("silences: %+v", list)
	}
	countyB.expect("GET", "/api/v1/facilities/"+facA1+"/silences", nil, 403)
	base := "/api/v1/facilities/" + facA1 + "/silences"
	op.expect("POST", base, SilenceJSON{Duration: "2h"}, 422)                       // no reason
	op.expect("POST", base, SilenceJSON{Duration: "48h", Reason: "装修"}, 403)        // an operator, past 24 h
	county.expect("POST", base, SilenceJSON{Duration: "200h", Reason: "装修"}, 422)   // past the maximum
	county.expect("POST", base, SilenceJSON{Duration: "168h", Reason: "装修"}, 422)   // with last week's 3 days, past the cap
	countyB.expect("POST", base, SilenceJSON{Duration: "1h", Reason: "检修"}, 403)    // another county's facility
	op.expect("POST", base, SilenceJSON{Duration: "1h", End: w.clock()}, 400)       // both
	op.expect("POST", base, `{"duration":"1h","reason":"x","created_by":"x"}`, 400) // no author in the body
	sv := decodeBody[model.SilenceView](t, county.expect("POST", base, SilenceJSON{Duration: "96h", Reason: "装修"}, 201))
	if sv.ID == "" || !strings.HasPrefix(sv.CreatedBy, "person:") {
		t.Fatalf("silence: %+v", sv)
	}
	county.expect("POST", base, SilenceJSON{Start: sv.End, Duration: "1h", Reason: "再装修"}, 422) // the cap, counted over both
	if n := len(w.owner.commands(model.CommandSilence)); n != 1 {
		t.Fatalf("refused silences reached the owner: %d commands", n)
	}
	countyB.expect("DELETE", "/api/v1/silences/"+sv.ID, nil, 404) // outside its scope: not even found
	countyB.expect("DELETE", "/api/v1/silences/"+sv.ID+"?facility="+facA1, nil, 403)
	ended := decodeBody[model.SilenceView](t, op.expect("DELETE", "/api/v1/silences/"+sv.ID, nil, 200))
	if ended.EndedAt.IsZero() {
		t.Fatalf("ended: %+v", ended)
	}
	op.expect("DELETE", "/api/v1/silences/nope", nil, 404)
	if n := w.counter("cw_console_api_requests_total", map[string]string{"endpoint": "silence", "result": "refused"}); n != 4 {
		t.Errorf("refused silences counted %v, want 4 (the operator past 24 h is forbidden)", n)
	}
}

// pushAliyun posts an Aliyun SmsUp push of one reply to path.
func (w *world) pushAliyun(path, phone, text string, headers ...string) response {
	w.t.Helper()
	body := fmt.Sprintf(`[{"phone_number":%q,"content":%q,"send_time":"2026-05-12 09:01:00","dest_code":"1234","sequence_id":1}]`, phone, text)
	req, _ := http.NewRequest(http.MethodPost, w.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return w.client().do(req)
}

// TestProviderCallbacks: an SMS reply acknowledges only through the
// provider's secret, only from the number the code was sent to; guessing
// codes locks the number after five wrong ones, and the lockout is
// counted and logged once; a source guessing secrets is locked out.
func TestProviderCallbacks(t *testing.T) {
	w := newWorld(t, worldOpts{})
	const code = "48291306"
	w.owner.sendCode(code, fpB1, w.c.kit.Phones.Key("+86"+operatorPhone))
	aliyun := "/api/v1/sms/aliyun/" + url.PathEscape(w.callbackSecrets["aliyun"])
	for name, r := range map[string]response{
		"unsigned":           w.pushAliyun("/api/v1/sms/aliyun", operatorPhone, "确认"+code),
		"forged secret":      w.pushAliyun("/api/v1/sms/aliyun/"+strings.Repeat("x", 64), operatorPhone, "确认"+code),
		"tencent's secret":   w.pushAliyun("/api/v1/sms/aliyun/"+url.PathEscape(w.callbackSecrets["tencent"]), operatorPhone, code),
		"placeholder header": w.pushAliyun("/api/v1/sms/aliyun", operatorPhone, code, "X-CW-Callback-Secret", "change-me"),
	} {
		if r.status != http.StatusForbidden {
			t.Errorf("%s: %d %s, want 403", name, r.status, r.body)
		}
	}
	if n := len(w.owner.commands(model.CommandAckCode)); n != 0 {
		t.Fatalf("forged callbacks reached the owner: %d", n)
	}
	// The code from another number acknowledges nothing; from the number
	// it was sent to, it does.
	if r := w.pushAliyun(aliyun, "13900009999", "确认"+code); r.status != 200 || !strings.Contains(r.body, `"code":0`) {
		t.Fatalf("reply from another number: %d %s", r.status, r.body)
	}
	if a := w.owner.state(fpB1); a != "firing" {
		t.Fatalf("acknowledged from another number: %s", a)
	}
	if r := w.pushAliyun(aliyun, operatorPhone, "收到，确认 "+code); r.status != 200 {
		t.Fatalf("the operator's reply: %d %s", r.status, r.body)
	}
	cmds := w.owner.commands(model.CommandAckCode)
	last := cmds[len(cmds)-1]
	if w.owner.state(fpB1) != "acknowledged" || last.Actor.Kind != "sms" || last.PhoneKey != w.c.kit.Phones.Key(operatorPhone) ||
		strings.Contains(string(mustJSON(last)), operatorPhone) {
		t.Fatalf("the operator's reply: %+v", last)
	}
	if recs := w.auditRecords(facB1, "alert.acknowledge"); len(recs) != 1 || recs[0].ActorName != "138****1234" || strings.Contains(recs[0].Detail, operatorPhone) {
		t.Fatalf("audit of the SMS acknowledgement: %+v", recs)
	}

	// Guessing: five wrong codes from one number lock it for a day, the
	// right code included; the lockout is logged once.
	const guesser = "13700001111"
	w.owner.sendCode("11112222", fpA1, w.c.kit.Phones.Key(guesser))
	for i := range 8 {
		if r := w.pushAliyun(aliyun, guesser, fmt.Sprintf("%08d", 30000000+i)); r.status != 200 {
			t.Fatalf("guess %d: %d", i, r.status)
		}
	}
	w.pushAliyun(aliyun, guesser, "11112222")
	if a := w.owner.state(fpA1); a != "firing" {
		t.Fatalf("a locked number acknowledged: %s", a)
	}
	if got := w.counter("cw_console_sms_replies_total", map[string]string{"result": "wrong_code"}); got != 6 { // the reply from another number, and five guesses
		t.Errorf("wrong codes counted %v, want 6", got)
	}
	if got := w.counter("cw_console_sms_replies_total", map[string]string{"result": "locked"}); got != 4 {
		t.Errorf("locked replies counted %v, want 4", got)
	}
	if got := w.counter("cw_access_lockouts_total", map[string]string{"limiter": "callback_aliyun", "kind": "phone"}); got != 1 {
		t.Errorf("lockouts %v, want 1", got)
	}
	logs := w.logs.String()
	if n := strings.Count(logs, "locked out after too many failed attempts"); n != 1 || !strings.Contains(logs, "137****1111") || strings.Contains(logs, guesser) {
		t.Errorf("lockout logged %d times (want once, the number masked):\n%s", n, logs)
	}
	// A source sending wrong secrets is locked out too (429), counted.
	for range 12 {
		w.pushAliyun("/api/v1/sms/aliyun/wrong-secret-wrong-secret", guesser, "1")
	}
	if r := w.pushAliyun(aliyun, operatorPhone, code); r.status != http.StatusTooManyRequests {
		t.Errorf("a locked source with the right secret: %d, want 429", r.status)
	}
	if got := w.counter("cw_access_callbacks_total", map[string]string{"provider": "aliyun", "result": "bad_secret"}); got < 10 {
		t.Errorf("bad secrets counted %v", got)
	}
}

// TestBruteForceLoginAndTokens: wrong passwords lock the account, and
// wrong bearer tokens lock the source; the right credential is refused
// while locked; each lockout is logged once.
func TestBruteForceLoginAndTokens(t *testing.T) {
	w := newWorld(t, worldOpts{})
	for range 5 {
		c := w.client()
		if r := c.post("/login", url.Values{"username": {"county-b"}, "password": {"not the password"}}); r.status != http.StatusUnauthorized {
			t.Fatalf("wrong password: %d", r.status)
		}
	}
	if r := w.client().post("/login", url.Values{"username": {"county-b"}, "password": {password}}); r.status != http.StatusTooManyRequests {
		t.Fatalf("the right password while locked: %d, want 429", r.status)
	}
	tok, _ := w.token("ci", authn.Grant{Role: access.RoleCounty, Region: model.MustRegionCode("110105")}, time.Hour)
	for i := range 10 {
		w.bearer(fmt.Sprintf("cwt_%016x_%s", i, strings.Repeat("B", 43))).call("GET", "/api/v1/alerts", nil)
	}
	if r := w.bearer(tok).call("GET", "/api/v1/alerts", nil); r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Fatalf("a valid token from a locked source: %d, want 429 with Retry-After", r.status)
	}
	logs := w.logs.String()
	for _, kind := range []string{"kind=account", "kind=token_source"} {
		n := 0
		for _, l := range strings.Split(logs, "\n") {
			if strings.Contains(l, "locked out after too many failed attempts") && strings.Contains(l, kind) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("lockout %s logged %d times, want once", kind, n)
		}
	}
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }

// TestOpenAPIDescribesTheRoutes: docs/api/alerting.yaml parses and has
// every API route the console registers, and no other.
func TestOpenAPIDescribesTheRoutes(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "docs", "api", "alerting.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                    `yaml:"openapi"`
		Paths   map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	routes := map[string]bool{"POST /api/v1/sms/{provider}/{secret}": true}
	(&Console{}).apiRoutesDo(func(pattern string) { routes[pattern] = true })
	for route := range routes {
		method, path, _ := strings.Cut(route, " ")
		if _, ok := doc.Paths[path][strings.ToLower(method)]; !ok {
			t.Errorf("docs/api/alerting.yaml lacks %s", route)
		}
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method != "parameters" && !routes[strings.ToUpper(method)+" "+path] {
				t.Errorf("docs/api/alerting.yaml describes %s %s, which the console does not serve", method, path)
			}
		}
	}
}
