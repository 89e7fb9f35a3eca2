// Package reply reads what SMS providers push when an operator answers an
// alert's SMS: Aliyun's SmsUp HTTP push (a JSON array of upstream
// messages) and Tencent Cloud's reply callback (one JSON object), and the
// acknowledgement codes in the text a person typed ("确认 48291306",
// "48291306 73620118").
//
// The endpoints that receive these pushes live at the front door (the
// console, behind access/callback's guard); the codes travel from there to
// the alerting instance that issued them over the control bus. This
// package holds only the parsing, so both sides agree on it.
package reply

import (
	"encoding/json"
	"regexp"
	"slices"
)

// CodeDigits is the length of an acknowledgement code: 8 digits from
// crypto/rand (docs/security.md gives the odds of guessing one).
// LegacyCodeDigits is the length of codes issued before: they are still
// read, so that an alert announced before an upgrade can be acknowledged
// by SMS until its episode ends.
const (
	CodeDigits       = 8
	LegacyCodeDigits = 6
)

// MaxCodesPerReply bounds the codes one reply may acknowledge: a grouped
// SMS carries a few, and a reply listing many more is a guess.
const MaxCodesPerReply = 10

// digitRun is a maximal run of ASCII digits; only runs of exactly
// CodeDigits or LegacyCodeDigits are codes (a phone number or a date in
// the reply is not).
var digitRun = regexp.MustCompile(`[0-9]+`)

// Codes returns the distinct acknowledgement codes in an SMS reply, in
// order, at most MaxCodesPerReply: a grouped message carries one code per
// alert, and a reply with several acknowledges each.
func Codes(text string) []string {
	var out []string
	for _, c := range digitRun.FindAllString(text, -1) {
		if len(c) != CodeDigits && len(c) != LegacyCodeDigits {
			continue
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
		if len(out) == MaxCodesPerReply {
			break
		}
	}
	return out
}

// Message is one reply as a provider reports it: the number it came from
// and what it says.
type Message struct {
	Phone string
	Text  string
}

// Aliyun is one upstream message of Aliyun's SmsUp HTTP push (the body
// is a JSON array of these). sequence_id is documented both as string and
// number.
type Aliyun struct {
	PhoneNumber string          `json:"phone_number"`
	Content     string          `json:"content"`
	SendTime    string          `json:"send_time"`
	SignName    string          `json:"sign_name"`
	DestCode    string          `json:"dest_code"`
	SequenceID  json.RawMessage `json:"sequence_id"`
}

// ParseAliyun decodes an Aliyun SmsUp push body.
func ParseAliyun(b []byte) ([]Message, error) {
	var rs []Aliyun
	if err := json.Unmarshal(b, &rs); err != nil {
		return nil, err
	}
	out := make([]Message, 0, len(rs))
	for _, r := range rs {
		out = append(out, Message{Phone: r.PhoneNumber, Text: r.Content})
	}
	return out, nil
}

// AliyunAnswer is the body Aliyun expects back: anything else, or a 5xx,
// makes it push the same messages again later.
const AliyunAnswer = `{"code":0,"msg":"接收成功"}`

// Tencent is Tencent Cloud SMS's reply callback body.
type Tencent struct {
	Extend     string `json:"extend"`
	Mobile     string `json:"mobile"`
	NationCode string `json:"nationcode"`
	Sign       string `json:"sign"`
	Text       string `json:"text"`
	Time       int64  `json:"time"`
}

// ParseTencent decodes a Tencent reply callback body.
func ParseTencent(b []byte) ([]Message, error) {
	var t Tencent
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, err
	}
	return []Message{{Phone: t.Mobile, Text: t.Text}}, nil
}

// TencentAnswer is the body Tencent expects back.
const TencentAnswer = `{"result":0,"errmsg":"OK"}`
