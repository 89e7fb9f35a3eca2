package alerting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/cradlewatch/cradlewatch/access"
	"github.com/cradlewatch/cradlewatch/access/audit"
	"github.com/cradlewatch/cradlewatch/alerting/notify"
	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/alerting/state"
	"github.com/cradlewatch/cradlewatch/model"
)

// The control bus (internal/ctlbus, model/control.go): the front door
// sends this instance the commands and questions of people and machines,
// already authenticated and authorised there; the instance checks what
// only the owner can (the alert exists and belongs to the facility, the
// silence cap over its own history) and answers with the bodies
// docs/console.md lists. The Responder runs the handler on its own
// goroutine; whatever touches the engine runs on the engine's goroutine
// (onEngine), the rest (history from disk, the notification path, the
// registry) here.

// historyLimit is how many of an alert's newest history entries get_alert
// answers with.
const historyLimit = 200

// Sources of acknowledgements in the notification path's counters.
const (
	sourceCtl = "ctl" // a command of the front door
	sourceSMS = "sms" // an SMS reply the front door forwarded
)

// onEngine runs f on the engine's goroutine and waits for it; false when
// ctx ended first (f may still run).
func (s *Service) onEngine(ctx context.Context, f func()) bool {
	done := make(chan struct{})
	select {
	case s.calls <- func() { f(); close(done) }:
	case <-ctx.Done():
		return false
	}
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

// command answers one command of the front door.
func (s *Service) command(ctx context.Context, c model.Command) model.Reply {
	switch c.Kind {
	case model.CommandAlert:
		return s.getAlert(ctx, c)
	case model.CommandAlerts:
		return s.listAlerts(ctx, c)
	case model.CommandAck:
		return s.ack(ctx, c)
	case model.CommandAckCode:
		return s.ackCode(ctx, c)
	case model.CommandSilence:
		return s.silence(c)
	case model.CommandUnsilence:
		return s.unsilence(c)
	case model.CommandSilences:
		return s.listSilences(c)
	}
	return model.Reply{Status: model.ReplyInvalid, Error: fmt.Sprintf("unknown command %q", c.Kind)}
}

func ok(body any) model.Reply {
	return model.Reply{Status: model.ReplyOK, Body: mustJSON(body)}
}

var (
	notFound  = model.Reply{Status: model.ReplyNotFound, Error: "没有这条告警，或它已恢复。"}
	shutDown  = model.Reply{Status: model.ReplyFailed, Error: "告警服务正在停止，未做任何更改。"}
	notSaved  = model.Reply{Status: model.ReplyFailed, Error: "告警服务未能保存，请重试。"}
	noSilence = model.Reply{Status: model.ReplyNotFound, Error: "没有这个静默，或它已结束。"}
)

func isFingerprint(s string) bool {
	return len(s) == 16 && strings.Trim(s, "0123456789abcdef") == ""
}

// getAlert: the alert of the facility with its history, in whatever state
// the engine holds it.
func (s *Service) getAlert(ctx context.Context, c model.Command) model.Reply {
	if !isFingerprint(c.Ref) {
		return notFound
	}
	var a rules.Alert
	var found bool
	if !s.onEngine(ctx, func() { a, found = s.engine.Alert(c.Ref) }) {
		return shutDown
	}
	if !found || a.Facility != c.Facility {
		return notFound
	}
	v := s.alertView(a)
	entries, _, err := state.History(s.cfg.StateDir, c.Ref, historyLimit)
	if err != nil {
		s.log.Error("reading an alert's history failed", "fingerprint", c.Ref, "err", err)
		return model.Reply{Status: model.ReplyFailed, Error: "告警历史暂时无法读取，请重试。"}
	}
	for _, e := range entries {
		if e.Notified {
			continue
		}
		by, name := splitActor(e.Transition.Actor)
		v.History = append(v.History, model.AlertTransition{At: e.Transition.At.UTC(), From: e.Transition.From.String(),
			To: e.Transition.To.String(), Actor: by, ActorName: name, Note: e.Note})
	}
	return ok(v)
}

// inScope reports whether a facility is in a query's scope: an operator's
// facilities, or a region code against the facility's registered region
// ("" the whole country, the platform's alerts included).
func (s *Service) inScope(c model.Command, facility string) bool {
	if len(c.Facilities) > 0 {
		return slices.Contains(c.Facilities, facility)
	}
	if c.Region == "" {
		return true
	}
	code, err := model.ParseRegionCode(c.Region)
	f := s.reg.Snapshot().Facility(facility)
	return err == nil && f != nil && code.Contains(f.Region)
}

// listAlerts: the pending, firing and acknowledged alerts of this shard's
// facilities in scope.
func (s *Service) listAlerts(ctx context.Context, c model.Command) model.Reply {
	if c.Region != "" {
		if _, err := model.ParseRegionCode(c.Region); err != nil {
			return model.Reply{Status: model.ReplyInvalid, Error: "region: " + err.Error()}
		}
	}
	var st rules.State
	if c.State != "" {
		if err := st.UnmarshalText([]byte(c.State)); err != nil {
			return model.Reply{Status: model.ReplyInvalid, Error: "state: want pending, firing or acknowledged"}
		}
	}
	var all []rules.Alert
	if !s.onEngine(ctx, func() { all = s.engine.Alerts() }) {
		return shutDown
	}
	out := []model.AlertView{}
	for _, a := range all {
		if s.inScope(c, a.Facility) && (c.State == "" || a.State == st) {
			out = append(out, s.alertView(a))
		}
	}
	slices.SortFunc(out, func(a, b model.AlertView) int { return strings.Compare(a.Fingerprint, b.Fingerprint) })
	return ok(out)
}

// ack acknowledges the facility's alert with fingerprint (or code) c.Ref
// for the command's actor: the notification path stops escalating and
// reminding, and the engine records the acknowledgement. An alert
// acknowledged already answers ok, unchanged: the first one stands.
func (s *Service) ack(ctx context.Context, c model.Command) model.Reply {
	fp := c.Ref
	if !isFingerprint(fp) {
		a, found := s.disp.Lookup(c.Ref)
		if !found {
			return notFound
		}
		fp = a.Fingerprint
	}
	var rep model.Reply
	if !s.onEngine(ctx, func() { rep = s.ackOnEngine(c, fp, sourceCtl) }) {
		return shutDown
	}
	return rep
}

// ackCode is an SMS reply's code: the instance that issued it acknowledges
// if the replying number (its pseudonym) was sent it by SMS.
func (s *Service) ackCode(ctx context.Context, c model.Command) model.Reply {
	var rep model.Reply
	if !s.onEngine(ctx, func() {
		a, err := s.disp.AckBySMS(c.Ref, c.PhoneKey, actorLabel(c.Actor), sourceSMS)
		if err != nil {
			rep = notFound
			if !errors.Is(err, notify.ErrUnknownAck) && !errors.Is(err, notify.ErrNotRecipient) {
				rep = notSaved
			}
			return
		}
		c.Facility = a.Facility
		rep = s.ackOnEngine(c, a.Fingerprint, sourceSMS)
	}) {
		return shutDown
	}
	return rep
}

// ackOnEngine runs on the engine's goroutine.
func (s *Service) ackOnEngine(c model.Command, fp, source string) model.Reply {
	a, found := s.engine.Alert(fp)
	if !found || a.Facility != c.Facility {
		return notFound
	}
	switch a.State {
	case rules.Acknowledged:
		return ok(s.alertView(a))
	case rules.Firing:
	default:
		return notFound
	}
	label := actorLabel(c.Actor)
	if source == sourceCtl {
		if _, err := s.disp.Ack(fp, label, sourceCtl); err != nil && !errors.Is(err, notify.ErrUnknownAck) {
			// Not escalating yet (never announced) is fine: the engine
			// records it. Anything else is a failed write of the outbox.
			s.log.Error("acknowledgement not saved by the notification path", "alert", fp, "err", err)
			return notSaved
		}
	}
	tr, err := s.engine.Acknowledge(fp, label, s.o.Clock())
	if err != nil {
		return notFound
	}
	s.applyNoted([]rules.Transition{tr}, time.Time{}, c.Comment)
	region := ""
	if f := s.facility(a.Facility); f != nil {
		region = string(f.Region)
	}
	detail := map[string]any{"via": source, "rule": a.Rule, "severity": a.Severity.String(), "from": "firing", "to": "acknowledged",
		"command": c.ID}
	if c.Comment != "" {
		detail["comment"] = c.Comment
	}
	s.trail.add(audit.Event{Actor: principalOf(c.Actor, a.Facility), Action: audit.ActionAcknowledge, Facility: a.Facility,
		Region: region, Subject: fp, Detail: detail})
	return ok(s.alertView(tr.Alert))
}

// silence adds a maintenance window for the facility, if the silence
// policy allows it over the facility's silence history (every silence
// this instance holds for it, an ended one with its real end).
func (s *Service) silence(c model.Command) model.Reply {
	f := s.reg.Snapshot().Facility(c.Facility)
	if f == nil {
		return noSilence
	}
	now := s.o.Clock()
	start := c.Start
	if start.IsZero() {
		start = now
	}
	req := access.SilenceRequest{Facility: f.ID, Region: f.Region, Start: start, End: c.End, Reason: strings.TrimSpace(c.Reason)}
	var history []access.Interval
	for _, x := range s.disp.Silences() {
		if x.Facility == f.ID {
			history = append(history, access.Interval{Start: x.Start, End: x.Effective()})
		}
	}
	p := principalOf(c.Actor, f.ID)
	detail := map[string]any{"start": req.Start.UTC().Format(time.RFC3339), "end": req.End.UTC().Format(time.RFC3339),
		"reason": req.Reason, "command": c.ID}
	if err := s.silencePolicy.Check(p, req, history); err != nil {
		detail["outcome"], detail["refusal"] = "refused", err.Error()
		s.trail.add(audit.Event{Actor: p, Action: audit.ActionSilenceAdd, Facility: f.ID, Region: string(f.Region), Detail: detail})
		return model.Reply{Status: model.ReplyRefused, Error: s.silenceRefusal(p, req, err)}
	}
	sil, err := s.disp.AddSilence(notify.Silence{Facility: f.ID, Start: req.Start, End: req.End, CreatedBy: actorLabel(c.Actor),
		Reason: req.Reason, CreatedAt: now})
	switch {
	case notify.IsInvalidSilence(err):
		return model.Reply{Status: model.ReplyInvalid, Error: "静默不完整：" + err.Error()}
	case err != nil:
		s.log.Error("silence not saved", "facility", f.ID, "err", err)
		return notSaved
	}
	detail["outcome"], detail["id"] = "added", sil.ID
	s.trail.add(audit.Event{Actor: p, Action: audit.ActionSilenceAdd, Facility: f.ID, Region: string(f.Region), Subject: sil.ID, Detail: detail})
	s.log.Info("silence added", "id", sil.ID, "facility", f.ID, "start", sil.Start, "end", sil.End, "by", c.Actor.String())
	return ok(silenceView(sil))
}

// silenceRefusal is the refusal as a sentence for the person who asked.
func (s *Service) silenceRefusal(p access.Principal, req access.SilenceRequest, err error) string {
	pol := s.silencePolicy
	hours := func(d time.Duration) string { return fmt.Sprintf("%g 小时", math.Round(d.Hours()*10)/10) }
	var se *access.SilenceError
	length := req.End.Sub(req.Start)
	switch {
	case errors.Is(err, access.ErrSilenceCap) && errors.As(err, &se):
		return fmt.Sprintf("该机构在任意 %s内的静默时长将达 %s，超过上限 %s：不能再静默。", hours(pol.CapWindow), hours(se.Used), hours(pol.Cap))
	case req.Reason == "":
		return "静默须说明原因。"
	case length <= 0:
		return "静默的结束时间须晚于开始时间。"
	case length > pol.MaxLength:
		return fmt.Sprintf("单次静默最长 %s；更长的维护期须写入经审核的配置文件。", hours(pol.MaxLength))
	case length > pol.LongSilence && errors.Is(err, access.ErrDenied) && p.Role != access.RoleAuditor:
		return fmt.Sprintf("超过 %s的静默须由区县及以上卫生健康部门设置。", hours(pol.LongSilence))
	}
	return "您的角色无权为该机构设置静默。"
}

// unsilence ends a run-time silence of the facility now.
func (s *Service) unsilence(c model.Command) model.Reply {
	f := s.reg.Snapshot().Facility(c.Facility)
	if f == nil {
		return noSilence
	}
	sil, err := s.disp.EndSilence(f.ID, c.SilenceID, actorLabel(c.Actor), s.o.Clock())
	switch {
	case errors.Is(err, notify.ErrNoSilence):
		return noSilence
	case errors.Is(err, notify.ErrSilenceConfigured):
		return model.Reply{Status: model.ReplyRefused, Error: "该静默写在经审核的配置文件中，只能在配置文件中结束。"}
	case err != nil:
		s.log.Error("silence end not saved", "facility", f.ID, "silence", c.SilenceID, "err", err)
		return notSaved
	}
	s.trail.add(audit.Event{Actor: principalOf(c.Actor, f.ID), Action: audit.ActionSilenceEnd, Facility: f.ID, Region: string(f.Region),
		Subject: sil.ID, Detail: map[string]any{"id": sil.ID, "end": sil.EndedAt.UTC().Format(time.RFC3339), "set_end": sil.End.UTC().Format(time.RFC3339),
			"command": c.ID}})
	return ok(silenceView(sil))
}

// listSilences: the silences of this shard's facilities in scope that are
// current or scheduled or ended within the silence cap's window, so the
// front door checks the cap as this instance will.
func (s *Service) listSilences(c model.Command) model.Reply {
	since := s.o.Clock().Add(-s.silencePolicy.CapWindow)
	out := []model.SilenceView{}
	for _, x := range s.disp.Silences() {
		if rules.ShardOf(x.Facility, s.cfg.Shard.Count) != s.cfg.Shard.Index || !s.inScope(c, x.Facility) || x.Effective().Before(since) {
			continue
		}
		out = append(out, silenceView(x))
	}
	return ok(out)
}

func silenceView(x notify.Silence) model.SilenceView {
	by, _ := splitActor(x.CreatedBy)
	v := model.SilenceView{ID: x.ID, Facility: x.Facility, Start: x.Start.UTC(), End: x.End.UTC(), Reason: x.Reason, CreatedBy: by,
		CreatedAt: x.CreatedAt.UTC(), Configured: x.Configured}
	if x.Configured {
		v.CreatedBy = "" // a name in the reviewed configuration file, not an actor
	}
	if !x.EndedAt.IsZero() {
		v.EndedAt = x.EndedAt.UTC()
	}
	return v
}

// alertView is an engine alert as the front door shows it.
func (s *Service) alertView(a rules.Alert) model.AlertView {
	v := model.AlertView{Fingerprint: a.Fingerprint, Rule: a.Rule, Severity: a.Severity.String(), State: a.State.String(),
		Facility: a.Facility, Room: a.Room, Device: a.Device, Value: finiteOr0(a.Value), Limit: finiteOr0(a.Limit),
		Message: a.Description, StartedAt: utc(a.Since), FiredAt: utc(a.FiredAt), ResolvedAt: utc(a.ResolvedAt),
		AcknowledgedAt: utc(a.AckedAt)}
	if a.Kind != model.KindUnknown {
		v.Kind = a.Kind.String()
		v.Unit = a.Kind.Unit()
		if u, found := unitOf[a.Kind]; found {
			v.Unit = u.unit
		}
	}
	v.AcknowledgedBy, v.AcknowledgedByName = splitActor(a.AckedBy)
	return v
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

func finitePtr(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// actorLabel is how the engine, the state store and alert_event name the
// actor of an acknowledgement or silence: "person:<id> (<name>)", the
// Actor's String with the name people read.
func actorLabel(a model.Actor) string {
	if a.Name == "" {
		return a.String()
	}
	return a.String() + " (" + a.Name + ")"
}

// splitActor takes a label apart again; a label without a name (or a free
// text of an earlier release) is all actor.
func splitActor(label string) (actor, name string) {
	i := strings.Index(label, " (")
	if i <= 0 || !strings.HasSuffix(label, ")") || strings.ContainsAny(label[:i], " ") {
		return label, ""
	}
	return label[:i], label[i+2 : len(label)-1]
}

// principalOf is the command's actor as the access package knows it: the
// role and region the front door authorised it under; an operator's scope
// is the facility it acted on (the front door checked it owns it).
func principalOf(a model.Actor, facility string) access.Principal {
	p := access.Principal{Kind: access.Kind(a.Kind), ID: a.ID, Name: a.Name, Role: access.Role(a.Role)}
	if p.Role == access.RoleOperator {
		p.Facilities = []string{facility}
		return p
	}
	p.Region = model.Nationwide()
	if a.Region != "" {
		if code, err := model.ParseRegionCode(a.Region); err == nil {
			p.Region = code
		} else {
			p.Region = model.RegionCode{} // unreadable: no scope, refused
		}
	}
	return p
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("alerting: reply body: %v", err)) // views are plain structs: a bug
	}
	return b
}
