// Package limittest is the shared test suite of limit.Backend
// implementations: the memory backend and the access database run it.
package limittest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/access/limit"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Clock is a settable clock.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock starts at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Advance moves the clock.
func (c *Clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// LogBuffer is a concurrency-safe log sink for counting lines.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Count is how many lines contain s.
func (b *LogBuffer) Count(s string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.buf.String(), s)
}

// String is everything logged.
func (b *LogBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.buf.String() }

// Logger returns a text logger writing to b.
func (b *LogBuffer) Logger() *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }

// Run runs the suite against backends made by newBackend (one per case).
func Run(t *testing.T, newBackend func(t *testing.T) limit.Backend) {
	t.Run("brute force is blocked, counted and logged once", func(t *testing.T) {
		clock := NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
		reg := prometheus.NewRegistry()
		var logs LogBuffer
		l, err := limit.New(limit.Options{Name: "login", Backend: newBackend(t), Now: clock.Now, Logger: logs.Logger(), Registerer: reg,
			Rules: map[string]limit.Rule{"account": {Max: 5, Window: 15 * time.Minute, Lockout: 15 * time.Minute}}})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		key := limit.Key{Kind: "account", Value: "wang", Display: "wang"}
		refused := 0
		for i := 0; i < 1000; i++ {
			if err := l.Check(ctx, key); err != nil {
				if !errors.Is(err, limit.ErrLocked) {
					t.Fatal(err)
				}
				refused++
				continue
			}
			if err := l.Fail(ctx, key); err != nil {
				t.Fatal(err)
			}
		}
		if refused != 995 {
			t.Fatalf("refused %d of 1000, want 995 (5 tries, then locked)", refused)
		}
		if n := logs.Count("locked out"); n != 1 {
			t.Fatalf("lockout logged %d times:\n%s", n, logs.String())
		}
		if got := testutil.ToFloat64(counter(t, reg, "cw_access_lockouts_total")); got != 1 {
			t.Fatalf("lockouts %v", got)
		}
		if got := testutil.ToFloat64(counter(t, reg, "cw_access_locked_refusals_total")); got != 995 {
			t.Fatalf("refusals %v", got)
		}
		// The lock ends after its time; the count starts afresh.
		clock.Advance(15*time.Minute - time.Second)
		if err := l.Check(ctx, key); err == nil {
			t.Fatal("unlocked early")
		}
		clock.Advance(time.Second)
		if err := l.Check(ctx, key); err != nil {
			t.Fatalf("still locked: %v", err)
		}
		for range 4 {
			l.Fail(ctx, key)
		}
		if err := l.Check(ctx, key); err != nil {
			t.Fatalf("locked after 4 of 5: %v", err)
		}
		l.Fail(ctx, key)
		if err := l.Check(ctx, key); err == nil {
			t.Fatal("not locked again")
		}
		if n := logs.Count("locked out"); n != 2 {
			t.Fatalf("second lockout logged %d times in total", n)
		}
	})

	t.Run("window expires, success clears, keys are independent", func(t *testing.T) {
		clock := NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
		l, err := limit.New(limit.Options{Name: "login", Backend: newBackend(t), Now: clock.Now,
			Rules: map[string]limit.Rule{"account": {Max: 3, Window: time.Minute, Lockout: time.Hour}, "source": {Max: 5, Window: time.Hour, Lockout: time.Hour}}})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		a := limit.Key{Kind: "account", Value: "li"}
		b := limit.Key{Kind: "account", Value: "zhao"}
		src := limit.Key{Kind: "source", Value: "192.0.2.1"}
		l.Fail(ctx, a, src)
		l.Fail(ctx, a, src)
		clock.Advance(time.Minute) // the window of a's two failures has passed
		l.Fail(ctx, a, src)
		if err := l.Check(ctx, a); err != nil {
			t.Fatalf("old failures counted: %v", err)
		}
		l.Fail(ctx, a)
		l.Succeed(ctx, a) // a correct password
		l.Fail(ctx, a)
		l.Fail(ctx, a)
		if err := l.Check(ctx, a); err != nil {
			t.Fatalf("success did not clear: %v", err)
		}
		// The source kept counting across accounts: 3 so far, 2 more lock it.
		l.Fail(ctx, b, src)
		l.Fail(ctx, b, src)
		var le *limit.LockedError
		if err := l.Check(ctx, b, src); !errors.As(err, &le) || le.Key.Kind != "source" {
			t.Fatalf("source not locked: %v", err)
		}
		if err := l.Check(ctx, a); err != nil {
			t.Fatalf("another key locked: %v", err)
		}
		unknown := limit.Key{Kind: "nonsense", Value: "x"}
		for range 100 {
			l.Fail(ctx, unknown)
		}
		if err := l.Check(ctx, unknown); err != nil {
			t.Fatalf("a kind without a rule is never locked: %v", err)
		}
	})

	t.Run("concurrent failures count exactly", func(t *testing.T) {
		clock := NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
		backend := newBackend(t)
		reg := prometheus.NewRegistry()
		l, err := limit.New(limit.Options{Name: "sms_reply", Backend: backend, Now: clock.Now, Registerer: reg,
			Rules: map[string]limit.Rule{"phone": {Max: 40, Window: time.Hour, Lockout: time.Hour}}})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		key := limit.Key{Kind: "phone", Value: "k1"}
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 4 {
					if err := l.Fail(ctx, key); err != nil {
						panic(fmt.Sprint(i, err))
					}
				}
			}()
		}
		wg.Wait()
		st, err := backend.Get(ctx, "sms_reply:phone:k1")
		if err != nil || st.Failures != 32 {
			t.Fatalf("state %+v %v, want 32 failures", st, err)
		}
	})
}

func counter(t *testing.T, g prometheus.Gatherer, name string) prometheus.Collector {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			var sum float64
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
			c := prometheus.NewCounter(prometheus.CounterOpts{Name: name})
			c.Add(sum)
			return c
		}
	}
	t.Fatalf("no metric %s", name)
	return nil
}
