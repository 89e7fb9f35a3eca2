// Package fakealiyun is a local server that speaks Aliyun's RPC protocol
// for SMS (Dysmsapi SendSms and QuerySendDetails) and voice calls
// (Dyvmsapi SingleCallByTts) to the official SDK, in place of the provider: tests and the chaos suite
// point the alerting service's aliyun blocks at it (endpoint host:port,
// scheme HTTP). It records every request, and can refuse as the provider
// does: a per-number SMS limit (isv.BUSINESS_LIMIT_CONTROL), an outage
// (503), or a hook run after it took a request and before it answers (a
// test kills the caller there: the provider has the message, the caller
// never learns). QuerySendDetails lists the SMS it took for a number and
// day, with their OutId, as the provider does at once (status "waiting
// for the receipt"); it can be made to fail on its own.
package fakealiyun

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Actions the server answers.
const (
	ActionSMS   = "SendSms"
	ActionVoice = "SingleCallByTts"
	ActionQuery = "QuerySendDetails"
)

// zone is the provider's: SendDate is a day in Beijing time.
var zone = time.FixedZone("CST", 8*3600)

// Call is one request the server answered (or was about to answer when
// the caller died).
type Call struct {
	At       time.Time
	Action   string // ActionSMS or ActionVoice
	Phone    string
	Template string
	Params   map[string]string
	OutID    string // the caller's OutId
	OK       bool   // answered OK
}

// Codes are the acknowledgement codes the call carries: a grouped message
// lists every alert's code in one parameter.
func (c Call) Codes() []string {
	return strings.FieldsFunc(c.Params["code"], func(r rune) bool { return r == '、' || r == ',' || r == ' ' })
}

func (c Call) String() string {
	return fmt.Sprintf("%s %s %s to %s code %s ok=%v", c.At.Format("15:04:05.000"), c.Action, c.Template, c.Phone, c.Params["code"], c.OK)
}

// Server is the fake provider. Its methods are safe for concurrent use.
type Server struct {
	ln  net.Listener
	srv *http.Server

	mu       sync.Mutex
	calls    []Call
	limit    int // SMS per number, 0 for none
	perPhone map[string]int
	outage   bool
	queryErr bool // QuerySendDetails fails
	queries  int
	before   func(c Call)
}

// Start listens on a free loopback port and serves until Close.
func Start() (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fakealiyun: %w", err)
	}
	s := &Server{ln: ln, perPhone: map[string]int{}}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Endpoint is what the aliyun blocks' endpoint key takes (host:port).
func (s *Server) Endpoint() string { return s.ln.Addr().String() }

// Close stops the server and its connections.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		return s.srv.Close()
	}
	return nil
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	p := r.URL.Query()
	form, _ := url.ParseQuery(string(body))
	for k, v := range form {
		p[k] = v
	}
	c := Call{At: time.Now(), Action: p.Get("Action"), Params: map[string]string{}}
	var raw string
	switch c.Action {
	case ActionSMS:
		c.Phone, c.Template, raw = p.Get("PhoneNumbers"), p.Get("TemplateCode"), p.Get("TemplateParam")
	case ActionVoice:
		c.Phone, c.Template, raw = p.Get("CalledNumber"), p.Get("TtsCode"), p.Get("TtsParam")
	}
	_ = json.Unmarshal([]byte(raw), &c.Params)
	c.OutID = p.Get("OutId")
	if c.Action == ActionQuery {
		s.query(w, p)
		return
	}
	s.mu.Lock()
	answer, status := `{"Code":"OK","Message":"OK","BizId":"b","CallId":"c","RequestId":"r"}`, http.StatusOK
	switch {
	case s.outage:
		answer, status = `{"Code":"ServiceUnavailable","Message":"down","RequestId":"r"}`, http.StatusServiceUnavailable
	case c.Action == ActionSMS && s.limit > 0 && s.perPhone[c.Phone] >= s.limit:
		answer = `{"Code":"isv.BUSINESS_LIMIT_CONTROL","Message":"触发天级流控","RequestId":"r"}`
	default:
		c.OK = true
		if c.Action == ActionSMS {
			s.perPhone[c.Phone]++
		}
	}
	s.calls = append(s.calls, c)
	before := s.before
	s.mu.Unlock()
	if before != nil {
		before(c)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, answer)
}

// query answers QuerySendDetails: the SMS taken for PhoneNumber on
// SendDate (yyyyMMdd), page CurrentPage of PageSize, oldest first.
func (s *Server) query(w http.ResponseWriter, p url.Values) {
	type detail struct {
		OutId, PhoneNum, TemplateCode, SendDate, ReceiveDate, Content, ErrCode string
		SendStatus                                                             int
	}
	s.mu.Lock()
	s.queries++
	failing := s.outage || s.queryErr
	var all []detail
	for _, c := range s.calls {
		if c.Action == ActionSMS && c.OK && c.Phone == p.Get("PhoneNumber") && c.At.In(zone).Format("20060102") == p.Get("SendDate") {
			all = append(all, detail{OutId: c.OutID, PhoneNum: c.Phone, TemplateCode: c.Template, SendDate: c.At.In(zone).Format(time.DateTime),
				SendStatus: 1})
		}
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if failing {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"Code":"ServiceUnavailable","Message":"down","RequestId":"r"}`)
		return
	}
	size, _ := strconv.Atoi(p.Get("PageSize"))
	page, _ := strconv.Atoi(p.Get("CurrentPage"))
	if size < 1 || size > 50 || page < 1 || len(p.Get("SendDate")) != 8 {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"Code":"isv.INVALID_PARAMETERS","Message":"PageSize, CurrentPage or SendDate","RequestId":"r"}`)
		return
	}
	from := min((page-1)*size, len(all))
	to := min(from+size, len(all))
	b, _ := json.Marshal(map[string]any{"Code": "OK", "Message": "OK", "RequestId": "r", "TotalCount": len(all),
		"SmsSendDetailDTOs": map[string]any{"SmsSendDetailDTO": all[from:to]}})
	_, _ = w.Write(b)
}

// SetQueryFailing makes QuerySendDetails answer 503 while on.
func (s *Server) SetQueryFailing(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queryErr = on
}

// Queries is how many QuerySendDetails requests came.
func (s *Server) Queries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries
}

// SetLimit refuses SMS to a number beyond n a run (0: no limit).
func (s *Server) SetLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limit = n
}

// SetOutage answers every request 503 while on.
func (s *Server) SetOutage(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outage = on
}

// SetBefore runs fn for every request after it was recorded and before it
// is answered (nil: none). fn runs on the request's goroutine.
func (s *Server) SetBefore(fn func(c Call)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.before = fn
}

// Calls returns every request so far, in arrival order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Delivered returns the requests answered OK for which keep is true.
func (s *Server) Delivered(keep func(Call) bool) []Call {
	var out []Call
	for _, c := range s.Calls() {
		if c.OK && keep(c) {
			out = append(out, c)
		}
	}
	return out
}

// WaitFor polls until at least n delivered requests satisfy keep or the
// deadline passes, and returns those found.
func (s *Server) WaitFor(n int, deadline time.Duration, keep func(Call) bool) []Call {
	end := time.Now().Add(deadline)
	for {
		got := s.Delivered(keep)
		if len(got) >= n || time.Now().After(end) {
			return got
		}
		time.Sleep(pollEvery)
	}
}

// pollEvery is how often WaitFor looks again.
const pollEvery = 200 * time.Millisecond

// Dump lists every request, one a line, for failure messages.
func (s *Server) Dump() string {
	var b strings.Builder
	for _, c := range s.Calls() {
		b.WriteString("  " + c.String() + "\n")
	}
	return b.String()
}

// SMS selects SMS of template to phone; Voice, voice calls.
func SMS(template, phone string) func(Call) bool {
	return func(c Call) bool { return c.Action == ActionSMS && c.Template == template && c.Phone == phone }
}

// Voice selects voice calls of template to phone.
func Voice(template, phone string) func(Call) bool {
	return func(c Call) bool { return c.Action == ActionVoice && c.Template == template && c.Phone == phone }
}

// OrderProblems checks every (number, code) of the delivered SMS:
// resolved is the template of resolutions. A resolution must come after a
// notice announcing the code to that number, and nothing of the code after
// its resolution. A resolution for an alert never announced to that number
// is the failure the alerting outbox exists to prevent.
func OrderProblems(calls []Call, resolved string) []string {
	type key struct{ phone, code string }
	announced, done := map[key]bool{}, map[key]bool{}
	var out []string
	for _, c := range calls {
		if !c.OK || c.Action != ActionSMS {
			continue
		}
		for _, code := range c.Codes() {
			k := key{c.Phone, code}
			switch {
			case done[k]:
				out = append(out, fmt.Sprintf("%s after the episode's resolution", c))
			case c.Template == resolved && !announced[k]:
				out = append(out, fmt.Sprintf("%s: a resolution for an alert never announced to that number", c))
			case c.Template == resolved:
				done[k] = true
			default:
				announced[k] = true
			}
		}
	}
	return out
}
