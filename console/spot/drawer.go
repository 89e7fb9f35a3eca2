// The Drawer of regulator/spotcheck: the draw's method is that package's,
// published in docs/console.md ("Spot checks").

package spot

import (
	"bytes"
	"crypto/rand"
	"errors"
	"time"

	"github.com/cradlewatch/cradlewatch/regulator/spotcheck"
)

// NewDrawer returns the Drawer of regulator/spotcheck.
func NewDrawer() Drawer { return drawer{} }

type drawer struct{}

func (drawer) Rank(records []Record, p Parameters) ([]Ranked, error) {
	return spotcheck.Rank(records, p)
}

func (drawer) Draw(req Request, now time.Time) ([]byte, Draw, error) {
	seed, err := spotcheck.NewSeed(rand.Reader)
	if err != nil {
		return nil, Draw{}, err
	}
	d, err := spotcheck.New(req, seed, now)
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
	return doc, *d, nil
}

func (drawer) Verify(doc []byte) error {
	d, err := spotcheck.ReadDraw(bytes.NewReader(doc))
	if err != nil {
		return err
	}
	return spotcheck.Verify(d)
}
