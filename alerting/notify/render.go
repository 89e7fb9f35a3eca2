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

// LangSet holds one language's templates: SMS template codes approved at
// the provider, and Go text/templates for channels that take free text.
type LangSet struct {
	SMS     map[Kind]string `yaml:"sms" mapstructure:"sms"`
	Subject string          `yaml:"subject" mapstructure:"subject"`
	Text    map[Kind]string `yaml:"text" mapstructure:"text"`
}

// builtinZH is the default Chinese text. SMS template codes have no
// default: they come from the provider's console.
var builtinZH = LangSet{
	Subject: `【托育安全】{{.FacilityName}} {{.What}}{{if gt .Count 1}}等{{.Count}}项{{end}}{{if eq .Kind "resolved"}}已恢复{{end}}`,
	Text: map[Kind]string{
		KindFiring:     `【托育安全】{{.FacilityName}}{{if .Room}} {{.Room}}{{end}}：{{.What}}，当前{{.Value}}，限值{{.Limit}}{{if gt .Count 1}}（另有{{minus1 .Count}}项）{{end}}。开始于{{.Since}}。请及时处理，回复确认码{{.Code}}确认。`,
		KindEscalation: `【托育安全·督办】{{.FacilityName}}{{if .Room}} {{.Room}}{{end}}：{{.What}}，当前{{.Value}}，限值{{.Limit}}，自{{.Since}}起未确认。确认码{{.Code}}。`,
		KindReminder:   `【托育安全·提醒】{{.FacilityName}}{{if .Room}} {{.Room}}{{end}}：{{.What}}仍未确认（当前{{.Value}}，限值{{.Limit}}）。回复确认码{{.Code}}确认。`,
		KindResolved:   `【托育安全】{{.FacilityName}}{{if .Room}} {{.Room}}{{end}}：{{.What}}已恢复正常。`,
	},
}

// RenderData is what text templates see.
type RenderData struct {
	Kind         Kind
	Facility     string
	FacilityName string
	Room         string
	What         string
	Value        string
	Limit        string
	Code         string
	Count        int
	Since        string // start of the first alert, local time "01-02 15:04"
	Step         string
	Alerts       []Alert
}

// renderer turns a group of alerts into a Message body per language.
type renderer struct {
	langs    map[string]*compiledLang
	fallback string
	maxRunes int
	loc      *time.Location
}

type compiledLang struct {
	sms     map[Kind]string
	subject *template.Template
	text    map[Kind]*template.Template
}

var funcs = template.FuncMap{"minus1": func(n int) int { return n - 1 }}

func newRenderer(sets map[string]LangSet, fallback string, maxRunes int, loc *time.Location) (*renderer, error) {
	r := &renderer{langs: map[string]*compiledLang{}, fallback: fallback, maxRunes: maxRunes, loc: loc}
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
		c := &compiledLang{sms: s.SMS, text: map[Kind]*template.Template{}}
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

// render fills m's template code, parameters, subject and text.
func (r *renderer) render(m *Message, kind Kind, step string, alerts []Alert) error {
	lang := m.To.Lang
	if _, ok := r.langs[lang]; !ok {
		lang = r.fallback
	}
	c := r.langs[lang]
	m.Lang = lang
	first := alerts[0]
	for _, a := range alerts[1:] { // lead with the most severe, then the oldest
		if a.Severity > first.Severity || a.Severity == first.Severity && a.StartsAt.Before(first.StartsAt) {
			first = a
		}
	}
	what := first.What
	if len(alerts) > 1 && lang == "zh" {
		what = first.What + "等" + strconv.Itoa(len(alerts)) + "项"
	}
	d := RenderData{
		Kind: kind, Facility: first.Facility, FacilityName: first.FacilityName, Room: first.Room,
		What: first.What, Value: first.Value, Limit: first.Limit, Code: first.AckCode,
		Count: len(alerts), Since: first.StartsAt.In(r.loc).Format("01-02 15:04"), Step: step, Alerts: alerts,
	}
	if d.FacilityName == "" {
		d.FacilityName = d.Facility
	}
	m.Template = c.sms[kind]
	if m.Template == "" && r.langs[r.fallback].sms != nil {
		m.Template = r.langs[r.fallback].sms[kind]
	}
	m.Params = map[string]string{
		ParamFacility: r.clip(d.FacilityName), ParamRoom: r.clip(d.Room), ParamWhat: r.clip(what),
		ParamValue: r.clip(d.Value), ParamLimit: r.clip(d.Limit), ParamCode: d.Code,
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
	m.Text = b.String()
	return nil
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
