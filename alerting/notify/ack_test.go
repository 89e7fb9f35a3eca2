package notify

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cradlewatch/cradlewatch/alerting/notify/reply"
)

// TestSMSReplyOnlyFromRecipient: a reply acknowledges only if it comes from
// a number that was sent the alert's code by SMS (compared by keyed
// pseudonym), also after a restart.
func TestSMSReplyOnlyFromRecipient(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{now: t0}
	sms, dt := &recorder{}, &recorder{}
	r := newRig(t, testConfig(dir), clock, sms, dt)
	r.handle(t, co2(StateFiring))
	r.step(t, 30*time.Second) // SMS to op1 (13812341234) only
	code := sms.sent[0].Params[ParamCode]
	if len(code) != AckCodeDigits || len(reply.Codes("确认 "+code)) != 1 {
		t.Fatalf("code %q: want %d digits a reply is read for", code, AckCodeDigits)
	}

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
			_, err := r.d.AckBySMS(code, testPhones.Key(tc.phone), "sms:x", "sms")
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
	if got := testutil.ToFloat64(r.d.metrics.acks.WithLabelValues("sms", "ok")); got != 1 {
		t.Fatalf("ok acks %v", got)
	}
	if _, err := r.d.AckBySMS("99999999", testPhones.Key("13812341234"), "sms:x", "sms"); !errors.Is(err, ErrUnknownAck) {
		t.Fatalf("unknown code: %v", err)
	}
	// The number's pseudonym under another key is another number.
	other := testPhonesOther()
	if _, err := r.d.AckBySMS(code, other.Key("13812341234"), "sms:x", "sms"); !errors.Is(err, ErrNotRecipient) {
		t.Fatalf("a pseudonym under another key: %v", err)
	}
}

// TestWrongSenderKeepsEscalating: a reply from a number that was not sent
// the code acknowledges nothing; the street step still comes, and the
// stranger's number is in no log.
func TestWrongSenderKeepsEscalating(t *testing.T) {
	clock := &fakeClock{now: t0}
	sms, dt := &recorder{}, &recorder{}
	r := newRig(t, testConfig(t.TempDir()), clock, sms, dt)
	r.handle(t, co2(StateFiring))
	r.step(t, 30*time.Second)
	code := sms.sent[0].Params[ParamCode]
	if _, err := r.d.AckBySMS(code, testPhones.Key("13600000000"), "sms:x", "sms"); !errors.Is(err, ErrNotRecipient) {
		t.Fatalf("stranger's reply: %v", err)
	}
	if got := testutil.ToFloat64(r.d.metrics.acks.WithLabelValues("sms", "wrong_sender")); got != 1 {
		t.Fatalf("wrong_sender %v", got)
	}
	r.step(t, 10*time.Minute) // not acknowledged: the street step still comes
	r.step(t, 30*time.Second)
	r.wantSMS(t, "op1/sms,street/sms")
	if strings.Contains(r.logs.String(), "13600000000") || strings.Contains(r.logs.String(), "13812341234") {
		t.Fatal("full number logged")
	}
}

// TestCodesAreDistinctAndUnpredictable: every open alert gets its own
// 8-digit code, and the codes of one run do not follow from the injected
// random source (tests seed it; codes come from crypto/rand).
func TestCodesAreDistinctAndUnpredictable(t *testing.T) {
	clock := &fakeClock{now: t0}
	seen := map[string]bool{}
	for run := range 2 {
		sms, dt := &recorder{}, &recorder{}
		r := newRig(t, testConfig(t.TempDir()), clock, sms, dt)
		for i := range 50 {
			a := co2(StateFiring)
			a.Fingerprint = a.Fingerprint + string(rune('a'+i%26)) + string(rune('a'+i/26))
			r.handle(t, a)
		}
		for _, s := range r.d.esc.all() {
			c := s.Alert.AckCode
			if len(c) != AckCodeDigits || strings.Trim(c, "0123456789") != "" {
				t.Fatalf("code %q", c)
			}
			if seen[c] {
				t.Fatalf("run %d: code %s issued twice (same seed, same codes?)", run, c)
			}
			seen[c] = true
		}
	}
}
