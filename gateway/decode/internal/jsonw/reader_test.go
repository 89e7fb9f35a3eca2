package jsonw

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// validCases are documents on the edges of JSON's grammar; the Reader must
// agree with encoding/json.Valid and utf8.Valid on each.
var validCases = []string{
	``, ` `, `{}`, ` { } `, `[]`, `[ ]`, `{"a":1}`, `{"a":1,}`, `{,"a":1}`, `{"a" 1}`, `{"a":}`, `{"a"::1}`,
	`{"a":1 "b":2}`, `{1:2}`, `{"a":[1,2,]}`, `[1 2]`, `[,1]`, `[}`, `{]`, `{"a":{"b":[{}]}}`, `{"a":{"b":[{]}}}`,
	`0`, `-0`, `01`, `-01`, `1.`, `1.5`, `.5`, `1e5`, `1E+5`, `1e-5`, `1e`, `1e+`, `-`, `+1`, `1.5e3.2`, `123abc`,
	`-1.25e-10`, `1e400`, `true`, `tru`, `truex`, `false`, `null`, `nul`, `NaN`, `Infinity`, `"a"`, `"a`, `"\"`,
	`"\u00e9"`, `"\u00G9"`, `"\u00e"`, `"\x"`, `"\/\b\f\n\r\t\\\""`, "\"a\x00b\"", "\"a\x1fb\"", "\"a\x7fb\"",
	"\"\xff\"", "\"\xc3\xa9\"", "\"\xed\xa0\x80\"", "\"\xef\xbf\xbd\"", "\xef\xbb\xbf{}", "{}\x00", "{} x", "{}{}",
	"\t\n\r {\"a\" \t:\n1\r}\n", "\v{}", "{\"a\":1}\f", `{"temperature":23.4,"humidity":45.1,"battery":97,"linkquality":120}`,
	"{\"\xff\":1}", `{"a\"b":1}`, `{"a":"}"}`, `[[[[]]]]`, `[[[[]]]`, `[[[[]]]]]`,
}

func TestValidAgreesWithEncodingJSON(t *testing.T) {
	cases := append([]string{}, validCases...)
	for _, d := range []int{63, 64, 65, 127, 128, 129, MaxDepth - 1, MaxDepth, MaxDepth + 1} {
		cases = append(cases, strings.Repeat("[", d)+strings.Repeat("]", d))
		cases = append(cases, strings.Repeat(`{"a":`, d-1)+"{}"+strings.Repeat("}", d-1))
		cases = append(cases, strings.Repeat(`[{"a":`, d/2)+"1"+strings.Repeat("}]", d/2))
	}
	for _, c := range cases {
		checkAgainstEncodingJSON(t, []byte(c))
	}
}

func FuzzReader(f *testing.F) {
	for _, c := range validCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkAgainstEncodingJSON(t, data) })
}

// checkAgainstEncodingJSON checks Valid, ParseValid and a member-by-member
// read against encoding/json.Valid and the (non-checking) walker.
func checkAgainstEncodingJSON(t *testing.T, data []byte) {
	t.Helper()
	want := json.Valid(data) && utf8.Valid(data)
	if got := Valid(data); got != want {
		t.Fatalf("Valid(%.80q) = %v, encoding/json and utf8 say %v", data, got, want)
	}
	v, ok := ParseValid(data)
	if ok != want {
		t.Fatalf("ParseValid(%.80q) ok = %v, want %v", data, ok, want)
	}
	if ok {
		if w := Parse(data); w.Type != v.Type || !bytes.Equal(w.Raw, v.Raw) {
			t.Fatalf("ParseValid(%.80q) = %v %q, walker says %v %q", data, v.Type, v.Raw, w.Type, w.Raw)
		}
	}
	got, ok := readMembers(data)
	if wantObj := want && v.Type == Object; ok != wantObj {
		t.Fatalf("member read of %.80q: ok = %v, want %v", data, ok, wantObj)
	}
	if ok {
		if walk := walkMembers(v); got != walk {
			t.Fatalf("member read of %.80q:\n got %s\nwant %s", data, got, walk)
		}
	}
}

// readMembers reads an object with the Reader, entering nested objects,
// and prints what it saw.
func readMembers(data []byte) (string, bool) {
	r := NewReader(data)
	if !r.EnterObject() {
		r.Skip()
		return "", false
	}
	var b strings.Builder
	for depth := 1; depth > 0; {
		key, ok := r.NextMember()
		if !ok {
			b.WriteString("}")
			depth--
			continue
		}
		b.WriteString(string(key) + ":")
		if r.EnterObject() {
			b.WriteString("{")
			depth++
			continue
		}
		v := r.Value()
		b.WriteString(typeName(v.Type) + "=" + string(v.Raw) + ",")
	}
	return b.String(), r.End()
}

// walkMembers prints an object the way readMembers does, with the walker.
func walkMembers(v Value) string {
	var b strings.Builder
	var walk func(v Value)
	walk = func(v Value) {
		ObjectEach(v, func(key []byte, m Value) bool {
			b.WriteString(string(key) + ":")
			if m.Type == Object {
				b.WriteString("{")
				walk(m)
				return true
			}
			b.WriteString(typeName(m.Type) + "=" + string(m.Raw) + ",")
			return true
		})
		b.WriteString("}")
	}
	walk(v)
	return b.String()
}

func typeName(t Type) string {
	return [...]string{"invalid", "object", "array", "string", "number", "true", "false", "null"}[t]
}

func TestReaderMisuse(t *testing.T) {
	// NextMember outside an object, or after a failure, fails and stays failed.
	r := NewReader([]byte(`{"a":1}`))
	if _, ok := r.NextMember(); ok || !r.Failed() || r.End() {
		t.Fatal("NextMember before EnterObject")
	}
	// A member whose value is not consumed makes the next NextMember fail.
	r = NewReader([]byte(`{"a":1,"b":2}`))
	r.EnterObject()
	r.NextMember()
	if _, ok := r.NextMember(); ok || r.End() {
		t.Fatal("unconsumed value")
	}
	// An object left open is not a complete document.
	r = NewReader([]byte(`{"a":1}`))
	r.EnterObject()
	if r.End() {
		t.Fatal("End inside an object")
	}
}

func TestReaderDoesNotAllocate(t *testing.T) {
	doc := []byte(`{"temperature":23.4,"humidity":45.1,"battery":97,"linkquality":120,"x":{"y":[1,{"z":"\u00e9"}]}}`)
	n := testing.AllocsPerRun(100, func() {
		r := NewReader(doc)
		r.EnterObject()
		for _, ok := r.NextMember(); ok; _, ok = r.NextMember() {
			r.Skip()
		}
		if !r.End() {
			t.Fatal("not valid")
		}
	})
	if n != 0 {
		t.Errorf("%v allocations per document", n)
	}
}

var floatCases = []string{"0", "-0", "1", "23.4", "45.1", "-5.25", "1009.2", "0.1", "0.3", "123456789012345", "1234567890123456",
	"9007199254740993", "0.000000000000001", "1.0000000000000000000001", "01", "1.", ".5", "1e5", "1.5E-3", "-", "", "1.2.3", "1-2",
	"0.0000000000000000000001", "0.00000000000000000000001", "99999999999999.9", "4.35", "3025"}

func TestExactFloatAgreesWithStrconv(t *testing.T) {
	for _, c := range floatCases {
		checkFloat(t, c)
	}
}

func FuzzFloat(f *testing.F) {
	for _, c := range floatCases {
		f.Add(c)
	}
	f.Fuzz(checkFloat)
}

// checkFloat: where exactFloat answers, it answers what strconv does, to the bit.
func checkFloat(t *testing.T, s string) {
	got, ok := exactFloat([]byte(s))
	if !ok {
		return
	}
	want, err := strconv.ParseFloat(s, 64)
	if err != nil || math.Float64bits(got) != math.Float64bits(want) {
		t.Fatalf("exactFloat(%q) = %v, strconv says %v %v", s, got, want, err)
	}
}
