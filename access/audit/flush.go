package audit

import (
	"context"
	"errors"
	"time"
)

// Run stores buffered records until ctx is cancelled, retrying with
// backoff (RetryMin doubling to RetryMax) while the database is away, and
// anchors the head every AnchorEvery. On cancel it makes a last attempt
// (a few seconds) to store and anchor what is buffered; what remains stays
// in the buffer for the next start.
func (w *Writer) Run(ctx context.Context) error {
	backoff := w.o.RetryMin
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
			err := w.Flush(fctx)
			if err == nil {
				err = w.anchor(fctx, true)
			}
			cancel()
			if err != nil {
				w.log.Warn("audit records left in the local buffer at shutdown", "buffered", w.Buffered(), "err", err)
			}
			return nil
		case <-w.wake:
		case <-timer.C:
		}
		err := w.Flush(ctx)
		if err == nil {
			err = w.anchor(ctx, false)
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		if err != nil && ctx.Err() == nil {
			timer.Reset(backoff)
			backoff = min(2*backoff, w.o.RetryMax)
			continue
		}
		backoff = w.o.RetryMin
		timer.Reset(w.o.AnchorEvery)
	}
}

// Flush stores every buffered record now, in batches, in order. The
// first outage is logged at warning level and the recovery at info; each
// failed attempt is counted.
func (w *Writer) Flush(ctx context.Context) error {
	w.flushMu.Lock()
	defer w.flushMu.Unlock()
	for {
		w.mu.Lock()
		batch := w.pending[:min(len(w.pending), flushBatch)]
		w.mu.Unlock()
		if len(batch) == 0 {
			return nil
		}
		if err := w.o.Sink.AppendAudit(ctx, batch); err != nil {
			w.m.flushFailures.Inc()
			w.mu.Lock()
			first := !w.failing
			w.failing = true
			w.mu.Unlock()
			if errors.Is(err, ErrChainConflict) {
				w.log.Error("audit chain conflict: records stay in the local buffer", "err", err, "buffered", w.Buffered())
			} else if first {
				w.log.Warn("audit database unavailable; buffering locally", "err", err, "buffered", w.Buffered())
			}
			return err
		}
		w.mu.Lock()
		w.pending = w.pending[len(batch):]
		w.stored = batch[len(batch)-1]
		w.m.stored.Add(float64(len(batch)))
		if w.failing {
			w.failing = false
			w.log.Info("audit database back; buffered records stored", "remaining", len(w.pending))
		}
		var err error
		if len(w.pending) == 0 {
			w.full = false
			if w.spool != nil && w.spool.Size() > compactAt {
				err = w.rewrite() // the buffer shrinks back to the head alone
			}
		}
		w.mu.Unlock()
		if err != nil {
			return err
		}
	}
}

// compactAt is the buffer size above which an emptied buffer is rewritten
// to the head alone. Below it, stored records stay in the file: after a
// restart they are sent again and skipped by the sink (same hash).
const compactAt = 1 << 20

// anchor signs the last stored record when AnchorEvery has passed since
// the last anchor (or always, when force) and the head moved.
func (w *Writer) anchor(ctx context.Context, force bool) error {
	if w.o.SigningKey == nil {
		return nil
	}
	now := w.o.Now()
	w.mu.Lock()
	head, due := w.stored, force || now.Sub(w.anchoredAt) >= w.o.AnchorEvery
	due = due && head.Seq > 0 && head.Seq != w.anchorSeq
	w.mu.Unlock()
	if !due {
		return nil
	}
	a := Sign(w.o.SigningKey, w.o.Chain, head.Seq, head.Hash, now)
	if err := w.o.Sink.InsertAnchor(ctx, a); err != nil {
		w.m.flushFailures.Inc()
		return err
	}
	w.m.anchors.Inc()
	w.mu.Lock()
	w.anchoredAt, w.anchorSeq = now, head.Seq
	w.mu.Unlock()
	return nil
}

// Anchor signs the chain head now (after storing what is buffered).
func (w *Writer) Anchor(ctx context.Context) error {
	if err := w.Flush(ctx); err != nil {
		return err
	}
	return w.anchor(ctx, true)
}

// Close closes the buffer file; buffered records stay in it. Closing twice
// is harmless. Call it after Run has returned.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.spool == nil {
		return nil
	}
	err := w.spool.Close()
	w.spool = nil
	return err
}
