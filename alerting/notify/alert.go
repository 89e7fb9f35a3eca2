package notify

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/cradlewatch/cradlewatch/model"
)

// Severity ranks an alert. It decides the escalation policy that applies.
type Severity int

const (
	// SeverityInfo is recorded and shown, and only notified if a policy says so.
	SeverityInfo Severity = iota
	// SeverityWarning reaches the operator and, slowly, the street office.
	SeverityWarning
	// SeverityCritical climbs to the county and repeats until acknowledged.
	SeverityCritical
)

var severityNames = [...]string{"info", "warning", "critical"}

// String returns the configuration spelling of s.
func (s Severity) String() string {
	if int(s) < len(severityNames) && s >= 0 {
		return severityNames[s]
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// MarshalText makes Severity readable in JSON state files.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses "info", "warning" or "critical".
func (s *Severity) UnmarshalText(b []byte) error {
	for i, n := range severityNames {
		if n == string(b) {
			*s = Severity(i)
			return nil
		}
	}
	return fmt.Errorf("unknown severity %q (want info, warning or critical)", b)
}

// State is where an alert is in its life.
type State int

const (
	// StateFiring: the condition holds and nobody has acknowledged it.
	StateFiring State = iota
	// StateAcknowledged: someone took responsibility; escalation stops.
	StateAcknowledged
	// StateResolved: the condition no longer holds.
	StateResolved
)

var stateNames = [...]string{"firing", "acknowledged", "resolved"}

// String returns the wire spelling of s.
func (s State) String() string {
	if int(s) < len(stateNames) && s >= 0 {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", int(s))
}

// MarshalText makes State readable in JSON state files.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses "firing", "acknowledged" or "resolved".
func (s *State) UnmarshalText(b []byte) error {
	for i, n := range stateNames {
		if n == string(b) {
			*s = State(i)
			return nil
		}
	}
	return fmt.Errorf("unknown alert state %q (want firing, acknowledged or resolved)", b)
}

// Alert is one transition of one alert, as the rule engine reports it.
// It is self-contained on purpose: the notification path needs nothing
// else from the engine.
type Alert struct {
	Fingerprint  string       `json:"fingerprint"`
	Rule         string       `json:"rule"`
	Facility     string       `json:"facility"`
	FacilityName string       `json:"facility_name"`
	Room         string       `json:"room"`
	Device       string       `json:"device"`
	Region       model.Region `json:"region"`
	Severity     Severity     `json:"severity"`
	State        State        `json:"state"`
	What         string       `json:"what"`  // what is wrong, in words: "检测到烟雾", "二氧化碳1小时均值超标"
	Value        string       `json:"value"` // observed value with unit, e.g. "1650ppm"; empty for states (door, smoke)
	Limit        string       `json:"limit"` // the limit it broke, e.g. "1000ppm"; empty where there is none
	// Detail is the value and limit as a phrase for the message, e.g.
	// "（1650ppm，限值1000ppm）" or "（29.3℃，高于上限28℃）"; empty when the
	// state says it all (the message then shows the time it began).
	Detail   string    `json:"detail,omitempty"`
	StartsAt time.Time `json:"starts_at"`
	At       time.Time `json:"at"` // time of this transition (event time)
	AckCode  string    `json:"ack_code,omitempty"`
	// Regulators: the street office hears of it at once, with the
	// operators, not only when escalation reaches it (a facility's gateway
	// silent during opening hours is a finding for the regulator itself).
	Regulators bool `json:"regulators,omitempty"`
}

// ErrInvalidAlert is wrapped by Validate's errors: the transition cannot
// be routed, and handing it over again will not change that.
var ErrInvalidAlert = errors.New("invalid alert")

// Validate reports what is missing for the alert to be routed.
func (a Alert) Validate() error {
	switch {
	case a.Fingerprint == "":
		return fmt.Errorf("%w: fingerprint is empty", ErrInvalidAlert)
	case a.Facility == "":
		return fmt.Errorf("%w %s: facility is empty", ErrInvalidAlert, a.Fingerprint)
	case a.StartsAt.IsZero():
		return fmt.Errorf("%w %s: starts_at is zero", ErrInvalidAlert, a.Fingerprint)
	case a.State < StateFiring || a.State > StateResolved:
		return fmt.Errorf("%w %s: state %d", ErrInvalidAlert, a.Fingerprint, int(a.State))
	}
	return nil
}

// episode names one firing of one alert: the same fingerprint that
// resolves and fires again is a new episode and is notified again. Its
// start counts to the millisecond (readings are dated to the millisecond):
// an alarm that clears and goes off again within a second is a second
// episode. A start on a whole second reads as it did when episodes were
// named by the second, so the notification log of an older version still
// matches.
func (a Alert) episode() string {
	ep := a.Fingerprint + "@" + strconv.FormatInt(a.StartsAt.Unix(), 10)
	if ms := a.StartsAt.Nanosecond() / int(time.Millisecond); ms != 0 {
		ep += fmt.Sprintf(".%03d", ms)
	}
	return ep
}
