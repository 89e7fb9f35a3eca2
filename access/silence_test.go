package access

import (
	"errors"
	"testing"
	"time"
)

var day0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.FixedZone("CST", 8*3600))

func hours(h int) time.Duration { return time.Duration(h) * time.Hour }

func TestSilencePolicyCheck(t *testing.T) {
	pol := DefaultSilencePolicy()
	req := func(start time.Time, length time.Duration, reason string) SilenceRequest {
		return SilenceRequest{Facility: facA.Facility, Region: facA.Region, Start: start, End: start.Add(length), Reason: reason}
	}
	cases := []struct {
		name    string
		p       Principal
		req     SilenceRequest
		history []Interval
		want    error // nil, ErrDenied, ErrSilenceRejected or ErrSilenceCap
	}{
		{"operator, 4 h, reason", operator, req(day0, hours(4), "新风检修"), nil, nil},
		{"no reason", operator, req(day0, hours(4), "  \t"), nil, ErrSilenceRejected},
		{"end before start", operator, req(day0, -time.Hour, "检修"), nil, ErrSilenceRejected},
		{"zero length", operator, req(day0, 0, "检修"), nil, ErrSilenceRejected},
		{"operator 24 h is fine", operator, req(day0, hours(24), "检修"), nil, nil},
		{"operator 25 h needs a county", operator, req(day0, hours(25), "装修"), nil, ErrDenied},
		{"street 48 h needs a county", streetP, req(day0, hours(48), "装修"), nil, ErrDenied},
		{"county 48 h", countyP, req(day0, hours(48), "装修"), nil, nil},
		{"province 7 days", province, req(day0, hours(168), "装修"), nil, nil},
		{"admin 8 days is past the run-time maximum", admin, req(day0, hours(8*24), "装修"), nil, ErrSilenceRejected},
		{"auditor may not silence", auditor, req(day0, hours(1), "检修"), nil, ErrDenied},
		{"another county's facility", person(RoleCounty, fengtai), req(day0, hours(1), "检修"), nil, ErrDenied},
		{"another operator's facility", person(RoleOperator, operator.Region, "fac-b"), req(day0, hours(1), "检修"), nil, ErrDenied},
		{
			"cap: a chain of 7-day silences", countyP, req(day0, hours(168), "装修"),
			[]Interval{{day0.Add(-hours(168)), day0}}, ErrSilenceCap,
		},
		{
			"cap: exactly reached", countyP, req(day0, hours(24), "装修"),
			[]Interval{{day0.Add(-hours(20 * 24)), day0.Add(-hours(14 * 24))}}, nil,
		},
		{
			"cap: one minute over", countyP, SilenceRequest{Facility: "fac-a", Region: "110105001", Start: day0, End: day0.Add(hours(24) + time.Minute), Reason: "装修"},
			[]Interval{{day0.Add(-hours(20 * 24)), day0.Add(-hours(14 * 24))}}, ErrSilenceCap,
		},
		{
			"cap: old silences out of the window", countyP, req(day0, hours(168), "装修"),
			[]Interval{{day0.Add(-hours(40 * 24)), day0.Add(-hours(33 * 24))}}, nil,
		},
		{
			"cap: overlapping silences count once", countyP, req(day0, hours(24), "装修"),
			[]Interval{{day0.Add(-hours(48)), day0.Add(-hours(24))}, {day0.Add(-hours(48)), day0.Add(-hours(24))}, {day0.Add(-hours(36)), day0.Add(-hours(30))}}, nil,
		},
		{
			"cap: a scheduled future silence counts", countyP, req(day0, hours(96), "装修"),
			[]Interval{{day0.Add(hours(10 * 24)), day0.Add(hours(14 * 24))}}, ErrSilenceCap,
		},
		{
			"cap: many short silences add up", operator, req(day0, hours(20), "检修"),
			func() []Interval {
				var h []Interval
				for i := 1; i <= 8; i++ { // 8 × 20 h in the last 16 days = 160 h
					s := day0.Add(-hours(i * 48))
					h = append(h, Interval{s, s.Add(hours(20))})
				}
				return h
			}(), ErrSilenceCap,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := pol.Check(c.p, c.req, c.history)
			switch {
			case c.want == nil && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want != nil && !errors.Is(err, c.want):
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

// TestSilenceChainCannotSwitchSupervisionOff plays the attack of the issue:
// a county adds one maximal silence after another, each as soon as the
// last ends. Over 120 days the facility must stay supervised most of the
// time: at most the cap in any window.
func TestSilenceChainCannotSwitchSupervisionOff(t *testing.T) {
	pol := DefaultSilencePolicy()
	var history []Interval
	now := day0
	end := day0.Add(120 * 24 * time.Hour)
	for now.Before(end) {
		granted := false
		for _, length := range []time.Duration{hours(168), hours(24), hours(1)} {
			r := SilenceRequest{Facility: "fac-a", Region: "110105001", Start: now, End: now.Add(length), Reason: "装修"}
			if err := pol.Check(countyP, r, history); err == nil {
				history = append(history, Interval{r.Start, r.End})
				now = r.End
				granted = true
				break
			} else if !errors.Is(err, ErrSilenceCap) {
				t.Fatal(err)
			}
		}
		if !granted {
			now = now.Add(time.Hour)
		}
	}
	for e := day0; e.Before(end); e = e.Add(time.Hour) {
		if c := MaxWindowCoverage(history, pol.CapWindow, e, e); c > pol.Cap {
			t.Fatalf("window ending %v silenced %v > cap %v", e, c, pol.Cap)
		}
	}
	var total time.Duration
	for _, iv := range history {
		total += iv.End.Sub(iv.Start)
	}
	if max := time.Duration(float64(end.Sub(day0)) * float64(pol.Cap) / float64(pol.CapWindow) * 1.25); total > max {
		t.Fatalf("silenced %v of 120 days", total)
	}
}

func TestMaxWindowCoverage(t *testing.T) {
	ivs := []Interval{{day0, day0.Add(hours(10))}, {day0.Add(hours(5)), day0.Add(hours(12))}, {day0.Add(hours(30)), day0.Add(hours(31))}}
	if got := MaxWindowCoverage(ivs, hours(24), day0, day0.Add(hours(100))); got != hours(12) {
		t.Fatalf("24 h window: %v", got)
	}
	if got := MaxWindowCoverage(ivs, hours(48), day0, day0.Add(hours(100))); got != hours(13) {
		t.Fatalf("48 h window: %v", got)
	}
	if got := MaxWindowCoverage(ivs, hours(2), day0, day0.Add(hours(100))); got != hours(2) {
		t.Fatalf("2 h window: %v", got)
	}
	if got := MaxWindowCoverage(nil, hours(2), day0, day0); got != 0 {
		t.Fatal(got)
	}
}

func TestSilencePolicyValidate(t *testing.T) {
	if err := DefaultSilencePolicy().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := DefaultSilencePolicy()
	bad.Cap = bad.CapWindow + 1
	if bad.Validate() == nil {
		t.Fatal("cap longer than its window accepted")
	}
	if (SilencePolicy{}).Validate() == nil {
		t.Fatal("zero policy accepted")
	}
}
