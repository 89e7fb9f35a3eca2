package decode

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/cradlewatch/cradlewatch/gateway/decode/internal/jsonw"
)

// maxPathDepth bounds a configured path; real payloads are a few levels deep.
const maxPathDepth = 32

// pathElem is one step of a JSON path: a member key or an array index.
type pathElem struct {
	key   string
	index int // ≥ 0 for an index step
}

// parsePath parses a dot path with array indexes: `data.sensors[0].temp`,
// `values.0` (a number after a dot is an index when the value is an
// array), and `["PM2.5"]` for keys that hold dots.
func parsePath(s string) ([]pathElem, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("empty")
	}
	var out []pathElem
	for i := 0; i < len(s); {
		switch s[i] {
		case '.':
			if i == 0 || i == len(s)-1 || s[i+1] == '.' {
				return nil, fmt.Errorf("%q: empty segment at %d", s, i)
			}
			i++
		case '[':
			j := strings.IndexByte(s[i:], ']')
			if j < 0 {
				return nil, fmt.Errorf("%q: '[' at %d is not closed", s, i)
			}
			inner := s[i+1 : i+j]
			if len(inner) >= 2 && inner[0] == '"' && inner[len(inner)-1] == '"' {
				out = append(out, pathElem{key: inner[1 : len(inner)-1], index: -1})
			} else {
				n, err := strconv.Atoi(inner)
				if err != nil || n < 0 {
					return nil, fmt.Errorf("%q: %q is neither an index nor a quoted key", s, inner)
				}
				out = append(out, pathElem{index: n})
			}
			i += j + 1
		default:
			j := strings.IndexAny(s[i:], ".[")
			if j < 0 {
				j = len(s) - i
			}
			out = append(out, pathElem{key: s[i : i+j], index: -1})
			i += j
		}
		if len(out) > maxPathDepth {
			return nil, fmt.Errorf("%q: deeper than %d levels", s, maxPathDepth)
		}
	}
	return out, nil
}

// lookup follows a path from v; Invalid if any step is missing.
func lookup(v jsonw.Value, path []pathElem) jsonw.Value {
	for _, e := range path {
		switch {
		case e.index >= 0:
			v = jsonw.Index(v, e.index)
		case v.Type == jsonw.Array:
			n, err := strconv.Atoi(e.key)
			if err != nil || n < 0 {
				return jsonw.Value{}
			}
			v = jsonw.Index(v, n)
		default:
			v = jsonw.Member(v, e.key)
		}
		if v.Type == jsonw.Invalid {
			return v
		}
	}
	return v
}
