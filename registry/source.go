package registry

import (
	"context"
	"fmt"
	"strings"
)

// Entry is one record of a source: a facility file, a database row.
type Entry struct {
	// Origin names the record, unique within its source: the file's path,
	// or "<table>/<key>" for a database row. A record that changes keeps
	// its origin; the registry keeps each origin's last good version.
	Origin string
	// Facility is the checked record; nil when Err is set.
	Facility *Facility
	// Err says why the record is refused: a *config.Error naming the
	// origin, the key and the reason.
	Err error
}

// Source produces the registry's records. Entries returns every record the
// source holds now; an error means the source as a whole could not be read
// (the registry then keeps its current snapshot). Between calls, a record
// that did not change should be returned with the same *Facility (and an
// unchanged refusal with the same Err), so that the registry can tell a
// change from a re-read at no cost; a Source is called from one goroutine
// at a time.
type Source interface {
	Entries(ctx context.Context) ([]Entry, error)
	// String names the source in logs ("dir configs/facilities").
	String() string
}

// Static is a Source of facilities built in code: tests, benchmarks, and
// the demo. It never changes. A Facility written as a struct literal is
// indexed here, before any reader shares it.
func Static(facilities ...*Facility) Source {
	s := staticSource{}
	for i, f := range facilities {
		if f.devices == nil {
			f.index() // built as a struct literal
		}
		origin := f.Origin
		if origin == "" {
			origin = fmt.Sprintf("static/%d", i)
		}
		s = append(s, Entry{Origin: origin, Facility: f})
	}
	return s
}

type staticSource []Entry

func (s staticSource) Entries(context.Context) ([]Entry, error) { return s, nil }
func (s staticSource) String() string                           { return "static" }

// Merge is a Source of several: the folder of files and the access
// database, say. Their origins must not collide (a path, "db/<key>"); a
// facility ID or gateway ID claimed in two of them is a conflict the
// Registry settles as within one source. An error of any source is the
// merged source's error, so the registry keeps its snapshot rather than
// drop the facilities of the source it could not read.
func Merge(sources ...Source) Source { return mergedSource(sources) }

type mergedSource []Source

func (m mergedSource) Entries(ctx context.Context) ([]Entry, error) {
	var out []Entry
	for _, s := range m {
		es, err := s.Entries(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s, err)
		}
		out = append(out, es...)
	}
	return out, nil
}

func (m mergedSource) String() string {
	names := make([]string, len(m))
	for i, s := range m {
		names[i] = s.String()
	}
	return strings.Join(names, " + ")
}
