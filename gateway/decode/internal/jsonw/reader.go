package jsonw

import "unicode/utf8"

// MaxDepth is the deepest nesting of objects and arrays a Reader accepts,
// the limit of encoding/json.Valid, so that both accept the same documents.
const MaxDepth = 10000

// Reader checks and reads one JSON document in a single pass. It accepts
// exactly what encoding/json.Valid accepts, with the further condition that
// strings hold valid UTF-8 (outside strings any byte above 0x7f is a syntax
// error anyway): Valid(data) equals json.Valid(data) && utf8.Valid(data).
//
// A decoder walks the top-level object member by member and takes the
// values it wants as it goes, instead of checking the whole document first
// and walking it a second time:
//
//	r := jsonw.NewReader(payload)
//	if !r.EnterObject() { ... }
//	for key, ok := r.NextMember(); ok; key, ok = r.NextMember() {
//		v := r.Value() // or r.Skip(), or r.EnterObject() and a loop of its own
//	}
//	if !r.End() { ... the document was not valid: discard what was read }
//
// After NextMember returns a key the caller must consume the member's value
// with exactly one of Value, Skip or EnterObject (followed by NextMember
// until it returns false). What was read before End reports false may come
// from a document that turns out to be invalid; callers throw it away.
//
// A Reader never allocates for documents nested less than 64 levels deep,
// never recurses, and never indexes outside its input.
type Reader struct {
	data   []byte
	pos    int
	depth  int  // objects entered with EnterObject and not yet closed
	first  bool // just after '{': the next token is a key or '}'
	failed bool
	keys   keySet
}

// NewReader returns a Reader of data.
func NewReader(data []byte) Reader { return Reader{data: data} }

// Valid reports whether data is one valid JSON document with valid UTF-8
// strings (see Reader).
func Valid(data []byte) bool {
	r := NewReader(data)
	r.Skip()
	return r.End()
}

// ParseValid checks data and returns its top-level value; ok is false if
// data is not valid (see Reader).
func ParseValid(data []byte) (v Value, ok bool) {
	r := NewReader(data)
	v = r.Value()
	if !r.End() {
		return Value{}, false
	}
	return v, true
}

// DuplicateKey reports whether an object read so far (entered, or inside
// a value read or skipped) has a member name twice. The document may still
// be valid JSON (End says so); callers refuse it anyway, because JSON does
// not say which of the two values counts (keys.go).
func (r *Reader) DuplicateKey() bool { return r.keys.dup }

// Failed reports whether the Reader met a syntax error.
func (r *Reader) Failed() bool { return r.failed }

// End reports whether the document was valid: no error so far, every
// entered object closed, and nothing but white space after the value.
func (r *Reader) End() bool {
	if r.failed || r.depth != 0 {
		return false
	}
	r.pos = skipSpace(r.data, r.pos)
	return r.pos == len(r.data)
}

// Peek returns the type of the next value without consuming it: Invalid at
// the end of input or before a byte that starts no value.
func (r *Reader) Peek() Type {
	if r.failed {
		return Invalid
	}
	i := skipSpace(r.data, r.pos)
	if i >= len(r.data) {
		return Invalid
	}
	switch c := r.data[i]; {
	case c == '{':
		return Object
	case c == '[':
		return Array
	case c == '"':
		return String
	case c == 't':
		return True
	case c == 'f':
		return False
	case c == 'n':
		return Null
	case c == '-' || c >= '0' && c <= '9':
		return Number
	}
	return Invalid
}

// EnterObject consumes the '{' of the next value. It returns false, and
// consumes nothing, if the next value is not an object.
func (r *Reader) EnterObject() bool {
	if r.Peek() != Object {
		return false
	}
	if r.depth >= MaxDepth {
		r.failed = true
		return false
	}
	r.pos = skipSpace(r.data, r.pos) + 1
	r.depth++
	r.first = true
	r.keys.open()
	return true
}

// NextMember returns the next key of the innermost entered object, raw
// (without quotes, escape sequences left as they are), and positions the
// Reader on its value. It returns false at the object's '}', which it
// consumes, and on a syntax error.
func (r *Reader) NextMember() (key []byte, ok bool) {
	if r.failed || r.depth == 0 {
		r.failed = true
		return nil, false
	}
	p := r.data
	i := skipSpace(p, r.pos)
	if i >= len(p) {
		r.failed = true
		return nil, false
	}
	switch {
	case p[i] == '}':
		r.pos, r.depth, r.first = i+1, r.depth-1, false
		r.keys.close()
		return nil, false
	case r.first:
		r.first = false
	case p[i] == ',':
		i = skipSpace(p, i+1)
	default:
		r.failed = true
		return nil, false
	}
	start := i
	i = scanString(p, i)
	if i < 0 {
		r.failed = true
		return nil, false
	}
	key = p[start+1 : i-1]
	r.keys.add(p, start+1, i-1)
	i = skipSpace(p, i)
	if i >= len(p) || p[i] != ':' {
		r.failed = true
		return nil, false
	}
	r.pos = i + 1
	return key, true
}

// Value reads and checks the next value, whole. On a syntax error it
// returns a Value of type Invalid and the Reader has failed.
func (r *Reader) Value() Value {
	t := r.Peek()
	if t == Invalid {
		r.failed = true
		return Value{}
	}
	start := skipSpace(r.data, r.pos)
	end := scanValue(r.data, start, r.depth, &r.keys)
	if end < 0 {
		r.failed = true
		return Value{}
	}
	r.pos = end
	r.first = false
	return Value{Type: t, Raw: r.data[start:end]}
}

// Skip reads and checks the next value, whole, and discards it.
func (r *Reader) Skip() { r.Value() }

// skipSpace returns the index of the first byte at or after i that is not
// JSON white space.
func skipSpace(p []byte, i int) int {
	for i < len(p) && (p[i] == ' ' || p[i] == '\n' || p[i] == '\r' || p[i] == '\t') {
		i++
	}
	return i
}

// scanString checks the string starting at p[i] == '"' and returns the
// index after its closing quote, or -1.
func scanString(p []byte, i int) int {
	if i >= len(p) || p[i] != '"' {
		return -1
	}
	i++
	for i < len(p) {
		c := p[i]
		switch {
		case c == '"':
			return i + 1
		case c < 0x20:
			return -1
		case c == '\\':
			if i+1 >= len(p) {
				return -1
			}
			switch p[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(p) || !isHex(p[i+2]) || !isHex(p[i+3]) || !isHex(p[i+4]) || !isHex(p[i+5]) {
					return -1
				}
				i += 6
			default:
				return -1
			}
		case c < utf8.RuneSelf:
			i++
		default:
			r, n := utf8.DecodeRune(p[i:])
			if r == utf8.RuneError && n == 1 {
				return -1
			}
			i += n
		}
	}
	return -1
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// scanNumber checks the number starting at p[i] against JSON's grammar,
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, and returns the index
// after it, or -1.
func scanNumber(p []byte, i int) int {
	if i < len(p) && p[i] == '-' {
		i++
	}
	switch {
	case i >= len(p):
		return -1
	case p[i] == '0':
		i++
	case p[i] >= '1' && p[i] <= '9':
		i = digits(p, i+1)
	default:
		return -1
	}
	if i < len(p) && p[i] == '.' {
		j := digits(p, i+1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(p) && (p[i] == 'e' || p[i] == 'E') {
		i++
		if i < len(p) && (p[i] == '+' || p[i] == '-') {
			i++
		}
		j := digits(p, i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

func digits(p []byte, i int) int {
	for i < len(p) && p[i] >= '0' && p[i] <= '9' {
		i++
	}
	return i
}

func scanLiteral(p []byte, i int, lit string) int {
	if len(p)-i >= len(lit) && string(p[i:i+len(lit)]) == lit {
		return i + len(lit)
	}
	return -1
}
