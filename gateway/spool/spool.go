package spool

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Spool is the gateway's durable queue of records between local sensors and
// the centre. Append and AppendSync may be called from any goroutine; Read,
// ReadInto and Release are meant for the one uplink, but are safe
// concurrently too.
type Spool struct {
	opts Options
	fs   FS       // opts.FS
	lock *dirLock // held from Open to Close
	log  *slog.Logger
	m    *metrics
	q    *queue

	inCallback atomic.Bool   // the committer runs done or OnDrop callbacks
	next       atomic.Uint64 // index the next record gets (committer writes)
	committed  chan struct{} // capacity 1, coalesced
	releaseSig chan struct{} // capacity 1: the release point moved
	stop       chan struct{} // closed by Close
	runDone    chan struct{} // closed when Run returns

	life    sync.Mutex // guards running and closed
	running bool
	closed  bool

	mu       sync.RWMutex // guards the fields below; file I/O outside it except renames and removals
	segs     []*segment   // ascending base; the last is the active segment
	bytes    int64        // sum of segment sizes
	released uint64       // release point
	durable  uint64       // next index not yet durable
	dropped  uint64
	commits  uint64
	fsyncDur time.Duration

	// Owned by the committer (or by Open and Close when Run is not running).
	active       File
	buf          []byte     // frames written but not yet fsynced, all for the active segment
	pend         pending    // what buf holds
	taken        []*request // reused by commitQueued
	ckptReleased uint64     // release point last persisted

	reqPool sync.Pool // *request, see newRequest

	readMu  sync.Mutex
	cursors [readCursors]readCursor // read positions, see pickCursor
}

// pending describes the frames in buf until they are durable: indexes
// first, first+1, ... (the committer numbers consecutively and flushes
// before it starts a segment), so a count replaces a per-record list.
type pending struct {
	first    uint64
	n        int
	periodic bool // some record is periodic, or the active segment already has one
}

// Append queues recs (copied) for the next group commit and returns. done,
// if not nil, runs on the committer goroutine after the fsync that made all
// of recs durable, with first = the index of recs[0]; it must be quick. On
// failure done gets first 0 and the error (ErrClosed,
// ErrTooLarge, ErrFull or an I/O error); for ErrClosed and ErrTooLarge it
// runs before Append returns.
//
// Append blocks while Options.QueueRecords records are already queued, which
// pushes back on the MQTT handler instead of growing memory on a small box.
// Calls from within done or OnDrop never block.
func (s *Spool) Append(recs [][]byte, done func(first uint64, err error)) {
	s.append(recs, done, false)
}

func (s *Spool) append(recs [][]byte, done func(first uint64, err error), now bool) {
	if done == nil {
		done = func(uint64, error) {}
	}
	if len(recs) == 0 {
		done(0, nil)
		return
	}
	maxRecord := s.opts.maxRecord()
	size := 0
	for _, r := range recs {
		if len(r) > maxRecord {
			s.m.appendErrors.WithLabelValues(reasonTooLarge).Add(float64(len(recs)))
			done(0, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(r), maxRecord))
			return
		}
		size += len(r)
	}
	total := int64(size) + frameHeaderSize*int64(len(recs))
	if total > s.opts.MaxBytes/2 {
		s.m.appendErrors.WithLabelValues(reasonTooLarge).Add(float64(len(recs)))
		done(0, fmt.Errorf("%w: append of %d bytes, limit %d", ErrTooLarge, total, s.opts.MaxBytes/2))
		return
	}
	// The copies go into the request's own buffer, already framed, so the
	// committer only fills in indexes and CRCs.
	req := s.newRequest(int(total))
	last := 0
	for _, r := range recs {
		last = len(req.frames)
		req.frames = appendFrameHeader(req.frames, len(r))
		req.frames = append(req.frames, r...)
	}
	// The append's last record says so: after a crash only whole appends
	// are kept (a message's readings never without its receipt).
	markAppendEnd(req.frames[last:])
	req.n, req.done, req.now = len(recs), done, now
	if err := s.q.push(req); err != nil {
		s.m.appendErrors.WithLabelValues(reasonClosed).Add(float64(len(recs)))
		done(0, err)
	}
}

// AppendNow is Append for records that must not wait for the group commit:
// a safety-relevant state change such as a smoke alarm. The committer
// writes and fsyncs them at once, together with everything queued before
// them (which keeps the order of indexes), and counts the commit in
// cw_gateway_spool_immediate_commits_total. Each call costs an fsync of its
// own, so it is for the rare record whose delay matters, not for samples.
func (s *Spool) AppendNow(recs [][]byte, done func(first uint64, err error)) {
	s.append(recs, done, true)
}

// maxPooledFrames bounds the buffer of a request kept for reuse, so that
// one large append does not pin its memory for the life of the spool.
const maxPooledFrames = 64 << 10

// newRequest returns an empty request whose frames buffer holds size bytes,
// reused from an earlier append when possible: the gateway appends a group
// of records per MQTT batch, and a request plus its buffer per call were
// the spool's steady garbage.
func (s *Spool) newRequest(size int) *request {
	r, _ := s.reqPool.Get().(*request)
	if r == nil {
		r = &request{}
	}
	if cap(r.frames) < size {
		r.frames = make([]byte, 0, max(size, 4<<10))
	}
	return r
}

// recycle makes r available to newRequest. Only the committer calls it,
// after r's done callback has run; nothing refers to r afterwards.
func (s *Spool) recycle(r *request) {
	if cap(r.frames) > maxPooledFrames {
		return
	}
	*r = request{frames: r.frames[:0]}
	s.reqPool.Put(r)
}

// AppendSync appends recs and waits until they are durable. If ctx ends
// first it returns ctx.Err(), but the records may still be committed.
// Do not call it from done or OnDrop: it would wait for itself.
func (s *Spool) AppendSync(ctx context.Context, recs [][]byte) (first uint64, err error) {
	type result struct {
		first uint64
		err   error
	}
	ch := make(chan result, 1)
	s.Append(recs, func(first uint64, err error) { ch <- result{first, err} })
	select {
	case r := <-ch:
		return r.first, r.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// Release records that the centre acknowledged every record with index
// below upTo. The release point is persisted in batches (see
// Options.CheckpointInterval) and segments wholly below it are deleted by
// the committer. Releasing below the current point is a no-op.
func (s *Spool) Release(upTo uint64) error {
	s.mu.Lock()
	if upTo > s.durable {
		durable := s.durable
		s.mu.Unlock()
		return fmt.Errorf("%w: release up to %d, durable below %d", ErrReleaseAhead, upTo, durable)
	}
	if upTo <= s.released {
		s.mu.Unlock()
		return nil
	}
	n := s.countFromLocked(s.released) - s.countFromLocked(upTo)
	s.released = upTo
	s.mu.Unlock()
	s.m.released.Add(float64(n))
	s.updateGauges()
	select {
	case s.releaseSig <- struct{}{}:
	default:
	}
	return nil
}

// Committed is signalled after each group commit (non-blocking, coalesced:
// one pending signal at most), so the uplink can wait for new records
// instead of polling.
func (s *Spool) Committed() <-chan struct{} { return s.committed }

// Stats returns a snapshot of the spool's state.
func (s *Spool) Stats() Stats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return Stats{
		Depth:     s.countFromLocked(s.released),
		Bytes:     s.bytes,
		Segments:  len(s.segs),
		Released:  s.released,
		Next:      s.next.Load(),
		Durable:   s.durable,
		Queued:    s.q.len(),
		Dropped:   s.dropped,
		Commits:   s.commits,
		FsyncTime: s.fsyncDur,
	}
}

// Close stops Run (which commits what is queued), persists the release
// point and closes the files. Appends after Close fail with ErrClosed.
func (s *Spool) Close() error {
	s.life.Lock()
	if s.closed {
		s.life.Unlock()
		return nil
	}
	s.closed = true
	running := s.running
	s.life.Unlock()
	close(s.stop)
	var err error
	if running {
		<-s.runDone
	} else {
		s.failAll(s.q.close(), ErrClosed, reasonClosed)
		err = s.checkpoint()
	}
	if s.active != nil {
		if cerr := s.active.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("spool: close active segment: %w", cerr)
		}
		s.active = nil
	}
	if lerr := s.lock.release(); err == nil && lerr != nil {
		err = fmt.Errorf("spool: release lock: %w", lerr)
	}
	return err
}

// countFromLocked counts records with index >= from; s.mu must be held.
func (s *Spool) countFromLocked(from uint64) int {
	n := 0
	for _, g := range s.segs {
		n += g.countFrom(from)
	}
	return n
}

// updateGauges refreshes the bytes, depth and segments gauges.
func (s *Spool) updateGauges() {
	s.mu.RLock()
	depth, bytes, segs := s.countFromLocked(s.released), s.bytes, len(s.segs)
	s.mu.RUnlock()
	s.m.depth.Set(float64(depth))
	s.m.bytes.Set(float64(bytes))
	s.m.segmentsGauge.Set(float64(segs))
}

// failAll runs the done callbacks of reqs with err.
func (s *Spool) failAll(reqs []*request, err error, reason string) {
	s.inCallback.Store(true)
	defer s.inCallback.Store(false)
	for _, r := range reqs {
		s.m.appendErrors.WithLabelValues(reason).Add(float64(r.n))
		r.done(0, err)
	}
}
