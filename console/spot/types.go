// Package spot keeps the console's spot checks (双随机、一公开): the
// county's inspectors and recusals, every draw as published, and the
// results of the inspections, in the access database; and the seam to the
// draw itself (Drawer), which package regulator/spotcheck implements.
package spot

import (
	"errors"
	"time"

	"github.com/cradlewatch/cradlewatch/regulator/spotcheck"
)

// The draw's types are regulator/spotcheck's: a draw is stored and
// published exactly as that package writes it.
type (
	Record     = spotcheck.Record
	Factor     = spotcheck.Factor
	Parameters = spotcheck.Parameters
	Ranked     = spotcheck.Ranked
	Inspector  = spotcheck.Inspector
	Conflict   = spotcheck.Conflict
	Request    = spotcheck.Request
	Selection  = spotcheck.Selection
	Draw       = spotcheck.Draw
)

// DefaultParameters are the published defaults (regulator/spotcheck).
func DefaultParameters() Parameters { return spotcheck.DefaultParameters() }

// Drawer makes and checks draws: regulator/spotcheck behind an adapter.
type Drawer interface {
	// Rank weighs the records, the riskiest first.
	Rank(records []Record, p Parameters) ([]Ranked, error)
	// Draw reads a fresh seed (from crypto/rand in production) and draws
	// from req at now;
	// doc is the published JSON, d the same draw decoded.
	Draw(req Request, now time.Time) (doc []byte, d Draw, err error)
	// Verify reproduces a published draw from its seed, nil when it
	// matches.
	Verify(doc []byte) error
}

// Errors a draw ends with that a person can fix.
var (
	ErrNoCandidate         = errors.New("no facility can be drawn")
	ErrNotEnoughInspectors = errors.New("not enough inspectors for the teams")
)
