package jsonw

import (
	"math"
	"testing"
)

func TestWalk(t *testing.T) {
	doc := []byte(` { "a" : 1.5e1 , "s":"x\"y", "b":[true,false,null,{"k":"}"}], "e":{} } `)
	v := Parse(doc)
	if v.Type != Object {
		t.Fatalf("type %v", v.Type)
	}
	var keys []string
	ObjectEach(v, func(k []byte, _ Value) bool { keys = append(keys, string(k)); return true })
	if got := len(keys); got != 4 || keys[1] != "s" || keys[3] != "e" {
		t.Fatalf("keys %q", keys)
	}
	if f, ok := Member(v, "a").Float(); !ok || f != 15 {
		t.Errorf("a = %v %v", f, ok)
	}
	if s, ok := Member(v, "s").Str(); !ok || s != `x"y` {
		t.Errorf("s = %q %v", s, ok)
	}
	if _, ok := Member(v, "s").StrBytes(); ok {
		t.Error("StrBytes of an escaped string")
	}
	b := Member(v, "b")
	if Index(b, 2).Type != Null || Index(b, 3).Type != Object || Index(b, 4).Type != Invalid {
		t.Errorf("array walk")
	}
	if f, ok := (Value{Type: Number, Raw: []byte("1e400")}).Float(); !ok || !math.IsInf(f, 1) {
		t.Errorf("1e400 = %v %v", f, ok)
	}
	// Truncated input (callers check with json.Valid; the walker must still not panic).
	for _, s := range []string{`{"a":`, `{"a":[1,`, `{"a":"x`, `[`, `{"a"`, `{`, `tru`} {
		v := Parse([]byte(s))
		ObjectEach(v, func([]byte, Value) bool { return true })
		ArrayEach(v, func(int, Value) bool { return true })
	}
}
