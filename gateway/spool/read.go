package spool

import (
	"errors"
	"fmt"
	"io"
	"os"
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
	if maxRecords < 0 || maxBytes < 0 {
		return nil, fmt.Errorf("spool: read limits %d records, %d bytes: negative", maxRecords, maxBytes)
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

	var out []Record
	var arena []byte
	total := 0
	full := func() bool {
		return (maxRecords > 0 && len(out) >= maxRecords) || (maxBytes > 0 && total >= maxBytes)
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
		f, err := os.Open(g.path)
		if err != nil {
			return nil, fmt.Errorf("spool: read %s: %w", g.path, err)
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
					return nil, &CorruptError{Path: g.path, Offset: fe.off, Reason: fe.reason}
				}
				return nil, fmt.Errorf("spool: read %s: %w", g.path, err)
			}
			if index < from {
				arena = grown[:len(grown)-len(data)]
				continue
			}
			if len(out) > 0 && maxBytes > 0 && total+len(data) > maxBytes {
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
	return out, nil
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
