package spotcheck

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json")

// goldenSeed is the seed of the golden draw; any fixed value does.
var goldenSeed = mustSeed("5c1e2a7b9d0f4e3c8a6b2d1f0e9c7a5b3d2f1e0c9b8a7f6e5d4c3b2a19080706")

func mustSeed(h string) Seed {
	s, err := ParseSeed(h)
	if err != nil {
		panic(err)
	}
	return s
}

var drawnAt = time.Date(2026, 7, 1, 9, 30, 0, 0, time.FixedZone("CST", 8*3600))

// countyRequest is a county of eight facilities and five inspectors, one
// of them recused from one facility.
func countyRequest() Request {
	return Request{
		County: "110105", Period: "2026-06", SampleSize: 3, InspectorsPerFacility: 2,
		Parameters: DefaultParameters(),
		Candidates: []Record{
			{Facility: "110105001-0001", UnacknowledgedAlerts: 4, RepeatedAlerts: 7, OutOfLimitsShare: 0.12, CameraGapShare: 0.05, GatewayGapShare: 0.01, DaysSinceInspection: 400},
			{Facility: "110105001-0002", OutOfLimitsShare: 0.02, DaysSinceInspection: 30},
			{Facility: "110105001-0003", RepeatedAlerts: 2, OutOfLimitsShare: 0.05, CameraGapShare: 0.3, DaysSinceInspection: 200},
			{Facility: "110105002-0001", NeverInspected: true},
			{Facility: "110105002-0002", UnacknowledgedAlerts: 9, RepeatedAlerts: 20, OutOfLimitsShare: 0.4, CameraGapShare: 0.5, GatewayGapShare: 0.2, NeverInspected: true},
			{Facility: "110105002-0003", GatewayGapShare: 0.6, DaysSinceInspection: 90},
			{Facility: "110105003-0001", UnacknowledgedAlerts: 1, DaysSinceInspection: 10},
			{Facility: "110105003-0002", OutOfLimitsShare: 0.08, CameraGapShare: 0.1, DaysSinceInspection: 700},
		},
		Inspectors: []Inspector{
			{"11010500123", "王建国"}, {"11010500124", "李敏"}, {"11010500125", "张伟"},
			{"11010500126", "刘洋"}, {"11010500127", "陈静"},
		},
		Conflicts: []Conflict{{Inspector: "11010500124", Facility: "110105002-0002"}},
	}
}

func TestGoldenDraw(t *testing.T) {
	d, err := New(countyRequest(), goldenSeed, drawnAt)
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.JSON()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "draw.golden.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -run TestGoldenDraw -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the draw differs from %s: the method changed, which breaks every published draw\n%s", path, got)
	}
	// The published JSON verifies as it stands.
	published, err := ReadDraw(bytes.NewReader(want))
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(published); err != nil {
		t.Errorf("the golden draw does not verify: %v", err)
	}
}

// TestVerifyCatchesTampering: each change to a published draw that
// changes its outcome is found. (A candidate left out that would not have
// been drawn anyway changes nothing, since each facility's random number
// depends on the seed and its ID only; that the list is complete is
// checked against the registry, docs/console.md.)
func TestVerifyCatchesTampering(t *testing.T) {
	base, err := New(countyRequest(), goldenSeed, drawnAt)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(base)
	fresh := func() *Draw {
		var d Draw
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatal(err)
		}
		return &d
	}
	if err := Verify(fresh()); err != nil {
		t.Fatalf("untouched draw: %v", err)
	}
	tamper := map[string]func(d *Draw){
		"another seed":          func(d *Draw) { d.Seed[0] ^= 1 },
		"a weight raised":       func(d *Draw) { d.Candidates[1].Weight += 0.5 },
		"a record softened":     func(d *Draw) { d.Candidates[4].UnacknowledgedAlerts = 0 },
		"a facility swapped in": func(d *Draw) { d.Selected[0].Facility = "110105001-0002" },
		"order changed":         func(d *Draw) { d.Selected[0], d.Selected[1] = d.Selected[1], d.Selected[0] },
		"an inspector swapped":  func(d *Draw) { d.Selected[0].Inspectors[0] = "11010500127" },
		"a facility dropped":    func(d *Draw) { d.Selected = d.Selected[:len(d.Selected)-1] },
		"a drawn candidate removed": func(d *Draw) {
			for i, c := range d.Candidates {
				if c.Facility == d.Selected[0].Facility {
					d.Candidates = append(d.Candidates[:i:i], d.Candidates[i+1:]...)
					return
				}
			}
		},
		"a recusal added": func(d *Draw) {
			d.Conflicts = append(d.Conflicts, Conflict{Inspector: d.Selected[0].Inspectors[0], Facility: d.Selected[0].Facility})
		},
		"parameters changed": func(d *Draw) { d.Parameters.Base = 2 },
		"another method":     func(d *Draw) { d.Method = "something-else" },
	}
	for name, f := range tamper {
		d := fresh()
		f(d)
		if err := Verify(d); err == nil {
			t.Errorf("%s: Verify passed", name)
		}
	}
}

// TestDocumentedMethod recomputes draws from docs/console.md's text alone,
// with its own code, for many seeds.
func TestDocumentedMethod(t *testing.T) {
	req := countyRequest()
	req.Conflicts = nil
	req.InspectorsPerFacility = 1
	for n := range 200 {
		seed := testSeed("documented", n)
		d, err := New(req, seed, drawnAt)
		if err != nil {
			t.Fatal(err)
		}
		word := func(label string) uint64 {
			m := hmac.New(sha256.New, seed[:])
			m.Write([]byte("cradlewatch-spotcheck-v1/" + label))
			return binary.BigEndian.Uint64(m.Sum(nil)[:8])
		}
		type fk struct {
			id  string
			key float64
		}
		var keys []fk
		for _, r := range req.Candidates {
			u := (float64(word("facility/"+r.Facility)>>11) + 0.5) / math.Pow(2, 53)
			keys = append(keys, fk{r.Facility, math.Log(u) / req.Parameters.Weight(r)})
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i].key > keys[j].key })
		ids := []string{}
		for _, in := range req.Inspectors {
			ids = append(ids, in.ID)
		}
		sort.Strings(ids)
		// One seat per facility, five inspectors, three facilities: the
		// least loaded are those not yet drawn.
		counter := uint64(0)
		free := ids
		for i := range req.SampleSize {
			if d.Selected[i].Facility != keys[i].id {
				t.Fatalf("seed %d: place %d is %s, the documented method gives %s", n, i+1, d.Selected[i].Facility, keys[i].id)
			}
			var w uint64
			for {
				w = word(fmt.Sprintf("inspector/%d", counter))
				counter++
				m := ^uint64(0)
				if w < m-m%uint64(len(free)) {
					break
				}
			}
			pick := free[w%uint64(len(free))]
			if d.Selected[i].Inspectors[0] != pick {
				t.Fatalf("seed %d: inspector of place %d is %s, the documented method gives %s", n, i+1, d.Selected[i].Inspectors[0], pick)
			}
			free = remove(free, pick)
		}
	}
}

func remove(xs []string, x string) []string {
	var out []string
	for _, y := range xs {
		if y != x {
			out = append(out, y)
		}
	}
	return out
}

// testSeed is a fixed seed per label and number, so the statistical tests
// are the same on every run.
func testSeed(label string, n int) Seed {
	return Seed(sha256.Sum256([]byte(fmt.Sprintf("spotcheck test %s %d", label, n))))
}

func TestNewSeed(t *testing.T) {
	a, err := NewSeed(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewSeed(rand.Reader)
	if a == b || a == (Seed{}) {
		t.Error("two seeds from crypto/rand are equal or zero")
	}
	if _, err := NewSeed(strings.NewReader("short")); err == nil {
		t.Error("a short read makes a seed")
	}
	if p, err := ParseSeed(a.String()); err != nil || p != a {
		t.Errorf("seed does not round-trip: %v", err)
	}
	for _, bad := range []string{"", "00", strings.Repeat("g", 64), strings.Repeat("0", 66)} {
		if _, err := ParseSeed(bad); err == nil {
			t.Errorf("ParseSeed(%q) passed", bad)
		}
	}
}

func TestDrawEdgeCases(t *testing.T) {
	rec := func(id string) Record { return Record{Facility: id, DaysSinceInspection: 10} }
	inspectors := []Inspector{{"a", "甲"}, {"b", "乙"}, {"c", "丙"}}
	base := func() Request {
		return Request{County: "110105", SampleSize: 2, InspectorsPerFacility: 1, Parameters: DefaultParameters(),
			Candidates: []Record{rec("f1"), rec("f2"), rec("f3")}, Inspectors: inspectors}
	}
	seed := testSeed("edge", 0)

	t.Run("sample larger than the candidates selects all", func(t *testing.T) {
		req := base()
		req.SampleSize = 10
		d, err := New(req, seed, drawnAt)
		if err != nil || len(d.Selected) != 3 {
			t.Fatalf("%v, %d selected", err, len(d.Selected))
		}
	})
	t.Run("zero weights are never drawn", func(t *testing.T) {
		req := base()
		req.Parameters = Parameters{Unacknowledged: Factor{1, 1}, Repeated: Factor{1, 1}, Inspection: Factor{0, 1}}
		req.Candidates[1].UnacknowledgedAlerts = 1 // f2 is the only facility with weight
		req.SampleSize = 3
		for n := range 50 {
			d, err := New(req, testSeed("zero", n), drawnAt)
			if err != nil || len(d.Selected) != 1 || d.Selected[0].Facility != "f2" {
				t.Fatalf("%v %+v", err, d)
			}
		}
		req.Candidates[1].UnacknowledgedAlerts = 0
		if _, err := New(req, seed, drawnAt); !errors.Is(err, ErrNoCandidate) {
			t.Errorf("all weights zero: %v", err)
		}
	})
	t.Run("ties in weight are broken by the seed, not by the list", func(t *testing.T) {
		req := base()
		req.SampleSize = 1
		first := map[string]int{}
		for n := range 300 {
			d, _ := New(req, testSeed("tie", n), drawnAt)
			first[d.Selected[0].Facility]++
		}
		for _, id := range []string{"f1", "f2", "f3"} {
			if first[id] < 60 {
				t.Errorf("%s drawn first %d times in 300 with equal weights", id, first[id])
			}
		}
		a, _ := New(req, seed, drawnAt)
		req.Candidates[0], req.Candidates[2] = req.Candidates[2], req.Candidates[0]
		b, _ := New(req, seed, drawnAt)
		if a.Selected[0].Facility != b.Selected[0].Facility {
			t.Error("the order of the candidate list changes the draw")
		}
	})
	t.Run("equal keys go by facility ID", func(t *testing.T) {
		got := sample([]Candidate{{Record{Facility: "b"}, math.Inf(1)}, {Record{Facility: "a"}, math.Inf(1)}}, 2, seed)
		if got[0].Facility != "a" || got[1].Facility != "b" {
			t.Errorf("order %s, %s", got[0].Facility, got[1].Facility)
		}
	})
	t.Run("one inspector", func(t *testing.T) {
		req := base()
		req.Inspectors = inspectors[:1]
		d, err := New(req, seed, drawnAt)
		if err != nil || d.Selected[0].Inspectors[0] != "a" || d.Selected[1].Inspectors[0] != "a" {
			t.Fatalf("%v %+v", err, d)
		}
		req.InspectorsPerFacility = 2
		if _, err := New(req, seed, drawnAt); !errors.Is(err, ErrNotEnoughInspectors) {
			t.Errorf("a team of two from one inspector: %v", err)
		}
		req.InspectorsPerFacility = 1
		req.SampleSize = 3
		req.Conflicts = []Conflict{{"a", "f2"}}
		if _, err := New(req, seed, drawnAt); !errors.Is(err, ErrNotEnoughInspectors) {
			t.Errorf("the only inspector recused: %v", err)
		}
	})
	t.Run("nobody twice before everyone once", func(t *testing.T) {
		req := base()
		req.SampleSize, req.InspectorsPerFacility = 3, 2
		for n := range 100 {
			d, err := New(req, testSeed("rounds", n), drawnAt)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]int{}
			for _, s := range d.Selected {
				if s.Inspectors[0] == s.Inspectors[1] {
					t.Fatalf("%s has %s twice", s.Facility, s.Inspectors[0])
				}
				for _, in := range s.Inspectors {
					seen[in]++
				}
			}
			for id, k := range seen {
				if k != 2 {
					t.Fatalf("6 seats, 3 inspectors: %s sits %d times", id, k)
				}
			}
		}
	})
	t.Run("bad requests", func(t *testing.T) {
		for name, f := range map[string]func(*Request){
			"no county":           func(r *Request) { r.County = "" },
			"a city":              func(r *Request) { r.County = "110100" },
			"sample 0":            func(r *Request) { r.SampleSize = 0 },
			"team 0":              func(r *Request) { r.InspectorsPerFacility = 0 },
			"negative weight":     func(r *Request) { r.Parameters.CameraGap = -1 },
			"NaN weight":          func(r *Request) { r.Parameters.Base = math.NaN() },
			"zero cap":            func(r *Request) { r.Parameters.Inspection.Cap = 0 },
			"share above one":     func(r *Request) { r.Candidates[0].CameraGapShare = 1.5 },
			"negative count":      func(r *Request) { r.Candidates[0].RepeatedAlerts = -1 },
			"facility twice":      func(r *Request) { r.Candidates[1].Facility = "f1" },
			"inspector twice":     func(r *Request) { r.Inspectors = append(r.Inspectors, Inspector{"a", "again"}) },
			"recusal of a nobody": func(r *Request) { r.Conflicts = []Conflict{{"z", "f1"}} },
		} {
			req := base()
			f(&req)
			if _, err := New(req, seed, drawnAt); err == nil {
				t.Errorf("%s: drawn", name)
			}
		}
	})
}

func TestRank(t *testing.T) {
	req := countyRequest()
	r, err := Rank(req.Candidates, req.Parameters)
	if err != nil {
		t.Fatal(err)
	}
	if r[0].Facility != "110105002-0002" || r[len(r)-1].Facility != "110105001-0002" {
		t.Errorf("riskiest %s, safest %s", r[0].Facility, r[len(r)-1].Facility)
	}
	// The riskiest possible record weighs Base + every weight: 13.
	worst := Record{Facility: "x", UnacknowledgedAlerts: 100, RepeatedAlerts: 100, OutOfLimitsShare: 1, CameraGapShare: 1, GatewayGapShare: 1, NeverInspected: true}
	if w := DefaultParameters().Weight(worst); w != 13 {
		t.Errorf("worst record weighs %v, want 13", w)
	}
	if w := DefaultParameters().Weight(Record{Facility: "y"}); w != 1 {
		t.Errorf("clean record inspected today weighs %v, want 1", w)
	}
}
