package jsonw

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// dupCases: documents and whether an object in them has a name twice.
var dupCases = []struct {
	doc string
	dup bool
}{
	{`{"a":1,"b":2}`, false},
	{`{"a":1,"a":2}`, true},
	{`{"temperature":21.5,"humidity":40,"temperature":99}`, true},
	{`{"a":1,"b":{"a":2}}`, false},                                                // same name in different objects
	{`{"a":{"x":1,"x":2}}`, true},                                                 // nested
	{`{"a":[{"x":1},{"x":2}]}`, false},                                            // objects side by side
	{`{"a":[{"x":1,"y":{},"x":2}]}`, true},                                        // inside an array
	{`[{"a":1},{"a":1,"a":1}]`, true},                                             // top-level array
	{`{"a":{},"a":[]}`, true},                                                     // empty values
	{`{"a":1,"\u0061":2}`, false},                                                 // names compared as written
	{`{"a\"":1,"a\"":2}`, true},                                                   // escaped, identical
	{`{"ab":1,"a":2,"b":3}`, false},                                               // prefixes
	{`{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":{"j":1,"j":2}}}}}}}}}}`, true}, // past the inline objects
	{`{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":{"j":1,"k":2}}}}}}}}},"a":0}`, true},
}

func TestDuplicateKeys(t *testing.T) {
	cases := dupCases
	// Objects past linearKeys members, where names move to a map.
	for _, n := range []int{linearKeys - 1, linearKeys, linearKeys + 1, inlineKeys + 5, 500} {
		var b strings.Builder
		b.WriteString("{")
		for i := range n {
			fmt.Fprintf(&b, `"k%d":{"x":%d},`, i, i)
		}
		clean := b.String() + `"end":0}`
		cases = append(cases, struct {
			doc string
			dup bool
		}{clean, false}, struct {
			doc string
			dup bool
		}{b.String() + `"k0":1}`, true}, struct {
			doc string
			dup bool
		}{b.String() + fmt.Sprintf(`"k%d":1}`, n-1), true})
	}
	for _, c := range cases {
		// Skipped whole (scanValue) and read member by member (Reader).
		r := NewReader([]byte(c.doc))
		r.Skip()
		if !r.End() {
			t.Fatalf("%.60s: not valid", c.doc)
		}
		if r.DuplicateKey() != c.dup {
			t.Errorf("skip %.80s: duplicate %v, want %v", c.doc, r.DuplicateKey(), c.dup)
		}
		if got, ok := readDup(c.doc); ok && got != c.dup {
			t.Errorf("member read %.80s: duplicate %v, want %v", c.doc, got, c.dup)
		}
		if got := walkDup(Parse([]byte(c.doc))); got != c.dup {
			t.Fatalf("oracle disagrees on %.80s", c.doc)
		}
	}
}

// readDup reads an object with EnterObject and NextMember at every level.
func readDup(doc string) (dup, ok bool) {
	r := NewReader([]byte(doc))
	if !r.EnterObject() {
		return false, false
	}
	for depth := 1; depth > 0; {
		if _, ok := r.NextMember(); !ok {
			depth--
			continue
		}
		if r.EnterObject() {
			depth++
			continue
		}
		r.Skip()
	}
	return r.DuplicateKey(), r.End()
}

// walkDup is the oracle: the walker's raw names, object by object.
func walkDup(v Value) bool {
	dup := false
	switch v.Type {
	case Object:
		seen := map[string]bool{}
		ObjectEach(v, func(k []byte, m Value) bool {
			if seen[string(k)] || walkDup(m) {
				dup = true
				return false
			}
			seen[string(k)] = true
			return true
		})
	case Array:
		ArrayEach(v, func(_ int, m Value) bool {
			dup = walkDup(m)
			return !dup
		})
	}
	return dup
}

func FuzzDuplicateKeys(f *testing.F) {
	for _, c := range dupCases {
		f.Add([]byte(c.doc))
	}
	for _, c := range validCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(data)
		r.Skip()
		if !r.End() || len(data) > 4096 {
			return // the oracle recurses; keep it to small valid documents
		}
		if got, want := r.DuplicateKey(), walkDup(Parse(data)); got != want {
			t.Fatalf("DuplicateKey(%.80q) = %v, oracle says %v", data, got, want)
		}
		if got, ok := readDup(string(data)); ok && got != walkDup(Parse(data)) {
			t.Fatalf("member read of %.80q: duplicate %v", data, got)
		}
	})
}

// A payload's usual shape still costs no allocation with names checked.
func TestDuplicateCheckDoesNotAllocate(t *testing.T) {
	doc := []byte(`{"battery":100,"humidity":58.37,"linkquality":120,"power_outage_count":0,"pressure":1009.2,"temperature":24.61,"voltage":3025,"x":{"a":[{"b":1},{"b":2}]}}`)
	n := testing.AllocsPerRun(100, func() {
		r := NewReader(doc)
		r.EnterObject()
		for _, ok := r.NextMember(); ok; _, ok = r.NextMember() {
			r.Skip()
		}
		if !r.End() || r.DuplicateKey() {
			t.Fatal("not valid")
		}
	})
	if n != 0 {
		t.Errorf("%v allocations per document", n)
	}
}

// Numbers float64 cannot hold are told apart from every value it can.
func TestFloatOutOfRange(t *testing.T) {
	for _, c := range []struct {
		raw  string
		want float64 // NaN: underflow
	}{
		{"1e400", math.Inf(1)}, {"-1e400", math.Inf(-1)}, {"1e-400", math.NaN()}, {"-1e-400", math.NaN()},
		{"0.00001e-399", math.NaN()}, {"0e-400", 0}, {"0.000e-999", 0}, {"-0", 0}, {"1e-310", 1e-310}, {"0", 0},
		{"2e-324", math.NaN()}, {"5e-324", 5e-324},
	} {
		f, ok := Value{Type: Number, Raw: []byte(c.raw)}.Float()
		if !ok {
			t.Errorf("%s: not ok", c.raw)
			continue
		}
		if math.IsNaN(c.want) != math.IsNaN(f) || (!math.IsNaN(f) && f != c.want) {
			t.Errorf("%s = %v, want %v", c.raw, f, c.want)
		}
	}
}
