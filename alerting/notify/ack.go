package notify

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
)

// maxAckBody bounds request bodies of the ack and reply endpoints.
const maxAckBody = 64 << 10

// AckRequest is the body of POST /api/v1/ack.
type AckRequest struct {
	Code        string `json:"code,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
	Actor       string `json:"actor"`
}

// AckHandler serves POST /api/v1/ack {code or fingerprint, actor}. It
// answers 200 with the alert's fingerprint, 404 for no open alert, 400 for
// a malformed request. Authentication belongs in front of it.
func (d *Dispatcher) AckHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		var req AckRequest
		dec := json.NewDecoder(io.LimitReader(r.Body, maxAckBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			d.metrics.acks.WithLabelValues("http", "rejected").Inc()
			http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
			return
		}
		ref := req.Fingerprint
		if ref == "" {
			ref = req.Code
		}
		if ref == "" || strings.TrimSpace(req.Actor) == "" {
			d.metrics.acks.WithLabelValues("http", "rejected").Inc()
			http.Error(w, "bad request: need code or fingerprint, and actor", http.StatusBadRequest)
			return
		}
		a, err := d.Ack(ref, req.Actor, "http")
		switch {
		case errors.Is(err, ErrUnknownAck):
			http.Error(w, "no open alert for that code or fingerprint", http.StatusNotFound)
			return
		case err != nil:
			http.Error(w, "ack not saved", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"fingerprint": a.Fingerprint, "acknowledged": true})
	})
}

// codeInReply finds acknowledgement codes in a free-text SMS reply such
// as "确认 123456" or "123456 654321".
var codeInReply = regexp.MustCompile(`(?:^|\D)(\d{6})(?:\D|$)`)

// ExtractAckCode returns the first 6-digit code in an SMS reply.
func ExtractAckCode(text string) (string, bool) {
	codes := ExtractAckCodes(text)
	if len(codes) == 0 {
		return "", false
	}
	return codes[0], true
}

// maxCodesPerReply bounds the codes one reply may acknowledge: a grouped
// SMS carries a few, and a reply listing many more is a guess.
const maxCodesPerReply = 10

// ExtractAckCodes returns the distinct 6-digit codes in an SMS reply, in
// order: a grouped message carries one code per alert, and a reply with
// several acknowledges each.
func ExtractAckCodes(text string) []string {
	var out []string
	for i := 0; i < len(text) && len(out) < maxCodesPerReply; {
		loc := codeInReply.FindStringSubmatchIndex(text[i:])
		if loc == nil {
			break
		}
		c := text[i+loc[2] : i+loc[3]]
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
		i += loc[3] // the separator after a code may start the next match
	}
	return out
}

// AliyunReply is one upstream message of Aliyun's SmsUp HTTP push (a JSON
// array of these). sequence_id is documented both as string and number.
type AliyunReply struct {
	PhoneNumber string          `json:"phone_number"`
	Content     string          `json:"content"`
	SendTime    string          `json:"send_time"`
	SignName    string          `json:"sign_name"`
	DestCode    string          `json:"dest_code"`
	SequenceID  json.RawMessage `json:"sequence_id"`
}

// ParseAliyunReplies decodes an Aliyun SmsUp push body.
func ParseAliyunReplies(b []byte) ([]AliyunReply, error) {
	var rs []AliyunReply
	if err := json.Unmarshal(b, &rs); err != nil {
		return nil, err
	}
	return rs, nil
}

// AliyunReplyHandler receives Aliyun SmsUp pushes and acknowledges the
// alert whose code a reply carries. It answers {"code":0,"msg":"接收成功"}
// as Aliyun requires; a 5xx makes Aliyun push again later.
func (d *Dispatcher) AliyunReplyHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(io.LimitReader(r.Body, maxAckBody))
		if err != nil {
			http.Error(w, "read body", http.StatusBadRequest)
			return
		}
		rs, err := ParseAliyunReplies(b)
		if err != nil {
			d.metrics.acks.WithLabelValues("aliyun_reply", "rejected").Inc()
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		for _, rep := range rs {
			d.ackReply(rep.Content, rep.PhoneNumber, "aliyun_reply")
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"code":0,"msg":"接收成功"}`)
	})
}

// TencentReply is Tencent Cloud SMS's reply callback body.
type TencentReply struct {
	Extend     string `json:"extend"`
	Mobile     string `json:"mobile"`
	NationCode string `json:"nationcode"`
	Sign       string `json:"sign"`
	Text       string `json:"text"`
	Time       int64  `json:"time"`
}

// ParseTencentReply decodes a Tencent reply callback body.
func ParseTencentReply(b []byte) (TencentReply, error) {
	var t TencentReply
	err := json.Unmarshal(b, &t)
	return t, err
}

// TencentReplyHandler receives Tencent's reply callback and acknowledges
// the alert whose code the reply carries; it answers {"result":0,"errmsg":"OK"}.
func (d *Dispatcher) TencentReplyHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(io.LimitReader(r.Body, maxAckBody))
		if err != nil {
			http.Error(w, "read body", http.StatusBadRequest)
			return
		}
		t, err := ParseTencentReply(b)
		if err != nil {
			d.metrics.acks.WithLabelValues("tencent_reply", "rejected").Inc()
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		d.ackReply(t.Text, t.Mobile, "tencent_reply")
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"result":0,"errmsg":"OK"}`)
	})
}

func (d *Dispatcher) ackReply(text, phone, source string) {
	codes := ExtractAckCodes(text)
	if len(codes) == 0 {
		d.metrics.acks.WithLabelValues(source, "rejected").Inc()
		d.logger.Info("sms reply without an ack code", "source", source, "phone", MaskPhone(phone))
		return
	}
	for _, code := range codes {
		if _, err := d.AckBySMS(code, phone, source); err != nil {
			d.logger.Info("sms reply did not acknowledge", "source", source, "phone", MaskPhone(phone), "err", err)
		}
	}
}
