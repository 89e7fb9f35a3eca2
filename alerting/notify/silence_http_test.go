package notify

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestSilencesHandler(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{now: t0}
	sms, dt := &recorder{}, &recorder{}
	cfg := testConfig(dir)
	cfg.Silences = []Silence{{ID: "cfg", Facility: "fac-2", Start: t0.Add(-48 * time.Hour), End: t0.Add(-24 * time.Hour), CreatedBy: "王工", Reason: "装修"}}
	r := newRig(t, cfg, clock, sms, dt)
	h := r.d.SilencesHandler()
	do := func(method, target, body string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(method, target, strings.NewReader(body)))
		return w
	}
	posts := []struct {
		name   string
		body   string
		status int
		want   string
	}{
		{"added, start defaults to now", `{"facility":"fac-1","end":"2025-03-03T13:00:00+08:00","created_by":"李工","reason":"新风系统检修"}`, 201, `"start":"2025-03-03T09:00:00+08:00"`},
		{"who is required", `{"facility":"fac-1","end":"2025-03-03T13:00:00+08:00","reason":"检修"}`, 400, "created_by"},
		{"why is required", `{"facility":"fac-1","end":"2025-03-03T13:00:00+08:00","created_by":"李工","reason":"  "}`, 400, "reason"},
		{"end before start", `{"facility":"fac-1","start":"2025-03-03T13:00:00+08:00","end":"2025-03-03T12:00:00+08:00","created_by":"李工","reason":"检修"}`, 400, "not after start"},
		{"too long", `{"facility":"fac-1","end":"2025-04-03T13:00:00+08:00","created_by":"李工","reason":"检修"}`, 400, "run-time maximum"},
		{"unknown field", `{"facility":"fac-1","end":"2025-03-03T13:00:00+08:00","created_by":"李工","reason":"检修","id":"x"}`, 400, "unknown field"},
		{"not json", `facility=fac-1`, 400, "bad request"},
	}
	for _, tc := range posts {
		t.Run(tc.name, func(t *testing.T) {
			w := do(http.MethodPost, "/api/v1/silences", tc.body)
			if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.want) {
				t.Fatalf("%d %s, want %d containing %q", w.Code, w.Body.String(), tc.status, tc.want)
			}
		})
	}
	if got := testutil.ToFloat64(r.d.metrics.silenceRequests.WithLabelValues("rejected")); got != 6 {
		t.Fatalf("rejected %v", got)
	}
	if w := do(http.MethodDelete, "/api/v1/silences", ""); w.Code != http.StatusMethodNotAllowed {
		t.Fatalf("DELETE: %d", w.Code)
	}

	list := func(query string) []Silence {
		t.Helper()
		w := do(http.MethodGet, "/api/v1/silences"+query, "")
		var out []Silence
		if err := json.Unmarshal(w.Body.Bytes(), &out); w.Code != 200 || err != nil {
			t.Fatalf("GET %s: %d %v", query, w.Code, err)
		}
		return out
	}
	ids := func(ss []Silence) string {
		var out []string
		for _, s := range ss {
			out = append(out, s.ID+":"+s.Facility+":"+s.CreatedBy+":"+s.Reason)
		}
		return strings.Join(out, ",")
	}
	all := list("")
	if len(all) != 2 || all[0].ID != "cfg" || all[1].CreatedBy != "李工" || all[1].Reason != "新风系统检修" {
		t.Fatalf("list: %s", ids(all))
	}
	if got := ids(list("?active=true")); got != all[1].ID+":fac-1:李工:新风系统检修" {
		t.Fatalf("active: %s", got)
	}
	if got := list("?facility=fac-9"); len(got) != 0 {
		t.Fatalf("other facility: %s", ids(got))
	}

	// The silence added over HTTP survives a restart and mutes the facility.
	r.d.Close()
	r = newRig(t, cfg, clock, sms, dt)
	if got := ids(r.d.Silences()); got != ids(all) {
		t.Fatalf("after restart %s, want %s", got, ids(all))
	}
	r.handle(t, co2(StateFiring))
	r.step(t, time.Minute)
	if sms.count()+dt.count() != 0 {
		t.Fatalf("silenced facility notified: %v", recipients(sms.sent))
	}
}
