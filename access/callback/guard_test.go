package callback_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/access/audit"
	"github.com/cradlewatch/cradlewatch/access/callback"
	"github.com/cradlewatch/cradlewatch/access/limit"
	"github.com/cradlewatch/cradlewatch/access/limit/limittest"
	"github.com/cradlewatch/cradlewatch/internal/testenv"
	"github.com/prometheus/client_golang/prometheus"
)

const aliyunSecret = "tQ8vZr3LmX0pW6yN2bK9sE4d" // test value, not a placeholder

// alerting stands in for the alerting service's SMS-reply handler: codes
// sent to numbers, acknowledged on a matching reply.
type alerting struct {
	mu    sync.Mutex
	codes map[string]string // phone → open code sent to it
	acked []string
}

func (a *alerting) handler(g *callback.Guard) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var replies []struct {
			Phone   string `json:"phone_number"`
			Content string `json:"content"`
		}
		b, _ := io.ReadAll(r.Body)
		if json.Unmarshal(b, &replies) != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		for _, rep := range replies {
			err := g.TryCode(r.Context(), rep.Phone, func() bool {
				a.mu.Lock()
				defer a.mu.Unlock()
				if c, ok := a.codes[rep.Phone]; ok && strings.Contains(rep.Content, c) {
					a.acked = append(a.acked, rep.Phone)
					delete(a.codes, rep.Phone)
					return true
				}
				return false
			})
			var le *limit.LockedError
			if errors.As(err, &le) {
				w.Header().Add("X-Test-Locked", le.Key.Kind)
			}
		}
		io.WriteString(w, `{"code":0,"msg":"接收成功"}`)
	})
}

type rig struct {
	t     *testing.T
	srv   *httptest.Server
	reg   *prometheus.Registry
	logs  *limittest.LogBuffer
	clock *limittest.Clock
	app   *alerting
}

func newRig(t *testing.T, allow ...netip.Prefix) *rig {
	r := &rig{t: t, reg: prometheus.NewRegistry(), logs: &limittest.LogBuffer{},
		clock: limittest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)),
		app:   &alerting{codes: map[string]string{"13812341234": "48213907", "13900001111": "11112222"}}}
	phones, _ := audit.NewPhoneKeyer([]byte(strings.Repeat("k", 32)))
	g, err := callback.New(callback.Options{Provider: "aliyun", Secret: []byte(aliyunSecret), Allow: allow,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Phones: phones,
		Now: r.clock.Now, Logger: slog.New(slog.NewTextHandler(r.logs, nil)), Registerer: r.reg})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /api/v1/sms/aliyun/{secret}", g.Wrap(r.app.handler(g)))
	mux.Handle("POST /api/v1/sms/aliyun", g.Wrap(r.app.handler(g))) // header form
	r.srv = httptest.NewServer(mux)
	t.Cleanup(r.srv.Close)
	return r
}

// push sends an SmsUp push from source (via the trusted local proxy).
func (r *rig) push(path, source, header string, replies ...[2]string) (int, http.Header) {
	r.t.Helper()
	var body []map[string]string
	for _, rep := range replies {
		body = append(body, map[string]string{"phone_number": rep[0], "content": rep[1], "send_time": "2026-03-02 09:00:00", "dest_code": "1234", "sequence_id": "1"})
	}
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, r.srv.URL+path, strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", source)
	if header != "" {
		req.Header.Set(callback.Header, header)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}

const provider = "106.11.0.9" // an address the provider pushes from

func TestSecretIsRequired(t *testing.T) {
	r := newRig(t)
	good := "/api/v1/sms/aliyun/" + aliyunSecret
	if code, _ := r.push(good, provider, "", [2]string{"13812341234", "确认 48213907"}); code != 200 || len(r.app.acked) != 1 {
		t.Fatalf("good push %d, acked %v", code, r.app.acked)
	}
	if code, _ := r.push("/api/v1/sms/aliyun", provider, aliyunSecret, [2]string{"13900001111", "11112222"}); code != 200 || len(r.app.acked) != 2 {
		t.Fatalf("header secret %d", code)
	}
	for name, c := range map[string]struct{ path, header string }{
		"unsigned":             {"/api/v1/sms/aliyun", ""},
		"wrong secret in path": {"/api/v1/sms/aliyun/" + strings.Repeat("x", len(aliyunSecret)), ""},
		"prefix of the secret": {"/api/v1/sms/aliyun/" + aliyunSecret[:10], ""},
		"secret plus more":     {"/api/v1/sms/aliyun/" + aliyunSecret + "x", ""},
		"wrong header":         {"/api/v1/sms/aliyun", "change-me"},
	} {
		r.app.codes["13812341234"] = "48213907"
		if code, _ := r.push(c.path, "198.51.100.66", c.header, [2]string{"13812341234", "48213907"}); code != http.StatusForbidden {
			t.Errorf("%s: %d", name, code)
		}
	}
	if len(r.app.acked) != 2 {
		t.Fatalf("a forged push acknowledged: %v", r.app.acked)
	}
	if got := testenv.Metric(t, r.reg, "cw_access_callbacks_total", "result", "bad_secret"); got != 5 {
		t.Fatalf("bad secrets counted %v", got)
	}
	if n := r.logs.Count("wrong or missing secret"); n != 1 {
		t.Fatalf("logged %d times", n)
	}
	// More wrong secrets lock the source out; the provider's own source is unaffected.
	for range 10 {
		r.push("/api/v1/sms/aliyun/nope-nope-nope-nope", "198.51.100.66", "")
	}
	if code, _ := r.push(good, "198.51.100.66", ""); code != http.StatusTooManyRequests {
		t.Fatalf("locked source with the right secret: %d", code)
	}
	if code, _ := r.push(good, provider, ""); code != 200 {
		t.Fatalf("provider refused: %d", code)
	}
	if n := r.logs.Count("locked out after too many failed attempts"); n != 1 {
		t.Fatalf("lockout logged %d times", n)
	}
}

func TestSourceAllowlist(t *testing.T) {
	r := newRig(t, netip.MustParsePrefix("106.11.0.0/16"))
	good := "/api/v1/sms/aliyun/" + aliyunSecret
	if code, _ := r.push(good, "106.11.3.4", "", [2]string{"13812341234", "48213907"}); code != 200 {
		t.Fatalf("allowed source %d", code)
	}
	if code, _ := r.push(good, "203.0.113.5", "", [2]string{"13900001111", "11112222"}); code != http.StatusForbidden {
		t.Fatalf("source outside the allowlist with the right secret: %d", code)
	}
	if got := testenv.Metric(t, r.reg, "cw_access_callbacks_total", "result", "not_allowed"); got != 1 {
		t.Fatal(got)
	}
}

// TestCodeGuessingIsHopeless plays the attack of the issue with a leaked
// secret: a push per guess for one number. After 5 wrong codes the number
// is locked for a day, even for the right code.
func TestCodeGuessingIsHopeless(t *testing.T) {
	r := newRig(t)
	good := "/api/v1/sms/aliyun/" + aliyunSecret
	var guesses [][2]string
	for i := range 1300 { // the 1,300 guesses in one request
		guesses = append(guesses, [2]string{"13812341234", fmt.Sprintf("%08d", i)})
	}
	guesses = append(guesses, [2]string{"13812341234", "48213907"}) // the right code, too late
	r.push(good, provider, "", guesses...)
	if len(r.app.acked) != 0 {
		t.Fatalf("acknowledged by guessing: %v", r.app.acked)
	}
	if got := testenv.Metric(t, r.reg, "cw_access_failed_attempts_total", "limiter", "callback_aliyun", "kind", "phone"); got != 5 {
		t.Fatalf("failures counted %v, want 5 (then locked)", got)
	}
	if got := testenv.Metric(t, r.reg, "cw_access_lockouts_total", "limiter", "callback_aliyun", "kind", "phone"); got != 1 {
		t.Fatalf("lockouts %v", got)
	}
	if n := r.logs.Count("locked out after too many failed attempts"); n != 1 || strings.Contains(r.logs.String(), "13812341234") {
		t.Fatalf("lockout logged %d times, or the number in clear:\n%s", n, r.logs.String())
	}
	if !strings.Contains(r.logs.String(), "138****1234") {
		t.Fatal("the masked number is not in the log")
	}
	// Another number is unaffected.
	r.push(good, provider, "", [2]string{"13900001111", "回复 11112222"})
	if len(r.app.acked) != 1 {
		t.Fatalf("acked %v", r.app.acked)
	}
	// A day later the number may try again.
	r.clock.Advance(24 * time.Hour)
	r.push(good, provider, "", [2]string{"13812341234", "48213907"})
	if len(r.app.acked) != 2 {
		t.Fatalf("after the lockout: acked %v", r.app.acked)
	}
}

func TestGuardRefusesPlaceholderSecrets(t *testing.T) {
	phones, _ := audit.NewPhoneKeyer([]byte(strings.Repeat("k", 32)))
	for _, s := range []string{"", "change-me", "CHANGE_ME", "short"} {
		if _, err := callback.New(callback.Options{Provider: "tencent", Secret: []byte(s), Phones: phones}); err == nil {
			t.Errorf("secret %q accepted", s)
		}
	}
	if _, err := callback.New(callback.Options{Provider: "tencent", Secret: []byte(aliyunSecret)}); err == nil {
		t.Error("no phone keyer accepted")
	}
}
