package notify

import (
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/cradlewatch/cradlewatch/access/audit"
	"github.com/cradlewatch/cradlewatch/alerting/notify/reply"
)

// AckCodeDigits is the length of the acknowledgement code in messages:
// still easy to type as an SMS reply ("确认 48291306"), and long enough
// that guessing one within the front door's attempt limits is hopeless
// (docs/security.md states the odds). Codes come from crypto/rand.
const AckCodeDigits = reply.CodeDigits

// ackCodeSpace is how many codes there are: 10^AckCodeDigits.
const ackCodeSpace = 100_000_000

// ErrUnknownAck is returned for a code or fingerprint that matches no open
// alert (already resolved, mistyped, or never sent).
var ErrUnknownAck = errors.New("no open alert with that acknowledgement code or fingerprint")

// ErrNotRecipient is returned for an SMS reply whose code names an open
// alert that was never sent by SMS to the replying number: a guess or a
// typo from another number must not silence a child-safety alert.
var ErrNotRecipient = errors.New("the replying number did not receive this alert")

// Due is a notification the escalation policy asks for now.
type Due struct {
	Alert      Alert
	Kind       Kind
	Step       string
	Repeat     int // reminder number, 0 for the step's first notice
	Target     Target
	Recipients []Contact
}

// escalation is the state of one open alert, kept in the outbox.
type escalation struct {
	Alert      Alert     `json:"alert"`
	NextStep   int       `json:"next_step"`
	Repeats    int       `json:"repeats"`
	LastNotice time.Time `json:"last_notice"`
	Acked      bool      `json:"acked"`
	AckedBy    string    `json:"acked_by,omitempty"`
	AckedAt    time.Time `json:"acked_at,omitzero"`
	// Reached lists, in order, the recipients (by recipient id) a notice
	// of this episode was queued for: its resolution goes to each of them.
	Reached []string `json:"reached,omitempty"`
	// Expedited: the regulators' step was brought forward because the
	// operator's SMS of a critical alert did not go through.
	Expedited bool `json:"expedited,omitempty"`
	// SMSTo holds phone keys sent the ack code by SMS, as written before
	// the notification log recorded them; read for old state only.
	SMSTo []string `json:"sms_to,omitempty"`
}

// closedEpisode is an episode whose escalation closed (resolved, or
// replaced by a newer episode of the alert). A transition of it handed over
// again after a restart (its receipt in the state store was lost) is
// recognised and ignored, not escalated anew.
type closedEpisode struct {
	Fingerprint string    `json:"fingerprint"`
	Episode     string    `json:"episode"`
	At          time.Time `json:"at"`
}

// closedRetention is how long closed episodes are remembered, counted
// back from the newest: far longer than a transition can wait unsent.
const closedRetention = 30 * 24 * time.Hour

// Escalator decides who must hear about an open alert and when: the steps
// of its severity's policy, reminders while a critical alert stays
// unacknowledged, silence after acknowledgement. Time comes only from
// Tick's argument and the alerts. It keeps no files: every change is noted
// (Changes) for the Dispatcher to write to its outbox together with the
// notices it causes. It is not safe for concurrent use; the Dispatcher
// serialises calls.
type Escalator struct {
	policies map[Severity]Policy
	dir      Directory
	phones   *audit.PhoneKeyer      // names phone-only contacts (recipientID)
	open     map[string]*escalation // by fingerprint
	codes    map[string]string      // ack code → fingerprint
	changed  map[string]bool        // fingerprints changed since Changes
	closed   []closedEpisode        // closed since Changes
	done     map[string]time.Time   // every remembered closed episode → when it closed
}

// NewEscalator starts with the open alerts of saved and the closed
// episodes of done (the outbox's). phones names contacts that have a
// phone and no id.
func NewEscalator(policies map[string]Policy, dir Directory, saved []*escalation, done map[string]time.Time, phones *audit.PhoneKeyer) (*Escalator, error) {
	if done == nil {
		done = map[string]time.Time{}
	}
	e := &Escalator{policies: map[Severity]Policy{}, dir: dir, phones: phones,
		open: map[string]*escalation{}, codes: map[string]string{}, changed: map[string]bool{}, done: done}
	for name, p := range policies {
		var s Severity
		if err := s.UnmarshalText([]byte(name)); err != nil {
			return nil, fmt.Errorf("escalator: policies.%s: %w", name, err)
		}
		e.policies[s] = p
	}
	for _, s := range saved {
		e.restore(s)
	}
	return e, nil
}

// restore puts a saved escalation in place (from the snapshot or an
// outbox record, the later winning).
func (e *Escalator) restore(s *escalation) {
	if old := e.open[s.Alert.Fingerprint]; old != nil {
		delete(e.codes, old.Alert.AckCode)
	}
	e.open[s.Alert.Fingerprint] = s
	e.codes[s.Alert.AckCode] = s.Alert.Fingerprint
}

// Changes returns the escalations changed and the episodes closed since
// the last call, for the outbox.
func (e *Escalator) Changes() (changed []*escalation, closed []closedEpisode) {
	for _, fp := range slices.Sorted(maps.Keys(e.changed)) {
		if s := e.open[fp]; s != nil {
			c := *s
			c.Reached = slices.Clone(s.Reached)
			changed = append(changed, &c)
		}
	}
	closed = e.closed
	clear(e.changed)
	e.closed = nil
	return changed, closed
}

func (e *Escalator) touch(s *escalation) { e.changed[s.Alert.Fingerprint] = true }

// Observe takes an alert transition. A resolved alert yields resolved
// notices for everyone the alert reached.
func (e *Escalator) Observe(a Alert) []Due {
	cur := e.open[a.Fingerprint]
	if _, gone := e.done[a.episode()]; gone || (cur != nil && a.StartsAt.Before(cur.Alert.StartsAt)) {
		return nil // an episode over, or older than the open one: handed over again after a restart
	}
	if cur != nil && !cur.Alert.StartsAt.Equal(a.StartsAt) && a.State == StateFiring {
		e.close(cur, a.At) // a new episode of the same alert starts from scratch
		cur = nil
	}
	switch a.State {
	case StateFiring:
		if cur != nil {
			// The engine re-emits an open alert on every evaluation. Its
			// latest value is kept in memory for reminders and written with
			// the next real change: writing the outbox per evaluation would
			// cost an fsync each, for nothing a restart needs.
			a.AckCode = cur.Alert.AckCode
			cur.Alert = a
			return nil
		}
		if a.AckCode == "" || e.codes[a.AckCode] != "" {
			a.AckCode = e.newCode()
		}
		cur = &escalation{Alert: a}
		e.open[a.Fingerprint] = cur
		e.codes[a.AckCode] = a.Fingerprint
		e.touch(cur)
	case StateAcknowledged:
		if cur != nil && !cur.Acked {
			cur.Acked, cur.AckedBy, cur.AckedAt = true, "rule-engine", a.At
			e.touch(cur)
		}
	case StateResolved:
		if cur == nil {
			return nil
		}
		a.AckCode = cur.Alert.AckCode
		var due []Due
		if rs := e.contacts(cur.Reached, a); len(rs) > 0 {
			due = append(due, Due{Alert: a, Kind: KindResolved, Step: "resolved", Recipients: rs})
		}
		e.close(cur, a.At)
		return due
	}
	return nil
}

// Tick returns what is due at now and advances the state.
func (e *Escalator) Tick(now time.Time) []Due {
	var due []Due
	for _, fp := range e.sortedOpen() {
		s := e.open[fp]
		if s.Acked {
			continue
		}
		p := e.policies[s.Alert.Severity]
		for s.NextStep < len(p.Steps) {
			st := p.Steps[s.NextStep]
			at := s.Alert.StartsAt.Add(st.After)
			if now.Before(at) {
				break
			}
			kind := KindEscalation
			if s.NextStep == 0 {
				kind = KindFiring
			}
			for _, t := range st.Targets {
				due = append(due, Due{Alert: s.Alert, Kind: kind, Step: st.Name, Target: t, Recipients: e.dir.Lookup(t, s.Alert)})
			}
			if s.NextStep == 0 && s.Alert.Regulators && !slices.Contains(st.Targets, TargetStreet) {
				// A gateway silent in opening hours: the street office hears
				// with the operators, as part of the first notice.
				due = append(due, Due{Alert: s.Alert, Kind: kind, Step: st.Name, Target: TargetStreet, Recipients: e.dir.Lookup(TargetStreet, s.Alert)})
			}
			s.NextStep++
			s.LastNotice = at
			e.touch(s)
		}
		if p.Repeat > 0 && s.NextStep > 0 && (p.RepeatMax == 0 || s.Repeats < p.RepeatMax) &&
			!now.Before(s.LastNotice.Add(p.Repeat)) {
			s.Repeats++
			// One reminder even after a long outage, and the next one a full
			// interval later, rather than a burst of catch-up messages.
			s.LastNotice = now
			due = append(due, Due{Alert: s.Alert, Kind: KindReminder, Step: "reminder", Repeat: s.Repeats, Recipients: e.contacts(s.Reached, s.Alert)})
			e.touch(s)
		}
	}
	return due
}

// NextTick is the earliest time Tick will have something to do (a step
// or a reminder coming due); zero when nothing is scheduled.
func (e *Escalator) NextTick() time.Time {
	var next time.Time
	earlier := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	for _, s := range e.open {
		if s.Acked {
			continue
		}
		p := e.policies[s.Alert.Severity]
		if s.NextStep < len(p.Steps) {
			earlier(s.Alert.StartsAt.Add(p.Steps[s.NextStep].After))
		}
		if p.Repeat > 0 && s.NextStep > 0 && (p.RepeatMax == 0 || s.Repeats < p.RepeatMax) {
			earlier(s.LastNotice.Add(p.Repeat))
		}
	}
	return next
}

// Expedite brings the street office in at once for an open, unacknowledged
// alert (the operator's SMS of a critical alert did not go through): it
// returns the street step's notices, under the step's own name so that the
// step coming due later finds them already sent. It does so once per
// episode.
func (e *Escalator) Expedite(fp string, startsAt time.Time) []Due {
	s := e.open[fp]
	if s == nil || s.Acked || s.Expedited || !s.Alert.StartsAt.Equal(startsAt) {
		return nil
	}
	s.Expedited = true
	e.touch(s)
	street := e.dir.Lookup(TargetStreet, s.Alert)
	if slices.ContainsFunc(street, func(c Contact) bool { return slices.Contains(s.Reached, recipientID(c, e.phones)) }) {
		return nil // told already (a gateway offline in opening hours)
	}
	step := string(TargetStreet)
	for i, st := range e.policies[s.Alert.Severity].Steps {
		if slices.Contains(st.Targets, TargetStreet) {
			if i < s.NextStep {
				return nil // the street has been told already
			}
			step = st.Name
			break
		}
	}
	return []Due{{Alert: s.Alert, Kind: KindEscalation, Step: step, Target: TargetStreet, Recipients: street}}
}

// Reach notes that recipient rid was queued a notice of the open alert fp.
func (e *Escalator) Reach(fp string, startsAt time.Time, rid string) {
	s := e.open[fp]
	if s == nil || !s.Alert.StartsAt.Equal(startsAt) || slices.Contains(s.Reached, rid) {
		return
	}
	s.Reached = append(s.Reached, rid)
	e.touch(s)
}

// Ack acknowledges the open alert with code or fingerprint ref.
func (e *Escalator) Ack(ref, actor string, at time.Time) (Alert, error) {
	s := e.find(ref)
	if s == nil {
		return Alert{}, fmt.Errorf("ack %q: %w", ref, ErrUnknownAck)
	}
	return e.ack(s, actor, at), nil
}

// AckBySMS acknowledges the open alert with ack code code on behalf of the
// number whose phone key is pk, if sentTo says that number was sent the
// alert's episode by SMS; otherwise it returns ErrNotRecipient and changes
// nothing.
func (e *Escalator) AckBySMS(code, pk, actor string, at time.Time, sentTo func(episode, pk string) bool) (Alert, error) {
	fp, ok := e.codes[code]
	s := e.open[fp]
	if !ok || s == nil {
		return Alert{}, fmt.Errorf("ack %q: %w", code, ErrUnknownAck)
	}
	if !sentTo(s.Alert.episode(), pk) && !slices.Contains(s.SMSTo, pk) {
		return s.Alert, fmt.Errorf("ack %q: %w", code, ErrNotRecipient)
	}
	return e.ack(s, actor, at), nil
}

func (e *Escalator) find(ref string) *escalation {
	if s := e.open[ref]; s != nil {
		return s
	}
	if fp, ok := e.codes[ref]; ok {
		return e.open[fp]
	}
	return nil
}

func (e *Escalator) ack(s *escalation, actor string, at time.Time) Alert {
	if !s.Acked {
		s.Acked, s.AckedBy, s.AckedAt = true, actor, at
		e.touch(s)
	}
	return s.Alert
}

// Open returns the alert open under fingerprint fp, if any.
func (e *Escalator) Open(fp string) (Alert, bool) {
	s := e.open[fp]
	if s == nil {
		return Alert{}, false
	}
	return s.Alert, true
}

// contacts looks recipient ids up in the directory (for the alert's
// facility and region), in order; ids no longer in the directory are
// skipped.
func (e *Escalator) contacts(ids []string, a Alert) []Contact {
	var out []Contact
	for _, id := range ids {
		for _, t := range []Target{TargetOperator, TargetStreet, TargetCounty, TargetCity, TargetProvince} {
			if i := slices.IndexFunc(e.dir.Lookup(t, a), func(c Contact) bool { return recipientID(c, e.phones) == id }); i >= 0 {
				out = append(out, e.dir.Lookup(t, a)[i])
				break
			}
		}
	}
	return out
}

// legacyReached is who an escalation saved before Reached existed had
// reached: its policy's steps up to NextStep, and the street office of an
// alert for the regulators.
func (e *Escalator) legacyReached(s *escalation) []string {
	steps := e.policies[s.Alert.Severity].Steps
	var ids []string
	add := func(t Target) {
		for _, c := range e.dir.Lookup(t, s.Alert) {
			if id := recipientID(c, e.phones); !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	for i := 0; i < s.NextStep && i < len(steps); i++ {
		for _, t := range steps[i].Targets {
			add(t)
		}
	}
	if s.NextStep > 0 && s.Alert.Regulators {
		add(TargetStreet)
	}
	return ids
}

func (e *Escalator) close(s *escalation, at time.Time) {
	e.drop(s)
	delete(e.changed, s.Alert.Fingerprint)
	c := closedEpisode{Fingerprint: s.Alert.Fingerprint, Episode: s.Alert.episode(), At: at}
	e.closed = append(e.closed, c)
	e.done[c.Episode] = at
}

// closedEpisodes returns the closed episodes worth remembering: those of
// the last closedRetention before the newest.
func (e *Escalator) closedEpisodes() map[string]time.Time {
	var newest time.Time
	for _, at := range e.done {
		if at.After(newest) {
			newest = at
		}
	}
	for ep, at := range e.done {
		if newest.Sub(at) > closedRetention {
			delete(e.done, ep)
		}
	}
	return e.done
}

func (e *Escalator) drop(s *escalation) {
	delete(e.open, s.Alert.Fingerprint)
	delete(e.codes, s.Alert.AckCode)
}

// newCode draws a code no open alert has, uniformly from crypto/rand:
// a code is a credential (an SMS reply with it acknowledges), so it must
// not be predictable from earlier ones.
func (e *Escalator) newCode() string {
	// Words at or above limit are drawn again, so that every code is
	// equally likely.
	const limit = (1<<64 - 1) / ackCodeSpace * ackCodeSpace
	var b [8]byte
	for {
		_, _ = crand.Read(b[:]) // crypto/rand.Read does not fail (Go 1.24+)
		v := binary.BigEndian.Uint64(b[:])
		if v >= limit {
			continue
		}
		c := fmt.Sprintf("%0*d", AckCodeDigits, v%ackCodeSpace)
		if _, taken := e.codes[c]; !taken {
			return c
		}
	}
}

func (e *Escalator) sortedOpen() []string { return slices.Sorted(maps.Keys(e.open)) }

// all returns every open escalation, by fingerprint.
func (e *Escalator) all() []*escalation {
	out := make([]*escalation, 0, len(e.open))
	for _, fp := range e.sortedOpen() {
		out = append(out, e.open[fp])
	}
	return out
}
