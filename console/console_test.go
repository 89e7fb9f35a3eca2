package console

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/access/audit"
	"github.com/cradlewatch/cradlewatch/internal/shortlink"
	"github.com/cradlewatch/cradlewatch/internal/testenv"
	"github.com/cradlewatch/cradlewatch/model"
)

func mustContain(t *testing.T, what, body string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(body, p) {
			t.Fatalf("%s lacks %q:\n%s", what, p, body)
		}
	}
}

func mustNotContain(t *testing.T, what, body string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if strings.Contains(body, p) {
			t.Fatalf("%s contains %q:\n%s", what, p, body)
		}
	}
}

func TestOperatorSeesItsFacilityAndAcknowledges(t *testing.T) {
	w := newWorld(t, worldOpts{})
	op := w.login("op-a")
	if r := op.get("/"); r.status != http.StatusSeeOther || r.header.Get("Location") != "/f/"+facA1 {
		t.Fatalf("home of a one-facility operator: %d %s", r.status, r.header.Get("Location"))
	}
	page := op.get("/f/" + facA1)
	if page.status != http.StatusOK {
		t.Fatalf("facility page: %d %s", page.status, page.body)
	}
	// Online, each room's last readings with the rule set's limits, the open alerts.
	mustContain(t, "facility page", page.body, "在线", "乳儿班", "二氧化碳", "1685", "限值 ≤ 1000", `class="num out"`, "/f/"+facA1+"/alerts/"+fpA1)
	for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"} {
		if page.header.Get(h) == "" {
			t.Errorf("no %s header", h)
		}
	}
	if page.header.Get("Cache-Control") != "no-store" {
		t.Errorf("a private page may be cached: %q", page.header.Get("Cache-Control"))
	}
	alert := op.get("/f/" + facA1 + "/alerts/" + fpA1)
	mustContain(t, "alert page", alert.body, "告警中", "确认，我来处理", "1600 ppm", "1500 ppm")

	r := op.post("/f/"+facA1+"/alerts/"+fpA1+"/ack", url.Values{"comment": {"已开窗通风"}, "actor": {"someone else"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("ack: %d %s", r.status, r.body)
	}
	alert = op.get(r.header.Get("Location"))
	mustContain(t, "acknowledged alert", alert.body, "已确认。", `id="state" class="acknowledged"`, "已开窗通风", "op-a")
	mustNotContain(t, "acknowledged alert", alert.body, "确认，我来处理")

	acks := w.owner.commands(model.CommandAck)
	if len(acks) != 1 {
		t.Fatalf("owner got %d acks", len(acks))
	}
	a := acks[0].Actor
	if a.Kind != "person" || a.Name != "op-a" || a.Role != "operator" || a.ID == "" || acks[0].Comment != "已开窗通风" || acks[0].Ref != fpA1 {
		t.Errorf("ack command %+v: the actor must be the session's, never the form's", acks[0])
	}
	recs := w.auditRecords(facA1, audit.ActionAcknowledge)
	if len(recs) != 1 || recs[0].Actor != "person:"+a.ID || recs[0].Subject != fpA1 || !strings.Contains(recs[0].Detail, `"outcome":"ok"`) {
		t.Fatalf("audit: %+v", recs)
	}
	// Acknowledging again is harmless: the first acknowledgement stands.
	if r := op.post("/f/"+facA1+"/alerts/"+fpA1+"/ack", url.Values{}); r.status != http.StatusSeeOther {
		t.Errorf("second ack: %d", r.status)
	}
}

func TestCountySeesOnlyItsCountyAndGetsNoHint(t *testing.T) {
	w := newWorld(t, worldOpts{})
	ca := w.login("county-a")
	home := ca.get("/")
	mustContain(t, "county A overview", home.body, facilityNames[facA1], facilityNames[facA2], "离线")
	mustNotContain(t, "county A overview", home.body, facilityNames[facB1], facB1)
	// A1 has an unacknowledged alert: it comes first.
	if strings.Index(home.body, facA1) > strings.Index(home.body, facA2) {
		t.Error("the facility with an unacknowledged alert is not first")
	}
	list := ca.get("/alerts")
	mustContain(t, "alert list", list.body, fpA1)
	mustNotContain(t, "alert list", list.body, fpB1, facilityNames[facB1])

	// Another county's facility, alert, chart, silence, report: the same
	// page as something that does not exist.
	missing := ca.get("/f/110105009-9999")
	if missing.status != http.StatusNotFound {
		t.Fatalf("a facility that does not exist: %d", missing.status)
	}
	for _, path := range []string{"/f/" + facB1, "/f/" + facB1 + "/alerts/" + fpB1, "/f/" + facA1 + "/alerts/ffffffffffffffff",
		"/f/" + facB1 + "/rooms/infant-1", "/alerts?facility=" + facB1, "/report?region=110106", "/f/" + facB1 + "/alerts/" + fpA1} {
		r := ca.get(path)
		if r.status != missing.status || r.body != missing.body {
			t.Errorf("%s: %d, a different answer from a facility that does not exist:\n%s", path, r.status, r.body)
		}
	}
	before := len(w.owner.commands(model.CommandAck))
	r := ca.post("/f/"+facB1+"/alerts/"+fpB1+"/ack", url.Values{"comment": {"x"}})
	if r.status != http.StatusNotFound || r.body != missing.body {
		t.Errorf("ack in another county: %d", r.status)
	}
	r = ca.post("/f/"+facB1+"/silences", url.Values{"hours": {"2"}, "reason": {"x"}})
	if r.status != http.StatusNotFound {
		t.Errorf("silence in another county: %d", r.status)
	}
	if len(w.owner.commands(model.CommandAck)) != before || len(w.owner.commands(model.CommandSilence)) != 0 {
		t.Fatal("a command for another county reached the owner")
	}
	for _, c := range w.owner.commands(model.CommandAlerts) {
		if c.Actor.Name == "county-a" && c.Region != "110105" {
			t.Errorf("county A's list asked for region %q", c.Region)
		}
	}

	// A street sees its street; an operator its facility; an auditor reads but does not act.
	st := w.login("street-a")
	mustNotContain(t, "street overview", st.get("/").body, facilityNames[facA2])
	if r := st.get("/f/" + facA2); r.status != http.StatusNotFound {
		t.Errorf("street A opens street 002's facility: %d", r.status)
	}
	op := w.login("op-a")
	if r := op.get("/f/" + facA2); r.status != http.StatusNotFound {
		t.Errorf("operator opens another facility: %d", r.status)
	}
	if r := op.get("/report?region=110105"); r.status != http.StatusNotFound {
		t.Errorf("operator opens the county report: %d", r.status)
	}
	au := w.login("auditor-a")
	mustNotContain(t, "auditor's alert page", au.get("/f/"+facA1+"/alerts/"+fpA1).body, "确认，我来处理")
	if r := au.post("/f/"+facA1+"/alerts/"+fpA1+"/ack", url.Values{}); r.status != http.StatusNotFound {
		t.Errorf("auditor acknowledges: %d", r.status)
	}
}

func TestFrontDoorRefusesForgedAndAnonymousRequests(t *testing.T) {
	w := newWorld(t, worldOpts{})
	anon := w.client()
	r := anon.get("/f/" + facA1 + "/alerts/" + fpA1)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/login?return_to=%2Ff%2F"+facA1+"%2Falerts%2F"+fpA1 {
		t.Fatalf("anonymous: %d %q", r.status, r.header.Get("Location"))
	}
	if r := anon.post("/f/"+facA1+"/alerts/"+fpA1+"/ack", url.Values{}); r.status != http.StatusUnauthorized {
		t.Errorf("anonymous ack: %d", r.status)
	}
	op := w.login("op-a")
	// A form posted from another site, riding the operator's session.
	r = op.post("/f/"+facA1+"/alerts/"+fpA1+"/ack", url.Values{"comment": {"csrf"}}, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	if r.status != http.StatusForbidden {
		t.Fatalf("cross-origin ack: %d", r.status)
	}
	if len(w.owner.commands(model.CommandAck)) != 0 {
		t.Fatal("a cross-origin ack reached the owner")
	}
	// A login with the wrong password, an open redirect in return_to.
	if r := anon.post("/login", url.Values{"username": {"op-a"}, "password": {"wrong password!"}}); r.status != http.StatusUnauthorized ||
		!strings.Contains(r.body, "用户名或密码错误") {
		t.Errorf("wrong password: %d", r.status)
	}
	c := w.client()
	if r := c.post("/login", url.Values{"username": {"op-a"}, "password": {password}, "return_to": {"//evil.example/x"}}); r.header.Get("Location") != "/" {
		t.Errorf("return_to led off-site: %q", r.header.Get("Location"))
	}
	// Malformed input never leaks internals.
	for _, p := range []string{"/f/" + facA1 + "/alerts/../../etc", "/f/" + facA1 + "/alerts/%00", "/alerts?from=yesterday", "/f/" + facA1 + "/rooms/infant-1?kind=password"} {
		r := op.get(p)
		if r.status >= 500 || strings.Contains(r.body, "goroutine") || strings.Contains(r.body, ".go:") {
			t.Errorf("%s: %d %s", p, r.status, r.body)
		}
	}
}

func TestSilencesKeepThePolicy(t *testing.T) {
	w := newWorld(t, worldOpts{})
	st := w.login("street-a")
	r := st.post("/f/"+facA1+"/silences", url.Values{"hours": {"48"}, "reason": {"装修"}})
	if r.status != http.StatusConflict || !strings.Contains(r.body, "无权") {
		t.Fatalf("a street's 48 h silence: %d %s", r.status, r.body)
	}
	if r := st.post("/f/"+facA1+"/silences", url.Values{"hours": {"2"}, "reason": {"  "}}); r.status != http.StatusConflict {
		t.Errorf("a silence without a reason: %d", r.status)
	}
	ca := w.login("county-a")
	if r := ca.post("/f/"+facA1+"/silences", url.Values{"hours": {"48"}, "reason": {"设备更换"}}); r.status != http.StatusSeeOther {
		t.Fatalf("county's 48 h silence: %d %s", r.status, r.body)
	}
	// Three days last week and five from now are past the 7-day cap in 30
	// days: refused before the owner is asked.
	r = ca.post("/f/"+facA1+"/silences", url.Values{"hours": {"120"}, "reason": {"再次更换"}})
	if r.status != http.StatusConflict || !strings.Contains(r.body, "上限") {
		t.Fatalf("silence past the cap: %d %s", r.status, r.body)
	}
	sils := w.owner.commands(model.CommandSilence)
	if len(sils) != 1 || sils[0].Reason != "设备更换" || sils[0].End.Sub(sils[0].Start) != 48*time.Hour {
		t.Fatalf("owner got %+v", sils)
	}
	page := ca.get("/f/" + facA1)
	mustContain(t, "facility page", page.body, "设备更换", "结束静默")
	if r := ca.post("/f/"+facA1+"/silences/s2/end", url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("unsilence: %d %s", r.status, r.body)
	}
	if len(w.auditRecords(facA1, audit.ActionSilenceAdd)) != 4 || len(w.auditRecords(facA1, audit.ActionSilenceEnd)) != 1 {
		t.Error("every silence attempt and the end are audited")
	}
}

func TestSMSLinkOpensTheAlert(t *testing.T) {
	w := newWorld(t, worldOpts{})
	tok, err := w.links.Sign(shortlink.Link{Facility: facA1, Fingerprint: fpA1, Expires: w.clock().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	c := w.client()
	r := c.get(shortlink.Path(tok))
	target := "/f/" + facA1 + "/alerts/" + fpA1
	if r.status != http.StatusSeeOther || r.header.Get("Location") != target {
		t.Fatalf("link: %d %q", r.status, r.header.Get("Location"))
	}
	r = c.get(target)
	back, _ := url.Parse(r.header.Get("Location"))
	r = c.post("/login", url.Values{"username": {"op-a"}, "password": {password}, "return_to": {back.Query().Get("return_to")}})
	if r.header.Get("Location") != target {
		t.Fatalf("after login: %q, want the alert", r.header.Get("Location"))
	}
	expired, _ := w.links.Sign(shortlink.Link{Facility: facA1, Fingerprint: fpA1, Expires: w.clock().Add(-time.Second)})
	bad := c.get(shortlink.Path(tok[:len(tok)-2] + "AA"))
	old := c.get(shortlink.Path(expired))
	if bad.status != http.StatusNotFound || old.status != bad.status || old.body != bad.body || !strings.Contains(bad.body, "链接无效或已过期") {
		t.Fatalf("forged %d / expired %d links answer differently", bad.status, old.status)
	}
}

func TestPublicPageShowsFiguresAndNoPersonalData(t *testing.T) {
	w := newWorld(t, worldOpts{})
	anon := w.client()
	r := anon.get("/public/f/" + facA1)
	if r.status != http.StatusOK {
		t.Fatalf("public page: %d %s", r.status, r.body)
	}
	prev := lastMonth(w.clock())
	mustContain(t, "public page", r.body, facilityNames[facA1], facA1, "朝阳区", prev+" 起", prev,
		"87.5%", "95.0%", "90.0%", "<td class=\"num\">2</td><td class=\"num\">2</td><td class=\"num\">1</td>", "1 个", "二氧化碳")
	mustNotContain(t, "public page", r.body, operatorName, operatorPhone, "+86", "138", "gw-", "director", "person:")
	// Without registration facts in its file, the facility ID stands as the
	// number; with them, the filing number and date, and not the ID.
	mustContain(t, "public page", r.body, "<dt>备案编号</dt><dd>"+facA1+"</dd>")
	mustNotContain(t, "public page", r.body, "备案日期")
	a2 := anon.get("/public/f/" + facA2)
	if a2.status != http.StatusOK {
		t.Fatalf("public page of %s: %d %s", facA2, a2.status, a2.body)
	}
	mustContain(t, "public page with registration facts", a2.body,
		"<dt>备案编号</dt><dd>"+registrationA2+"</dd><dt>备案日期</dt><dd>"+registeredOnA2+"</dd>")
	mustNotContain(t, "public page with registration facts", a2.body, "<dd>"+facA2+"</dd>", operatorName, operatorPhone)
	if r := anon.get("/public/f/" + facB1); r.status != http.StatusNotFound {
		t.Errorf("county B hides its pages, yet: %d", r.status)
	}
}

func TestOwnerDownShowsTheRecordAndChangesNothing(t *testing.T) {
	w := newWorld(t, worldOpts{ownerDown: true})
	ca := w.login("county-a")
	home := ca.get("/")
	mustContain(t, "overview", home.body, "未应答")
	page := ca.get("/f/" + facA1 + "/alerts/" + fpA1)
	mustContain(t, "alert from the record", page.body, "来自记录", "告警中")
	mustNotContain(t, "alert from the record", page.body, "确认，我来处理")
	r := ca.post("/f/"+facA1+"/alerts/"+fpA1+"/ack", url.Values{})
	mustContain(t, "ack to a down owner", r.body, "未应答，未做任何更改")
	if n := testenv.Metric(t, w.reg, "cw_console_actions_total", "action", "ack", "result", "unavailable"); n != 1 {
		t.Errorf("unavailable acks counted %v", n)
	}
}

func TestReportAndChart(t *testing.T) {
	w := newWorld(t, worldOpts{})
	ca := w.login("county-a")
	month := lastMonth(w.clock())
	r := ca.get("/report?month=" + month)
	if r.status != http.StatusOK {
		t.Fatalf("report: %d %s", r.status, r.body)
	}
	mustContain(t, "report", r.body, "月度合规报告", facA1, "<svg")
	mustNotContain(t, "report of county A", r.body, facB1)
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "style-src 'sha256-") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("report CSP %q", csp)
	}
	c := ca.get("/f/" + facA1 + "/rooms/infant-1?kind=co2&range=6h")
	mustContain(t, "chart", c.body, "<svg", `fill="#c8e6c9"`, `fill="#c62828"`, "<path d=")
	mustNotContain(t, "chart", c.body, "style=", "<script")
}
