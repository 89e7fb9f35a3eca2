package spool

import (
	"sync"
	"sync/atomic"
)

// request is one Append waiting for the committer.
type request struct {
	// frames holds the records framed, with index and CRC left zero: the
	// committer assigns indexes, so it only fills those in (sealFrame)
	// and copies each frame once into the write buffer.
	frames []byte
	n      int    // records in frames
	first  uint64 // index of the first record, set by the committer
	now    bool   // AppendNow: commit at once, with everything queued before it
	done   func(first uint64, err error)
}

// size is the request's framed size in bytes.
func (r *request) size() int64 { return int64(len(r.frames)) }

// queue hands appends to the committer. It is bounded in records: push
// blocks while it is full, except when bypass is set, so that callbacks run
// by the committer itself (done, OnDrop) can append without deadlocking on
// a queue only they could drain.
type queue struct {
	limit  int
	bypass *atomic.Bool

	mu     sync.Mutex
	reqs   []*request
	n      int   // records queued
	b      int64 // framed bytes queued
	now    int   // requests queued by AppendNow
	closed bool
	space  chan struct{} // closed when records leave the queue; nil if nobody waits
	wake   chan struct{} // capacity 1: work is queued
}

func newQueue(limit int, bypass *atomic.Bool) *queue {
	return &queue{limit: limit, bypass: bypass, wake: make(chan struct{}, 1)}
}

// push queues r, blocking while the queue is full. It fails only when the
// queue is closed.
func (q *queue) push(r *request) error {
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return ErrClosed
		}
		// An oversized request is let in alone so it cannot wait forever.
		if q.n == 0 || q.n+r.n <= q.limit || q.bypass.Load() {
			q.reqs = append(q.reqs, r)
			q.n += r.n
			q.b += r.size()
			if r.now {
				q.now++
			}
			q.mu.Unlock()
			select {
			case q.wake <- struct{}{}:
			default:
			}
			return nil
		}
		if q.space == nil {
			q.space = make(chan struct{})
		}
		ch := q.space
		q.mu.Unlock()
		<-ch
	}
}

// take moves queued requests up to about maxBytes framed bytes (at least
// one request if any is queued) to dst and returns it.
func (q *queue) take(dst []*request, maxBytes int64) []*request {
	q.mu.Lock()
	defer q.mu.Unlock()
	var taken int64
	i := 0
	for i < len(q.reqs) && (i == 0 || taken+q.reqs[i].size() <= maxBytes) {
		taken += q.reqs[i].size()
		q.n -= q.reqs[i].n
		q.b -= q.reqs[i].size()
		if q.reqs[i].now {
			q.now--
		}
		i++
	}
	dst = append(dst, q.reqs[:i]...)
	rest := copy(q.reqs, q.reqs[i:])
	clear(q.reqs[rest:])
	q.reqs = q.reqs[:rest]
	if i > 0 && q.space != nil {
		close(q.space)
		q.space = nil
	}
	return dst
}

// pendingBytes returns the framed bytes queued.
func (q *queue) pendingBytes() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.b
}

// urgent reports whether an AppendNow request is queued.
func (q *queue) urgent() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.now > 0
}

// len returns the records queued.
func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

// close refuses further pushes, releases blocked pushers and returns what
// was still queued.
func (q *queue) close() []*request {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	if q.space != nil {
		close(q.space)
		q.space = nil
	}
	rest := q.reqs
	q.reqs = nil
	q.n, q.b, q.now = 0, 0, 0
	return rest
}
