package fakealiyun_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
	"github.com/cradlewatch/cradlewatch/alerting/notify/aliyun"
	"github.com/cradlewatch/cradlewatch/internal/fakealiyun"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The official SDK's SendSms reaches the server, which records the number,
// template and parameters and answers as Aliyun does: OK, the per-number
// limit, an outage.
func TestSendSmsThroughTheSDK(t *testing.T) {
	s, err := fakealiyun.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n, err := aliyun.New(aliyun.Config{AccessKeyID: "ak", AccessKeySecret: "sk", SignName: "托育安全", Endpoint: s.Endpoint(), Scheme: "HTTP", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	send := func(code string) (bool, error) {
		return n.Notify(context.Background(), notify.Message{Channel: notify.ChannelSMS, To: notify.Contact{ID: "op", Phone: "13800000001"},
			Template: "T_FIRING", Params: map[string]string{"code": code}})
	}
	if _, err := send("11111111、22222222"); err != nil {
		t.Fatalf("first SMS: %v", err)
	}
	s.SetLimit(1)
	if _, err := send("33333333"); err == nil {
		t.Fatal("an SMS over the number's limit was accepted")
	}
	s.SetLimit(0)
	s.SetOutage(true)
	if retry, err := send("44444444"); err == nil || !retry {
		t.Fatalf("an outage: retry %v, err %v; want a transient failure", retry, err)
	}
	s.SetOutage(false)
	got := s.Delivered(fakealiyun.SMS("T_FIRING", "13800000001"))
	if len(got) != 1 || !slices.Equal(got[0].Codes(), []string{"11111111", "22222222"}) {
		t.Fatalf("delivered %v; calls:\n%s", got, s.Dump())
	}
	if len(s.Calls()) != 3 {
		t.Fatalf("%d calls recorded, want 3:\n%s", len(s.Calls()), s.Dump())
	}
}

func TestOrderProblems(t *testing.T) {
	at := time.Unix(0, 0)
	sms := func(tmpl, phone, code string) fakealiyun.Call {
		at = at.Add(time.Second)
		return fakealiyun.Call{At: at, Action: fakealiyun.ActionSMS, Phone: phone, Template: tmpl, Params: map[string]string{"code": code}, OK: true}
	}
	tests := []struct {
		name  string
		calls []fakealiyun.Call
		want  string // a problem containing this, or "" for none
	}{
		{"firing then resolved", []fakealiyun.Call{sms("F", "1", "a"), sms("R", "1", "a")}, ""},
		{"grouped codes", []fakealiyun.Call{sms("F", "1", "a、b"), sms("R", "1", "b")}, ""},
		{"resolution never announced", []fakealiyun.Call{sms("F", "1", "a"), sms("R", "2", "a")}, "never announced"},
		{"after the resolution", []fakealiyun.Call{sms("F", "1", "a"), sms("R", "1", "a"), sms("F", "1", "a")}, "after the episode's resolution"},
	}
	for _, tt := range tests {
		got := strings.Join(fakealiyun.OrderProblems(tt.calls, "R"), "\n")
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("%s: problems %q, want %q", tt.name, got, tt.want)
		}
	}
}
