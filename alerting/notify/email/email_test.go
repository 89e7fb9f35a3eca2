package email

import (
	"bufio"
	"context"
	"errors"
	"mime"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// smtpServer speaks just enough SMTP for net/smtp on 127.0.0.1: EHLO,
// AUTH PLAIN, MAIL, RCPT, DATA, QUIT. replies overrides the answer to a
// command by its first word.
type smtpServer struct {
	ln      net.Listener
	ext     []string // EHLO extensions advertised
	replies map[string]string
	wg      sync.WaitGroup

	mu       sync.Mutex
	commands []string
	data     string
}

func startSMTP(t *testing.T, ext []string, replies map[string]string) *smtpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{ln: ln, ext: ext, replies: replies}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

func (s *smtpServer) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.session(c)
	}
}

func (s *smtpServer) session(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	say := func(line string) { _, _ = c.Write([]byte(line + "\r\n")) }
	say("220 127.0.0.1 ESMTP test")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb := strings.ToUpper(strings.Fields(line + " x")[0])
		s.mu.Lock()
		s.commands = append(s.commands, line)
		s.mu.Unlock()
		if rep, ok := s.replies[verb]; ok {
			say(rep)
			if verb == "QUIT" {
				return
			}
			continue
		}
		switch verb {
		case "EHLO":
			lines := append([]string{"127.0.0.1"}, s.ext...)
			for i, l := range lines {
				sep := "-"
				if i == len(lines)-1 {
					sep = " "
				}
				say("250" + sep + l)
			}
		case "AUTH":
			say("235 2.7.0 accepted")
		case "MAIL", "RCPT":
			say("250 2.1.0 ok")
		case "DATA":
			say("354 go ahead")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(strings.TrimPrefix(l, ".")) // undo dot-stuffing
			}
			s.mu.Lock()
			s.data = b.String()
			s.mu.Unlock()
			say("250 2.0.0 queued")
		case "QUIT":
			say("221 2.0.0 bye")
			return
		default:
			say("502 5.5.2 not implemented")
		}
	}
}

func (s *smtpServer) log() ([]string, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.commands...), s.data
}

var msg = notify.Message{
	Key: "k1", Channel: notify.ChannelEmail, To: notify.Contact{ID: "county", Email: "duty@example.cn"},
	Subject: "【托育安全】朝阳区示例托育园 二氧化碳浓度过高",
	Text:    "朝阳区示例托育园 乳儿班：二氧化碳浓度过高\n.请处理",
}

func TestNotify(t *testing.T) {
	now := func() time.Time { return time.Date(2025, 3, 3, 9, 0, 0, 0, time.FixedZone("CST", 8*3600)) }
	tests := []struct {
		name      string
		cfg       Config
		ext       []string
		replies   map[string]string
		m         notify.Message
		wantRetry bool
		wantErr   string // substring; empty for success
		wantCmds  []string
	}{
		{name: "plain delivery with auth", cfg: Config{From: "cw@example.cn", Username: "cw", Password: "pw"},
			ext: []string{"AUTH PLAIN", "8BITMIME"}, m: msg,
			wantCmds: []string{"EHLO localhost", "AUTH PLAIN AGN3AHB3", "MAIL FROM:<cw@example.cn> BODY=8BITMIME", "RCPT TO:<duty@example.cn>", "DATA", "QUIT"}},
		{name: "starttls required but not offered", cfg: Config{From: "cw@example.cn", RequireStartTLS: true}, m: msg,
			wantErr: "NoStartTLS", wantCmds: []string{"EHLO localhost"}},
		{name: "mailbox busy is transient", cfg: Config{From: "cw@example.cn"}, replies: map[string]string{"RCPT": "450 4.2.1 mailbox busy"},
			m: msg, wantRetry: true, wantErr: "RCPT TO"},
		{name: "no such user is permanent", cfg: Config{From: "cw@example.cn"}, replies: map[string]string{"RCPT": "550 5.1.1 no such user"},
			m: msg, wantErr: "550"},
		{name: "header injection refused before dialling", cfg: Config{From: "cw@example.cn"},
			m: notify.Message{To: notify.Contact{Email: "a@example.cn\r\nBcc: x@example.cn"}}, wantErr: "BadAddress"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := startSMTP(t, tc.ext, tc.replies)
			tc.cfg.Addr = s.ln.Addr().String()
			n := &Notifier{Cfg: tc.cfg, Now: now}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a hang fails, not a timing check
			defer cancel()
			retry, err := n.Notify(ctx, tc.m)
			if retry != tc.wantRetry {
				t.Errorf("retry %v, want %v (err %v)", retry, tc.wantRetry, err)
			}
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
			cmds, data := s.log()
			if tc.wantCmds != nil && strings.Join(cmds, "|") != strings.Join(tc.wantCmds, "|") {
				t.Fatalf("commands\n%q\nwant\n%q", cmds, tc.wantCmds)
			}
			if err != nil {
				return
			}
			head, body, _ := strings.Cut(data, "\r\n\r\n")
			var subject string
			for _, h := range strings.Split(head, "\r\n") {
				if v, ok := strings.CutPrefix(h, "Subject: "); ok {
					subject, _ = new(mime.WordDecoder).DecodeHeader(v)
				}
			}
			if subject != msg.Subject {
				t.Errorf("subject %q", subject)
			}
			for _, h := range []string{"From: cw@example.cn", "To: duty@example.cn", "Date: Mon, 03 Mar 2025 09:00:00 +0800", "Content-Type: text/plain; charset=UTF-8"} {
				if !strings.Contains(head, h) {
					t.Errorf("header %q missing from\n%s", h, head)
				}
			}
			if body != "朝阳区示例托育园 乳儿班：二氧化碳浓度过高\r\n.请处理\r\n" {
				t.Errorf("body %q", body)
			}
		})
	}
}

func TestNotifyRelayDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: connection refused
	n := &Notifier{Cfg: Config{Addr: addr, From: "cw@example.cn"}, Now: func() time.Time { return time.Time{} }}
	retry, err := n.Notify(context.Background(), msg)
	var oe *net.OpError
	if !retry || !errors.As(err, &oe) {
		t.Fatalf("retry %v err %v; want a retryable dial error", retry, err)
	}
}
