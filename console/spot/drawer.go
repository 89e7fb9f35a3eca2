// The adapter to regulator/spotcheck: the draw's method is that package's,
// published in docs/console.md ("Spot checks").

package spot

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"time"

	"github.com/cradlewatch/cradlewatch/regulator/spotcheck"
)

// NewDrawer returns the Drawer of regulator/spotcheck.
func NewDrawer() Drawer { return drawer{} }

type drawer struct{}

// convert copies between this package's types and spotcheck's, which have
// the same JSON.
func convert(from, to any) error {
	b, err := json.Marshal(from)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, to)
}

func (drawer) Rank(records []Record, p Parameters) ([]Ranked, error) {
	var rs []spotcheck.Record
	var sp spotcheck.Parameters
	if err := errors.Join(convert(records, &rs), convert(p, &sp)); err != nil {
		return nil, err
	}
	ranked, err := spotcheck.Rank(rs, sp)
	if err != nil {
		return nil, err
	}
	var out []Ranked
	return out, convert(ranked, &out)
}

func (drawer) Draw(req Request, now time.Time) ([]byte, Draw, error) {
	var sr spotcheck.Request
	if err := convert(req, &sr); err != nil {
		return nil, Draw{}, err
	}
	seed, err := spotcheck.NewSeed(rand.Reader)
	if err != nil {
		return nil, Draw{}, err
	}
	d, err := spotcheck.New(sr, seed, now)
	switch {
	case errors.Is(err, spotcheck.ErrNoCandidate):
		return nil, Draw{}, ErrNoCandidate
	case errors.Is(err, spotcheck.ErrNotEnoughInspectors):
		return nil, Draw{}, ErrNotEnoughInspectors
	case err != nil:
		return nil, Draw{}, err
	}
	doc, err := d.JSON()
	if err != nil {
		return nil, Draw{}, err
	}
	var out Draw
	return doc, out, json.Unmarshal(doc, &out)
}

func (drawer) Verify(doc []byte) error {
	d, err := spotcheck.ReadDraw(bytes.NewReader(doc))
	if err != nil {
		return err
	}
	return spotcheck.Verify(d)
}
