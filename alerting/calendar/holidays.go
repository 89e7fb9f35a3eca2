package calendar

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/cradlewatch/cradlewatch/internal/config"
)

// Date is a civil date without a time zone.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf is the civil date of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// String renders the date as YYYY-MM-DD.
func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

func parseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("date %q: want YYYY-MM-DD", s)
	}
	return DateOf(t), nil
}

// Holidays are the public holidays and make-up working days (调休) of the
// years loaded. It is shared by every facility of a country.
type Holidays struct {
	off        map[Date]string // public holiday → its name
	work       map[Date]string // make-up working day → the holiday it pays for
	unverified map[int]bool    // years whose file says verified: false
}

// yearFile is the YAML layout of configs/calendar/<year>.yaml.
type yearFile struct {
	Year     int    `yaml:"year"`
	Source   string `yaml:"source"`
	Verified *bool  `yaml:"verified"`
	Holidays []struct {
		Name    string   `yaml:"name"`
		From    string   `yaml:"from"`
		To      string   `yaml:"to"`
		Workday []string `yaml:"workdays"`
	} `yaml:"holidays"`
}

// LoadHolidays reads yearly holiday files.
func LoadHolidays(paths ...string) (*Holidays, error) {
	h := &Holidays{off: map[Date]string{}, work: map[Date]string{}, unverified: map[int]bool{}}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, &config.Error{File: p, Reason: fmt.Sprintf("cannot read: %v", err)}
		}
		if err := h.add(p, b); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// ParseHolidays reads one yearly file's content; name is used in errors.
// Errors are *config.Error naming the file, the key and the reason.
func ParseHolidays(name string, data []byte) (*Holidays, error) {
	h := &Holidays{off: map[Date]string{}, work: map[Date]string{}, unverified: map[int]bool{}}
	return h, h.add(name, data)
}

func (h *Holidays) add(name string, data []byte) error {
	err := h.parse(data)
	if ce, ok := err.(*config.Error); ok {
		ce.File = name
	}
	return err
}

func (h *Holidays) parse(data []byte) error {
	var f yearFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return &config.Error{Reason: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	if f.Year < 2000 || f.Year > 2100 {
		return config.Errorf("year", "%d is not a plausible year", f.Year)
	}
	if f.Verified != nil && !*f.Verified {
		h.unverified[f.Year] = true
	}
	for i, hol := range f.Holidays {
		from, err := parseDate(hol.From)
		if err != nil {
			return config.Errorf(fmt.Sprintf("holidays[%d].from", i), "%v", err)
		}
		to := from
		if hol.To != "" {
			if to, err = parseDate(hol.To); err != nil {
				return config.Errorf(fmt.Sprintf("holidays[%d].to", i), "%v", err)
			}
		}
		t0 := time.Date(from.Year, from.Month, from.Day, 12, 0, 0, 0, time.UTC)
		t1 := time.Date(to.Year, to.Month, to.Day, 12, 0, 0, 0, time.UTC)
		if t1.Before(t0) || t1.Sub(t0) > 31*24*time.Hour {
			return config.Errorf(fmt.Sprintf("holidays[%d]", i), "%s..%s is not a range of at most a month", from, to)
		}
		for t := t0; !t.After(t1); t = t.AddDate(0, 0, 1) {
			h.off[DateOf(t)] = hol.Name
		}
		for j, w := range hol.Workday {
			d, err := parseDate(w)
			if err != nil {
				return config.Errorf(fmt.Sprintf("holidays[%d].workdays[%d]", i, j), "%v", err)
			}
			h.work[d] = hol.Name
		}
	}
	for d := range h.work {
		if _, both := h.off[d]; both {
			return config.Errorf("holidays", "%s is both a holiday and a make-up working day", d)
		}
	}
	return nil
}

// Unverified reports whether the year's file is marked verified: false
// (a schedule not yet published, entered from the statutory dates alone).
func (h *Holidays) Unverified(year int) bool { return h != nil && h.unverified[year] }

// Holiday returns the name of the public holiday on d, if any.
func (h *Holidays) Holiday(d Date) (string, bool) {
	if h == nil {
		return "", false
	}
	n, ok := h.off[d]
	return n, ok
}

// MakeUpWorkday reports whether d is a make-up working day (调休上班).
func (h *Holidays) MakeUpWorkday(d Date) bool {
	if h == nil {
		return false
	}
	_, ok := h.work[d]
	return ok
}
