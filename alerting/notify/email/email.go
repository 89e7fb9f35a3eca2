// Package email sends notifications by SMTP (net/smtp), with STARTTLS when
// the server offers it or when required.
package email

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/smtp"
	"strings"
	"time"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
)

// Config for the SMTP relay.
type Config struct {
	Addr            string `yaml:"addr" mapstructure:"addr"` // host:port, e.g. smtp.example.cn:587
	From            string `yaml:"from" mapstructure:"from"`
	Username        string `yaml:"username" mapstructure:"username"`
	Password        string `yaml:"password" mapstructure:"password"`
	RequireStartTLS bool   `yaml:"require_starttls" mapstructure:"require_starttls"` // fail rather than send in clear text
}

// Notifier sends one mail per message.
type Notifier struct {
	Cfg Config
	Now func() time.Time
}

// Notify sends m.Text to m.To.Email.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) (bool, error) {
	if strings.ContainsAny(m.To.Email, "\r\n") || strings.ContainsAny(n.Cfg.From, "\r\n") {
		return false, &notify.ProviderError{Channel: notify.ChannelEmail, Kind: notify.Permanent, Code: "BadAddress", Message: "address contains a line break"}
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", n.Cfg.Addr)
	if err != nil {
		return notify.Retryable(err), fmt.Errorf("email: dial: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	host, _, _ := net.SplitHostPort(n.Cfg.Addr)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return true, fmt.Errorf("email: greeting: %w", err)
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(&tls.Config{ServerName: host}); err != nil {
			return false, fmt.Errorf("email: starttls: %w", err)
		}
	} else if n.Cfg.RequireStartTLS {
		return false, &notify.ProviderError{Channel: notify.ChannelEmail, Kind: notify.Permanent, Code: "NoStartTLS", Message: "server does not offer STARTTLS"}
	}
	if n.Cfg.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", n.Cfg.Username, n.Cfg.Password, host)); err != nil {
			return false, fmt.Errorf("email: auth: %w", err)
		}
	}
	if err := c.Mail(n.Cfg.From); err != nil {
		return smtpRetry(err), fmt.Errorf("email: MAIL FROM: %w", err)
	}
	if err := c.Rcpt(m.To.Email); err != nil {
		return smtpRetry(err), fmt.Errorf("email: RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return smtpRetry(err), fmt.Errorf("email: DATA: %w", err)
	}
	if _, err := w.Write([]byte(Compose(n.Cfg.From, m, n.Now()))); err != nil {
		return true, fmt.Errorf("email: write: %w", err)
	}
	if err := w.Close(); err != nil {
		return smtpRetry(err), fmt.Errorf("email: end of data: %w", err)
	}
	return false, c.Quit()
}

// Compose is the mail sent for m: headers (the subject MIME-encoded) and
// the text, with CRLF line ends.
func Compose(from string, m notify.Message, date time.Time) string {
	return "From: " + from + "\r\nTo: " + m.To.Email + "\r\nSubject: " + mime.BEncoding.Encode("UTF-8", m.Subject) +
		"\r\nDate: " + date.Format(time.RFC1123Z) + "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
		strings.ReplaceAll(m.Text, "\n", "\r\n") + "\r\n"
}

// smtpRetry: 4xx replies are transient, 5xx permanent.
func smtpRetry(err error) bool {
	var te interface{ Temporary() bool }
	if errors.As(err, &te) {
		return te.Temporary()
	}
	return strings.HasPrefix(err.Error(), "4")
}
