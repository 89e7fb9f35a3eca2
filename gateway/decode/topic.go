package decode

import (
	"fmt"
	"strings"
)

// pattern is an MQTT topic filter whose single-level wildcards may carry a
// name: "site/+room/+device/state" subscribes as "site/+/+/state" and
// captures room and device. A trailing "#" matches any remainder.
type pattern struct {
	filter string   // the MQTT form, names stripped
	segs   []string // literal segments; "+" or "#" for wildcards
	names  []string // per segment: the wildcard's name, "" if unnamed or literal
	multi  bool     // ends with "#"
}

// parsePattern checks and parses a pattern.
func parsePattern(s string) (pattern, error) {
	if s == "" {
		return pattern{}, fmt.Errorf("empty")
	}
	var p pattern
	parts := strings.Split(s, "/")
	mqtt := make([]string, len(parts))
	for i, seg := range parts {
		switch {
		case seg == "#":
			if i != len(parts)-1 {
				return pattern{}, fmt.Errorf("%q: '#' must be the last level", s)
			}
			p.multi = true
		case strings.HasPrefix(seg, "+"):
			name := seg[1:]
			if strings.ContainsAny(name, "+#") {
				return pattern{}, fmt.Errorf("%q: wildcard name %q has a wildcard in it", s, name)
			}
			for _, prev := range p.names {
				if name != "" && prev == name {
					return pattern{}, fmt.Errorf("%q: wildcard name %q is used twice", s, name)
				}
			}
			seg = "+"
			p.names = append(p.names, name)
		case strings.ContainsAny(seg, "+#"):
			return pattern{}, fmt.Errorf("%q: a wildcard must fill a whole level", s)
		}
		if seg != "+" {
			p.names = append(p.names, "")
		}
		p.segs = append(p.segs, seg)
		mqtt[i] = seg
	}
	p.filter = strings.Join(mqtt, "/")
	return p, nil
}

// match reports whether topic matches the pattern. Captured wildcard values
// (substrings of topic, one per "+" level in order) are appended to caps.
// Per MQTT, topics starting with '$' never match a leading wildcard.
func (p *pattern) match(topic string, caps []string) ([]string, bool) {
	if topic == "" || topic[0] == '$' && len(p.segs) > 0 && (p.segs[0] == "+" || p.segs[0] == "#") {
		return caps, false
	}
	start := len(caps)
	rest, done := topic, false
	for _, seg := range p.segs {
		if seg == "#" {
			return caps, true // "a/#" also matches "a"
		}
		if done {
			return caps[:start], false
		}
		level, tail, more := strings.Cut(rest, "/")
		if seg == "+" {
			caps = append(caps, level)
		} else if level != seg {
			return caps[:start], false
		}
		rest, done = tail, !more
	}
	if !done {
		return caps[:start], false
	}
	return caps, true
}

// capture returns the value captured by the named wildcard, "" if none.
func (p *pattern) capture(caps []string, name string) string {
	j := 0
	for i, seg := range p.segs {
		if seg != "+" {
			continue
		}
		if p.names[i] == name && j < len(caps) {
			return caps[j]
		}
		j++
	}
	return ""
}
