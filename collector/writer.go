package collector

import (
	"context"
	"errors"
	"github.com/cradlewatch/cradlewatch/internal/influxwrite"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// writer stores a work item in the database, retrying transient failures
// until the context ends (the gateways' spools hold the data meanwhile, so
// waiting loses nothing) and bisecting refused writes to reject only the
// points the database refuses.
type writer struct {
	sink    influxwrite.Sink
	cfg     IngestConfig
	m       *metrics
	log     *slog.Logger
	healthy atomic.Bool // false while writes fail; /readyz reports it
	sleep   func(ctx context.Context, d time.Duration) error
}

// store writes every line of w; it returns the indexes of lines the
// database refused one by one, or ctx's error.
func (wr *writer) store(ctx context.Context, w *work) (refused []int, err error) {
	if w.lines() == 0 {
		return nil, nil
	}
	return wr.storeRange(ctx, w, 0, w.lines(), refused)
}

func (wr *writer) storeRange(ctx context.Context, w *work, from, to int, refused []int) ([]int, error) {
	body := w.buf[w.offs[from]:end(w, to)]
	backoff := wr.cfg.RetryInitial
	for {
		start := time.Now()
		err := wr.sink.Write(ctx, body)
		wr.m.writeSeconds.Observe(time.Since(start).Seconds())
		switch {
		case err == nil:
			wr.m.writes.WithLabelValues("ok").Inc()
			wr.healthy.Store(true)
			return refused, nil
		case errors.Is(err, influxwrite.ErrBadData) || errors.Is(err, influxwrite.ErrTooLarge):
			label := "bad_data"
			if errors.Is(err, influxwrite.ErrTooLarge) {
				label = "too_large"
			}
			wr.m.writes.WithLabelValues(label).Inc()
			if to-from == 1 {
				if errors.Is(err, influxwrite.ErrTooLarge) {
					// A single line cannot be too large for any sane limit;
					// treat it like refused data rather than loop.
					wr.log.Error("single line too large for the database", "bytes", len(body))
				}
				wr.log.Warn("database refused a point", "line", truncate(body, 300), "err", err)
				return append(refused, from), nil
			}
			// Bisect: the good halves are written (again: rewriting a stored
			// point is harmless), the bad points end up alone.
			mid := from + (to-from)/2
			var err2 error
			if refused, err2 = wr.storeRange(ctx, w, from, mid, refused); err2 != nil {
				return refused, err2
			}
			return wr.storeRange(ctx, w, mid, to, refused)
		default:
			wr.m.writes.WithLabelValues("retry").Inc()
			wr.m.writeRetries.Inc()
			if wr.healthy.Swap(false) {
				wr.log.Warn("database write failed; retrying, acknowledgements paused", "err", err)
			}
			if err := wr.sleep(ctx, jitter(backoff)); err != nil {
				return refused, err
			}
			backoff = min(backoff*2, wr.cfg.RetryMax)
		}
	}
}

func end(w *work, to int) int {
	if to >= len(w.offs) {
		return len(w.buf)
	}
	return w.offs[to]
}

// jitter spreads retries of many collectors over [d/2, d).
func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
