package spool

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// makeRoom applies the drop policy (doc.go) until need more bytes fit
// within MaxBytes. It returns ErrFull when nothing more may be dropped.
func (s *Spool) makeRoom(need int64) error {
	for {
		s.mu.RLock()
		over := s.bytes+need > s.opts.MaxBytes
		s.mu.RUnlock()
		if !over {
			return nil
		}
		// Free first: segments the centre already has.
		if n, err := s.removeReleased(); err != nil || n > 0 {
			if err != nil {
				return err
			}
			continue
		}
		if g := s.oldestSealed(func(g *segment) bool { return g.hasPeriodic }); g != nil {
			if err := s.rewrite(g, true); err != nil {
				return err
			}
			continue
		}
		// Periodic records in the active segment go before any state
		// record: seal it so it can be rewritten like the others.
		act := s.activeSegment()
		if act.count > 0 && act.hasPeriodic {
			if err := s.createSegment(s.next.Load()); err != nil {
				return err
			}
			continue
		}
		if g := s.oldestSealed(func(g *segment) bool { return g.count > 0 }); g != nil {
			if err := s.rewrite(g, false); err != nil {
				return err
			}
			continue
		}
		if act.count > 0 {
			if err := s.createSegment(s.next.Load()); err != nil {
				return err
			}
			continue
		}
		return fmt.Errorf("%w: %d bytes do not fit in MaxBytes %d", ErrFull, need, s.opts.MaxBytes)
	}
}

// oldestSealed returns the oldest sealed segment matching ok, or nil.
func (s *Spool) oldestSealed(ok func(*segment) bool) *segment {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, g := range s.segs[:len(s.segs)-1] {
		if ok(g) {
			return g
		}
	}
	return nil
}

// rewrite replaces sealed segment g by one holding only its unreleased
// state records (keepState) or nothing, deleting the file when nothing is
// left. Released records go silently; unreleased ones are counted as
// dropped and handed to OnDrop.
func (s *Spool) rewrite(g *segment, keepState bool) error {
	data, err := s.fs.ReadFile(g.path)
	if err != nil {
		return fmt.Errorf("spool: read %s for drop: %w", g.path, err)
	}
	if !checkSegHeader(data) {
		return &CorruptError{Path: g.path, Reason: "bad segment header"}
	}
	s.mu.RLock()
	released := s.released
	s.mu.RUnlock()

	out := append([]byte(nil), segMagic[:]...)
	kept := &segment{base: g.base, path: g.path, gen: g.gen + 1}
	var keptIdx []uint64
	var dropped []Record
	var arena []byte
	periodic, state := 0, 0
	fr := newFrameReader(bytes.NewReader(data[segHeaderSize:]), segHeaderSize, int64(len(data)), g.base, 0)
	for {
		var index uint64
		var rec []byte
		index, rec, arena, err = fr.next(arena, true)
		if err == io.EOF {
			break
		}
		var fe *frameError
		if errors.As(err, &fe) {
			return &CorruptError{Path: g.path, Offset: fe.off, Reason: fe.reason}
		}
		if index < released {
			continue
		}
		isState := s.opts.IsState(rec)
		if keepState && isState {
			out = appendFrame(out, index, rec)
			kept.add(index, true)
			keptIdx = append(keptIdx, index)
			continue
		}
		dropped = append(dropped, Record{Index: index, Data: rec})
		if isState {
			state++
		} else {
			periodic++
		}
	}
	kept.size = int64(len(out))
	kept.compact(keptIdx)

	if kept.count == 0 {
		s.mu.Lock()
		err = s.fs.Remove(g.path)
		if err == nil {
			s.replaceSegment(g, nil)
		}
		s.mu.Unlock()
		if err != nil {
			return fmt.Errorf("spool: remove dropped %s: %w", g.path, err)
		}
		s.m.removedSegment.Inc()
	} else {
		tmp := g.path + tmpSuffix
		if err := s.writeTemp(tmp, out); err != nil {
			return err
		}
		s.mu.Lock()
		err = s.fs.Rename(tmp, g.path)
		if err == nil {
			s.replaceSegment(g, kept)
		}
		s.mu.Unlock()
		if err != nil {
			return fmt.Errorf("spool: rename %s: %w", tmp, err)
		}
		s.m.rewrites.Inc()
	}
	if err := s.syncDir(); err != nil {
		return err
	}

	s.mu.Lock()
	s.dropped += uint64(len(dropped))
	s.mu.Unlock()
	s.m.dropped.WithLabelValues(classPeriodic).Add(float64(periodic))
	s.m.dropped.WithLabelValues(classState).Add(float64(state))
	s.updateGauges()
	if len(dropped) > 0 {
		s.log.Warn("spool full: dropped records", "segment", g.path, "periodic", periodic, "state", state,
			"first", dropped[0].Index, "last", dropped[len(dropped)-1].Index)
		s.inCallback.Store(true)
		s.opts.OnDrop(dropped)
		s.inCallback.Store(false)
	}
	return nil
}

// replaceSegment swaps g for repl (or removes it when repl is nil); s.mu
// must be held.
func (s *Spool) replaceSegment(g, repl *segment) {
	for i, x := range s.segs {
		if x != g {
			continue
		}
		s.bytes -= g.size
		if repl == nil {
			s.segs = append(s.segs[:i], s.segs[i+1:]...)
			return
		}
		s.bytes += repl.size
		s.segs[i] = repl
		return
	}
}
