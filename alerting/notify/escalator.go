package notify

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"time"
)

// AckCodeDigits is the length of the acknowledgement code in messages:
// short enough to type as an SMS reply, and a million codes are plenty to
// stay unique among a region's open alerts.
const AckCodeDigits = 6

// ErrUnknownAck is returned for a code or fingerprint that matches no open
// alert (already resolved, mistyped, or never sent).
var ErrUnknownAck = errors.New("no open alert with that acknowledgement code or fingerprint")

// ErrNotRecipient is returned for an SMS reply whose code names an open
// alert that was never sent by SMS to the replying number: a code is six
// digits, and a guess or a typo from another number must not silence a
// child-safety alert.
var ErrNotRecipient = errors.New("the replying number did not receive this alert")

// Due is a notification the escalation policy asks for now.
type Due struct {
	Alert      Alert
	Kind       Kind
	Step       string
	Repeat     int // reminder number, 0 for the step's first notice
	Recipients []Contact
}

// escalation is the persisted state of one open alert.
type escalation struct {
	Alert      Alert     `json:"alert"`
	NextStep   int       `json:"next_step"`
	Repeats    int       `json:"repeats"`
	LastNotice time.Time `json:"last_notice"`
	Acked      bool      `json:"acked"`
	AckedBy    string    `json:"acked_by,omitempty"`
	AckedAt    time.Time `json:"acked_at,omitzero"`
	// SMSTo holds the phone keys (see phoneKey; never numbers) that were
	// sent this episode's ack code by SMS: only they may ack by reply.
	SMSTo []string `json:"sms_to,omitempty"`
}

// Escalator decides who must hear about an open alert and when: the steps
// of its severity's policy, reminders while a critical alert stays
// unacknowledged, silence after acknowledgement. Time comes only from
// Tick's argument and the alerts; state is saved to a file on every change.
// It is not safe for concurrent use; the Dispatcher serialises calls.
type Escalator struct {
	policies map[Severity]Policy
	dir      Directory
	path     string
	rnd      *rand.Rand
	open     map[string]*escalation // by fingerprint
	codes    map[string]string      // ack code → fingerprint
}

// NewEscalator loads state from path (missing file: nothing open).
func NewEscalator(policies map[string]Policy, dir Directory, path string, rnd *rand.Rand) (*Escalator, error) {
	e := &Escalator{policies: map[Severity]Policy{}, dir: dir, path: path, rnd: rnd,
		open: map[string]*escalation{}, codes: map[string]string{}}
	for name, p := range policies {
		var s Severity
		if err := s.UnmarshalText([]byte(name)); err != nil {
			return nil, fmt.Errorf("escalator: policies.%s: %w", name, err)
		}
		e.policies[s] = p
	}
	var saved []*escalation
	if err := loadJSON(path, &saved); err != nil {
		return nil, fmt.Errorf("escalator: %w", err)
	}
	for _, s := range saved {
		e.open[s.Alert.Fingerprint] = s
		e.codes[s.Alert.AckCode] = s.Alert.Fingerprint
	}
	return e, nil
}

// Observe takes an alert transition. A resolved alert yields resolved
// notices for everyone the escalation reached.
func (e *Escalator) Observe(a Alert) ([]Due, error) {
	cur := e.open[a.Fingerprint]
	if cur != nil && !cur.Alert.StartsAt.Equal(a.StartsAt) && a.State == StateFiring {
		e.drop(cur) // a new episode of the same alert starts from scratch
		cur = nil
	}
	var due []Due
	switch a.State {
	case StateFiring:
		if cur == nil {
			if a.AckCode == "" || e.codes[a.AckCode] != "" {
				a.AckCode = e.newCode()
			}
			cur = &escalation{Alert: a}
			e.open[a.Fingerprint] = cur
			e.codes[a.AckCode] = a.Fingerprint
		} else {
			// The engine re-emits an open alert on every evaluation. Its
			// latest value is kept in memory for reminders and written with
			// the next real change: rewriting and fsyncing the state file
			// per evaluation would cost about a millisecond each and wear
			// the disk, for nothing a restart needs.
			a.AckCode = cur.Alert.AckCode
			cur.Alert = a
			return nil, nil
		}
	case StateAcknowledged:
		if cur == nil {
			return nil, nil
		}
		cur.Acked, cur.AckedBy, cur.AckedAt = true, "rule-engine", a.At
	case StateResolved:
		if cur == nil {
			return nil, nil
		}
		a.AckCode = cur.Alert.AckCode
		if rs := e.reached(cur); len(rs) > 0 {
			due = append(due, Due{Alert: a, Kind: KindResolved, Step: "resolved", Recipients: rs})
		}
		e.drop(cur)
	}
	return due, e.save()
}

// Tick returns what is due at now and advances the state.
func (e *Escalator) Tick(now time.Time) ([]Due, error) {
	var due []Due
	changed := false
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
			targets := st.Targets
			if s.NextStep == 0 {
				kind = KindFiring
				if s.Alert.Regulators && !slices.Contains(targets, TargetStreet) {
					targets = append(slices.Clip(targets), TargetStreet)
				}
			}
			due = append(due, Due{Alert: s.Alert, Kind: kind, Step: st.Name, Recipients: e.lookup(targets, s.Alert)})
			s.NextStep++
			s.LastNotice = at
			changed = true
		}
		if p.Repeat > 0 && s.NextStep > 0 && (p.RepeatMax == 0 || s.Repeats < p.RepeatMax) &&
			!now.Before(s.LastNotice.Add(p.Repeat)) {
			s.Repeats++
			// One reminder even after a long outage, and the next one a full
			// interval later, rather than a burst of catch-up messages.
			s.LastNotice = now
			due = append(due, Due{Alert: s.Alert, Kind: KindReminder, Step: "reminder", Repeat: s.Repeats, Recipients: e.reached(s)})
			changed = true
		}
	}
	if !changed {
		return nil, nil
	}
	return due, e.save()
}

// Ack acknowledges the open alert with code or fingerprint ref.
func (e *Escalator) Ack(ref, actor string, at time.Time) (Alert, error) {
	s := e.find(ref)
	if s == nil {
		return Alert{}, fmt.Errorf("ack %q: %w", ref, ErrUnknownAck)
	}
	return e.ack(s, actor, at)
}

// AckBySMS acknowledges the open alert with ack code code on behalf of the
// number whose phone key is pk, if that number was sent the code by SMS;
// otherwise it returns ErrNotRecipient and changes nothing.
func (e *Escalator) AckBySMS(code, pk, actor string, at time.Time) (Alert, error) {
	fp, ok := e.codes[code]
	s := e.open[fp]
	if !ok || s == nil {
		return Alert{}, fmt.Errorf("ack %q: %w", code, ErrUnknownAck)
	}
	if !slices.Contains(s.SMSTo, pk) {
		return s.Alert, fmt.Errorf("ack %q: %w", code, ErrNotRecipient)
	}
	return e.ack(s, actor, at)
}

// NoteSMS records that the number with phone key pk was sent the ack codes
// of alerts by SMS. Alerts no longer open, or open in a later episode, are
// skipped.
func (e *Escalator) NoteSMS(pk string, alerts []Alert) error {
	changed := false
	for _, a := range alerts {
		s := e.open[a.Fingerprint]
		if s == nil || !s.Alert.StartsAt.Equal(a.StartsAt) || slices.Contains(s.SMSTo, pk) {
			continue
		}
		s.SMSTo = append(s.SMSTo, pk)
		changed = true
	}
	if !changed {
		return nil
	}
	return e.save()
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

func (e *Escalator) ack(s *escalation, actor string, at time.Time) (Alert, error) {
	if !s.Acked {
		s.Acked, s.AckedBy, s.AckedAt = true, actor, at
		if err := e.save(); err != nil {
			return s.Alert, err
		}
	}
	return s.Alert, nil
}

// Open returns the alert open under fingerprint fp, if any.
func (e *Escalator) Open(fp string) (Alert, bool) {
	s := e.open[fp]
	if s == nil {
		return Alert{}, false
	}
	return s.Alert, true
}

func (e *Escalator) reached(s *escalation) []Contact {
	p := e.policies[s.Alert.Severity]
	var out []Contact
	for i := 0; i < s.NextStep && i < len(p.Steps); i++ {
		out = append(out, e.lookup(p.Steps[i].Targets, s.Alert)...)
	}
	return out
}

func (e *Escalator) lookup(ts []Target, a Alert) []Contact {
	var out []Contact
	for _, t := range ts {
		out = append(out, e.dir.Lookup(t, a)...)
	}
	return out
}

func (e *Escalator) drop(s *escalation) {
	delete(e.open, s.Alert.Fingerprint)
	delete(e.codes, s.Alert.AckCode)
}

func (e *Escalator) newCode() string {
	for {
		c := fmt.Sprintf("%0*d", AckCodeDigits, e.rnd.IntN(1_000_000))
		if _, taken := e.codes[c]; !taken {
			return c
		}
	}
}

func (e *Escalator) sortedOpen() []string {
	fps := make([]string, 0, len(e.open))
	for fp := range e.open {
		fps = append(fps, fp)
	}
	sort.Strings(fps)
	return fps
}

func (e *Escalator) save() error {
	list := make([]*escalation, 0, len(e.open))
	for _, fp := range e.sortedOpen() {
		list = append(list, e.open[fp])
	}
	return saveJSON(e.path, list)
}
