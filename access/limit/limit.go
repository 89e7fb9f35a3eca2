// Package limit counts failed attempts (logins, acknowledgement codes,
// callback secrets) per key and locks a key out once it has failed too
// often: Max failures within Window lock it for Lockout. Every failure,
// lockout and refusal is counted; a lockout is logged once, when it
// starts. State lives in a Backend: Memory for one process, the access
// database (access/store) when several instances must share the count.
package limit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Rule is the limit of one kind of key.
type Rule struct {
	Max     int           // failures that lock the key
	Window  time.Duration // counted from the first failure
	Lockout time.Duration // how long the key stays locked
}

// Validate reports an unusable rule.
func (r Rule) Validate() error {
	if r.Max < 1 || r.Window <= 0 || r.Lockout <= 0 {
		return fmt.Errorf("limit: max %d, window %v, lockout %v: all must be positive", r.Max, r.Window, r.Lockout)
	}
	return nil
}

// Key is what failures are counted against: a kind ("account", "source",
// "phone") and a value. Value is stored: pass a pseudonym for personal
// data (a phone number's audit.PhoneKey). Display is what logs show.
type Key struct {
	Kind    string
	Value   string
	Display string
}

func (k Key) id(limiter string) string { return limiter + ":" + k.Kind + ":" + k.Value }

// State is a key's count.
type State struct {
	Failures    int
	WindowStart time.Time
	LockedUntil time.Time
}

// Backend keeps states.
type Backend interface {
	// Update reads the key's state (the zero State when there is none),
	// applies fn and stores its result, atomically.
	Update(ctx context.Context, key string, fn func(State) State) (State, error)
	Get(ctx context.Context, key string) (State, error)
	Delete(ctx context.Context, key string) error
}

// ErrLocked is matched by the error of a locked key.
var ErrLocked = errors.New("locked out after too many failed attempts")

// LockedError says which key is locked and until when.
type LockedError struct {
	Key   Key
	Until time.Time
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("%s %s locked out until %s", e.Key.Kind, e.Key.Display, e.Until.Format(time.RFC3339))
}

// Is makes errors.Is(err, ErrLocked) hold.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// Options build a Limiter.
type Options struct {
	Name       string          // "login", "sms_reply" ...: the metrics' limiter label
	Rules      map[string]Rule // by key kind
	Backend    Backend         // nil: Memory
	Now        func() time.Time
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// OnLockout, if set, is called once when a key is locked (to record
	// the lockout in the audit trail).
	OnLockout func(ctx context.Context, k Key, until time.Time)
}

// Limiter counts failures and locks keys out.
type Limiter struct {
	name    string
	rules   map[string]Rule
	backend Backend
	now     func() time.Time
	logger  *slog.Logger
	failed  *prometheus.CounterVec
	locks   *prometheus.CounterVec
	refused *prometheus.CounterVec
	onLock  func(context.Context, Key, time.Time)
}

type metrics struct {
	failed, locks, refused *prometheus.CounterVec
}

// metricsFor registers the counters, or takes those already registered by
// another limiter of the process (they differ by the limiter label).
func metricsFor(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cw_access_failed_attempts_total",
			Help: "Failed attempts (wrong password, code or secret) by limiter and key kind."}, []string{"limiter", "kind"}),
		locks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cw_access_lockouts_total",
			Help: "Keys locked out after too many failed attempts, by limiter and key kind."}, []string{"limiter", "kind"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cw_access_locked_refusals_total",
			Help: "Attempts refused because their key was locked out, by limiter and key kind."}, []string{"limiter", "kind"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []**prometheus.CounterVec{&m.failed, &m.locks, &m.refused} {
		if err := reg.Register(*c); err != nil {
			are, ok := err.(prometheus.AlreadyRegisteredError)
			if !ok {
				return nil, fmt.Errorf("limit: %w", err)
			}
			existing, ok := are.ExistingCollector.(*prometheus.CounterVec)
			if !ok {
				return nil, fmt.Errorf("limit: %w", err)
			}
			*c = existing
		}
	}
	return m, nil
}

// New builds a limiter. Several limiters may share a registerer: they
// share the metric families and differ by the limiter label.
func New(o Options) (*Limiter, error) {
	if o.Name == "" {
		return nil, errors.New("limit: a limiter needs a name")
	}
	for kind, r := range o.Rules {
		if err := r.Validate(); err != nil {
			return nil, fmt.Errorf("%s %s: %w", o.Name, kind, err)
		}
	}
	if o.Backend == nil {
		o.Backend = NewMemory()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	m, err := metricsFor(o.Registerer)
	if err != nil {
		return nil, err
	}
	return &Limiter{name: o.Name, rules: o.Rules, backend: o.Backend, now: o.Now,
		logger: o.Logger.With("component", "limit", "limiter", o.Name),
		failed: m.failed, locks: m.locks, refused: m.refused, onLock: o.OnLockout}, nil
}

// Check returns a *LockedError for the first locked key (and counts the
// refusal), nil when none is.
func (l *Limiter) Check(ctx context.Context, keys ...Key) error {
	now := l.now()
	for _, k := range keys {
		if _, ok := l.rules[k.Kind]; !ok {
			continue
		}
		st, err := l.backend.Get(ctx, k.id(l.name))
		if err != nil {
			return fmt.Errorf("limit: %w", err)
		}
		if now.Before(st.LockedUntil) {
			l.refused.WithLabelValues(l.name, k.Kind).Inc()
			return &LockedError{Key: k, Until: st.LockedUntil}
		}
	}
	return nil
}

// Fail counts a failed attempt against every key. A key that reaches its
// rule's Max is locked out: counted and logged here, once.
func (l *Limiter) Fail(ctx context.Context, keys ...Key) error {
	now := l.now()
	var errs []error
	for _, k := range keys {
		rule, ok := l.rules[k.Kind]
		if !ok {
			continue
		}
		l.failed.WithLabelValues(l.name, k.Kind).Inc()
		locked := false
		_, err := l.backend.Update(ctx, k.id(l.name), func(st State) State {
			locked = false
			if now.Before(st.LockedUntil) {
				return st // already locked: the lock is not extended
			}
			if st.Failures == 0 || now.Sub(st.WindowStart) >= rule.Window {
				st = State{WindowStart: now}
			}
			st.Failures++
			if st.Failures >= rule.Max {
				st = State{LockedUntil: now.Add(rule.Lockout)}
				locked = true
			}
			return st
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if locked {
			l.locks.WithLabelValues(l.name, k.Kind).Inc()
			l.logger.Warn("locked out after too many failed attempts", "kind", k.Kind, "key", k.Display,
				"failures", rule.Max, "window", rule.Window, "until", now.Add(rule.Lockout))
			if l.onLock != nil {
				l.onLock(ctx, k, now.Add(rule.Lockout))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("limit: %w", errors.Join(errs...))
	}
	return nil
}

// Succeed clears the count of the given keys (a correct password clears
// its account's count; the source keeps its count).
func (l *Limiter) Succeed(ctx context.Context, keys ...Key) error {
	for _, k := range keys {
		if err := l.backend.Delete(ctx, k.id(l.name)); err != nil {
			return fmt.Errorf("limit: %w", err)
		}
	}
	return nil
}
