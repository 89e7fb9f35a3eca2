package jsonw

// scanValue checks the value starting at p[i] (white space already
// skipped), nested inside depth levels, and returns the index after it, or
// -1 if it is not valid. It is a loop with an explicit stack, so deeply
// nested input costs no goroutine stack. The names of the objects in it go
// through keys, which notes a duplicate.
func scanValue(p []byte, i, depth int, keys *keySet) int {
	var open containers
	for {
		// A value starts at i.
		i = skipSpace(p, i)
		if i >= len(p) {
			return -1
		}
		switch c := p[i]; {
		case c == '{' || c == '[':
			if depth+open.n >= MaxDepth {
				return -1
			}
			obj := c == '{'
			i = skipSpace(p, i+1)
			if i < len(p) && p[i] == closer(obj) {
				i++
				break // an empty container is a complete value
			}
			open.push(obj)
			if obj {
				keys.open()
				if i = memberKey(p, i, keys); i < 0 {
					return -1
				}
			}
			continue // read the first element
		case c == '"':
			i = scanString(p, i)
		case c == 't':
			i = scanLiteral(p, i, "true")
		case c == 'f':
			i = scanLiteral(p, i, "false")
		case c == 'n':
			i = scanLiteral(p, i, "null")
		case c == '-' || c >= '0' && c <= '9':
			i = scanNumber(p, i)
		default:
			return -1
		}
		if i < 0 {
			return -1
		}
		// A value ended at i: close containers until one has more elements.
		for {
			if open.n == 0 {
				return i
			}
			i = skipSpace(p, i)
			if i >= len(p) {
				return -1
			}
			obj := open.top()
			if p[i] == ',' {
				i++
				if obj {
					if i = memberKey(p, skipSpace(p, i), keys); i < 0 {
						return -1
					}
				}
				break
			}
			if p[i] != closer(obj) {
				return -1
			}
			open.pop()
			if obj {
				keys.close()
			}
			i++
		}
	}
}

// memberKey checks `"key" :` starting at p[i], adds the key to keys, and
// returns the index after the colon, or -1.
func memberKey(p []byte, i int, keys *keySet) int {
	start := i
	i = scanString(p, i)
	if i < 0 {
		return -1
	}
	keys.add(p, start+1, i-1)
	i = skipSpace(p, i)
	if i >= len(p) || p[i] != ':' {
		return -1
	}
	return i + 1
}

func closer(obj bool) byte {
	if obj {
		return '}'
	}
	return ']'
}

// containers records, per open level of one value, whether it is an object
// or an array: 64 levels in a word, deeper ones (hostile input only) in a
// slice grown on demand.
type containers struct {
	small uint64
	big   []uint64
	n     int
}

func (c *containers) push(obj bool) {
	word, bit := &c.small, uint(c.n)
	if c.n >= 64 {
		k := c.n - 64
		for len(c.big) <= k/64 {
			c.big = append(c.big, 0)
		}
		word, bit = &c.big[k/64], uint(k%64)
	}
	if obj {
		*word |= 1 << bit
	} else {
		*word &^= 1 << bit
	}
	c.n++
}

func (c *containers) pop() { c.n-- }

// top reports whether the innermost open container is an object.
func (c *containers) top() bool {
	k := c.n - 1
	if k < 64 {
		return c.small&(1<<uint(k)) != 0
	}
	k -= 64
	return c.big[k/64]&(1<<uint(k%64)) != 0
}
