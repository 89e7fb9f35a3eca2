//go:build !spotcheck

// A stand-in Drawer until regulator/spotcheck is merged (build with
// -tags spotcheck to use the real one; adapter_spotcheck.go). It publishes
// the same JSON and reproduces its own draws from their seed, but it is not
// the published method (docs/console.md, "The draw"): its method is named
// "cradlewatch-console-standin", so no draw of it passes for one of
// regulator/spotcheck's. Delete this file when the adapter is wired.

package spot

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"slices"
	"sort"
	"time"
)

const standinMethod = "cradlewatch-console-standin"

// NewDrawer returns the stand-in Drawer.
func NewDrawer() Drawer { return standin{} }

type standin struct{}

func weight(p Parameters, r Record) float64 {
	term := func(f Factor, n float64) float64 { return f.Weight * math.Min(n/f.Cap, 1) }
	insp := 1.0
	if !r.NeverInspected {
		insp = math.Min(float64(r.DaysSinceInspection)/p.Inspection.Cap, 1)
	}
	return p.Base + term(p.Unacknowledged, float64(r.UnacknowledgedAlerts)) + term(p.Repeated, float64(r.RepeatedAlerts)) +
		p.OutOfLimits*r.OutOfLimitsShare + p.CameraGap*r.CameraGapShare + p.GatewayGap*r.GatewayGapShare + p.Inspection.Weight*insp
}

func (standin) Rank(records []Record, p Parameters) ([]Ranked, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	out := make([]Ranked, len(records))
	for i, r := range records {
		out[i] = Ranked{r, weight(p, r)}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Weight != out[j].Weight {
			return out[i].Weight > out[j].Weight
		}
		return out[i].Facility < out[j].Facility
	})
	return out, nil
}

func (s standin) Draw(req Request, now time.Time) ([]byte, Draw, error) {
	var seed [32]byte
	rand.Read(seed[:])
	d, err := s.draw(req, hex.EncodeToString(seed[:]), now.UTC())
	if err != nil {
		return nil, Draw{}, err
	}
	doc, err := json.MarshalIndent(d, "", "  ")
	return doc, d, err
}

// draw is a pure function of req and seed: successive weighted draws
// without replacement from a ChaCha8 stream keyed by the seed.
func (standin) draw(req Request, seed string, at time.Time) (Draw, error) {
	if req.SampleSize < 1 || req.InspectorsPerFacility < 1 {
		return Draw{}, fmt.Errorf("sample size and team size must be at least 1")
	}
	if err := req.Parameters.Validate(); err != nil {
		return Draw{}, err
	}
	var key [32]byte
	if b, err := hex.DecodeString(seed); err != nil || len(b) != 32 {
		return Draw{}, fmt.Errorf("seed %q: want 64 hex digits", seed)
	} else {
		copy(key[:], b)
	}
	r := mrand.New(mrand.NewChaCha8(key))
	d := Draw{Method: standinMethod, County: req.County, Period: req.Period, DrawnAt: at, Seed: seed, SampleSize: req.SampleSize,
		InspectorsPerFacility: req.InspectorsPerFacility, Parameters: req.Parameters, Inspectors: slices.Clone(req.Inspectors),
		Conflicts: slices.Clone(req.Conflicts)}
	for _, c := range req.Candidates {
		d.Candidates = append(d.Candidates, Ranked{c, weight(req.Parameters, c)})
	}
	sort.Slice(d.Candidates, func(i, j int) bool { return d.Candidates[i].Facility < d.Candidates[j].Facility })
	sort.Slice(d.Inspectors, func(i, j int) bool { return d.Inspectors[i].ID < d.Inspectors[j].ID })
	left := slices.Clone(d.Candidates)
	load := map[string]int{}
	for len(d.Selected) < req.SampleSize {
		var total float64
		for _, c := range left {
			total += c.Weight
		}
		if total <= 0 {
			break
		}
		x, i := r.Float64()*total, 0
		for ; i < len(left)-1 && x >= left[i].Weight; i++ {
			x -= left[i].Weight
		}
		c := left[i]
		left = slices.Delete(left, i, i+1)
		sel := Selection{Rank: len(d.Selected) + 1, Facility: c.Facility, Weight: c.Weight}
		for range req.InspectorsPerFacility {
			var pool []string
			least := math.MaxInt
			for _, in := range d.Inspectors {
				if slices.Contains(d.Conflicts, Conflict{in.ID, c.Facility}) || slices.Contains(sel.Inspectors, in.ID) {
					continue
				}
				if l := load[in.ID]; l < least {
					least, pool = l, []string{in.ID}
				} else if l == least {
					pool = append(pool, in.ID)
				}
			}
			if len(pool) == 0 {
				return Draw{}, ErrNotEnoughInspectors
			}
			id := pool[r.IntN(len(pool))]
			load[id]++
			sel.Inspectors = append(sel.Inspectors, id)
		}
		d.Selected = append(d.Selected, sel)
	}
	if len(d.Selected) == 0 {
		return Draw{}, ErrNoCandidate
	}
	return d, nil
}

func (s standin) Verify(doc []byte) error {
	var d Draw
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return fmt.Errorf("not a draw: %w", err)
	}
	if d.Method != standinMethod {
		return fmt.Errorf("method %q is not %q", d.Method, standinMethod)
	}
	req := Request{County: d.County, Period: d.Period, SampleSize: d.SampleSize, InspectorsPerFacility: d.InspectorsPerFacility,
		Parameters: d.Parameters, Inspectors: d.Inspectors, Conflicts: d.Conflicts}
	for _, c := range d.Candidates {
		req.Candidates = append(req.Candidates, c.Record)
	}
	again, err := s.draw(req, d.Seed, d.DrawnAt)
	if err != nil {
		return err
	}
	a, _ := json.Marshal(again)
	b, _ := json.Marshal(d)
	if !bytes.Equal(a, b) {
		return fmt.Errorf("the draw does not follow from its seed and request")
	}
	return nil
}
