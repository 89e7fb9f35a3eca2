package spool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		// Child of TestKillMidWrite: it is SIGKILLed, never checked for leaks.
		os.Exit(m.Run())
	}
	goleak.VerifyTestMain(m)
}

// harness is an open spool with Run going, stopped at test cleanup.
type harness struct {
	*Spool
	reg    *prometheus.Registry
	cancel context.CancelFunc
	runErr chan error
}

// start opens a spool in opts.Dir (a temp dir if empty) and starts Run.
func start(t testing.TB, opts Options) *harness {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	reg := prometheus.NewRegistry()
	opts.Registerer = reg
	s, err := Open(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{Spool: s, reg: reg, cancel: cancel, runErr: make(chan error, 1)}
	go func() { h.runErr <- s.Run(ctx) }()
	t.Cleanup(func() { h.stop(t) })
	return h
}

// stop cancels Run, waits for it and closes the spool; safe to call twice.
func (h *harness) stop(t testing.TB) {
	t.Helper()
	if h.cancel == nil {
		return
	}
	h.cancel()
	h.cancel = nil
	if err := <-h.runErr; err != nil {
		t.Errorf("Run: %v", err)
	}
	if err := h.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// metric returns the value of a metric (with optional label values).
func (h *harness) metric(t testing.TB, name string, labels ...string) float64 {
	t.Helper()
	return metricValue(t, h.reg, name, labels...)
}

func metricValue(t testing.TB, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := true
			for i, lp := range m.GetLabel() {
				if i < len(labels) && lp.GetValue() != labels[i] {
					match = false
				}
			}
			if !match {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
	}
	t.Fatalf("metric %s%v not found", name, labels)
	return 0
}

// appendN appends n records made by mk, each its own Append (so they
// group-commit as the gateway's would), waits until all are durable and
// returns their indexes.
func appendN(t testing.TB, s *Spool, n int, mk func(i int) []byte) []uint64 {
	t.Helper()
	out := make([]uint64, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	wg.Add(n)
	for i := range n {
		s.Append([][]byte{mk(i)}, func(first uint64, err error) {
			out[i], errs[i] = first, err
			wg.Done()
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("Append: %v", err)
	}
	return out
}

func rec(i int) []byte { return fmt.Appendf(nil, "reading-%06d", i) }

// readAll returns every durable record from index from.
func readAll(t testing.TB, s *Spool, from uint64) []Record {
	t.Helper()
	recs, err := s.Read(from, 0, 0)
	if err != nil {
		t.Fatalf("Read(%d): %v", from, err)
	}
	return recs
}

// segmentFiles lists the segment file names in dir, sorted.
func segmentFiles(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	if err != nil {
		t.Fatal(err)
	}
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	sort.Strings(m)
	return m
}

// lint checks metric names and help against Prometheus conventions.
func lint(t *testing.T, reg *prometheus.Registry) {
	t.Helper()
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("metric %s: %s", p.Metric, p.Text)
	}
}
