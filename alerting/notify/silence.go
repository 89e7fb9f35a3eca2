package notify

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/cradlewatch/cradlewatch/internal/fileutil"
)

// Silence is a maintenance window for one facility: alerts are recorded,
// nothing is sent. Who set it and why are kept for the regulator.
// Silences of the configuration file (Configured) are reviewed with it and
// cannot be ended at run time; those added at run time (a command of the
// front door, within its silence policy) are saved in SilenceFile and can
// be ended early (EndedAt).
type Silence struct {
	ID        string    `yaml:"id" mapstructure:"id" json:"id"`
	Facility  string    `yaml:"facility" mapstructure:"facility" json:"facility"`
	Start     time.Time `yaml:"start" mapstructure:"start" json:"start"`
	End       time.Time `yaml:"end" mapstructure:"end" json:"end"`
	CreatedBy string    `yaml:"created_by" mapstructure:"created_by" json:"created_by"`
	Reason    string    `yaml:"reason" mapstructure:"reason" json:"reason"`
	CreatedAt time.Time `yaml:"-" mapstructure:"-" json:"created_at,omitzero"`
	// EndedAt and EndedBy: the silence was ended early, then, by whom.
	EndedAt time.Time `yaml:"-" mapstructure:"-" json:"ended_at,omitzero"`
	EndedBy string    `yaml:"-" mapstructure:"-" json:"ended_by,omitempty"`
	// Configured: from the configuration file, not ended at run time.
	Configured bool `yaml:"-" mapstructure:"-" json:"-"`
}

// Effective is when the silence stops (or stopped) silencing: EndedAt when
// it was ended early, else End.
func (s Silence) Effective() time.Time {
	if !s.EndedAt.IsZero() && s.EndedAt.Before(s.End) {
		return s.EndedAt
	}
	return s.End
}

// Errors of EndSilence.
var (
	// ErrNoSilence: no current or scheduled silence with that ID for the
	// facility (unknown, another facility's, over or ended already).
	ErrNoSilence = errors.New("no current silence with that id")
	// ErrSilenceConfigured: the silence is in the configuration file,
	// which is where it is ended.
	ErrSilenceConfigured = errors.New("the silence is in the configuration file and is ended there")
)

// silenceError is a silence that fails validation.
type silenceError struct{ err error }

func (e *silenceError) Error() string { return "silence: " + e.err.Error() }
func (e *silenceError) Unwrap() error { return e.err }

// IsInvalidSilence reports whether err is AddSilence's refusal of the
// silence itself (rather than a failure to save it).
func IsInvalidSilence(err error) bool {
	var se *silenceError
	return errors.As(err, &se)
}

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
	return s.Facility == facility && !t.Before(s.Start) && t.Before(s.Effective())
}

// loadSilences reads the run-time silences behind the configured ones.
func (d *Dispatcher) loadSilences() error {
	var runtime []Silence
	if err := fileutil.LoadJSON(filepath.Join(d.cfg.StateDir, SilenceFile), &runtime); err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	d.silences = nil
	for _, s := range d.cfg.Silences {
		s.Configured = true
		d.silences = append(d.silences, s)
	}
	d.silences = append(d.silences, runtime...)
	return nil
}

// saveSilences writes the run-time silences; the caller holds mu and
// passes the list it is about to install.
func (d *Dispatcher) saveSilences(all []Silence) error {
	var runtime []Silence
	for _, s := range all {
		if !s.Configured {
			runtime = append(runtime, s)
		}
	}
	if err := fileutil.SaveJSON(filepath.Join(d.cfg.StateDir, SilenceFile), runtime); err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	return nil
}

// AddSilence starts a maintenance window; it is saved and survives
// restarts. It returns the silence with its ID. An invalid silence
// (IsInvalidSilence) is refused; any other error means it was not saved.
// Whether the silence is allowed (its length, the facility's cap, the
// actor's role) is decided before, by the caller (access.SilencePolicy).
func (d *Dispatcher) AddSilence(s Silence) (Silence, error) {
	if err := s.validate(); err != nil {
		return s, &silenceError{err}
	}
	s.Configured, s.EndedAt, s.EndedBy = false, time.Time{}, ""
	d.mu.Lock()
	defer d.mu.Unlock()
	if s.CreatedAt.IsZero() {
		s.CreatedAt = d.clock.Now()
	}
	if s.ID == "" {
		// The count keeps ids unique when a fake or coarse clock repeats.
		s.ID = fmt.Sprintf("s%d-%d", d.clock.Now().UnixNano(), len(d.silences))
	}
	if slices.ContainsFunc(d.silences, func(x Silence) bool { return x.ID == s.ID }) {
		return s, &silenceError{fmt.Errorf("id %q: already used", s.ID)}
	}
	all := append(slices.Clone(d.silences), s)
	if err := d.saveSilences(all); err != nil {
		return s, err
	}
	d.silences = all
	return s, nil
}

// EndSilence ends the run-time silence id of facility at at (a scheduled
// one never starts). It returns the silence as ended, ErrNoSilence or
// ErrSilenceConfigured, or an error saving it.
func (d *Dispatcher) EndSilence(facility, id, actor string, at time.Time) (Silence, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	i := slices.IndexFunc(d.silences, func(x Silence) bool { return x.ID == id && x.Facility == facility })
	switch {
	case i < 0 || !at.Before(d.silences[i].Effective()):
		return Silence{}, ErrNoSilence
	case d.silences[i].Configured:
		return d.silences[i], ErrSilenceConfigured
	}
	all := slices.Clone(d.silences)
	all[i].EndedAt, all[i].EndedBy = at, actor
	if err := d.saveSilences(all); err != nil {
		return Silence{}, err
	}
	d.silences = all
	return all[i], nil
}

// Silences returns the configured and run-time silences, sorted by start.
func (d *Dispatcher) Silences() []Silence {
	d.mu.Lock()
	out := slices.Clone(d.silences)
	d.mu.Unlock()
	slices.SortStableFunc(out, func(a, b Silence) int { return a.Start.Compare(b.Start) })
	return out
}

func (d *Dispatcher) silencedBy(facility string, t time.Time) (Silence, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, s := range d.silences {
		if s.covers(facility, t) {
			return s, true
		}
	}
	return Silence{}, false
}
