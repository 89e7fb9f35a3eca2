package spool

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"time"
)

// loop is Run's body: it waits for appends, the commit timer, releases and
// the checkpoint timer.
func (s *Spool) loop(ctx context.Context) error {
	commitT := time.NewTimer(time.Hour)
	commitT.Stop()
	ckptT := time.NewTimer(time.Hour)
	ckptT.Stop()
	defer commitT.Stop()
	defer ckptT.Stop()
	var commitC, ckptC <-chan time.Time // nil while the timer is not armed

	for {
		select {
		case <-ctx.Done():
			return s.shutdown(nil)
		case <-s.stop:
			return s.shutdown(nil)
		case <-s.q.wake:
			var err error
			switch {
			case s.opts.CommitInterval == 0:
				err = s.commitQueued(0, math.MaxInt64)
			case s.q.urgent():
				// An AppendNow: what is queued goes now, the urgent
				// request and everything before it, in one fsync.
				s.m.immediate.Inc()
				err = s.commitQueued(0, s.q.pendingBytes())
			default:
				// Full groups go now; the rest waits for the timer
				// armed by the first record that arrived.
				err = s.commitQueued(int64(s.opts.CommitBytes), math.MaxInt64)
			}
			if err != nil {
				return s.shutdown(err)
			}
			if s.opts.CommitInterval > 0 && commitC == nil && s.q.len() > 0 {
				commitT.Reset(s.opts.CommitInterval)
				commitC = commitT.C
			}
		case <-commitC:
			commitC = nil
			// Only what was queued when the timer fired: appends that
			// arrive during this fsync wait for the next interval rather
			// than get an fsync of their own at once, which would double
			// the fsyncs (and the SD card's wear) under steady load.
			if err := s.commitQueued(0, s.q.pendingBytes()); err != nil {
				return s.shutdown(err)
			}
			if s.q.len() > 0 {
				commitT.Reset(s.opts.CommitInterval)
				commitC = commitT.C
			}
		case <-s.releaseSig:
			if s.opts.CheckpointInterval == 0 {
				if err := s.checkpoint(); err != nil {
					return s.shutdown(err)
				}
			} else if ckptC == nil {
				ckptT.Reset(s.opts.CheckpointInterval)
				ckptC = ckptT.C
			}
		case <-ckptC:
			ckptC = nil
			if err := s.checkpoint(); err != nil {
				return s.shutdown(err)
			}
		}
	}
}

// commitQueued commits queued appends in groups of up to CommitBytes while
// at least minBytes are queued (all of them when minBytes is 0), and stops
// once budget bytes are committed.
func (s *Spool) commitQueued(minBytes, budget int64) error {
	for budget > 0 {
		if n := s.q.pendingBytes(); n == 0 || n < minBytes {
			return nil
		}
		s.taken = s.q.take(s.taken[:0], min(int64(s.opts.CommitBytes), budget))
		for _, r := range s.taken {
			budget -= r.size()
		}
		err := s.commit(s.taken)
		clear(s.taken) // the requests are recycled or garbage now
		if err != nil {
			return err
		}
	}
	return nil
}

// shutdown commits what is still queued (unless cause is an I/O error),
// persists the release point and returns cause.
func (s *Spool) shutdown(cause error) error {
	rest := s.q.close()
	if cause == nil {
		for len(rest) > 0 {
			n, b := 0, int64(0)
			for n < len(rest) && (n == 0 || b+rest[n].size() <= int64(s.opts.CommitBytes)) {
				b += rest[n].size()
				n++
			}
			if err := s.commit(rest[:n]); err != nil {
				cause = err
				rest = rest[n:]
				break
			}
			rest = rest[n:]
		}
	}
	if cause != nil {
		s.failAll(rest, fmt.Errorf("%w: %w", ErrClosed, cause), reasonIO)
		s.log.Error("spool committer stopped", "err", cause)
		return cause
	}
	return s.checkpoint()
}

// commit makes reqs durable: room first (drop policy), then frames written
// to the active segment, rotating when it is full, then one fsync.
func (s *Spool) commit(reqs []*request) error {
	if len(reqs) == 0 {
		return nil
	}
	var need int64
	for _, r := range reqs {
		need += r.size()
	}
	need += segHeaderSize * (1 + need/s.opts.SegmentBytes) // headers of segments this group may open
	if err := s.makeRoom(need); err != nil {
		if errors.Is(err, ErrFull) {
			s.log.Error("spool full, rejecting appends", "bytes", need, "err", err)
			s.failAll(reqs, err, reasonFull)
			return nil
		}
		s.failAll(reqs, err, reasonIO)
		return err
	}
	// Indexes are counted locally and published once per flush: the
	// committer is their only writer.
	next := s.next.Load()
	act := s.activeSegment()
	s.pend = pending{first: next, periodic: act.hasPeriodic}
	rotate := func() error {
		s.next.Store(next)
		if err := s.flush(); err != nil {
			return err
		}
		if err := s.createSegment(next); err != nil {
			return err
		}
		act = s.activeSegment()
		s.pend = pending{first: next}
		return nil
	}
	for _, r := range reqs {
		r.first = next
		// Frames are sealed where Append put them and copied to buf a
		// run at a time: the whole request. A request that does not fit
		// in the active segment starts the next one, so that a segment
		// ends with a whole append (a sealed segment is never cut back);
		// only a request larger than a segment spans two.
		f := r.frames
		from := 0 // f[from:] is not in buf yet
		room := s.opts.SegmentBytes - act.size - int64(len(s.buf))
		if int64(len(f)) > room && (act.count > 0 || len(s.buf) > 0) {
			if err := rotate(); err != nil {
				s.failAll(reqs, err, reasonIO)
				return err
			}
			room = s.opts.SegmentBytes - act.size
		}
		for off := 0; off < len(f); {
			size := frameHeaderSize + int(binary.LittleEndian.Uint32(f[off:])&lengthMask)
			if int64(off-from+size) > room && (act.count > 0 || len(s.buf) > 0 || off > from) {
				s.buf = append(s.buf, f[from:off]...)
				from = off
				if err := rotate(); err != nil {
					s.failAll(reqs, err, reasonIO)
					return err
				}
				room = s.opts.SegmentBytes - act.size
			}
			frame := f[off : off+size]
			sealFrame(frame, next)
			// Classifying stops at the segment's first periodic
			// record (see segment.hasPeriodic).
			if !s.pend.periodic && !s.opts.IsState(frame[frameHeaderSize:]) {
				s.pend.periodic = true
			}
			s.pend.n++
			next++
			off += size
		}
		s.buf = append(s.buf, f[from:]...)
	}
	s.next.Store(next)
	if err := s.flush(); err != nil {
		s.failAll(reqs, err, reasonIO)
		return err
	}
	s.updateGauges()
	n := 0
	for _, r := range reqs {
		n += r.n
	}
	s.m.appended.Add(float64(n))
	s.inCallback.Store(true)
	for _, r := range reqs {
		r.done(r.first, nil)
	}
	s.inCallback.Store(false)
	for _, r := range reqs {
		s.recycle(r)
	}
	select {
	case s.committed <- struct{}{}:
	default:
	}
	return nil
}

// activeSegment returns the segment appends go to (the last one).
func (s *Spool) activeSegment() *segment {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.segs[len(s.segs)-1]
}

// flush writes buf to the active segment and fsyncs it, then publishes the
// records to readers.
func (s *Spool) flush() error {
	if len(s.buf) == 0 {
		return nil
	}
	act := s.activeSegment()
	if _, err := s.active.Write(s.buf); err != nil {
		return fmt.Errorf("spool: write %s: %w", act.path, err)
	}
	start := s.opts.Clock()
	if err := s.active.Sync(); err != nil {
		return fmt.Errorf("spool: fsync %s: %w", act.path, err)
	}
	d := s.opts.Clock().Sub(start)
	s.m.fsync.Observe(d.Seconds())
	s.m.commits.Inc()

	s.mu.Lock()
	act.size += int64(len(s.buf))
	s.bytes += int64(len(s.buf))
	act.addRange(s.pend.first, s.pend.n, s.pend.periodic)
	s.durable = s.next.Load()
	s.commits++
	s.fsyncDur += d
	s.mu.Unlock()
	s.buf = s.buf[:0]
	s.pend = pending{}
	return nil
}

// checkpoint persists the release point if it moved, then deletes the
// sealed segments wholly below it.
func (s *Spool) checkpoint() error {
	s.mu.RLock()
	rel := s.released
	s.mu.RUnlock()
	if rel == s.ckptReleased {
		return nil
	}
	if err := s.writeFileAtomic(filepath.Join(s.opts.Dir, checkpointName), encodeCheckpoint(rel)); err != nil {
		return err
	}
	s.ckptReleased = rel
	s.m.checkpoints.Inc()
	if _, err := s.removeReleased(); err != nil {
		return err
	}
	return nil
}

// removeReleased deletes sealed segments whose records are all released
// (or that hold none) and returns how many it deleted.
func (s *Spool) removeReleased() (int, error) {
	s.mu.Lock()
	keep := s.segs[:0]
	removed := 0
	var err error
	for i, g := range s.segs {
		sealed := i < len(s.segs)-1
		if err == nil && sealed && (g.count == 0 || g.last < s.released) {
			if rerr := s.fs.Remove(g.path); rerr != nil {
				err = fmt.Errorf("spool: remove released %s: %w", g.path, rerr)
				keep = append(keep, g)
				continue
			}
			s.bytes -= g.size
			removed++
			continue
		}
		keep = append(keep, g)
	}
	clear(s.segs[len(keep):])
	s.segs = keep
	s.mu.Unlock()
	if removed > 0 {
		s.m.removedSegment.Add(float64(removed))
		s.updateGauges()
		if serr := s.syncDir(); err == nil {
			err = serr
		}
	}
	return removed, err
}
