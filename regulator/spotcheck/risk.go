package spotcheck

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// Record is one facility's monitoring record over the period of the draw,
// as the console reads it from InfluxDB (alerts, compliance_hourly) and the
// audit trail (inspections). Every field is an aggregate over the facility:
// nothing in it names or locates a person.
type Record struct {
	// Facility is the facility ID.
	Facility string `json:"facility"`
	// UnacknowledgedAlerts counts safety alerts of the period that no
	// operator acknowledged (escalated to the street and county, or still
	// open).
	UnacknowledgedAlerts int `json:"unacknowledged_alerts"`
	// RepeatedAlerts counts firings of a rule in a room beyond its first in
	// the period: the same problem coming back.
	RepeatedAlerts int `json:"repeated_alerts"`
	// OutOfLimitsShare is the share (0..1) of monitored room-minutes during
	// opening hours outside the limits (temperature, humidity, CO2, PM2.5,
	// HCHO; compliance_hourly).
	OutOfLimitsShare float64 `json:"out_of_limits_share"`
	// CameraGapShare is the share (0..1) of expected camera-minutes during
	// opening hours a camera was offline or not recording.
	CameraGapShare float64 `json:"camera_gap_share"`
	// GatewayGapShare is the share (0..1) of opening minutes without data
	// (gateway offline, readings dropped).
	GatewayGapShare float64 `json:"gateway_gap_share"`
	// DaysSinceInspection is whole days since the last on-site inspection;
	// ignored when NeverInspected.
	DaysSinceInspection int  `json:"days_since_inspection"`
	NeverInspected      bool `json:"never_inspected,omitempty"`
}

// Factor is a count turned into a term of the weight: Weight × min(count /
// Cap, 1), so that beyond Cap more of the same adds nothing.
type Factor struct {
	Weight float64 `json:"weight" yaml:"weight" mapstructure:"weight"`
	Cap    float64 `json:"cap" yaml:"cap" mapstructure:"cap"`
}

// Parameters turn a record into a weight (docs/console.md, "Risk"):
//
//	weight = Base
//	       + Unacknowledged.Weight × min(unacknowledged_alerts / Unacknowledged.Cap, 1)
//	       + Repeated.Weight       × min(repeated_alerts / Repeated.Cap, 1)
//	       + OutOfLimits           × out_of_limits_share
//	       + CameraGap             × camera_gap_share
//	       + GatewayGap            × gateway_gap_share
//	       + Inspection.Weight     × (1 if never inspected, else min(days_since_inspection / Inspection.Cap, 1))
//
// evaluated in float64 in this order, left to right. They are published
// with every draw.
type Parameters struct {
	Base           float64 `json:"base" yaml:"base" mapstructure:"base"`
	Unacknowledged Factor  `json:"unacknowledged_alerts" yaml:"unacknowledged_alerts" mapstructure:"unacknowledged_alerts"`
	Repeated       Factor  `json:"repeated_alerts" yaml:"repeated_alerts" mapstructure:"repeated_alerts"`
	OutOfLimits    float64 `json:"out_of_limits" yaml:"out_of_limits" mapstructure:"out_of_limits"`
	CameraGap      float64 `json:"camera_gap" yaml:"camera_gap" mapstructure:"camera_gap"`
	GatewayGap     float64 `json:"gateway_gap" yaml:"gateway_gap" mapstructure:"gateway_gap"`
	Inspection     Factor  `json:"inspection" yaml:"inspection" mapstructure:"inspection"`
}

// DefaultParameters: every facility keeps a chance (Base 1); the riskiest
// record weighs 13, thirteen times a clean, recently inspected one.
// Unacknowledged alerts weigh most: they are the failure the escalation
// chain exists for.
func DefaultParameters() Parameters {
	return Parameters{
		Base:           1,
		Unacknowledged: Factor{Weight: 3, Cap: 5},
		Repeated:       Factor{Weight: 2, Cap: 10},
		OutOfLimits:    2,
		CameraGap:      2,
		GatewayGap:     1,
		Inspection:     Factor{Weight: 2, Cap: 365},
	}
}

// Validate checks that every weight is finite and not negative and every
// cap positive.
func (p Parameters) Validate() error {
	weights := []struct {
		name string
		v    float64
	}{
		{"base", p.Base}, {"unacknowledged_alerts.weight", p.Unacknowledged.Weight}, {"repeated_alerts.weight", p.Repeated.Weight},
		{"out_of_limits", p.OutOfLimits}, {"camera_gap", p.CameraGap}, {"gateway_gap", p.GatewayGap}, {"inspection.weight", p.Inspection.Weight},
	}
	for _, w := range weights {
		if math.IsNaN(w.v) || math.IsInf(w.v, 0) || w.v < 0 {
			return fmt.Errorf("spotcheck: parameter %s = %v: want a finite weight ≥ 0", w.name, w.v)
		}
	}
	for _, c := range []struct {
		name string
		v    float64
	}{{"unacknowledged_alerts.cap", p.Unacknowledged.Cap}, {"repeated_alerts.cap", p.Repeated.Cap}, {"inspection.cap", p.Inspection.Cap}} {
		if math.IsNaN(c.v) || math.IsInf(c.v, 0) || c.v <= 0 {
			return fmt.Errorf("spotcheck: parameter %s = %v: want a finite cap > 0", c.name, c.v)
		}
	}
	return nil
}

func (f Factor) term(count float64) float64 { return f.Weight * math.Min(count/f.Cap, 1) }

// Weight is the record's risk weight under p (see Parameters).
func (p Parameters) Weight(r Record) float64 {
	inspection := 1.0
	if !r.NeverInspected {
		inspection = math.Min(float64(r.DaysSinceInspection)/p.Inspection.Cap, 1)
	}
	return p.Base +
		p.Unacknowledged.term(float64(r.UnacknowledgedAlerts)) +
		p.Repeated.term(float64(r.RepeatedAlerts)) +
		p.OutOfLimits*r.OutOfLimitsShare +
		p.CameraGap*r.CameraGapShare +
		p.GatewayGap*r.GatewayGapShare +
		p.Inspection.Weight*inspection
}

// Validate checks a record's ranges.
func (r Record) Validate() error {
	switch {
	case r.Facility == "":
		return errors.New("spotcheck: a record without facility")
	case r.UnacknowledgedAlerts < 0 || r.RepeatedAlerts < 0 || r.DaysSinceInspection < 0:
		return fmt.Errorf("spotcheck: %s: negative count", r.Facility)
	}
	for _, s := range []float64{r.OutOfLimitsShare, r.CameraGapShare, r.GatewayGapShare} {
		if !(s >= 0 && s <= 1) { // NaN fails too
			return fmt.Errorf("spotcheck: %s: share %v outside 0..1", r.Facility, s)
		}
	}
	return nil
}

// Ranked is a facility with its weight.
type Ranked struct {
	Record
	Weight float64 `json:"weight"`
}

// Rank weighs every record and sorts them by weight, the riskiest first
// (equal weights by facility ID): the county's list before the draw.
func Rank(records []Record, p Parameters) ([]Ranked, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	out := make([]Ranked, len(records))
	for i, r := range records {
		if err := r.Validate(); err != nil {
			return nil, err
		}
		out[i] = Ranked{r, p.Weight(r)}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Weight != out[j].Weight {
			return out[i].Weight > out[j].Weight
		}
		return out[i].Facility < out[j].Facility
	})
	return out, nil
}
