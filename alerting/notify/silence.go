package notify

import (
	"fmt"
	"time"
)

// Silence is a maintenance window for one facility: alerts are recorded,
// nothing is sent. Who set it and why are kept for the regulator.
type Silence struct {
	ID        string    `yaml:"id" mapstructure:"id" json:"id"`
	Facility  string    `yaml:"facility" mapstructure:"facility" json:"facility"`
	Start     time.Time `yaml:"start" mapstructure:"start" json:"start"`
	End       time.Time `yaml:"end" mapstructure:"end" json:"end"`
	CreatedBy string    `yaml:"created_by" mapstructure:"created_by" json:"created_by"`
	Reason    string    `yaml:"reason" mapstructure:"reason" json:"reason"`
}

// silenceError is a silence that fails validation.
type silenceError struct{ err error }

func (e *silenceError) Error() string { return "silence: " + e.err.Error() }
func (e *silenceError) Unwrap() error { return e.err }

func (s Silence) validate() error {
	switch {
	case s.Facility == "":
		return fmt.Errorf("facility: empty")
	case s.CreatedBy == "":
		return fmt.Errorf("created_by: empty (a silence must say who set it)")
	case s.Reason == "":
		return fmt.Errorf("reason: empty (a silence must say why)")
	case !s.End.After(s.Start):
		return fmt.Errorf("end %s is not after start %s", s.End.Format(time.RFC3339), s.Start.Format(time.RFC3339))
	}
	return nil
}

// covers reports whether s silences facility at t.
func (s Silence) covers(facility string, t time.Time) bool {
	return s.Facility == facility && !t.Before(s.Start) && t.Before(s.End)
}
