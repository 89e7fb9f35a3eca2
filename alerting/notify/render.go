package notify

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"
)

// Kind is what a notification tells its recipient.
type Kind string

// Kinds of notification.
const (
	KindFiring     Kind = "firing"     // first notice to the operator
	KindEscalation Kind = "escalation" // notice to an office because nobody acknowledged
	KindReminder   Kind = "reminder"   // repeat of an unacknowledged critical alert
	KindResolved   Kind = "resolved"   // the condition cleared
)

// LangSet holds one language's templates: SMS and voice template codes
// approved at the provider, and Go text/templates for channels that take
// free text.
type LangSet struct {
	SMS     map[Kind]string `yaml:"sms" mapstructure:"sms"`
	Voice   map[Kind]string `yaml:"voice" mapstructure:"voice"`
	Subject string          `yaml:"subject" mapstructure:"subject"`
	Text    map[Kind]string `yaml:"text" mapstructure:"text"`
}

// codeSep joins the acknowledgement codes of a grouped message.
const codeSep = "、"

// builtinZH is the default Chinese text of the free-text channels
// (webhook, DingTalk, WeCom, e-mail). It lists every alert with its own
// code, and never asks the reader to reply by SMS: the reply endpoint
// takes a code only from a number that was sent it by SMS. SMS and voice
// template codes have no default: they come from the provider's console.
var builtinZH = LangSet{
	Subject: `【托育安全{{if eq .Kind "escalation"}}·督办{{else if eq .Kind "reminder"}}·提醒{{end}}】{{.FacilityName}}：{{.What}}{{if eq .Kind "resolved"}}（已解除）{{end}}`,
	Text: map[Kind]string{
		KindFiring: `【托育安全】{{.FacilityName}}
{{range .Items}}{{if .Room}}{{.Room}}：{{end}}{{.What}}{{.Detail}}，确认码 {{.Code}}{{if .Link}} {{.Link}}{{end}}
{{end}}请立即处理。{{.AckHint}}`,
		KindEscalation: `【托育安全·督办】{{.FacilityName}}，以下告警自{{.Since}}起无人确认：
{{range .Items}}{{if .Room}}{{.Room}}：{{end}}{{.What}}{{.Detail}}，确认码 {{.Code}}{{if .Link}} {{.Link}}{{end}}
{{end}}请督促处理。{{.AckHint}}`,
		KindReminder: `【托育安全·提醒】{{.FacilityName}}，以下告警仍未确认：
{{range .Items}}{{if .Room}}{{.Room}}：{{end}}{{.What}}{{.Detail}}，确认码 {{.Code}}{{if .Link}} {{.Link}}{{end}}
{{end}}{{.AckHint}}`,
		KindResolved: `【托育安全】{{.FacilityName}}告警已解除：
{{range .Items}}{{if .Room}}{{.Room}}：{{end}}{{.What}}
{{end}}`,
	},
}

// RenderData is what text templates see.
type RenderData struct {
	Kind         Kind
	Facility     string
	FacilityName string
	Room         string // the leading alert's room
	What         string // the leading alert's text, "…等3项" for a group
	Detail       string // the leading alert's detail, or when it began
	Value        string
	Limit        string
	Code         string // every alert's code, "48291306、73620118"
	Link         string // the leading alert's link in the console ("" without notify.links)
	Count        int
	Since        string // start of the leading alert, local time: "09:05", or "3月2日09:05" on another day
	Step         string
	AckHint      string // where to acknowledge on a free-text channel
	Items        []Item // every alert, most severe and oldest first
	Alerts       []Alert
}

// Item is one alert of a message, with its own link in the console.
type Item struct {
	Room, What, Detail, Value, Limit, Code, Since, Link string
}

// renderer turns a group of alerts into a Message body per language.
type renderer struct {
	langs    map[string]*compiledLang
	fallback string
	maxRunes int
	ackURL   string
	links    *Links
	loc      *time.Location
}

type compiledLang struct {
	sms, voice map[Kind]string
	subject    *template.Template
	text       map[Kind]*template.Template
}

var funcs = template.FuncMap{"minus1": func(n int) int { return n - 1 }}

func newRenderer(sets map[string]LangSet, fallback string, maxRunes int, ackURL string, loc *time.Location, links *Links) (*renderer, error) {
	r := &renderer{langs: map[string]*compiledLang{}, fallback: fallback, maxRunes: maxRunes, ackURL: ackURL, links: links, loc: loc}
	all := map[string]LangSet{"zh": builtinZH}
	for l, s := range sets {
		base := all[l]
		if s.Subject == "" {
			s.Subject = base.Subject
		}
		if s.Text == nil {
			s.Text = map[Kind]string{}
		}
		for k, v := range base.Text {
			if _, ok := s.Text[k]; !ok {
				s.Text[k] = v
			}
		}
		all[l] = s
	}
	for l, s := range all {
		c := &compiledLang{sms: s.SMS, voice: s.Voice, text: map[Kind]*template.Template{}}
		var err error
		if c.subject, err = template.New(l + ".subject").Funcs(funcs).Parse(s.Subject); err != nil {
			return nil, fmt.Errorf("templates.%s.subject: %w", l, err)
		}
		for k, v := range s.Text {
			if c.text[k], err = template.New(l + "." + string(k)).Funcs(funcs).Option("missingkey=error").Parse(v); err != nil {
				return nil, fmt.Errorf("templates.%s.text.%s: %w", l, k, err)
			}
		}
		r.langs[l] = c
	}
	if _, ok := r.langs[fallback]; !ok {
		return nil, fmt.Errorf("default_lang: no templates for %q", fallback)
	}
	return r, nil
}

// maxCodes is how many acknowledgement codes fit in one template variable:
// a grouped message carries every alert's code, so groups are cut to it.
func (r *renderer) maxCodes() int {
	if r.maxRunes <= 0 {
		return 1 << 30
	}
	return max(1, (r.maxRunes+utf8.RuneCountInString(codeSep))/(AckCodeDigits+utf8.RuneCountInString(codeSep)))
}

// lead orders alerts most severe first, then oldest first.
func lead(alerts []Alert) []Alert {
	out := append([]Alert(nil), alerts...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && before(out[j], out[j-1]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func before(a, b Alert) bool {
	if a.Severity != b.Severity {
		return a.Severity > b.Severity
	}
	return a.StartsAt.Before(b.StartsAt)
}

// since formats t for a message sent at now: the time alone on the same
// day, with the date otherwise.
func (r *renderer) since(t, now time.Time) string {
	t, now = t.In(r.loc), now.In(r.loc)
	if t.Year() == now.Year() && t.YearDay() == now.YearDay() {
		return t.Format("15:04")
	}
	return fmt.Sprintf("%d月%d日%s", t.Month(), t.Day(), t.Format("15:04"))
}

// detail is the alert's value phrase, or when it began.
func (r *renderer) detail(a Alert, now time.Time) string {
	if a.Detail != "" {
		return a.Detail
	}
	return "（" + r.since(a.StartsAt, now) + "起）"
}

// render fills m's template code, parameters, subject and text for the
// alerts of one notification, as sent at now.
func (r *renderer) render(m *Message, kind Kind, step string, alerts []Alert, now time.Time) error {
	lang := m.To.Lang
	if _, ok := r.langs[lang]; !ok {
		lang = r.fallback
	}
	c := r.langs[lang]
	m.Lang, m.Kind = lang, kind
	alerts = lead(alerts)
	first := alerts[0]
	d := RenderData{
		Kind: kind, Facility: first.Facility, FacilityName: first.FacilityName, Room: first.Room,
		What: first.What, Detail: r.detail(first, now), Value: first.Value, Limit: first.Limit,
		Count: len(alerts), Since: r.since(first.StartsAt, now), Step: step, Alerts: alerts, AckHint: r.ackHint(lang),
	}
	if d.FacilityName == "" {
		d.FacilityName = d.Facility
	}
	codes := make([]string, 0, len(alerts))
	var token string
	for i, a := range alerts {
		if a.AckCode != "" {
			codes = append(codes, a.AckCode)
		}
		link, tok := r.links.For(a, now)
		if i == 0 {
			d.Link, token = link, tok
		}
		d.Items = append(d.Items, Item{Room: a.Room, What: a.What, Detail: r.detail(a, now), Value: a.Value, Limit: a.Limit,
			Code: a.AckCode, Since: r.since(a.StartsAt, now), Link: link})
	}
	d.Code = strings.Join(codes, codeSep)
	if len(alerts) > 1 && lang == "zh" {
		d.What = first.What + "等" + strconv.Itoa(len(alerts)) + "项"
	}
	m.Template = r.code(c, lang, m.Channel, kind)
	m.Params = map[string]string{
		ParamFacility: r.clip(d.FacilityName), ParamRoom: r.clip(d.Room), ParamWhat: r.clip(d.What),
		ParamDetail: r.clip(d.Detail), ParamValue: r.clip(d.Value), ParamLimit: r.clip(d.Limit),
		ParamSince: d.Since, ParamCode: d.Code,
	}
	if d.Link != "" {
		// Never clipped: a cut link opens nothing.
		m.Params[ParamLink], m.Params[ParamLinkToken] = d.Link, token
	}
	var b bytes.Buffer
	if err := c.subject.Execute(&b, d); err != nil {
		return fmt.Errorf("render subject (%s): %w", lang, err)
	}
	m.Subject = b.String()
	t := c.text[kind]
	if t == nil {
		return fmt.Errorf("render: no %s text template for language %s", kind, lang)
	}
	b.Reset()
	if err := t.Execute(&b, d); err != nil {
		return fmt.Errorf("render %s text (%s): %w", kind, lang, err)
	}
	m.Text = strings.TrimRight(b.String(), "\n")
	return nil
}

// code is the provider template of a channel and kind: the contact's
// language's, else the default language's.
func (r *renderer) code(c *compiledLang, lang string, ch Channel, kind Kind) string {
	pick := func(c *compiledLang) map[Kind]string {
		if ch == ChannelVoice {
			return c.voice
		}
		return c.sms
	}
	if t := pick(c)[kind]; t != "" || lang == r.fallback {
		return t
	}
	return pick(r.langs[r.fallback])[kind]
}

// ackHint tells a free-text reader where to acknowledge: the links in
// the message, else where to enter the code. It never says "reply": a
// reply acknowledges only from a number sent the code by SMS.
func (r *renderer) ackHint(lang string) string {
	switch {
	case r.links != nil && lang != "zh":
		return "Open the link to see and acknowledge the alert."
	case r.links != nil:
		return "请打开链接查看并确认。"
	case lang != "zh" && r.ackURL != "":
		return "Acknowledge with the code at " + r.ackURL + "."
	case lang != "zh":
		return "Acknowledge with the code on the supervision platform."
	case r.ackURL != "":
		return "请在 " + r.ackURL + " 输入确认码确认。"
	}
	return "请在托育监管平台输入确认码确认。"
}

// clip keeps template variables within the provider's length limit; a
// longer variable makes the whole send fail.
func (r *renderer) clip(s string) string {
	s = strings.TrimSpace(s)
	if r.maxRunes <= 0 || utf8.RuneCountInString(s) <= r.maxRunes {
		return s
	}
	rs := []rune(s)
	return string(rs[:r.maxRunes-1]) + "…"
}

// RenderMessage is the message to recipient to on channel ch about alerts,
// as the path renders it at now (times in loc, links signed by links, nil
// for none): for tools, and for tests that show every rule's text.
func RenderMessage(cfg Config, ch Channel, to Contact, kind Kind, step string, alerts []Alert, now time.Time, loc *time.Location, links *Links) (Message, error) {
	cfg = cfg.WithDefaults()
	r, err := newRenderer(cfg.Templates, cfg.DefaultLang, cfg.MaxParamRunes, cfg.AckURL, loc, links)
	if err != nil {
		return Message{}, err
	}
	m := Message{Key: entryKey(alerts[0], kind, step, 0, recipientID(to, nil)), Channel: ch, To: to, Alerts: alerts}
	err = r.render(&m, kind, step, alerts, now)
	return m, err
}
