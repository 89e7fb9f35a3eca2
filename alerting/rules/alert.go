package rules

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/cradlewatch/cradlewatch/model"
)

// State is where an alert is in its lifecycle.
type State uint8

// Alert states. Inactive: condition not met. Pending: met, waiting for the
// rule's `for`. Firing: met long enough. Acknowledged: firing, and an
// operator said they are on it. Resolved: was firing, condition cleared
// (for resolve_hold); the next violation starts a new episode.
const (
	Inactive State = iota
	Pending
	Firing
	Acknowledged
	Resolved
)

var stateNames = [...]string{"inactive", "pending", "firing", "acknowledged", "resolved"}

// String names the state.
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// MarshalText renders the state by name (JSON in the state store).
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses a state name.
func (s *State) UnmarshalText(b []byte) error {
	for i, n := range stateNames {
		if n == string(b) {
			*s = State(i)
			return nil
		}
	}
	return fmt.Errorf("unknown alert state %q", b)
}

// active reports whether the alert is firing, acknowledged or not.
func (s State) active() bool { return s == Firing || s == Acknowledged }

// Severity ranks an alert.
type Severity uint8

// Severities.
const (
	Info Severity = iota
	Warning
	Critical
)

var severityNames = [...]string{"info", "warning", "critical"}

// String names the severity.
func (s Severity) String() string {
	if int(s) < len(severityNames) {
		return severityNames[s]
	}
	return "severity(" + strconv.Itoa(int(s)) + ")"
}

// MarshalText renders the severity by name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses a severity name.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	*s = v
	return err
}

// ParseSeverity maps info, warning or critical ("" is warning).
func ParseSeverity(s string) (Severity, error) {
	switch s {
	case "info":
		return Info, nil
	case "", "warning":
		return Warning, nil
	case "critical":
		return Critical, nil
	}
	return Warning, fmt.Errorf("%q is not one of info, warning, critical", s)
}

// Alert is one rule's finding about one room, device or gateway of a
// facility. Its Fingerprint is stable across restarts and episodes.
type Alert struct {
	Fingerprint string
	Rule        string
	Facility    string
	Room        string
	Device      string // device or gateway ID; "" for a room-level rule
	Kind        model.Kind
	Severity    Severity
	State       State
	Value       float64   // the value that decided the last transition
	Limit       float64   // the level it was compared with
	Since       time.Time // event time the condition started (pending or firing)
	FiredAt     time.Time
	ResolvedAt  time.Time
	AckedBy     string
	AckedAt     time.Time
	Description string // Chinese text for the SMS template, e.g. 二氧化碳浓度过高
	// Escalate: the regulators must see it (gateway silent in opening hours).
	Escalate bool
	// Announced: a firing notification was due for this episode. A
	// resolution is notified exactly when its firing was, live or replay.
	Announced bool
}

// Transition is one change of an alert's state.
type Transition struct {
	Alert Alert
	From  State
	To    State
	At    time.Time // event time (processing time for Tick, status and acks)
	Actor string    // who acknowledged; "" for the engine
	// Notify: send a message. False for replayed data, pending and ack.
	Notify bool
}

// Fingerprint is the stable identity of a rule's alert: the first 8 bytes
// of FNV-1a over rule, facility, room and device, in hex.
func Fingerprint(rule, facility, room, device string) string {
	h := fnv.New64a()
	for _, s := range [...]string{rule, facility, room, device} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return fmt.Sprintf("%016x", h.Sum64())
}

// alert is the engine's mutable record behind an Alert.
type alert struct {
	Alert
	p            *params
	pendingSince int64 // ns; 0 when not pending
	clearSince   int64 // ns; 0 when the condition is not clear while active
}

// cond is a condition's verdict for one evaluation.
type cond uint8

const (
	condUnknown   cond = iota // no decision (too little data): keep state
	condViolating             // beyond the limit
	condBetween               // inside the limit but not past the clear level
	condClear                 // past the clear level
)

// step advances the alert's lifecycle for a verdict at event time t.
// Transitions go to c.out; live says whether they may notify.
func (a *alert) step(c *evalCtx, t int64, v cond, value, limit float64) {
	switch v {
	case condUnknown:
		return
	case condViolating:
		a.clearSince = 0
		switch a.State {
		case Inactive, Resolved:
			a.pendingSince = t
			a.Since = time.Unix(0, t)
			a.Value, a.Limit = value, limit
			if a.p.forD <= 0 {
				a.fire(c, t)
			} else {
				a.to(c, Pending, t, false)
			}
		case Pending:
			a.Value, a.Limit = value, limit
			if a.pendingSince == 0 {
				a.pendingSince = t // restored without a start
			}
			if t-a.pendingSince >= a.p.forD {
				a.fire(c, t)
			}
		}
	case condBetween:
		a.clearSince = 0
		if a.State == Pending {
			a.pendingSince = 0
			a.to(c, Inactive, t, false)
		}
	case condClear:
		switch a.State {
		case Pending:
			a.pendingSince = 0
			a.to(c, Inactive, t, false)
		case Firing, Acknowledged:
			if a.clearSince == 0 || t < a.clearSince {
				a.clearSince = t
			}
			if t-a.clearSince >= a.p.hold {
				a.Value, a.Limit = value, limit
				a.resolve(c, t)
			}
		}
	}
	a.announce(c, t)
}

// announce notifies a firing alert that became firing on replayed data, at
// its first live evaluation: the operator learns of a condition that is
// still there, once.
func (a *alert) announce(c *evalCtx, t int64) {
	if c.live && a.State.active() && !a.Announced {
		a.Announced = true
		c.emit(a, a.State, a.State, t, "", true)
	}
}

func (a *alert) fire(c *evalCtx, t int64) {
	a.Since = time.Unix(0, a.pendingSince)
	a.FiredAt = time.Unix(0, t)
	a.ResolvedAt, a.AckedBy, a.AckedAt = time.Time{}, "", time.Time{}
	a.Announced = c.live
	a.to(c, Firing, t, c.live)
}

// resolve ends the episode. Its resolution is notified when its firing was
// announced, whether the clearing reading is live or replayed: an operator
// told of a smoke alarm is told it is over even when the news comes from a
// gateway's backlog after an outage, and the escalation closes.
func (a *alert) resolve(c *evalCtx, t int64) {
	a.ResolvedAt = time.Unix(0, t)
	a.clearSince, a.pendingSince = 0, 0
	a.to(c, Resolved, t, a.Announced)
	a.Announced = false
}

func (a *alert) to(c *evalCtx, s State, t int64, notify bool) {
	from := a.State
	a.State = s
	c.emit(a, from, s, t, "", notify)
}
