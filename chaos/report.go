package chaos

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/alerting/state"
)

// Report is what a run found.
type Report struct {
	Seed       int64
	Duration   time.Duration
	Rate       int
	Facilities int
	Devices    int
	Started    time.Time
	Dir        string

	Faults   []doneFault
	Readings []Counts // "all", then by layout and timing, then by fault kind, then "no fault"
	Phantoms []string // stored readings nobody published
	Examples []string // the first lost, duplicated or re-dated readings
	Forged   int      // readings of the flood device stored (malformed or hostile input that got through)

	Incidents     []IncidentResult
	Duplicates    []DuplicateSMS
	OrderProblems []string
	Confirmed     int // SMS in doubt after a crash that the provider confirmed (not sent again)
	Calls         int // provider requests
	VoiceCalls    int

	Hostile   []*hostileResult
	Processes []procStats

	Missed   []FaultKind // kinds of fault that did not run (the schedule had none, or the machine cannot)
	Failures []string
}

// Counts are the readings of one row of the report.
type Counts struct {
	Name       string
	Published  int
	Accepted   int // PUBACKed to the sensor
	Stored     int // accepted or not, in InfluxDB
	Lost       int // accepted, not stored
	Duplicated int // stored at more than one time
	Redated    int // stored at a time the reading does not have
	// Delivered counts untimed readings on the Mosquitto layout dated when
	// Mosquitto delivered them after an outage of the gateway's local
	// link (docs/wire.md, "Time"): late, and explained.
	Delivered int
}

func (c *Counts) add(o readingOutcome) {
	c.Published++
	if o.accepted {
		c.Accepted++
	}
	if o.stored {
		c.Stored++
	}
	if o.lost {
		c.Lost++
	}
	if o.duplicated {
		c.Duplicated++
	}
	if o.redated {
		c.Redated++
	}
	if o.delivered {
		c.Delivered++
	}
}

// IncidentResult is what became of one scripted incident.
type IncidentResult struct {
	Incident
	Start, End             time.Time // when the alarm and its clearing were published
	Fired, Resolved        bool      // the owning instance recorded the transitions
	FiringSMS, ResolvedSMS int       // to the operator, with the episode's code
	FiringAt, ResolvedAt   time.Time
	Overlaps               []string // faults that overlapped it
}

// DuplicateSMS is one message delivered more than once.
type DuplicateSMS struct {
	Phone, Template, Code string
	Copies                int
	First, Last           time.Time
	NearKill              string // an alerting instance's end between the copies, if any: where to look
}

// finish decides Failures.
func (rep *Report) finish() {
	fail := func(format string, args ...any) { rep.Failures = append(rep.Failures, fmt.Sprintf(format, args...)) }
	for _, c := range rep.Readings {
		if c.Name != "all" {
			continue
		}
		if c.Lost > 0 {
			fail("%d accepted readings lost", c.Lost)
		}
		if c.Duplicated > 0 {
			fail("%d readings stored more than once", c.Duplicated)
		}
		if c.Redated > 0 {
			fail("%d readings re-dated", c.Redated)
		}
	}
	if len(rep.Phantoms) > 0 {
		fail("%d readings stored that were never published", len(rep.Phantoms))
	}
	if rep.Forged > 0 {
		fail("%d readings of malformed or hostile messages stored", rep.Forged)
	}
	for _, i := range rep.Incidents {
		switch {
		case !i.Fired:
			fail("incident %s in %s at %.0fs: no firing alert recorded", i.Kind, i.Facility, i.At.Seconds())
		case i.FiringSMS == 0:
			fail("incident %s in %s at %.0fs: no firing SMS to the operator", i.Kind, i.Facility, i.At.Seconds())
		case i.ResolvedSMS == 0:
			fail("incident %s in %s at %.0fs: no resolution SMS to the operator", i.Kind, i.Facility, i.At.Seconds())
		}
	}
	for _, d := range rep.Duplicates {
		fail("%s to %s (code %s) delivered %d times", d.Template, d.Phone, d.Code, d.Copies)
	}
	for _, p := range rep.OrderProblems {
		fail("notification order: %s", p)
	}
	for _, h := range rep.Hostile {
		for _, g := range h.GotIn {
			fail("hostile facility: %s", g)
		}
	}
	for _, f := range rep.Faults {
		if f.Err != "" {
			fail("fault %s %s at %s: %s", f.Kind, f.Target, f.Start.Format("15:04:05"), firstLine(f.Err))
		}
	}
	ran := map[FaultKind]bool{}
	for _, f := range rep.Faults {
		if !f.Skipped {
			ran[f.Kind] = true
		}
	}
	for _, k := range FaultKinds {
		if !ran[k] {
			rep.Missed = append(rep.Missed, k)
		}
	}
}

// Failed reports whether the run found a loss, a duplicate, a re-dated
// reading, a missing or duplicate notification, or a hostile
// act that got through.
func (rep *Report) Failed() bool { return len(rep.Failures) > 0 }

// Err is Failed as an error listing the failures, nil when none.
func (rep *Report) Err() error {
	if !rep.Failed() {
		return nil
	}
	return errors.New("chaos: " + strings.Join(rep.Failures, "; "))
}

// Print writes the report as tables.
func (rep *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "\n== CradleWatch chaos: seed %d, %v, %d facilities x %d sensors, %d readings/s, started %s\n",
		rep.Seed, rep.Duration, rep.Facilities, rep.Devices, rep.Rate, rep.Started.Format(time.RFC3339))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "readings\tpublished\taccepted\tstored\tlost\tduplicated\tre-dated\tdated at delivery\t")
	for _, c := range rep.Readings {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", c.Name, c.Published, c.Accepted, c.Stored, c.Lost, c.Duplicated, c.Redated, c.Delivered)
	}
	tw.Flush()
	fmt.Fprintln(w, "(a fault's row: readings published from 2 s before it to 5 s after it ended, on the facility it hit or, for central parts, on all)")

	counts := map[FaultKind]int{}
	for _, f := range rep.Faults {
		if !f.Skipped {
			counts[f.Kind]++
		}
	}
	fmt.Fprintf(w, "\nfaults run:")
	for _, k := range FaultKinds {
		fmt.Fprintf(w, " %s %d", k, counts[k])
	}
	fmt.Fprintln(w)
	for _, f := range rep.Faults {
		status := f.Note
		if f.Err != "" {
			status = "ERROR " + firstLine(f.Err)
		}
		if f.Skipped {
			status = "skipped: " + status
		}
		fmt.Fprintf(w, "  %s %-22s %-16s %5.1fs  %s\n", f.Start.Format("15:04:05"), f.Kind, f.Target, f.End.Sub(f.Start).Seconds(), status)
	}

	fired, firingSMS, resolvedSMS := 0, 0, 0
	for _, i := range rep.Incidents {
		if i.Fired {
			fired++
		}
		if i.FiringSMS > 0 {
			firingSMS++
		}
		if i.ResolvedSMS > 0 {
			resolvedSMS++
		}
	}
	fmt.Fprintf(w, "\nalerts: %d scripted, %d fired; notified: %d firing, %d resolved; missing notifications %d; duplicate SMS %d; deliveries in doubt confirmed by the provider %d; provider requests %d, voice calls %d\n",
		len(rep.Incidents), fired, firingSMS, resolvedSMS, 2*len(rep.Incidents)-firingSMS-resolvedSMS, len(rep.Duplicates), rep.Confirmed, rep.Calls, rep.VoiceCalls)
	for _, i := range rep.Incidents {
		fmt.Fprintf(w, "  %s %-5s %s %4.0fs: fired %v resolved %v, SMS firing %d (%s after the alarm) resolved %d; overlapping %s\n",
			i.Start.Format("15:04:05"), i.Kind, i.Facility, i.For.Seconds(), i.Fired, i.Resolved, i.FiringSMS, since(i.Start, i.FiringAt),
			i.ResolvedSMS, strings.Join(unique(i.Overlaps), ","))
	}
	for _, d := range rep.Duplicates {
		fmt.Fprintf(w, "  duplicate: %s to %s code %s x%d (%s, %s); %s\n", d.Template, d.Phone, d.Code, d.Copies,
			d.First.Format("15:04:05.000"), d.Last.Format("15:04:05.000"), orNone(d.NearKill, "no alerting instance ended between the copies"))
	}
	for _, h := range rep.Hostile {
		fmt.Fprintf(w, "\nhostile facility: denied publish %v, subscribe %v, connect %v, will %v; takeovers %v\n",
			h.Denied["publish"], h.Denied["subscribe"], h.Denied["connect"], h.Denied["will"], h.Takeovers)
		for _, a := range h.Attempts {
			fmt.Fprintf(w, "  %s\n", a)
		}
	}
	fmt.Fprintf(w, "forged or malformed readings stored: %d\n", rep.Forged)

	fmt.Fprintln(w, "\nprocesses (peak RSS over every start; unexpected exits: exits no fault asked for)")
	procs := slices.Clone(rep.Processes)
	slices.SortFunc(procs, func(a, b procStats) int { return strings.Compare(a.Name, b.Name) })
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "process\tstarts\tpeak RSS MiB\tunexpected exits")
	for _, p := range procs {
		var ex []string
		for _, e := range p.Unexpected {
			ex = append(ex, fmt.Sprintf("%s status %d %s", e.At.Format("15:04:05"), e.Code, e.Signal))
		}
		starts := "-" // not supervised here
		if p.Starts > 0 {
			starts = fmt.Sprint(p.Starts)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.1f\t%s\n", p.Name, starts, float64(p.PeakRSS)/(1<<20), strings.Join(ex, ", "))
	}
	tw.Flush()
	for _, e := range rep.Examples {
		fmt.Fprintf(w, "  %s\n", e)
	}
	for _, p := range rep.Phantoms {
		fmt.Fprintf(w, "  %s\n", p)
	}
	if len(rep.Missed) > 0 {
		fmt.Fprintf(w, "\nfault kinds that did not run: %v\n", rep.Missed)
	}
	if rep.Failed() {
		fmt.Fprintf(w, "\nFAILED:\n")
		for _, f := range rep.Failures {
			fmt.Fprintf(w, "  %s\n", f)
		}
	} else {
		fmt.Fprintf(w, "\nOK: nothing accepted was lost, duplicated or re-dated; every scripted alert was notified once and resolved; no hostile act got through\n")
	}
	fmt.Fprintf(w, "folder: %s\n", rep.Dir)
}

// alertHistory reads an alert's recorded transitions from an alerting
// instance's state directory (its files only: it may run beside the
// service), oldest first.
func alertHistory(stateDir, rule, facility, room, device string) ([]rules.Transition, error) {
	es, _, err := state.History(stateDir, rules.Fingerprint(rule, facility, room, device), 0)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("chaos: history of %s in %s: %w", rule, facility, err)
	}
	var out []rules.Transition
	for _, e := range es {
		if !e.Notified {
			out = append(out, e.Transition)
		}
	}
	return out, nil
}

func since(from, to time.Time) string {
	if to.IsZero() {
		return "-"
	}
	return to.Sub(from).Round(time.Millisecond).String()
}

func unique(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

func orNone(s, none string) string {
	if s == "" {
		return none
	}
	return s
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func writeFile(path string, b []byte) error { return os.WriteFile(path, b, 0o600) }
