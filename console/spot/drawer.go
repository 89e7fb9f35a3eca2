// The Drawer of regulator/spotcheck: the draw's method is that package's,
// published in docs/console.md ("Spot checks").

package spot

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"time"

	"github.com/cradlewatch/cradlewatch/regulator/spotcheck"
)

// NewDrawer returns the Drawer of regulator/spotcheck, its seeds read
// from crypto/rand.
func NewDrawer() Drawer { return drawer{seeds: rand.Reader} }

// NewDrawerFrom returns the Drawer of regulator/spotcheck reading its
// seeds from seeds (a test's fixed source, so its draws are known).
func NewDrawerFrom(seeds io.Reader) Drawer { return drawer{seeds: seeds} }

type drawer struct{ seeds io.Reader }

func (drawer) Rank(records []Record, p Parameters) ([]Ranked, error) {
	return spotcheck.Rank(records, p)
}

func (d drawer) Draw(req Request, now time.Time) ([]byte, Draw, error) {
	seed, err := spotcheck.NewSeed(d.seeds)
	if err != nil {
		return nil, Draw{}, err
	}
	drawn, err := spotcheck.New(req, seed, now)
	switch {
	case errors.Is(err, spotcheck.ErrNoCandidate):
		return nil, Draw{}, ErrNoCandidate
	case errors.Is(err, spotcheck.ErrNotEnoughInspectors):
		return nil, Draw{}, ErrNotEnoughInspectors
	case err != nil:
		return nil, Draw{}, err
	}
	doc, err := drawn.JSON()
	if err != nil {
		return nil, Draw{}, err
	}
	return doc, *drawn, nil
}

func (drawer) Verify(doc []byte) error {
	d, err := spotcheck.ReadDraw(bytes.NewReader(doc))
	if err != nil {
		return err
	}
	return spotcheck.Verify(d)
}
