package rules

import "math"

// Readings and limits are judged in fixed point: a value is rounded to a
// step of 1e-7 of its unit (0.0000001 °C, ppm, mg/m³), and every
// comparison with a limit, and every rolling mean, is done in those steps,
// in integers. Why: a mean computed as a floating-point sum divided by a
// count is not the mean of the readings. Sixty readings of exactly 0.08
// mg/m³ sum to 4.800000000000001 and average to 0.08000000000000002, so a
// room exactly at the formaldehyde limit fired an alert although the
// compliance rollup, comparing the reading itself, calls it in limits. In
// fixed point the sum of the readings is exact, the mean of sixty readings
// of 0.08 is 0.08, and "above the limit" is sum > limit × count, exact too.
//
// The step is far below any sensor's resolution (the finest kinds report
// 0.001 mg/m³ or 0.01 °C), so rounding to it never changes what a reading
// says, and it is the same step for the engine and for Band.Contains, which
// the compliance rollup uses: alerting and compliance agree exactly at the
// limit, also when the rollup's one-minute mean comes back from InfluxDB a
// few floating-point units beside it.
const fixedScale = 1e7

// fixedLimitBound bounds limits before they are scaled: readings are
// within their kind's physical range (at most 50,000, CO2), so a limit
// beyond ±1e5 (or ±Inf, no limit) judges exactly as ±1e5 does, and limit ×
// count stays within int64 for the largest window (see maxWindowReadings).
const fixedLimitBound = 1e5

// maxWindowReadings bounds the readings one rolling mean holds, so that its
// fixed-point sum cannot overflow: 50,000 × 1e7 × 5.9e6 < 2^63, and so does
// fixedLimitBound × 1e7 × 5.9e6. A bucket takes at most its share
// (maxWindowReadings / buckets); beyond it a reading is refused from the
// mean and counted (cw_alerting_readings_rejected_total{reason="bucket_full"}).
// The default windows' share is 98,304 readings a bucket: a reading every
// 15 ms for an hour's one-minute buckets, every 15 s for a day's.
const maxWindowReadings = 1440 * 4096

// fixed is v in steps of 1/fixedScale. v must be finite and within a
// kind's physical range (the engine refuses other readings first).
func fixed(v float64) int64 { return int64(math.Round(v * fixedScale)) }

// fixedLimit is a limit in steps, ±Inf and anything beyond the bound
// clamped to it.
func fixedLimit(l float64) int64 {
	switch {
	case l > fixedLimitBound:
		l = fixedLimitBound
	case l < -fixedLimitBound:
		l = -fixedLimitBound
	}
	return fixed(l)
}

// level is a value to judge: the exact mean sum/n of n readings in steps
// (n is 1 for a single reading), and its value in the kind's unit for
// messages.
type level struct {
	sum, n int64
	v      float64
}

// single is the level of one reading.
func single(v float64) level { return level{sum: fixed(v), n: 1, v: v} }

// above reports whether the level is above limit (in steps), exactly.
func (l level) above(limit int64) bool { return l.sum > limit*l.n }

// below reports whether the level is below limit (in steps), exactly.
func (l level) below(limit int64) bool { return l.sum < limit*l.n }
