package gateway

import "sort"

// indexRange is the spool index range [first, end).
type indexRange struct{ first, end uint64 }

// ackSet holds the spool index ranges the centre acknowledged above the
// spool's release point. Acknowledgements arrive out of order since the live
// lane and the backlog lane share the link, but the spool can only release a
// prefix: the set keeps what is acknowledged until the ranges before it are
// too. Ranges are kept sorted, disjoint and merged with their neighbours, so
// the set holds about one range per unacknowledged batch, however long the
// live lane runs ahead of a stuck backlog.
//
// It lives in memory only. After a restart the spool's persisted release
// point is all that is known, so ranges acknowledged above it are sent again;
// the centre absorbs that because a point's identity in InfluxDB is its
// series and its measurement time.
type ackSet struct {
	r []indexRange
}

// add records [first, end) as acknowledged.
func (s *ackSet) add(first, end uint64) {
	if first >= end {
		return
	}
	// i: the first range that ends at or after first (it may touch or
	// overlap the new one); j: the first range that starts after end.
	i := sort.Search(len(s.r), func(k int) bool { return s.r[k].end >= first })
	j := sort.Search(len(s.r), func(k int) bool { return s.r[k].first > end })
	if i < j {
		first = min(first, s.r[i].first)
		end = max(end, s.r[j-1].end)
	}
	merged := indexRange{first, end}
	switch {
	case i == j:
		s.r = append(s.r, indexRange{})
		copy(s.r[i+1:], s.r[i:])
		s.r[i] = merged
	default:
		s.r[i] = merged
		s.r = append(s.r[:i+1], s.r[j:]...)
	}
}

// contains reports whether all of [first, end) is acknowledged.
func (s *ackSet) contains(first, end uint64) bool {
	i := sort.Search(len(s.r), func(k int) bool { return s.r[k].end >= end })
	return i < len(s.r) && s.r[i].first <= first
}

// advance returns the new release point: base moved over every
// acknowledged range that starts at or below it. Those ranges leave the set.
func (s *ackSet) advance(base uint64) uint64 {
	n := 0
	for n < len(s.r) && s.r[n].first <= base {
		base = max(base, s.r[n].end)
		n++
	}
	if n > 0 {
		s.r = append(s.r[:0], s.r[n:]...)
	}
	return base
}

// ranges is the number of disjoint acknowledged ranges held.
func (s *ackSet) ranges() int { return len(s.r) }
