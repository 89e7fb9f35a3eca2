package main

import (
	"bytes"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/cradlewatch/cradlewatch/internal/fileutil"
	"github.com/cradlewatch/cradlewatch/regulator/spotcheck"
)

// runSpotcheck draws or verifies a "double random" spot check:
//
//	cwreport spotcheck draw -request request.json -out draw.json
//	cwreport spotcheck verify draw.json
func runSpotcheck(args []string, stdout io.Writer, logger *slog.Logger) error {
	if len(args) == 0 {
		return errors.New("spotcheck: want draw or verify (docs/console.md)")
	}
	switch args[0] {
	case "draw":
		fs := flag.NewFlagSet("spotcheck draw", flag.ContinueOnError)
		reqPath := fs.String("request", "", "request JSON: county, sample size, parameters, candidates' records, inspectors, recusals")
		out := fs.String("out", "", "where to write the draw (default: standard output)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		f, err := os.Open(*reqPath)
		if err != nil {
			return fmt.Errorf("-request: %w", err)
		}
		req, err := spotcheck.ReadRequest(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", *reqPath, err)
		}
		seed, err := spotcheck.NewSeed(rand.Reader)
		if err != nil {
			return err
		}
		d, err := spotcheck.New(req, seed, time.Now())
		if err != nil {
			return err
		}
		b, err := d.JSON()
		if err != nil {
			return err
		}
		if *out == "" {
			_, err = stdout.Write(b)
			return err
		}
		// A draw is a public document: world-readable.
		if err := fileutil.WriteFileAtomic(*out, b, 0o644); err != nil {
			return err
		}
		logger.Info("spot check drawn", "county", d.County, "selected", len(d.Selected), "seed", d.Seed.String(), "out", *out)
		return nil
	case "verify":
		if len(args) != 2 {
			return errors.New("spotcheck verify: want one draw JSON file")
		}
		b, err := os.ReadFile(args[1])
		if err != nil {
			return err
		}
		d, err := spotcheck.ReadDraw(bytes.NewReader(b))
		if err != nil {
			return fmt.Errorf("%s: %w", args[1], err)
		}
		if err := spotcheck.Verify(d); err != nil {
			return fmt.Errorf("%s: %w", args[1], err)
		}
		fmt.Fprintf(stdout, "%s: reproduced from its seed: %d of %d facilities of county %s drawn with the same teams\n", args[1], len(d.Selected), len(d.Candidates), d.County)
		for _, s := range d.Selected {
			fmt.Fprintf(stdout, "  %d. %s (weight %v): %v\n", s.Rank, s.Facility, s.Weight, s.Inspectors)
		}
		return nil
	}
	return fmt.Errorf("spotcheck %s: want draw or verify", args[0])
}
