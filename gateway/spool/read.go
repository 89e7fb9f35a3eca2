package spool

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
)

// readCursor remembers where the last Read stopped, so the uplink reading
// forward does not rescan a segment from its start each time. It is valid
// for segment base at generation gen: every record of that segment with
// index >= next starts at or after off.
type readCursor struct {
	base uint64
	gen  uint64
	off  int64
	next uint64
}

// Read returns durable records with Index >= from, in index order, at most
// maxRecords records and maxBytes bytes of data (0: no limit; at least one
// record is returned if any is available, however large). Indexes may have
// holes where the drop policy removed records. The returned data is the
// caller's.
func (s *Spool) Read(from uint64, maxRecords, maxBytes int) ([]Record, error) {
	out, _, err := s.read(nil, nil, from, maxRecords, maxBytes)
	return out, err
}

// ReadBuffer is reusable storage for ReadInto. The zero value is ready to
// use; a ReadBuffer must not be used by two ReadInto calls at once.
type ReadBuffer struct {
	// Records are what the last ReadInto returned. Their Data lives in
	// the buffer: the next ReadInto with it overwrites them.
	Records []Record
	data    []byte
}

// ReadInto is Read into b: the same records and limits, but the record
// slice and the data are b's memory, reused from call to call, so a reader
// that is done with a batch before it reads the next (the uplink encodes a
// batch as soon as it has read it) reads without allocating. On error
// b.Records is empty.
func (s *Spool) ReadInto(b *ReadBuffer, from uint64, maxRecords, maxBytes int) error {
	out, data, err := s.read(b.Records[:0], b.data[:0], from, maxRecords, maxBytes)
	if err != nil {
		out = out[:0]
	}
	b.Records, b.data = out, data
	return err
}

// read appends to out the records Read returns and their data to arena,
// growing both at most once when the estimate of readSize holds.
func (s *Spool) read(out []Record, arena []byte, from uint64, maxRecords, maxBytes int) ([]Record, []byte, error) {
	if maxRecords < 0 || maxBytes < 0 {
		return out, arena, fmt.Errorf("spool: read limits %d records, %d bytes: negative", maxRecords, maxBytes)
	}
	from = max(from, 1)
	// Hold the read lock throughout: renames and removals take the write
	// lock, so the files and sizes seen here stay consistent.
	s.mu.RLock()
	defer s.mu.RUnlock()
	i := sort.Search(len(s.segs), func(i int) bool { return s.segs[i].base > from }) - 1
	i = max(i, 0)

	s.readMu.Lock()
	slot := s.pickCursor(from)
	cur := s.cursors[slot]
	s.readMu.Unlock()

	nrec, nbytes := s.readSize(i, from, cur, maxRecords, maxBytes)
	out = slices.Grow(out, nrec)
	arena = slices.Grow(arena, nbytes)
	base := len(out)
	total := 0
	full := func() bool {
		return (maxRecords > 0 && len(out)-base >= maxRecords) || (maxBytes > 0 && total >= maxBytes)
	}
	for ; i < len(s.segs) && !full(); i++ {
		g := s.segs[i]
		if g.count == 0 || g.last < from {
			continue
		}
		off, minIndex := int64(segHeaderSize), g.base
		if cur.base == g.base && cur.gen == g.gen && cur.next <= from && cur.off <= g.size {
			off, minIndex = cur.off, cur.next
		}
		f, err := s.fs.OpenFile(g.path, os.O_RDONLY, 0)
		if err != nil {
			return out, arena, fmt.Errorf("spool: read %s: %w", g.path, err)
		}
		fr := newFrameReader(io.NewSectionReader(f, off, g.size-off), off, g.size, minIndex, 0)
		for {
			at := fr.off
			index, data, grown, err := fr.next(arena, true)
			if err == io.EOF {
				break
			}
			if err != nil {
				fr.release()
				f.Close()
				var fe *frameError
				if errors.As(err, &fe) {
					return out, arena, &CorruptError{Path: g.path, Offset: fe.off, Reason: fe.reason}
				}
				return out, arena, fmt.Errorf("spool: read %s: %w", g.path, err)
			}
			if index < from {
				arena = grown[:len(grown)-len(data)]
				continue
			}
			if len(out) > base && maxBytes > 0 && total+len(data) > maxBytes {
				// Leave this record for the next Read.
				cur = readCursor{base: g.base, gen: g.gen, off: at, next: index}
				total = maxBytes
				break
			}
			arena = grown
			out = append(out, Record{Index: index, Data: data})
			total += len(data)
			cur = readCursor{base: g.base, gen: g.gen, off: fr.off, next: index + 1}
			if full() {
				break
			}
		}
		fr.release()
		f.Close()
	}
	s.readMu.Lock()
	s.cursors[slot] = cur
	s.readMu.Unlock()
	return out, arena, nil
}

// readSize estimates how many records and data bytes a read from `from`
// starting at segment i returns, so that read sizes its slices once
// instead of growing them record by record. It is exact for the uplink's
// forward reads (the cursor marks where from starts); elsewhere it assumes
// records of average size. s.mu is held.
func (s *Spool) readSize(i int, from uint64, cur readCursor, maxRecords, maxBytes int) (records, bytes int) {
	for ; i < len(s.segs); i++ {
		g := s.segs[i]
		n := g.countFrom(from)
		if n == 0 {
			continue
		}
		// Frames from off to the end of the file: all records >= next.
		off, frames := int64(segHeaderSize), g.count
		if cur.base == g.base && cur.gen == g.gen && cur.next <= from && cur.off <= g.size {
			off, frames = cur.off, g.countFrom(cur.next)
		}
		data := int(g.size-off) - frames*frameHeaderSize
		if data < 0 || frames < n {
			return records, bytes // not what the metadata promises; the read will tell
		}
		if maxRecords > 0 && records+n >= maxRecords {
			k := maxRecords - records
			return maxRecords, capBytes(bytes+share(data, k, frames), maxBytes)
		}
		records += n
		bytes += share(data, n, frames)
		if maxBytes > 0 && bytes >= maxBytes {
			return records, maxBytes
		}
	}
	return records, bytes
}

// share estimates the data bytes of k of the frames records that hold data
// bytes: all of it when k is all, else the average plus an eighth, so that
// records a little larger than average do not make read grow its buffer.
func share(data, k, frames int) int {
	if k == frames {
		return data
	}
	est := (data*k + frames - 1) / frames
	return est + est/8
}

// capBytes bounds n by limit, if limit is set.
func capBytes(n, limit int) int {
	if limit > 0 {
		return min(n, limit)
	}
	return n
}

// readCursors is how many readers' positions the spool remembers: the
// uplink's live and backlog lanes read at two places, and the status
// message reads the oldest record; each keeps its own position instead of
// making the others rescan their segment from the start.
const readCursors = 4

// pickCursor returns the slot whose cursor is the best start for a read
// from `from` (the largest position not beyond it), or, when none fits, the
// slot to reuse: the one furthest behind. readMu is held.
func (s *Spool) pickCursor(from uint64) int {
	best, victim := -1, 0
	for i, c := range s.cursors {
		if c.next != 0 && c.next <= from && (best < 0 || c.next > s.cursors[best].next) {
			best = i
		}
		if c.next < s.cursors[victim].next {
			victim = i
		}
	}
	if best >= 0 {
		return best
	}
	return victim
}
