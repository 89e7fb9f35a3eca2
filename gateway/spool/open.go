package spool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Open opens or creates the spool in opts.Dir. A torn or corrupt tail of the
// last segment is truncated at the first bad record (logged and counted in
// cw_gateway_spool_torn_tail_repairs_total); damage elsewhere is a
// *CorruptError. Call Run to start committing appends.
func Open(opts Options) (*Spool, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := opts.FS.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("spool: create %s: %w", opts.Dir, err)
	}
	lock, err := lockDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	s, err := open(opts, lock)
	if err != nil {
		lock.release()
		return nil, err
	}
	return s, nil
}

// open is Open once the directory is locked.
func open(opts Options, lock *dirLock) (*Spool, error) {
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	s := &Spool{
		opts:       opts,
		fs:         opts.FS,
		lock:       lock,
		log:        opts.Logger.With("component", "spool"),
		m:          m,
		committed:  make(chan struct{}, 1),
		releaseSig: make(chan struct{}, 1),
		stop:       make(chan struct{}),
		runDone:    make(chan struct{}),
	}
	s.q = newQueue(opts.QueueRecords, &s.inCallback)

	rel, err := readCheckpoint(opts.FS, filepath.Join(opts.Dir, checkpointName))
	if errors.Is(err, errBadCheckpoint) {
		// Losing the release point only means sending acknowledged
		// records again, which the centre absorbs.
		s.log.Warn("ignoring unreadable checkpoint; unreleased records will be sent again", "err", err)
		m.checkpointBad.Inc()
		rel = 0
	} else if err != nil {
		return nil, err
	}
	bases, err := listDir(opts.FS, opts.Dir)
	if err != nil {
		return nil, err
	}
	var prevLast uint64
	for i, base := range bases {
		var maxIndex uint64
		last := i == len(bases)-1
		if !last {
			maxIndex = bases[i+1] - 1
		}
		g, err := s.scanSegment(base, last, prevLast+1, maxIndex)
		if err != nil {
			return nil, err
		}
		if g.count > 0 {
			prevLast = g.last
		}
		s.segs = append(s.segs, g)
		s.bytes += g.size
	}
	next := max(uint64(1), rel, prevLast+1)
	if n := len(bases); n > 0 {
		next = max(next, bases[n-1])
	}
	s.next.Store(next)
	s.durable = next
	s.released, s.ckptReleased = rel, rel
	if len(s.segs) == 0 {
		if err := s.createSegment(next); err != nil {
			return nil, err
		}
	} else {
		g := s.segs[len(s.segs)-1]
		f, err := opts.FS.OpenFile(g.path, os.O_WRONLY, 0)
		if err != nil {
			return nil, fmt.Errorf("spool: open %s: %w", g.path, err)
		}
		if _, err := f.Seek(g.size, io.SeekStart); err != nil {
			f.Close()
			return nil, fmt.Errorf("spool: seek %s: %w", g.path, err)
		}
		s.active = f
	}
	s.updateGauges()
	s.log.Info("spool opened", "dir", opts.Dir, "segments", len(s.segs), "next", next, "released", rel)
	return s, nil
}

// scanSegment validates one segment file and builds its metadata. Only the
// last segment may be repaired.
func (s *Spool) scanSegment(base uint64, last bool, minIndex, maxIndex uint64) (*segment, error) {
	path := filepath.Join(s.opts.Dir, segmentName(base))
	f, err := s.fs.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("spool: open %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("spool: stat %s: %w", path, err)
	}
	size := fi.Size()
	g := &segment{base: base, path: path}

	var hdr [segHeaderSize]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil || !checkSegHeader(hdr[:]) {
		if !last {
			return nil, &CorruptError{Path: path, Reason: "bad segment header"}
		}
		// Created but never fully written: rotation was cut short.
		if err := s.repair(f, path, 0, size, "bad segment header"); err != nil {
			return nil, err
		}
		if _, err := f.WriteAt(segMagic[:], 0); err != nil {
			return nil, fmt.Errorf("spool: rewrite header %s: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			return nil, fmt.Errorf("spool: fsync %s: %w", path, err)
		}
		g.size = segHeaderSize
		return g, nil
	}

	fr := newFrameReader(io.NewSectionReader(f, segHeaderSize, size-segHeaderSize), segHeaderSize, size,
		max(base, minIndex), maxIndex)
	defer fr.release()
	fr.marks = segVersion(hdr[:]) >= 2
	var indexes []uint64
	firstPeriodic := -1 // classifying stops at the first periodic record (see hasPeriodic)
	cut, reason := int64(-1), ""
	endOff, endN := fr.off, 0 // after the last record that ends an append
	for {
		index, data, _, err := fr.next(nil, false)
		if err == io.EOF {
			break
		}
		var fe *frameError
		if errors.As(err, &fe) {
			if !last {
				return nil, &CorruptError{Path: path, Offset: fe.off, Reason: fe.reason}
			}
			cut, reason = fe.off, fe.reason
			break
		}
		if err != nil {
			return nil, err
		}
		if firstPeriodic < 0 && !s.opts.IsState(data) {
			firstPeriodic = len(indexes)
		}
		indexes = append(indexes, index)
		if fr.end {
			endOff, endN = fr.off, len(indexes)
		}
	}
	if last && endN < len(indexes) {
		// An append cut short: its first records were written, its last
		// was not, so it was never reported durable and its sender has it
		// still. Keeping a part would store that part twice when it comes
		// again (a message's readings without the receipt that recognises
		// the redelivery).
		if cut < 0 {
			reason = "incomplete append"
		} else {
			reason += ", after an incomplete append"
		}
		cut, indexes = endOff, indexes[:endN]
	}
	end := fr.off
	if cut >= 0 {
		if err := s.repair(f, path, cut, size, reason); err != nil {
			return nil, err
		}
		end = cut
	}
	for i, index := range indexes {
		g.add(index, i != firstPeriodic)
	}
	g.size = end
	g.compact(indexes)
	return g, nil
}

// repair truncates path at off, durably, and records it.
func (s *Spool) repair(f File, path string, off, size int64, reason string) error {
	if err := f.Truncate(off); err != nil {
		return fmt.Errorf("spool: truncate %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("spool: fsync %s: %w", path, err)
	}
	s.m.repairs.Inc()
	s.m.truncated.Add(float64(size - off))
	s.log.Warn("repaired torn spool tail", "segment", path, "offset", off, "truncated_bytes", size-off, "reason", reason)
	return nil
}

// createSegment starts a new active segment named base and makes it durable.
func (s *Spool) createSegment(base uint64) error {
	path := filepath.Join(s.opts.Dir, segmentName(base))
	f, err := s.fs.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("spool: create %s: %w", path, err)
	}
	if _, err := f.Write(segMagic[:]); err == nil {
		err = f.Sync()
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("spool: write header %s: %w", path, err)
	}
	if err := s.syncDir(); err != nil {
		f.Close()
		return err
	}
	if s.active != nil {
		if err := s.active.Close(); err != nil {
			f.Close()
			return fmt.Errorf("spool: close sealed segment: %w", err)
		}
	}
	s.active = f
	s.mu.Lock()
	s.segs = append(s.segs, &segment{base: base, path: path, size: segHeaderSize})
	s.bytes += segHeaderSize
	s.mu.Unlock()
	return nil
}

// Run is the spool's single committer goroutine: it writes queued appends,
// fsyncs them in groups, runs their done callbacks, enforces MaxBytes and
// persists the release point. It returns nil when ctx is cancelled or Close
// is called, after committing what was queued. On an I/O error it fails the
// affected appends and returns the error; the spool is then unusable,
// because after a failed fsync the state of the page cache is unknown
// (retrying can report success for data that was lost). Restart the
// process: Open repairs the tail.
func (s *Spool) Run(ctx context.Context) error {
	s.life.Lock()
	switch {
	case s.closed:
		s.life.Unlock()
		return ErrClosed
	case s.running:
		s.life.Unlock()
		return ErrRunning
	}
	s.running = true
	s.life.Unlock()
	defer close(s.runDone)
	return s.loop(ctx)
}
