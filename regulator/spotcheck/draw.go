package spotcheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/cradlewatch/cradlewatch/model"
)

// Inspector is a person who may be sent to inspect: their published ID
// and name (执法证号 and name are published with inspection results), and
// nothing else.
type Inspector struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Conflict is a declared recusal (回避): the inspector is never sent to
// the facility.
type Conflict struct {
	Inspector string `json:"inspector"`
	Facility  string `json:"facility"`
}

// Request is what a draw is made from.
type Request struct {
	// County is the county's region code (its health commission draws).
	County string `json:"county"`
	// Period names the record's period, e.g. "2026-06"; free text.
	Period string `json:"period,omitempty"`
	// SampleSize is how many facilities to inspect.
	SampleSize int `json:"sample_size"`
	// InspectorsPerFacility is the size of each team (at least two for an
	// inspection by law enforcement; one is allowed).
	InspectorsPerFacility int         `json:"inspectors_per_facility"`
	Parameters            Parameters  `json:"parameters"`
	Candidates            []Record    `json:"candidates"`
	Inspectors            []Inspector `json:"inspectors"`
	Conflicts             []Conflict  `json:"conflicts,omitempty"`
}

// Candidate is a facility of the draw with its weight.
type Candidate = Ranked

// Selection is one facility drawn and its team.
type Selection struct {
	// Rank is the order of the draw, from 1.
	Rank     int     `json:"rank"`
	Facility string  `json:"facility"`
	Weight   float64 `json:"weight"`
	// Inspectors are the team's inspector IDs in the order drawn.
	Inspectors []string `json:"inspectors"`
}

// Draw is a draw as published: everything needed to reproduce it.
type Draw struct {
	Method                string      `json:"method"`
	County                string      `json:"county"`
	Period                string      `json:"period,omitempty"`
	DrawnAt               time.Time   `json:"drawn_at"`
	Seed                  Seed        `json:"seed"`
	SampleSize            int         `json:"sample_size"`
	InspectorsPerFacility int         `json:"inspectors_per_facility"`
	Parameters            Parameters  `json:"parameters"`
	Candidates            []Candidate `json:"candidates"` // by facility ID
	Inspectors            []Inspector `json:"inspectors"` // by ID
	Conflicts             []Conflict  `json:"conflicts,omitempty"`
	Selected              []Selection `json:"selected"` // in draw order
}

// Errors a draw can end with.
var (
	ErrNoCandidate         = errors.New("spotcheck: no candidate with a positive weight")
	ErrNotEnoughInspectors = errors.New("spotcheck: not enough inspectors")
)

// New draws from req with seed at drawnAt (which is only recorded). It is
// a pure function: the same request and seed give the same draw, which is
// what Verify relies on. A sample larger than the candidates with a
// positive weight selects all of them; candidates of weight 0 are never
// selected.
func New(req Request, seed Seed, drawnAt time.Time) (*Draw, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	d := &Draw{
		Method: Method, County: req.County, Period: req.Period, DrawnAt: drawnAt.UTC(), Seed: seed,
		SampleSize: req.SampleSize, InspectorsPerFacility: req.InspectorsPerFacility, Parameters: req.Parameters,
	}
	for _, r := range req.Candidates {
		d.Candidates = append(d.Candidates, Candidate{r, req.Parameters.Weight(r)})
	}
	sort.Slice(d.Candidates, func(i, j int) bool { return d.Candidates[i].Facility < d.Candidates[j].Facility })
	d.Inspectors = slices.Clone(req.Inspectors)
	sort.Slice(d.Inspectors, func(i, j int) bool { return d.Inspectors[i].ID < d.Inspectors[j].ID })
	d.Conflicts = slices.Clone(req.Conflicts)
	sort.Slice(d.Conflicts, func(i, j int) bool {
		a, b := d.Conflicts[i], d.Conflicts[j]
		return a.Inspector < b.Inspector || a.Inspector == b.Inspector && a.Facility < b.Facility
	})
	picked := sample(d.Candidates, d.SampleSize, seed)
	if len(picked) == 0 {
		return nil, ErrNoCandidate
	}
	teams, err := assign(picked, d.Inspectors, d.Conflicts, d.InspectorsPerFacility, seed)
	if err != nil {
		return nil, err
	}
	for i, c := range picked {
		d.Selected = append(d.Selected, Selection{Rank: i + 1, Facility: c.Facility, Weight: c.Weight, Inspectors: teams[i]})
	}
	return d, nil
}

// sample is Efraimidis and Spirakis' weighted sampling without
// replacement (A-ES): each candidate of weight w > 0 gets the key
// ln(u)/w, u its uniform number in (0, 1) (Seed.facilityUniform), and the
// n largest keys are drawn, largest first; equal keys go by facility ID.
// It is the same as drawing one facility at a time, each time with
// probability proportional to its weight among those not yet drawn.
func sample(cands []Candidate, n int, seed Seed) []Candidate {
	type keyed struct {
		c   Candidate
		key float64
	}
	var ks []keyed
	for _, c := range cands {
		if c.Weight > 0 {
			ks = append(ks, keyed{c, math.Log(seed.facilityUniform(c.Facility)) / c.Weight})
		}
	}
	sort.Slice(ks, func(i, j int) bool {
		if ks[i].key != ks[j].key {
			return ks[i].key > ks[j].key
		}
		return ks[i].c.Facility < ks[j].c.Facility
	})
	out := make([]Candidate, 0, min(n, len(ks)))
	for _, k := range ks[:min(n, len(ks))] {
		out = append(out, k.c)
	}
	return out
}

// assign draws each selected facility's team, facilities in draw order,
// seats one after the other: the inspectors eligible for a seat are those
// not recused from the facility and not yet on its team; of those, the
// ones with the fewest assignments so far in this draw; one of them,
// ordered by ID, is taken uniformly with the inspector stream. So nobody is
// drawn twice before everyone eligible was drawn once.
func assign(picked []Candidate, inspectors []Inspector, conflicts []Conflict, perFacility int, seed Seed) ([][]string, error) {
	recused := map[Conflict]bool{}
	for _, c := range conflicts {
		recused[c] = true
	}
	load := map[string]int{}
	st := &inspectorStream{seed: seed}
	teams := make([][]string, len(picked))
	for i, c := range picked {
		onTeam := map[string]bool{}
		for range perFacility {
			var pool []string
			least := math.MaxInt
			for _, in := range inspectors { // sorted by ID
				if recused[Conflict{in.ID, c.Facility}] || onTeam[in.ID] {
					continue
				}
				switch l := load[in.ID]; {
				case l < least:
					least, pool = l, []string{in.ID}
				case l == least:
					pool = append(pool, in.ID)
				}
			}
			if len(pool) == 0 {
				return nil, fmt.Errorf("%w for %s: %d needed, %d eligible", ErrNotEnoughInspectors, c.Facility, perFacility, len(onTeam))
			}
			id := pool[st.intn(len(pool))]
			onTeam[id] = true
			load[id]++
			teams[i] = append(teams[i], id)
		}
	}
	return teams, nil
}

func (req Request) validate() error {
	if _, err := model.ParseRegionCode(req.County); err != nil || model.MustRegionCode(req.County).Level() != model.LevelCounty {
		return fmt.Errorf("spotcheck: county %q: want a county's 6-digit code", req.County)
	}
	if req.SampleSize < 1 {
		return fmt.Errorf("spotcheck: sample size %d: want at least 1", req.SampleSize)
	}
	if req.InspectorsPerFacility < 1 {
		return fmt.Errorf("spotcheck: %d inspectors per facility: want at least 1", req.InspectorsPerFacility)
	}
	if err := req.Parameters.Validate(); err != nil {
		return err
	}
	facilities := map[string]bool{}
	for _, r := range req.Candidates {
		if err := r.Validate(); err != nil {
			return err
		}
		if facilities[r.Facility] {
			return fmt.Errorf("spotcheck: facility %s listed twice", r.Facility)
		}
		facilities[r.Facility] = true
	}
	inspectors := map[string]bool{}
	for _, in := range req.Inspectors {
		if strings.TrimSpace(in.ID) == "" || inspectors[in.ID] {
			return fmt.Errorf("spotcheck: inspector ID %q empty or listed twice", in.ID)
		}
		inspectors[in.ID] = true
	}
	for _, c := range req.Conflicts {
		if !inspectors[c.Inspector] || !facilities[c.Facility] {
			return fmt.Errorf("spotcheck: recusal of %q from %q names no listed inspector or candidate", c.Inspector, c.Facility)
		}
	}
	return nil
}

// Request is the request a draw was made from.
func (d *Draw) Request() Request {
	req := Request{
		County: d.County, Period: d.Period, SampleSize: d.SampleSize, InspectorsPerFacility: d.InspectorsPerFacility,
		Parameters: d.Parameters, Inspectors: d.Inspectors, Conflicts: d.Conflicts,
	}
	for _, c := range d.Candidates {
		req.Candidates = append(req.Candidates, c.Record)
	}
	return req
}

// Reproduce makes the draw again from a published draw's request and seed.
func Reproduce(d *Draw) (*Draw, error) {
	if d.Method != Method {
		return nil, fmt.Errorf("spotcheck: method %q: this program reproduces %q", d.Method, Method)
	}
	return New(d.Request(), d.Seed, d.DrawnAt)
}

// Verify checks a published draw: every candidate's weight is what the
// published parameters give its record, and drawing again from the
// published request and seed selects the same facilities in the same
// order with the same teams.
func Verify(d *Draw) error {
	again, err := Reproduce(d)
	if err != nil {
		return err
	}
	for i, c := range d.Candidates {
		if i >= len(again.Candidates) || again.Candidates[i].Facility != c.Facility {
			return errors.New("spotcheck: candidates are not in facility order")
		}
		if w := again.Candidates[i].Weight; w != c.Weight {
			return fmt.Errorf("spotcheck: %s: published weight %v, its record and the parameters give %v", c.Facility, c.Weight, w)
		}
	}
	if !reflect.DeepEqual(again.Selected, d.Selected) {
		return fmt.Errorf("spotcheck: the draw does not reproduce: published %s, the seed gives %s", summary(d.Selected), summary(again.Selected))
	}
	return nil
}

func summary(s []Selection) string {
	var b strings.Builder
	for i, x := range s {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%d. %s [%s]", x.Rank, x.Facility, strings.Join(x.Inspectors, " "))
	}
	return b.String()
}

// ReadRequest decodes a request; unknown fields are errors, so a typo in
// a hand-made request is not silently a zero.
func ReadRequest(r io.Reader) (Request, error) {
	var req Request
	err := decodeStrict(r, &req)
	return req, err
}

// ReadDraw decodes a published draw; unknown fields are errors.
func ReadDraw(r io.Reader) (*Draw, error) {
	var d Draw
	if err := decodeStrict(r, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// JSON is the draw as published: indented, UTF-8 as is.
func (d *Draw) JSON() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(d); err != nil {
		return nil, fmt.Errorf("spotcheck: %w", err)
	}
	return b.Bytes(), nil
}

func decodeStrict(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("spotcheck: %w", err)
	}
	if dec.More() {
		return errors.New("spotcheck: trailing data after the JSON document")
	}
	return nil
}
