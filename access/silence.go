package access

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cradlewatch/cradlewatch/model"
)

// Silence policy defaults (configuration keys in docs/security.md).
const (
	// DefaultMaxSilence is the longest silence set at run time (the
	// alerting service's own limit): longer windows belong in the
	// reviewed configuration file.
	DefaultMaxSilence = 7 * 24 * time.Hour
	// DefaultLongSilence is the longest silence below a county role.
	DefaultLongSilence = 24 * time.Hour
	// DefaultCapWindow and DefaultCap: at most 7 days of silence in any
	// 30 days per facility, so that a chain of silences cannot switch
	// supervision off.
	DefaultCapWindow = 30 * 24 * time.Hour
	DefaultCap       = 7 * 24 * time.Hour
)

// SilencePolicy is what a run-time silence must keep. The zero value is
// not usable; start from DefaultSilencePolicy.
type SilencePolicy struct {
	MaxLength   time.Duration // longest single silence
	LongSilence time.Duration // longer ones need a county role or above
	CapWindow   time.Duration // the sliding window of the cap
	Cap         time.Duration // most silenced time of a facility in any CapWindow
}

// DefaultSilencePolicy is the policy with the defaults above.
func DefaultSilencePolicy() SilencePolicy {
	return SilencePolicy{MaxLength: DefaultMaxSilence, LongSilence: DefaultLongSilence,
		CapWindow: DefaultCapWindow, Cap: DefaultCap}
}

// Validate checks the policy's own consistency.
func (pol SilencePolicy) Validate() error {
	switch {
	case pol.MaxLength <= 0 || pol.LongSilence <= 0 || pol.CapWindow <= 0 || pol.Cap <= 0:
		return fmt.Errorf("silence policy: every duration must be positive")
	case pol.LongSilence > pol.MaxLength:
		return fmt.Errorf("silence policy: long_silence %v exceeds max_length %v", pol.LongSilence, pol.MaxLength)
	case pol.Cap > pol.CapWindow:
		return fmt.Errorf("silence policy: cap %v exceeds its window %v", pol.Cap, pol.CapWindow)
	}
	return nil
}

// Interval is one silence of a facility, as it took effect: a silence
// ended early is passed with its actual end.
type Interval struct {
	Start, End time.Time
}

// SilenceRequest is a silence to be checked.
type SilenceRequest struct {
	Facility string
	Region   model.Region // the facility's registered region
	Start    time.Time
	End      time.Time
	Reason   string
}

// ErrSilenceRejected is matched (errors.Is) by every refusal of a silence
// for its content (not its author): no reason, too long, past the cap.
var ErrSilenceRejected = errors.New("silence rejected")

// ErrSilenceCap is matched by a silence refused by the cap.
var ErrSilenceCap = errors.New("silence cap reached")

// SilenceError says why a silence was refused.
type SilenceError struct {
	Reason string
	cap    bool
	// Used is the most silenced time of any window the new silence would
	// touch, the new silence included (set for cap refusals).
	Used time.Duration
}

func (e *SilenceError) Error() string { return "silence rejected: " + e.Reason }

// Is makes errors.Is work for ErrSilenceRejected and ErrSilenceCap.
func (e *SilenceError) Is(target error) bool {
	return target == ErrSilenceRejected || (e.cap && target == ErrSilenceCap)
}

// Check decides whether p may set the silence req, given the facility's
// silence history (every silence of the facility that took effect or is
// scheduled, configured ones included). It is a pure function: the
// alerting service passes the history it holds. It returns nil, a *Denied
// (the principal may not) or a *SilenceError (the silence may not).
func (pol SilencePolicy) Check(p Principal, req SilenceRequest, history []Interval) error {
	if err := Authorize(p, ActionSilence, ForFacility(req.Facility, req.Region)); err != nil {
		return err
	}
	reject := func(format string, args ...any) error {
		return &SilenceError{Reason: fmt.Sprintf(format, args...)}
	}
	length := req.End.Sub(req.Start)
	switch {
	case strings.TrimSpace(req.Reason) == "":
		return reject("a silence must say why (reason is empty)")
	case length <= 0:
		return reject("end %s is not after start %s", req.End.Format(time.RFC3339), req.Start.Format(time.RFC3339))
	case length > pol.MaxLength:
		return reject("%v is longer than the run-time maximum %v", length, pol.MaxLength)
	case length > pol.LongSilence && !p.Role.countyOrAbove():
		return &Denied{Actor: p.Actor(), Action: ActionSilence,
			Reason: fmt.Sprintf("a silence longer than %v needs a county role or above (role %s)", pol.LongSilence, p.Role)}
	}
	all := append(slices.Clone(history), Interval{req.Start, req.End})
	if used := MaxWindowCoverage(all, pol.CapWindow, req.Start, req.End.Add(pol.CapWindow)); used > pol.Cap {
		return &SilenceError{cap: true, Used: used,
			Reason: fmt.Sprintf("facility %s would be silenced %v within %v (cap %v)", req.Facility, used, pol.CapWindow, pol.Cap)}
	}
	return nil
}

// MaxWindowCoverage is the largest time covered by the union of intervals
// inside any window of length w that ends within [from, to]. Overlapping
// intervals count once. The maximum of a sliding window's coverage is
// reached when the window ends at an interval's end or starts at an
// interval's start, so only those windows (and the bounds) are measured.
func MaxWindowCoverage(intervals []Interval, w time.Duration, from, to time.Time) time.Duration {
	merged := union(intervals)
	ends := []time.Time{from, to}
	for _, iv := range merged {
		ends = append(ends, iv.End, iv.Start.Add(w))
	}
	var best time.Duration
	for _, e := range ends {
		if e.Before(from) || e.After(to) {
			continue
		}
		if c := coverage(merged, e.Add(-w), e); c > best {
			best = c
		}
	}
	return best
}

// union sorts intervals and merges those that overlap or touch; empty or
// inverted ones are dropped.
func union(in []Interval) []Interval {
	var ivs []Interval
	for _, iv := range in {
		if iv.End.After(iv.Start) {
			ivs = append(ivs, iv)
		}
	}
	slices.SortFunc(ivs, func(a, b Interval) int { return a.Start.Compare(b.Start) })
	var out []Interval
	for _, iv := range ivs {
		if n := len(out); n > 0 && !iv.Start.After(out[n-1].End) {
			if iv.End.After(out[n-1].End) {
				out[n-1].End = iv.End
			}
			continue
		}
		out = append(out, iv)
	}
	return out
}

// coverage is the time of merged (disjoint) intervals inside [from, to).
func coverage(merged []Interval, from, to time.Time) time.Duration {
	var d time.Duration
	for _, iv := range merged {
		s, e := iv.Start, iv.End
		if s.Before(from) {
			s = from
		}
		if e.After(to) {
			e = to
		}
		if e.After(s) {
			d += e.Sub(s)
		}
	}
	return d
}
