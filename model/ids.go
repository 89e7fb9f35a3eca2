package model

import (
	"fmt"
)

// MaxIDLen is the longest facility, gateway, room or device identifier.
const MaxIDLen = 64

// ValidateID checks an identifier that travels in MQTT topics and InfluxDB
// tags: 1 to MaxIDLen characters of ASCII letters, digits, '-', '_' and '.'.
// The restricted alphabet keeps topics free of MQTT wildcards and separators
// and keeps tag values free of anything that needs escaping.
func ValidateID(what, id string) error {
	if id == "" {
		return fmt.Errorf("%s is empty", what)
	}
	if len(id) > MaxIDLen {
		return fmt.Errorf("%s %q is longer than %d characters", what, id, MaxIDLen)
	}
	for i := 0; i < len(id); i++ {
		if !idChar(id[i]) {
			return fmt.Errorf("%s %q has character %q at %d; only letters, digits, '-', '_' and '.' are allowed", what, id, id[i], i)
		}
	}
	return nil
}

func idChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
}

// Region is a facility's administrative division: the 9-digit street or
// township code (GB/T 2260 six digits plus GB/T 10114 three digits).
// Province, city and county are its prefixes.
type Region string

// ParseRegion validates a 9-digit street code.
func ParseRegion(s string) (Region, error) {
	if len(s) != 9 {
		return "", fmt.Errorf("region code %q must have 9 digits (6-digit county code from GB/T 2260 plus 3-digit street code)", s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", fmt.Errorf("region code %q must be digits only", s)
		}
	}
	return Region(s), nil
}

// Province is the 2-digit province code followed by zeros ("110000").
func (r Region) Province() string { return r.prefix(2) }

// City is the 4-digit prefecture code followed by zeros ("110100").
func (r Region) City() string { return r.prefix(4) }

// County is the 6-digit county code ("110105").
func (r Region) County() string { return r.prefix(6) }

// Street is the full 9-digit code.
func (r Region) Street() string { return string(r) }

func (r Region) prefix(n int) string {
	if len(r) < n {
		return ""
	}
	b := []byte("000000")
	copy(b, r[:n])
	return string(b)
}
