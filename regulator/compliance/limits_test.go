package compliance

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/alerting/calendar"
	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/model"
	"github.com/cradlewatch/cradlewatch/registry"
	"github.com/cradlewatch/cradlewatch/regulator/internal/seed"
)

// testFacility is a registered facility in region with room r1 of type rt
// and one device per judged kind, named after the kind.
func testFacility(t testing.TB, region string, rt model.RoomType) *registry.Facility {
	t.Helper()
	yaml := fmt.Sprintf("facility: {id: %q, name: 园, region: %q}\ngateways: [gw]\nrooms: [{id: r1, name: 房间, type: %s}]\ndevices:\n", region+"-0001", region, rt)
	for _, k := range model.ComplianceKinds {
		yaml += fmt.Sprintf("  - {id: %s, room: r1, source: s, address: %s, kinds: [%s]}\n", k, k, k)
	}
	f, err := registry.Parse("test", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// alertingViolates feeds kind k at constant v into a fresh alerting engine
// for facility f, as a sensor would report it (one reading a minute over the
// longest window of the kind's rules, so a rolling mean is judged with full
// coverage), and reports whether any threshold alert of the kind is pending
// or firing after the reading at t.
func alertingViolates(t *testing.T, rs *rules.RuleSet, f *registry.Facility, k model.Kind, at time.Time, v float64) bool {
	t.Helper()
	e := rules.New(rules.Options{Rules: rs, Clock: func() time.Time { return at.Add(time.Second) }, Registerer: prometheus.NewRegistry()})
	if err := e.AddFacility(rules.Facility{Facility: f.Facility, OpeningHours: f.OpeningHours}); err != nil {
		t.Fatal(err)
	}
	span := time.Duration(0)
	if kl, ok := rs.KindLimits(k); ok {
		for _, r := range kl.Rules {
			span = max(span, r.Window)
		}
	}
	violating := false
	for ts := at.Add(-span); !ts.After(at); ts = ts.Add(time.Minute) {
		trs := e.Observe(f.ID, model.Reading{Device: k.String(), Room: "r1", Kind: k, Time: ts, Value: v})
		_ = trs
	}
	for _, a := range e.Alerts() {
		if a.Kind == k && a.Device == k.String() && (a.State == rules.Pending || a.State == rules.Firing) {
			violating = true
		}
	}
	return violating
}

// Regions of the property test: northern (central heating, own season
// dates) and southern (no heating season, long cooling season).
var propertyRegions = []string{
	"110105001", // Beijing
	"650102001", // Urumqi
	"230102001", // Harbin
	"140105001", // Taiyuan
	"440305007", // Shenzhen
	"460105001", // Haikou
	"310101001", // Shanghai (the rule set's default seasons)
}

var roomTypes = []model.RoomType{model.RoomInfant, model.RoomToddler, model.RoomActivity, model.RoomSleep, model.RoomFeeding,
	model.RoomKitchen, model.RoomCorridor, model.RoomEntrance, model.RoomOffice, model.RoomOutdoor}

// TestInLimitsMeansTheSameInAlertingAndCompliance is the property: for
// random rooms (types), regions (northern and southern season tables),
// dates and values, a room-minute the compliance rollup counts as within
// limits is one on which alerting raises no threshold alert, and one it
// counts as outside is one alerting raises an alert for. Values are drawn
// at and around every season's limits of every room type, and at random.
func TestInLimitsMeansTheSameInAlertingAndCompliance(t *testing.T) {
	rs := seed.Rules(t)
	rng := rand.New(rand.NewPCG(13, 2026))
	cases := 400
	if testing.Short() {
		cases = 80
	}
	judged, within, outside, windowedAtLimit := 0, 0, 0, 0
	for i := 0; i < cases; i++ {
		region := propertyRegions[rng.IntN(len(propertyRegions))]
		rt := roomTypes[rng.IntN(len(roomTypes))]
		k := model.ComplianceKinds[rng.IntN(len(model.ComplianceKinds))]
		f := testFacility(t, region, rt)
		cal, err := Calendar(rs, f)
		if err != nil {
			t.Fatal(err)
		}
		// A random day of 2026 or 2027 (the years with holiday files), at a
		// random minute between 08:30 and 17:59 local time.
		day := time.Date(2026, 1, 1+rng.IntN(730), 0, 0, 0, 0, cal.Location())
		at := day.Add(time.Duration(8*60+30+rng.IntN(9*60+29)) * time.Minute)
		if !cal.IsOpen(at) {
			continue // compliance counts open minutes only
		}
		v := drawValue(rng, rs, k)
		j := newJudge(rs, f, cal)
		inCompliance, err := j.within(k.String(), "r1", at, v)
		if err != nil {
			t.Fatal(err)
		}
		// What the rollup really judges: InfluxDB's one-minute mean of the
		// minute's readings, a sum divided by a count in floating point,
		// which can land a unit beside v. It must not change the verdict.
		reps := 1 + rng.IntN(12)
		var minuteSum float64
		for range reps {
			minuteSum += v
		}
		if inMinute, err := j.within(k.String(), "r1", at, minuteSum/float64(reps)); err != nil || inMinute != inCompliance {
			t.Errorf("%s %s: %v within=%v, but the one-minute mean of %d readings of it (%v) within=%v (%v)",
				region, k, v, inCompliance, reps, minuteSum/float64(reps), inMinute, err)
		}
		if windowedKind(rs, k) && atLimit(rs, k, v) {
			windowedAtLimit++
		}
		violates := alertingViolates(t, rs, f, k, at, v)
		if inCompliance == violates {
			t.Errorf("%s room type %s %s %v at %s (%s season): compliance says within=%v, alerting says violating=%v",
				region, rt, k, v, at.Format("2006-01-02 15:04 MST"), cal.Season(at), inCompliance, violates)
		}
		judged++
		if inCompliance {
			within++
		} else {
			outside++
		}
	}
	// The draw must exercise both verdicts, or the property proves nothing.
	if judged < cases/2 || within < judged/5 || outside < judged/5 || windowedAtLimit < judged/40 {
		t.Fatalf("weak draw: %d cases judged, %d within, %d outside, %d of a windowed kind exactly at a limit",
			judged, within, outside, windowedAtLimit)
	}
}

// drawValue picks a value of kind k: half the time a limit of some season
// and room type, exactly or just beside it; otherwise uniform over a range
// wider than every band. Values are physically possible (Kind.InRange):
// the collector and alerting refuse the others before anything judges them.
func drawValue(rng *rand.Rand, rs *rules.RuleSet, k model.Kind) float64 {
	for {
		if v := drawAny(rng, rs, k); k.InRange(v) {
			return v
		}
	}
}

func drawAny(rng *rand.Rand, rs *rules.RuleSet, k model.Kind) float64 {
	kl, _ := rs.KindLimits(k)
	var edges []float64
	add := func(b rules.Band) {
		if b.HasMin() {
			edges = append(edges, b.Min)
		}
		if b.HasMax() {
			edges = append(edges, b.Max)
		}
	}
	for _, b := range kl.Seasons {
		add(b)
	}
	for _, m := range kl.RoomTypes {
		for _, b := range m {
			add(b)
		}
	}
	lo, hi := 0.0, 2*kl.Widest.Max
	if kl.Widest.HasMin() {
		lo = kl.Widest.Min - (kl.Widest.Max - kl.Widest.Min)
	}
	if rng.IntN(2) == 0 && len(edges) > 0 {
		e := edges[rng.IntN(len(edges))]
		step := math.Abs(e) * 1e-3
		switch rng.IntN(3) {
		case 0:
			// Exactly on the limit, for windowed kinds too: the engine's
			// rolling mean of n readings at the limit is the limit (it sums
			// in fixed point), in limits for both.
			return e
		case 1:
			return e + step
		default:
			return e - step
		}
	}
	return lo + rng.Float64()*(hi-lo)
}

// windowedKind reports whether a rule judges k by a rolling mean.
func windowedKind(rs *rules.RuleSet, k model.Kind) bool {
	kl, _ := rs.KindLimits(k)
	for _, r := range kl.Rules {
		if r.Window > 0 {
			return true
		}
	}
	return false
}

// atLimit reports whether v is exactly one of k's limits.
func atLimit(rs *rules.RuleSet, k model.Kind, v float64) bool {
	kl, _ := rs.KindLimits(k)
	bands := []rules.Band{}
	for _, b := range kl.Seasons {
		bands = append(bands, b)
	}
	for _, m := range kl.RoomTypes {
		for _, b := range m {
			bands = append(bands, b)
		}
	}
	for _, b := range bands {
		if v == b.Min || v == b.Max {
			return true
		}
	}
	return false
}

// TestBeijingFirstOfOctober: the regression of issue 13. A Beijing room at
// 20 °C on 1 October (the transition season: heating starts 11-15, cooling
// ended 09-15) passes alerting, and now passes compliance too; the old
// rollup used one national date range and judged it by cooling-season
// limits (22-28 °C).
func TestBeijingFirstOfOctober(t *testing.T) {
	rs := seed.Rules(t)
	f := testFacility(t, "110105001", model.RoomToddler)
	cal, err := Calendar(rs, f)
	if err != nil {
		t.Fatal(err)
	}
	// 1 October 2026 is National Day, a holiday; the 9th is a Friday
	// working day of the same season. Both are transition season.
	for _, at := range []time.Time{
		time.Date(2026, 10, 1, 10, 0, 0, 0, cal.Location()),
		time.Date(2026, 10, 9, 10, 0, 0, 0, cal.Location()),
	} {
		if s := cal.Season(at); s != calendar.Transition {
			t.Fatalf("%s is %s in Beijing, want transition", at.Format("01-02"), s)
		}
		within, err := newJudge(rs, f, cal).within("temperature", "r1", at, 20)
		if err != nil || !within {
			t.Errorf("compliance: 20 °C on %s is outside limits (%v)", at.Format("01-02"), err)
		}
		if alertingViolates(t, rs, f, model.KindTemperature, at, 20) && cal.IsOpen(at) {
			t.Errorf("alerting: 20 °C on %s violates", at.Format("01-02"))
		}
	}
	// Seasons are per region: Shenzhen's cooling season runs to 10-31, so
	// 20 °C there on 9 October is outside limits, for both.
	sz := testFacility(t, "440305007", model.RoomToddler)
	szCal, err := Calendar(rs, sz)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 10, 9, 10, 0, 0, 0, szCal.Location())
	if within, _ := newJudge(rs, sz, szCal).within("temperature", "r1", at, 20); within {
		t.Error("Shenzhen on 9 October is cooling season: 20 °C must be outside")
	}
	if !alertingViolates(t, rs, sz, model.KindTemperature, at, 20) {
		t.Error("alerting: Shenzhen 20 °C on 9 October should violate")
	}
}
