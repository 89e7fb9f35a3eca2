package spotcheck

import (
	"math"
	"testing"
)

// The statistical tests run thousands of draws with fixed seeds
// (testSeed), so they give the same counts on every run: not flaky, and
// still a test of the distribution, since the seeds are not chosen to
// pass. Bounds are five standard deviations per facility, or a
// chi-square quantile of 0.999.

// weightedRequest has six facilities whose records weigh 1, 2, 3, 5, 8
// and 13 under the default parameters.
func weightedRequest(sample int) Request {
	return Request{
		County: "110105", SampleSize: sample, InspectorsPerFacility: 1, Parameters: DefaultParameters(),
		Candidates: []Record{
			{Facility: "w01"},                        // 1
			{Facility: "w02", OutOfLimitsShare: 0.5}, // 1 + 1
			{Facility: "w03", CameraGapShare: 1},     // 1 + 2
			{Facility: "w05", NeverInspected: true, GatewayGapShare: 1, OutOfLimitsShare: 0.5},                                                               // 1 + 2 + 1 + 1
			{Facility: "w08", UnacknowledgedAlerts: 5, RepeatedAlerts: 10, CameraGapShare: 1},                                                                // 1 + 3 + 2 + 2
			{Facility: "w13", UnacknowledgedAlerts: 9, RepeatedAlerts: 12, OutOfLimitsShare: 1, CameraGapShare: 1, GatewayGapShare: 1, NeverInspected: true}, // 13
		},
		Inspectors: []Inspector{{"i1", "甲"}},
	}
}

// inclusion is the exact probability that each candidate is among k drawn
// one at a time, each time with probability proportional to its weight
// among those left: the documented weighting.
func inclusion(w []float64, k int) []float64 {
	p := make([]float64, len(w))
	var walk func(taken []bool, left float64, depth int, prob float64)
	walk = func(taken []bool, left float64, depth int, prob float64) {
		if depth == k {
			for i, t := range taken {
				if t {
					p[i] += prob
				}
			}
			return
		}
		for i := range w {
			if !taken[i] {
				taken[i] = true
				walk(taken, left-w[i], depth+1, prob*w[i]/left)
				taken[i] = false
			}
		}
	}
	total := 0.0
	for _, x := range w {
		total += x
	}
	walk(make([]bool, len(w)), total, 0, 1)
	return p
}

func weightsOf(t *testing.T, req Request) []float64 {
	var w []float64
	for _, r := range req.Candidates {
		w = append(w, req.Parameters.Weight(r))
	}
	want := []float64{1, 2, 3, 5, 8, 13}
	for i := range w {
		if w[i] != want[i] {
			t.Fatalf("weights %v, want %v", w, want)
		}
	}
	return w
}

// drawCounts draws n times with the seeds of label and counts, per
// candidate, the draws that selected it.
func drawCounts(t *testing.T, req Request, label string, n int) []float64 {
	t.Helper()
	counts := make([]float64, len(req.Candidates))
	for s := range n {
		d, err := New(req, testSeed(label, s), drawnAt)
		if err != nil {
			t.Fatal(err)
		}
		for _, sel := range d.Selected {
			for i, r := range req.Candidates {
				if sel.Facility == r.Facility {
					counts[i]++
				}
			}
		}
	}
	return counts
}

// TestFirstPickFollowsWeights: with one facility drawn, each is drawn in
// proportion to its weight (chi-square, 5 degrees of freedom).
func TestFirstPickFollowsWeights(t *testing.T) {
	req := weightedRequest(1)
	w := weightsOf(t, req)
	const n = 12000
	counts := drawCounts(t, req, "first", n)
	p := inclusion(w, 1)
	chi2 := 0.0
	for i := range w {
		e := n * p[i]
		chi2 += (counts[i] - e) * (counts[i] - e) / e
	}
	const chi2Crit = 20.52 // 0.999 quantile, 5 degrees of freedom
	if chi2 > chi2Crit {
		t.Errorf("chi-square %.2f > %.2f: counts %v, expected %v × %d", chi2, chi2Crit, counts, p, n)
	}
	t.Logf("first pick: counts %v, chi-square %.2f", counts, chi2)
}

// TestInclusionFollowsWeights: with three of six drawn, each facility's
// share of draws matches the exact inclusion probability of successive
// weighted drawing, and the riskiest is included far more often than the
// safest (the weighting does something).
func TestInclusionFollowsWeights(t *testing.T) {
	req := weightedRequest(3)
	w := weightsOf(t, req)
	const n = 12000
	counts := drawCounts(t, req, "inclusion", n)
	p := inclusion(w, 3)
	for i := range w {
		e, sd := n*p[i], math.Sqrt(n*p[i]*(1-p[i]))
		if math.Abs(counts[i]-e) > 5*sd {
			t.Errorf("%s (weight %v): included %v times in %d, expected %.0f ± %.0f", req.Candidates[i].Facility, w[i], counts[i], n, e, 5*sd)
		}
	}
	if counts[5] < 3*counts[0] {
		t.Errorf("weight 13 included %v times, weight 1 %v times", counts[5], counts[0])
	}
	t.Logf("inclusion of 3 in 6: counts %v, expected %v × %d", counts, p, n)
}

// TestInspectorsUniform: teams are drawn uniformly; a recused inspector
// never goes to that facility.
func TestInspectorsUniform(t *testing.T) {
	req := weightedRequest(2)
	req.InspectorsPerFacility = 2
	req.Inspectors = []Inspector{{"i1", "甲"}, {"i2", "乙"}, {"i3", "丙"}, {"i4", "丁"}, {"i5", "戊"}, {"i6", "己"}}
	const n = 6000
	counts := map[string]float64{}
	for s := range n {
		d, err := New(req, testSeed("inspectors", s), drawnAt)
		if err != nil {
			t.Fatal(err)
		}
		for _, sel := range d.Selected {
			for _, id := range sel.Inspectors {
				counts[id]++
			}
		}
	}
	// Four seats, six inspectors, everybody at most once: each is in a
	// draw with probability 4/6.
	p := 4.0 / 6
	e, sd := n*p, math.Sqrt(n*p*(1-p))
	for _, in := range req.Inspectors {
		if math.Abs(counts[in.ID]-e) > 5*sd {
			t.Errorf("%s drawn %v times in %d, expected %.0f ± %.0f", in.ID, counts[in.ID], n, e, 5*sd)
		}
	}
	req.Conflicts = []Conflict{{Inspector: "i1", Facility: "w13"}, {Inspector: "i2", Facility: "w13"}}
	for s := range 2000 {
		d, err := New(req, testSeed("recusal", s), drawnAt)
		if err != nil {
			t.Fatal(err)
		}
		for _, sel := range d.Selected {
			for _, id := range sel.Inspectors {
				if sel.Facility == "w13" && (id == "i1" || id == "i2") {
					t.Fatalf("seed %d: %s sent to w13 from which it is recused", s, id)
				}
			}
		}
	}
}
