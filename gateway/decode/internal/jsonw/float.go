package jsonw

// pow10 holds the powers of ten that float64 represents exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// exactFloat parses the plain decimals devices send (23.4, -5, 1009.2)
// without strconv: ok is false for anything else (exponents, more than 15
// significant digits, more than 22 decimals), which the caller hands to
// strconv.ParseFloat. The mantissa and the power of ten are both exact in
// a float64, so one division rounds once, correctly: the result is the
// one strconv.ParseFloat returns, which takes the same path for such
// input.
func exactFloat(b []byte) (float64, bool) {
	i, neg := 0, false
	if len(b) > 0 && b[0] == '-' {
		i, neg = 1, true
	}
	var mant uint64
	digits, decimals, dot := 0, 0, false
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case c >= '0' && c <= '9':
			mant = mant*10 + uint64(c-'0')
			digits++
			if dot {
				decimals++
			}
		case c == '.' && !dot && digits > 0 && i+1 < len(b):
			dot = true
		default:
			return 0, false
		}
	}
	if digits == 0 || digits > 15 || decimals >= len(pow10) {
		return 0, false
	}
	f := float64(mant) / pow10[decimals]
	if neg {
		f = -f
	}
	return f, true
}
