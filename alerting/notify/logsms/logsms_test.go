package logsms

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
)

func TestNotifyLogsOneMaskedLine(t *testing.T) {
	params := map[string]string{notify.ParamFacility: "朝阳区示例托育园", notify.ParamRoom: "乳儿班", notify.ParamWhat: "二氧化碳浓度过高",
		notify.ParamValue: "1620ppm", notify.ParamLimit: "1000ppm", notify.ParamCode: "482913"}
	tests := []struct {
		name string
		cfg  Config
		m    notify.Message
		want string
	}{
		{"template body, code matched without case",
			Config{SignName: "托育安全", Templates: map[string]string{"sms_cw_alert": "${facility} ${room} ${what} ${value}(限值${limit})，请处理。确认码 ${code}"}},
			notify.Message{To: notify.Contact{Phone: "13812341234"}, Template: "SMS_CW_ALERT", Params: params},
			`msg=SMS to=138****1234 template=SMS_CW_ALERT text="【托育安全】朝阳区示例托育园 乳儿班 二氧化碳浓度过高 1620ppm(限值1000ppm)，请处理。确认码 482913"`},
		{"no body: the rendered free text",
			Config{SignName: "托育安全"},
			notify.Message{To: notify.Contact{Phone: "+8613812341234"}, Template: "SMS_X", Params: params, Text: "【托育安全】已恢复正常。"},
			`msg=SMS to=138****1234 template=SMS_X text=【托育安全】已恢复正常。`},
		{"unknown variable left visible",
			Config{Templates: map[string]string{"T": "${facility} ${nope}"}},
			notify.Message{To: notify.Contact{Phone: "13812341234"}, Template: "t", Params: params},
			`text="朝阳区示例托育园 ${nope}"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			n := New(tc.cfg, slog.New(slog.NewTextHandler(&b, nil)))
			retry, err := n.Notify(context.Background(), tc.m)
			if err != nil || retry {
				t.Fatalf("retry %v err %v", retry, err)
			}
			out := b.String()
			if strings.Count(out, "\n") != 1 || !strings.Contains(out, tc.want) {
				t.Fatalf("log %q\nwant it to contain %q", out, tc.want)
			}
			if strings.Contains(out, "13812341234") {
				t.Fatal("full number logged")
			}
		})
	}
}
