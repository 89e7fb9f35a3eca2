package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cradlewatch/cradlewatch/internal/config"
)

// DefaultPollInterval is how often Run reads the source again.
const DefaultPollInterval = 10 * time.Second

// Options configure a Registry.
type Options struct {
	Source Source // required
	// PollInterval is how often Run reads the source; 0 is
	// DefaultPollInterval.
	PollInterval time.Duration
	// Check, when set, checks each record beyond the file's own rules, with
	// what only a central service knows (the rule set's parser of opening
	// hours). A record it refuses is rejected like an invalid file; return a
	// *config.Error to name the key.
	Check  func(*Facility) error
	Logger *slog.Logger     // nil discards
	Clock  func() time.Time // nil is time.Now
}

// Stats are a registry's counters since Open.
type Stats struct {
	Generation   uint64    // snapshots published, the first included
	Facilities   int       // facilities in the current snapshot
	Reloads      uint64    // snapshots published after the first
	Rejected     uint64    // records refused (invalid, or in conflict), each counted once per version
	SourceErrors uint64    // polls whose source could not be read
	LastChange   time.Time // when the current snapshot was published
}

// Registry holds the current snapshot of a source and reloads it. Its
// methods are safe for concurrent use.
type Registry struct {
	o    Options
	log  *slog.Logger
	snap atomic.Pointer[Snapshot]

	mu      sync.Mutex // serialises reloads
	good    map[string]*Facility
	refused map[string]refusal // per origin

	chMu    sync.Mutex
	changed chan struct{}

	statsMu sync.Mutex
	stats   Stats
}

// Open reads the source once and returns the registry. Any refused record
// fails the start: a service must not begin with part of its registry.
func Open(ctx context.Context, o Options) (*Registry, error) {
	if o.Source == nil {
		return nil, errors.New("registry: Options.Source is required")
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	r := &Registry{o: o, log: o.Logger.With("component", "registry", "source", o.Source.String()),
		good: map[string]*Facility{}, refused: map[string]refusal{}, changed: make(chan struct{})}
	entries, err := o.Source.Entries(ctx)
	if err != nil {
		return nil, err
	}
	facs, rejected := r.resolve(entries)
	if len(rejected) > 0 {
		return nil, rejected[0]
	}
	r.publish(facs)
	return r, nil
}

// OpenDir opens the registry of a folder of facility files.
func OpenDir(ctx context.Context, dir string, o Options) (*Registry, error) {
	o.Source = NewDir(dir)
	return Open(ctx, o)
}

// Fixed is a registry of facilities built in code that never changes.
func Fixed(facilities ...*Facility) *Registry {
	r, err := Open(context.Background(), Options{Source: Static(facilities...)})
	if err != nil {
		panic(err) // Static records are not checked: only conflicts fail, a programming error
	}
	return r
}

// Snapshot returns the current snapshot. It never blocks.
func (r *Registry) Snapshot() *Snapshot { return r.snap.Load() }

// Changed returns a channel closed when a snapshot newer than the current
// one is published. Take it before Snapshot to miss nothing.
func (r *Registry) Changed() <-chan struct{} {
	r.chMu.Lock()
	defer r.chMu.Unlock()
	return r.changed
}

// Stats returns the registry's counters.
func (r *Registry) Stats() Stats {
	r.statsMu.Lock()
	defer r.statsMu.Unlock()
	return r.stats
}

// Run reloads every PollInterval until ctx ends.
func (r *Registry) Run(ctx context.Context) error {
	t := time.NewTicker(r.o.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if _, err := r.Reload(ctx); err != nil && ctx.Err() == nil {
				r.log.Error("registry source unreadable; keeping the current registry", "err", err)
			}
		}
	}
}

// Reload reads the source and publishes a new snapshot when a record
// changed. Refused records keep their last good version and are counted
// and logged once per version. It reports whether a snapshot was published;
// an error means the source could not be read and nothing changed.
func (r *Registry) Reload(ctx context.Context) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	entries, err := r.o.Source.Entries(ctx)
	if err != nil {
		r.count(func(s *Stats) { s.SourceErrors++ })
		return false, err
	}
	prev := r.good
	facs, _ := r.resolve(entries)
	if sameFacilities(prev, r.good) {
		return false, nil
	}
	r.publish(facs)
	return true, nil
}

// refusal is the last refusal counted for an origin: the source's error,
// or the record the check or a conflict refused, with its message.
type refusal struct {
	err error
	rec *Facility
	msg string
}

// resolve turns the source's entries into the facilities in force: each
// good record, or for a refused one its last good version. It updates the
// last good versions, and counts and logs each new refusal once. Callers
// hold r.mu (or own r, in Open).
func (r *Registry) resolve(entries []Entry) ([]*Facility, []*config.Error) {
	var rejected []*config.Error
	refusedNow := map[string]bool{}
	refuse := func(origin string, why refusal) {
		ce := withFile(why.err, origin)
		rejected = append(rejected, ce)
		refusedNow[origin] = true
		why.msg = ce.Error()
		if prev, ok := r.refused[origin]; ok && prev.msg == why.msg && (prev.err == why.err || prev.rec == why.rec) {
			return // counted when it first appeared
		}
		r.refused[origin] = why
		r.count(func(s *Stats) { s.Rejected++ })
		args := []any{"file", ce.File, "key", ce.Key, "reason", ce.Reason}
		if last := r.good[origin]; last != nil {
			r.log.Error("registry record rejected; its last good version stays in force", append(args, "facility", last.ID)...)
		} else {
			r.log.Error("registry record rejected; it stays out of the registry", args...)
		}
	}
	next := make(map[string]*Facility, len(entries))
	changed := map[string]bool{}
	for _, e := range entries {
		why := refusal{err: e.Err}
		if why.err == nil && e.Facility == nil {
			why.err = errors.New("the source gave no record")
		}
		if f := e.Facility; why.err == nil && r.o.Check != nil && r.good[e.Origin] != f {
			if prev, ok := r.refused[e.Origin]; ok && prev.rec == f {
				why = prev // refused by the check before: not checked again
			} else if err := r.o.Check(f); err != nil {
				why = refusal{err: err, rec: f}
			}
		}
		if why.err != nil {
			refuse(e.Origin, why)
			if last := r.good[e.Origin]; last != nil {
				next[e.Origin] = last
			}
			continue
		}
		next[e.Origin] = e.Facility
		changed[e.Origin] = r.good[e.Origin] != e.Facility
	}
	// Conflicts: one facility ID or one gateway ID claimed by two records.
	// The record that changed loses and falls back to its last good
	// version; of two that changed, the later origin loses.
	for {
		origin, key, reason := conflict(next, changed)
		if origin == "" {
			break
		}
		refuse(origin, refusal{err: &config.Error{Key: key, Reason: reason}, rec: next[origin]})
		if last := r.good[origin]; last != nil && last != next[origin] {
			next[origin] = last
		} else {
			delete(next, origin)
		}
		changed[origin] = false
	}
	for o := range r.refused {
		if !refusedNow[o] {
			delete(r.refused, o) // fixed, or gone
		}
	}
	r.good = next
	out := make([]*Facility, 0, len(next))
	for _, f := range next {
		out = append(out, f)
	}
	return out, rejected
}

// conflict finds a record claiming a facility ID or a gateway ID another
// record holds, unchanged records first: it returns the losing origin, the
// key and the reason, or "" when there is none.
func conflict(next map[string]*Facility, changed map[string]bool) (origin, key, reason string) {
	origins := make([]string, 0, len(next))
	for o := range next {
		origins = append(origins, o)
	}
	sort.Slice(origins, func(i, j int) bool {
		if changed[origins[i]] != changed[origins[j]] {
			return !changed[origins[i]]
		}
		return origins[i] < origins[j]
	})
	ids, gws := map[string]string{}, map[string]string{}
	for _, o := range origins {
		f := next[o]
		if other, dup := ids[f.ID]; dup {
			return o, "facility.id", fmt.Sprintf("facility id %q is also the id in %s", f.ID, other)
		}
		ids[f.ID] = o
		for _, g := range f.Gateways {
			if other, dup := gws[g]; dup {
				return o, "gateways", fmt.Sprintf("gateway %q is also registered in %s", g, other)
			}
			gws[g] = o
		}
	}
	return "", "", ""
}

func (r *Registry) publish(facs []*Facility) {
	now := r.o.Clock()
	var gen uint64 = 1
	if cur := r.snap.Load(); cur != nil {
		gen = cur.generation + 1
	}
	s := newSnapshot(gen, now, facs)
	r.snap.Store(s)
	r.chMu.Lock()
	close(r.changed)
	r.changed = make(chan struct{})
	r.chMu.Unlock()
	r.count(func(st *Stats) {
		st.Generation, st.Facilities, st.LastChange = gen, s.Len(), now
		if gen > 1 {
			st.Reloads++
		}
	})
	if gen > 1 {
		r.log.Info("registry reloaded", "generation", gen, "facilities", s.Len())
	}
}

func (r *Registry) count(f func(*Stats)) {
	r.statsMu.Lock()
	f(&r.stats)
	r.statsMu.Unlock()
}

func sameFacilities(a, b map[string]*Facility) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
