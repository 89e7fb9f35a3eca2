package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/console/spot"
	"github.com/cradlewatch/cradlewatch/internal/testenv"
)

// spotCheck runs a county's whole cycle: inspectors, a recusal, a draw
// weighted by the record, publication, results, the public pages, and
// the next ranking counting from the inspection.
func spotCheck(t *testing.T, w *world) {
	ca := w.login("county-a")
	for _, in := range [][2]string{{"ZF-001", "李检查"}, {"ZF-002", "王检查"}, {"ZF-003", "赵检查"}} {
		if r := ca.post("/spot/inspectors", url.Values{"id": {in[0]}, "name": {in[1]}}); r.status != http.StatusSeeOther {
			t.Fatalf("add inspector: %d %s", r.status, r.body)
		}
	}
	if r := ca.post("/spot/conflicts", url.Values{"inspector": {"ZF-001"}, "facility": {facA1}}); r.status != http.StatusSeeOther {
		t.Fatalf("recusal: %d %s", r.status, r.body)
	}
	if r := ca.post("/spot/conflicts", url.Values{"inspector": {"ZF-001"}, "facility": {facB1}}); r.status != http.StatusBadRequest {
		t.Errorf("a recusal for another county's facility: %d", r.status)
	}
	page := ca.get("/spot")
	mustContain(t, "spot page", page.body, "风险排序", facA1, facA2, "从未")
	mustNotContain(t, "spot page", page.body, facB1)
	// A1 has an unacknowledged alert: it ranks above A2.
	if strings.Index(page.body, facA1) > strings.Index(page.body, facA2) {
		t.Error("the facility with an open alert does not rank first")
	}
	r := ca.post("/spot/draws", url.Values{"period": {"2026年6月"}, "sample_size": {"2"}, "team_size": {"2"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("draw: %d %s", r.status, r.body)
	}
	drawPath := strings.TrimSuffix(r.header.Get("Location"), "?done=draw")
	id := strings.TrimPrefix(drawPath, "/spot/draws/")
	page = ca.get(drawPath)
	mustContain(t, "draw page", page.body, "由种子复现一致", facA1, facA2, "公示本次抽取")
	row, err := w.c.spots.Draw(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	var doc spot.Draw
	json.Unmarshal(row.Document, &doc)
	for _, s := range doc.Selected {
		if s.Facility == facA1 && strings.Contains(strings.Join(s.Inspectors, ","), "ZF-001") {
			t.Error("a recused inspector was sent")
		}
	}
	recs := w.auditRecords("", auditSpotDraw)
	if len(recs) != 1 || !strings.Contains(recs[0].Detail, doc.Seed.String()) || recs[0].Subject != id {
		t.Fatalf("the draw's seed is not in the audit trail: %+v", recs)
	}
	// Not public before publication; county B does not see it at all.
	anon := w.client()
	if r := anon.get("/public/spot/" + id); r.status != http.StatusNotFound {
		t.Errorf("unpublished draw is public: %d", r.status)
	}
	cb := w.login("county-b")
	for _, p := range []string{drawPath, "/spot?county=110105"} {
		if r := cb.get(p); r.status != http.StatusNotFound {
			t.Errorf("county B opens %s: %d", p, r.status)
		}
	}
	if r := cb.post(drawPath+"/publish", url.Values{}); r.status != http.StatusNotFound {
		t.Errorf("county B publishes county A's draw: %d", r.status)
	}
	if r := ca.post(drawPath+"/publish", url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("publish: %d %s", r.status, r.body)
	}
	today := w.clock().In(zone).Format("2006-01-02")
	bad := ca.post(drawPath+"/results", url.Values{"facility": {facA1}, "inspected_on": {today}, "outcome": {"rectify"}, "findings": {"联系人电话 138 0000 1234"}})
	if bad.status != http.StatusBadRequest {
		t.Errorf("findings with a phone number: %d", bad.status)
	}
	if r := ca.post(drawPath+"/results", url.Values{"facility": {facB1}, "inspected_on": {today}, "outcome": {"pass"}}); r.status != http.StatusBadRequest {
		t.Errorf("a result for a facility not drawn: %d", r.status)
	}
	if r := ca.post(drawPath+"/results", url.Values{"facility": {facA1}, "inspected_on": {today}, "outcome": {"rectify"}, "findings": {"乳儿班通风记录不全"}}); r.status != http.StatusSeeOther {
		t.Fatalf("result: %d %s", r.status, r.body)
	}
	pub := anon.get("/public/spot/" + id)
	mustContain(t, "public draw", pub.body, doc.Seed.String(), "责令限期整改", "乳儿班通风记录不全")
	// The teams are the seed's: whoever was drawn is named, whoever was
	// not is absent (the recused ZF-001 may or may not be on A2's team).
	names := map[string]string{"ZF-001": "李检查", "ZF-002": "王检查", "ZF-003": "赵检查"}
	sent := map[string]bool{}
	for _, s := range doc.Selected {
		for _, in := range s.Inspectors {
			sent[in] = true
		}
	}
	for in, name := range names {
		if sent[in] {
			mustContain(t, "public draw", pub.body, name+"（"+in+"）")
		} else {
			mustNotContain(t, "public draw", pub.body, name)
		}
	}
	if r := anon.get("/public/spot/" + id + "/draw.json"); r.status != http.StatusOK || r.body != string(row.Document) {
		t.Errorf("published document: %d", r.status)
	}
	if err := w.c.drawer.Verify([]byte(anon.get("/public/spot/" + id + "/draw.json").body)); err != nil {
		t.Errorf("the published draw does not reproduce: %v", err)
	}
	mustContain(t, "public list", anon.get("/public/spot").body, id)
	fac := anon.get("/public/f/" + facA1)
	mustContain(t, "public facility page", fac.body, today[:7]+"：责令限期整改")
	mustNotContain(t, "public facility page", fac.body, "李检查", "王检查", "赵检查", today)
	// The inspection feeds the next ranking.
	mustContain(t, "next ranking", ca.get("/spot").body, "0 天")
}

func TestSpotCheckCycle(t *testing.T) {
	spotCheck(t, newWorld(t, worldOpts{}))
}

// TestPostgres runs the console on PostgreSQL: its accounts, sessions,
// audit trail and spot checks in one database, two migration histories.
func TestPostgres(t *testing.T) {
	pg := testenv.Postgres(t)
	w := newWorld(t, worldOpts{postgresDSN: pg.CreateDatabase("console")})
	spotCheck(t, w)
	var n int
	if err := w.c.kit.Store.DB().QueryRowContext(t.Context(), `SELECT count(*) FROM console_goose_db_version`).Scan(&n); err != nil || n < 2 {
		t.Fatalf("console migrations on PostgreSQL: %d rows, %v", n, err)
	}
	if r := w.login("op-a").get("/f/" + facA1); r.status != http.StatusOK {
		t.Fatalf("facility page on PostgreSQL: %d", r.status)
	}
}

// TestDayBefore: the earliest accepted inspection day is the facility's
// calendar day before the draw, also when the draw is made between
// midnight in Beijing and midnight in UTC.
func TestDayBefore(t *testing.T) {
	for _, c := range []struct{ at, want string }{
		{"2026-12-01T17:46:00Z", "2026-12-01"}, // 01:46 on 2 December in Beijing
		{"2026-12-01T15:59:00Z", "2026-11-30"}, // 23:59 on 1 December
		{"2026-01-01T00:30:00+08:00", "2025-12-31"},
	} {
		at, _ := time.Parse(time.RFC3339, c.at)
		if got := dayBefore(at); got.Format("2006-01-02") != c.want || got.Location() != zone || got.Hour() != 0 {
			t.Errorf("dayBefore(%s) = %s, want %s 00:00 in the facility's zone", c.at, got, c.want)
		}
	}
}

// TestDrawIDDay: a draw's ID begins with the facility's calendar day of
// the draw, also between midnight in Beijing and midnight in UTC.
func TestDrawIDDay(t *testing.T) {
	for _, c := range []struct{ at, want string }{
		{"2026-12-01T17:46:00Z", "20261202-"}, // 01:46 on 2 December in Beijing
		{"2026-12-01T15:59:00Z", "20261201-"}, // 23:59 on 1 December
		{"2026-12-31T16:00:00Z", "20270101-"},
	} {
		at, _ := time.Parse(time.RFC3339, c.at)
		if got := newDrawID(at); !strings.HasPrefix(got, c.want) || len(got) != len(c.want)+16 {
			t.Errorf("newDrawID(%s) = %s, want %s and 16 hex digits", c.at, got, c.want)
		}
	}
}
