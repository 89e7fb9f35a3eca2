package spool

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

const (
	segSuffix = ".seg"
	tmpSuffix = ".tmp"
	nameWidth = 20 // digits of the largest uint64, so names sort as numbers
)

// segment is what the spool keeps in memory about one segment file. The
// committer goroutine mutates it under Spool.mu; readers look under RLock.
type segment struct {
	base uint64 // from the file name: every record in it has index >= base
	path string
	size int64  // bytes on disk that are durable (header + fsynced frames)
	gen  uint64 // bumped when the file is rewritten, invalidating read cursors

	count  int      // records in the file
	first  uint64   // index of the first record (0 if count == 0)
	last   uint64   // index of the last record (0 if count == 0)
	sparse []uint64 // every index present, once the drop policy left holes; nil while dense
	// hasPeriodic: some record is periodic (IsState false). The drop policy
	// only asks whether there is one, so once it is set nobody classifies
	// further records of the segment: IsState runs per record until the
	// first periodic one, not for every record.
	hasPeriodic bool
}

func segmentName(base uint64) string {
	return fmt.Sprintf("%0*d%s", nameWidth, base, segSuffix)
}

// parseSegmentName returns the base index encoded in a segment file name.
func parseSegmentName(name string) (uint64, bool) {
	digits, ok := strings.CutSuffix(name, segSuffix)
	if !ok || len(digits) != nameWidth {
		return 0, false
	}
	base, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || base == 0 {
		return 0, false
	}
	return base, true
}

// add records index as the newest record of the segment.
func (g *segment) add(index uint64, state bool) {
	g.addRange(index, 1, !state)
}

// addRange records n records with indexes first, first+1, ... as the
// newest of the segment; periodic says whether any of them is periodic.
func (g *segment) addRange(first uint64, n int, periodic bool) {
	if n == 0 {
		return
	}
	if g.count == 0 {
		g.first = first
	}
	if g.sparse != nil {
		for i := range uint64(n) {
			g.sparse = append(g.sparse, first+i)
		}
	}
	g.last = first + uint64(n) - 1
	g.count += n
	g.hasPeriodic = g.hasPeriodic || periodic
}

// compact switches to the sparse form when indexes are not contiguous.
func (g *segment) compact(indexes []uint64) {
	g.sparse = nil
	if g.count > 0 && uint64(g.count) != g.last-g.first+1 {
		g.sparse = indexes
	}
}

// countFrom returns how many records of the segment have index >= from.
func (g *segment) countFrom(from uint64) int {
	switch {
	case g.count == 0 || from > g.last:
		return 0
	case from <= g.first:
		return g.count
	case g.sparse == nil:
		return int(g.last - from + 1)
	default:
		return len(g.sparse) - sort.Search(len(g.sparse), func(i int) bool { return g.sparse[i] >= from })
	}
}

// listDir returns the segment bases found in dir, sorted, after removing
// temporary files a crash left behind.
func listDir(fsys FS, dir string) ([]uint64, error) {
	entries, err := fsys.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("spool: list %s: %w", dir, err)
	}
	var bases []uint64
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasSuffix(name, tmpSuffix):
			// An unfinished rewrite or checkpoint: the rename never
			// happened, so the original is intact.
			if err := fsys.Remove(filepath.Join(dir, name)); err != nil {
				return nil, fmt.Errorf("spool: remove stale %s: %w", name, err)
			}
		case strings.HasSuffix(name, segSuffix):
			base, ok := parseSegmentName(name)
			if !ok {
				return nil, &CorruptError{Path: filepath.Join(dir, name), Reason: "segment file name is not a 20-digit index"}
			}
			bases = append(bases, base)
		}
	}
	sort.Slice(bases, func(i, j int) bool { return bases[i] < bases[j] })
	return bases, nil
}
