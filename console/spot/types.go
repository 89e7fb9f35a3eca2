// Package spot keeps the console's spot checks (双随机、一公开): the
// county's inspectors and recusals, every draw as published, and the
// results of the inspections, in the access database; and the seam to the
// draw itself (Drawer), which package regulator/spotcheck implements.
//
// The types here have the JSON of regulator/spotcheck's (Record,
// Parameters, Request, Draw), so a draw is stored and published exactly as
// that package writes it, and the adapter between the two is a JSON round
// trip.
package spot

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Record is one facility's monitoring record over the period of a draw
// (regulator/spotcheck.Record).
type Record struct {
	Facility             string  `json:"facility"`
	UnacknowledgedAlerts int     `json:"unacknowledged_alerts"`
	RepeatedAlerts       int     `json:"repeated_alerts"`
	OutOfLimitsShare     float64 `json:"out_of_limits_share"`
	CameraGapShare       float64 `json:"camera_gap_share"`
	GatewayGapShare      float64 `json:"gateway_gap_share"`
	DaysSinceInspection  int     `json:"days_since_inspection"`
	NeverInspected       bool    `json:"never_inspected,omitempty"`
}

// Factor is a count turned into a term of the weight.
type Factor struct {
	Weight float64 `json:"weight" mapstructure:"weight"`
	Cap    float64 `json:"cap" mapstructure:"cap"`
}

// Parameters turn a record into a weight (docs/console.md, "Risk").
type Parameters struct {
	Base           float64 `json:"base" mapstructure:"base"`
	Unacknowledged Factor  `json:"unacknowledged_alerts" mapstructure:"unacknowledged_alerts"`
	Repeated       Factor  `json:"repeated_alerts" mapstructure:"repeated_alerts"`
	OutOfLimits    float64 `json:"out_of_limits" mapstructure:"out_of_limits"`
	CameraGap      float64 `json:"camera_gap" mapstructure:"camera_gap"`
	GatewayGap     float64 `json:"gateway_gap" mapstructure:"gateway_gap"`
	Inspection     Factor  `json:"inspection" mapstructure:"inspection"`
}

// DefaultParameters are the published defaults (regulator/spotcheck).
func DefaultParameters() Parameters {
	return Parameters{Base: 1, Unacknowledged: Factor{3, 5}, Repeated: Factor{2, 10}, OutOfLimits: 2, CameraGap: 2,
		GatewayGap: 1, Inspection: Factor{2, 365}}
}

// Validate checks that weights are finite and not negative and caps
// positive.
func (p Parameters) Validate() error {
	for name, w := range map[string]float64{"base": p.Base, "unacknowledged_alerts.weight": p.Unacknowledged.Weight,
		"repeated_alerts.weight": p.Repeated.Weight, "out_of_limits": p.OutOfLimits, "camera_gap": p.CameraGap,
		"gateway_gap": p.GatewayGap, "inspection.weight": p.Inspection.Weight} {
		if math.IsNaN(w) || math.IsInf(w, 0) || w < 0 {
			return fmt.Errorf("%s = %v: want a finite weight ≥ 0", name, w)
		}
	}
	for name, c := range map[string]float64{"unacknowledged_alerts.cap": p.Unacknowledged.Cap,
		"repeated_alerts.cap": p.Repeated.Cap, "inspection.cap": p.Inspection.Cap} {
		if math.IsNaN(c) || math.IsInf(c, 0) || c <= 0 {
			return fmt.Errorf("%s = %v: want a finite cap > 0", name, c)
		}
	}
	return nil
}

// Ranked is a facility's record with its weight.
type Ranked struct {
	Record
	Weight float64 `json:"weight"`
}

// Inspector is a person who may be sent: published ID (执法证号) and name.
type Inspector struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Conflict is a recusal (回避): the inspector is never sent to the facility.
type Conflict struct {
	Inspector string `json:"inspector"`
	Facility  string `json:"facility"`
}

// Request is what a draw is made from (regulator/spotcheck.Request).
type Request struct {
	County                string      `json:"county"`
	Period                string      `json:"period,omitempty"`
	SampleSize            int         `json:"sample_size"`
	InspectorsPerFacility int         `json:"inspectors_per_facility"`
	Parameters            Parameters  `json:"parameters"`
	Candidates            []Record    `json:"candidates"`
	Inspectors            []Inspector `json:"inspectors"`
	Conflicts             []Conflict  `json:"conflicts,omitempty"`
}

// Selection is one facility drawn and its team.
type Selection struct {
	Rank       int      `json:"rank"`
	Facility   string   `json:"facility"`
	Weight     float64  `json:"weight"`
	Inspectors []string `json:"inspectors"`
}

// Draw is a draw as published (regulator/spotcheck.Draw).
type Draw struct {
	Method                string      `json:"method"`
	County                string      `json:"county"`
	Period                string      `json:"period,omitempty"`
	DrawnAt               time.Time   `json:"drawn_at"`
	Seed                  string      `json:"seed"` // 64 hex digits
	SampleSize            int         `json:"sample_size"`
	InspectorsPerFacility int         `json:"inspectors_per_facility"`
	Parameters            Parameters  `json:"parameters"`
	Candidates            []Ranked    `json:"candidates"`
	Inspectors            []Inspector `json:"inspectors"`
	Conflicts             []Conflict  `json:"conflicts,omitempty"`
	Selected              []Selection `json:"selected"`
}

// Drawer makes and checks draws: regulator/spotcheck behind an adapter.
type Drawer interface {
	// Rank weighs the records, the riskiest first.
	Rank(records []Record, p Parameters) ([]Ranked, error)
	// Draw reads a fresh seed from crypto/rand and draws from req at now;
	// doc is the published JSON, d the same draw decoded.
	Draw(req Request, now time.Time) (doc []byte, d Draw, err error)
	// Verify reproduces a published draw from its seed, nil when it
	// matches.
	Verify(doc []byte) error
}

// Errors a draw ends with that a person can fix.
var (
	ErrNoCandidate         = errors.New("no facility can be drawn")
	ErrNotEnoughInspectors = errors.New("not enough inspectors for the teams")
)
