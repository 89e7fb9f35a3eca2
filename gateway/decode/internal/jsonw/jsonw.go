// Package jsonw walks a JSON document in place, without building a tree.
//
// Device payloads are small flat objects read thousands of times a minute
// on a small ARM box; decoding them into map[string]any costs an allocation
// per key and per number. The walker instead hands out slices of the
// original bytes. Callers must check the document first (ParseValid, or
// encoding/json.Valid): the walker then only needs to find where values
// end, and it still never indexes outside its input, whatever it is given.
//
// Reader does both at once: it checks a document as strictly as
// encoding/json.Valid while handing out its members, so that a decoder
// reads a payload once.
package jsonw

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
)

// Type is the JSON type of a value.
type Type byte

// JSON value types.
const (
	Invalid Type = iota
	Object
	Array
	String
	Number
	True
	False
	Null
)

// Value is one JSON value: its type and its raw bytes, quotes and brackets
// included.
type Value struct {
	Type Type
	Raw  []byte
}

// Parse returns the first value of data.
func Parse(data []byte) Value {
	v, _ := next(data)
	return v
}

// IsBool reports whether v is true or false.
func (v Value) IsBool() bool { return v.Type == True || v.Type == False }

// Float returns a number's value. ok is false for non-numbers. A number
// float64 cannot hold comes back with ok true, so that the caller refuses
// it as such rather than as a wrong type: one too large (1e400) as ±Inf,
// one so small that it would round to zero although its digits are not all
// zero (1e-400) as NaN, which JSON cannot otherwise produce. Reading 1e-400
// as 0 would turn "a little" into "none".
func (v Value) Float() (f float64, ok bool) {
	if v.Type != Number {
		return 0, false
	}
	if f, ok := exactFloat(v.Raw); ok {
		return f, true
	}
	f, err := strconv.ParseFloat(string(v.Raw), 64)
	if err != nil && !math.IsInf(f, 0) {
		return 0, false
	}
	if f == 0 && nonzeroDigits(v.Raw) {
		return math.NaN(), true
	}
	return f, true
}

// nonzeroDigits reports whether a number's mantissa (before any exponent)
// has a digit other than 0.
func nonzeroDigits(raw []byte) bool {
	for _, c := range raw {
		switch {
		case c == 'e' || c == 'E':
			return false
		case c >= '1' && c <= '9':
			return true
		}
	}
	return false
}

// StrBytes returns a string's content without quotes when it has no escape
// sequences; ok is false for non-strings and for escaped strings (use Str).
func (v Value) StrBytes() (b []byte, ok bool) {
	if v.Type != String || len(v.Raw) < 2 {
		return nil, false
	}
	b = v.Raw[1 : len(v.Raw)-1]
	if bytes.IndexByte(b, '\\') >= 0 {
		return nil, false
	}
	return b, true
}

// Str returns a string's content, unescaped.
func (v Value) Str() (string, bool) {
	if b, ok := v.StrBytes(); ok {
		return string(b), true
	}
	if v.Type != String {
		return "", false
	}
	var s string
	if err := json.Unmarshal(v.Raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// ObjectEach calls fn for each member of an object, in document order,
// until fn returns false. key is the raw key without quotes (escape
// sequences are left as they are: keys that need them never match a known
// name, which is what callers want). It returns false if obj is not an
// object.
func ObjectEach(obj Value, fn func(key []byte, v Value) bool) bool {
	if obj.Type != Object {
		return false
	}
	p := obj.Raw[1:]
	for {
		p = skipWS(p)
		if len(p) == 0 || p[0] == '}' {
			return true
		}
		if p[0] == ',' {
			p = skipWS(p[1:])
		}
		if len(p) == 0 || p[0] != '"' {
			return true
		}
		end := stringEnd(p)
		if end < 2 {
			return true
		}
		key := p[1 : end-1]
		p = skipWS(p[end:])
		if len(p) == 0 || p[0] != ':' {
			return true
		}
		var v Value
		v, p = next(p[1:])
		if v.Type == Invalid {
			return true
		}
		if !fn(key, v) {
			return true
		}
	}
}

// ArrayEach calls fn for each element of an array until fn returns false.
// It returns false if arr is not an array.
func ArrayEach(arr Value, fn func(i int, v Value) bool) bool {
	if arr.Type != Array {
		return false
	}
	p := arr.Raw[1:]
	for i := 0; ; i++ {
		p = skipWS(p)
		if len(p) == 0 || p[0] == ']' {
			return true
		}
		if p[0] == ',' {
			p = p[1:]
		}
		var v Value
		v, p = next(p)
		if v.Type == Invalid {
			return true
		}
		if !fn(i, v) {
			return true
		}
	}
}

// Member returns the member of an object with the given key, Invalid if
// absent.
func Member(obj Value, key string) Value {
	var found Value
	ObjectEach(obj, func(k []byte, v Value) bool {
		if string(k) == key {
			found = v
			return false
		}
		return true
	})
	return found
}

// Index returns the i-th element of an array, Invalid if absent.
func Index(arr Value, i int) Value {
	var found Value
	ArrayEach(arr, func(j int, v Value) bool {
		if j == i {
			found = v
			return false
		}
		return true
	})
	return found
}

// next returns the value at the start of p (after white space) and what
// follows it.
func next(p []byte) (Value, []byte) {
	p = skipWS(p)
	if len(p) == 0 {
		return Value{}, nil
	}
	var t Type
	var n int
	switch c := p[0]; {
	case c == '{':
		t, n = Object, containerEnd(p)
	case c == '[':
		t, n = Array, containerEnd(p)
	case c == '"':
		t, n = String, stringEnd(p)
	case c == 't':
		t, n = True, literalEnd(p, "true")
	case c == 'f':
		t, n = False, literalEnd(p, "false")
	case c == 'n':
		t, n = Null, literalEnd(p, "null")
	case c == '-' || c >= '0' && c <= '9':
		t, n = Number, numberEnd(p)
	}
	if n <= 0 || n > len(p) {
		return Value{}, nil
	}
	return Value{Type: t, Raw: p[:n]}, p[n:]
}

func skipWS(p []byte) []byte {
	for len(p) > 0 && (p[0] == ' ' || p[0] == '\t' || p[0] == '\n' || p[0] == '\r') {
		p = p[1:]
	}
	return p
}

// stringEnd returns the length of the string starting at p[0] == '"',
// closing quote included, or 0 if it does not end.
func stringEnd(p []byte) int {
	for i := 1; i < len(p); i++ {
		switch p[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return 0
}

// containerEnd returns the length of the object or array starting at p[0],
// or 0 if it does not end. Depth is a counter, not recursion, so deeply
// nested input costs no stack.
func containerEnd(p []byte) int {
	depth := 0
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1
			}
		case '"':
			n := stringEnd(p[i:])
			if n == 0 {
				return 0
			}
			i += n - 1
		}
	}
	return 0
}

func literalEnd(p []byte, lit string) int {
	if len(p) >= len(lit) && string(p[:len(lit)]) == lit {
		return len(lit)
	}
	return 0
}

func numberEnd(p []byte) int {
	i := 0
	for i < len(p) {
		c := p[i]
		if c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			i++
			continue
		}
		break
	}
	return i
}
