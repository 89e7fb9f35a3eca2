package notify

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestSMSReplyOnlyFromRecipient: a reply acknowledges only if it comes from
// a number that was sent the alert's code by SMS, also after a restart.
func TestSMSReplyOnlyFromRecipient(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{now: t0}
	sms, dt := &recorder{}, &recorder{}
	r := newRig(t, testConfig(dir), clock, sms, dt)
	r.handle(t, co2(StateFiring))
	r.step(t, 30*time.Second) // SMS to op1 (13812341234) only
	code := sms.sent[0].Params[ParamCode]

	tests := []struct {
		name  string
		phone string
		want  error
	}{
		{"street office was not sent it yet", "13900001111", ErrNotRecipient},
		{"stranger", "13600000000", ErrNotRecipient},
		{"recipient with country code", "+8613812341234", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := r.d.AckBySMS(code, tc.phone, "aliyun_reply")
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
		if tc.want == nil {
			break
		}
		if tc.name == "stranger" { // restart: who received it is in the notification log
			r.d.Close()
			r = newRig(t, testConfig(dir), clock, sms, dt)
		}
	}
	if got := testutil.ToFloat64(r.d.metrics.acks.WithLabelValues("aliyun_reply", "ok")); got != 1 {
		t.Fatalf("ok acks %v", got)
	}
	if _, err := r.d.AckBySMS("999999", "13812341234", "aliyun_reply"); !errors.Is(err, ErrUnknownAck) {
		t.Fatalf("unknown code: %v", err)
	}
}

func TestReplyHandlerRejectsOtherNumber(t *testing.T) {
	clock := &fakeClock{now: t0}
	sms, dt := &recorder{}, &recorder{}
	r := newRig(t, testConfig(t.TempDir()), clock, sms, dt)
	r.handle(t, co2(StateFiring))
	r.step(t, 30*time.Second)
	code := sms.sent[0].Params[ParamCode]
	w := httptest.NewRecorder()
	body := `{"extend":"","mobile":"13600000000","nationcode":"86","sign":"托育","text":"确认` + code + `","time":1741000000}`
	r.d.TencentReplyHandler().ServeHTTP(w, httptest.NewRequest("POST", "/", strings.NewReader(body)))
	if w.Code != 200 { // the provider must not push the reply again
		t.Fatalf("status %d", w.Code)
	}
	if got := testutil.ToFloat64(r.d.metrics.acks.WithLabelValues("tencent_reply", "wrong_sender")); got != 1 {
		t.Fatalf("wrong_sender %v", got)
	}
	r.step(t, 10*time.Minute) // not acknowledged: the street step still comes
	r.step(t, 30*time.Second)
	r.wantSMS(t, "op1/sms,street/sms")
	if strings.Contains(r.logs.String(), "13600000000") {
		t.Fatal("full number logged")
	}
}
