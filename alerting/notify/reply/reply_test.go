package reply

import (
	"slices"
	"strings"
	"testing"
)

func TestCodes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"确认 48291306", []string{"48291306"}},
		{"48291306、73620118 收到", []string{"48291306", "73620118"}},
		{"48291306 48291306", []string{"48291306"}},
		{"确认482913", []string{"482913"}}, // a code issued before the upgrade
		{"1234567", nil},                 // seven digits: no code
		{"13812341234", nil},             // a phone number is not a code
		{"482913061", nil},               // nine digits
		{"２０２５０３０３", nil},                // full-width digits are not read
		{"", nil},
		{strings.Repeat("12345678 ", 3), []string{"12345678"}},
	} {
		if got := Codes(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("Codes(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	var many []string
	for i := range 20 {
		many = append(many, strings.Repeat(string(rune('0'+i%10)), 7)+string(rune('0'+i/10)))
	}
	if got := Codes(strings.Join(many, " ")); len(got) != MaxCodesPerReply {
		t.Errorf("a reply of 20 codes gave %d, want at most %d", len(got), MaxCodesPerReply)
	}
}

func TestParse(t *testing.T) {
	ms, err := ParseAliyun([]byte(`[{"phone_number":"13812341234","content":"确认48291306","send_time":"2025-03-03 09:01:00","dest_code":"1234","sequence_id":1234567890},
		{"phone_number":"13900001111","content":"好","sequence_id":"7"}]`))
	if err != nil || len(ms) != 2 || ms[0] != (Message{"13812341234", "确认48291306"}) || ms[1].Phone != "13900001111" {
		t.Fatalf("aliyun: %+v %v", ms, err)
	}
	ms, err = ParseTencent([]byte(`{"extend":"","mobile":"13812341234","nationcode":"86","sign":"托育","text":"48291306","time":1741000000}`))
	if err != nil || len(ms) != 1 || ms[0] != (Message{"13812341234", "48291306"}) {
		t.Fatalf("tencent: %+v %v", ms, err)
	}
	for _, bad := range []string{"", "{", `{"phone_number":1}`, "null x"} {
		if _, err := ParseAliyun([]byte(bad)); err == nil {
			t.Errorf("aliyun %q: no error", bad)
		}
	}
	if _, err := ParseTencent([]byte(`[1]`)); err == nil {
		t.Error("tencent: an array was taken")
	}
}

func FuzzCodes(f *testing.F) {
	f.Add("确认 48291306")
	f.Add("1234567")
	f.Fuzz(func(t *testing.T, s string) {
		cs := Codes(s)
		if len(cs) > MaxCodesPerReply {
			t.Fatalf("%d codes", len(cs))
		}
		for _, c := range cs {
			if (len(c) != CodeDigits && len(c) != LegacyCodeDigits) || strings.Trim(c, "0123456789") != "" || !strings.Contains(s, c) {
				t.Fatalf("code %q of %q", c, s)
			}
		}
	})
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`[{"phone_number":"1","content":"12345678","sequence_id":"1"}]`))
	f.Add([]byte(`{"mobile":"1","text":"12345678"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseAliyun(b)
		_, _ = ParseTencent(b)
	})
}
