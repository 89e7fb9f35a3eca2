package recordlog

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/internal/fileutil"
)

// QuarantineSuffix names the side file of damaged bytes: <path>.quarantine.
const QuarantineSuffix = ".quarantine"

// Options describe one log.
type Options struct {
	Path string
	// Name labels the log's metrics (log="...") and log lines.
	Name string
	// MaxRecord bounds a record's data; default DefaultMaxRecord. Append
	// refuses longer records.
	MaxRecord  int
	Logger     *slog.Logger // default: discard
	Registerer prometheus.Registerer
}

// Kind is what Open found wrong with a region of the file.
type Kind uint8

// Kinds of damage.
const (
	// Corrupt: bytes in the middle of the file that are no record, with
	// good records after them (or a damaged file header).
	Corrupt Kind = 1
	// Torn: bytes at the end of the file that are no record: a crash in the
	// middle of an append.
	Torn Kind = 2
	// Rejected: a record whose CRCs check out but that the replay function
	// refused.
	Rejected Kind = 3
)

func (k Kind) String() string {
	switch k {
	case Corrupt:
		return "corrupt"
	case Torn:
		return "torn"
	case Rejected:
		return "rejected"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Region is one damaged stretch of a log file.
type Region struct {
	Offset int64
	Len    int64
	Kind   Kind
	Reason string // why a record was rejected; empty otherwise
}

// Recovery is what Open found.
type Recovery struct {
	Path    string
	Records int      // good records replayed
	Regions []Region // damage, in file order; all of it is in the quarantine file
}

// Torn reports whether a torn tail was cut off.
func (r Recovery) Torn() bool {
	for _, g := range r.Regions {
		if g.Kind == Torn {
			return true
		}
	}
	return false
}

// Err returns a *CorruptError when Open found damage other than a torn
// tail, nil otherwise.
func (r Recovery) Err() error {
	var bad []Region
	for _, g := range r.Regions {
		if g.Kind != Torn {
			bad = append(bad, g)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return &CorruptError{Path: r.Path, Regions: bad}
}

// CorruptError reports damage in the middle of a log: the regions were
// quarantined and every good record around them was kept.
type CorruptError struct {
	Path    string
	Regions []Region
}

func (e *CorruptError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "recordlog: %s: %d damaged region(s) quarantined in %s%s, records after them kept:", e.Path, len(e.Regions), filepath.Base(e.Path), QuarantineSuffix)
	for i, g := range e.Regions {
		if i == 5 {
			fmt.Fprintf(&b, " and %d more", len(e.Regions)-i)
			break
		}
		fmt.Fprintf(&b, " %s %d bytes at offset %d", g.Kind, g.Len, g.Offset)
		if g.Reason != "" {
			fmt.Fprintf(&b, " (%s)", g.Reason)
		}
		if i < len(e.Regions)-1 {
			b.WriteByte(';')
		}
	}
	return b.String()
}

// Log is an open record log. It is safe for concurrent use.
type Log struct {
	o        Options
	m        *metrics
	recovery Recovery

	mu       sync.Mutex
	f        *os.File
	size     int64 // end of the last whole record written
	unsynced bool
	closed   bool
	buf      []byte
}

// Open opens (or creates) the log, hands every good record to replay in
// order, quarantines and repairs damage (see the package documentation)
// and positions the log for appending. replay may be nil. The data passed
// to replay is only valid during the call. An error means the log could
// not be read or repaired; damage alone is not an error (see Recovery).
func Open(o Options, replay func(data []byte) error) (*Log, error) {
	if o.MaxRecord <= 0 {
		o.MaxRecord = DefaultMaxRecord
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Name == "" {
		o.Name = filepath.Base(o.Path)
	}
	l := &Log{o: o, m: newMetrics(o.Registerer, o.Name), recovery: Recovery{Path: o.Path}}
	removeTemps(o.Path)
	b, err := os.ReadFile(o.Path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("recordlog: %w", err)
	}
	if err != nil || len(b) == 0 || (len(b) < len(Header) && strings.HasPrefix(Header, string(b))) {
		// New, or its creation was cut short before the header was whole.
		if err := l.rewrite(nil); err != nil {
			return nil, err
		}
		return l, nil
	}
	good := l.scan(b, replay)
	if err := l.repair(b, good); err != nil {
		return nil, err
	}
	l.report()
	return l, nil
}

// scan replays the good records of b and notes the damaged regions. It
// returns the good records' bounds [start, end) in b, for a rewrite.
func (l *Log) scan(b []byte, replay func([]byte) error) [][2]int {
	max := l.o.MaxRecord
	var good [][2]int
	off := len(Header)
	if string(b[:min(len(b), len(Header))]) != Header {
		off = 0
	}
	for off < len(b) {
		data, n, ok := recordAt(b, off, max)
		if !ok {
			next := nextRecord(b, off+1, max)
			if next < 0 {
				l.note(Region{Offset: int64(off), Len: int64(len(b) - off), Kind: Torn})
				break
			}
			l.note(Region{Offset: int64(off), Len: int64(next - off), Kind: Corrupt})
			off = next
			continue
		}
		if replay != nil {
			if err := replay(data); err != nil {
				l.note(Region{Offset: int64(off), Len: int64(n), Kind: Rejected, Reason: err.Error()})
				off += n
				continue
			}
		}
		good = append(good, [2]int{off, off + n})
		l.recovery.Records++
		off += n
	}
	return good
}

func (l *Log) note(r Region) {
	l.recovery.Regions = append(l.recovery.Regions, r)
	if r.Kind == Torn {
		l.m.tornTails.Inc()
		l.m.tornBytes.Add(float64(r.Len))
		return
	}
	l.m.corruptRegions.Inc()
	l.m.corruptBytes.Add(float64(r.Len))
}

// repair quarantines the damaged regions, then rewrites the log with its
// good records (mid-file damage, a bad header) or cuts off a torn tail,
// and opens it for appending.
func (l *Log) repair(b []byte, good [][2]int) error {
	regions := l.recovery.Regions
	if len(regions) > 0 {
		if err := appendQuarantine(l.o.Path+QuarantineSuffix, b, regions, l.o.MaxRecord); err != nil {
			return err
		}
	}
	headerOK := len(b) >= len(Header) && string(b[:len(Header)]) == Header
	if !headerOK || l.recovery.Err() != nil {
		recs := make([][]byte, len(good))
		for i, g := range good {
			recs[i] = b[g[0]+FrameLen : g[1]]
		}
		return l.rewrite(recs)
	}
	end := int64(len(b))
	if len(regions) > 0 { // a torn tail only
		end = regions[0].Offset
	}
	f, err := os.OpenFile(l.o.Path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("recordlog: %w", err)
	}
	if end < int64(len(b)) {
		if err := f.Truncate(end); err != nil {
			f.Close()
			return fmt.Errorf("recordlog: cut torn tail of %s: %w", l.o.Path, err)
		}
		if err := l.fsync(f); err != nil {
			f.Close()
			return err
		}
	}
	if _, err := f.Seek(end, 0); err != nil {
		f.Close()
		return fmt.Errorf("recordlog: %w", err)
	}
	l.f, l.size = f, end
	return nil
}

func (l *Log) report() {
	r := l.recovery
	if len(r.Regions) == 0 {
		return
	}
	if err := r.Err(); err != nil {
		l.o.Logger.Error("record log damaged: regions quarantined, records after them kept", "log", l.o.Name, "err", err,
			"records", r.Records, "quarantine", l.o.Path+QuarantineSuffix)
	}
	if r.Torn() {
		g := r.Regions[len(r.Regions)-1]
		l.o.Logger.Warn("record log: torn tail from an interrupted append cut off", "log", l.o.Name, "offset", g.Offset,
			"bytes", g.Len, "records", r.Records)
	}
}

// Recovery reports what Open found.
func (l *Log) Recovery() Recovery { return l.recovery }

// Path is the log's file.
func (l *Log) Path() string { return l.o.Path }

// Size is the file's length up to its last whole record.
func (l *Log) Size() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.size
}

// Append writes recs and fsyncs: when it returns nil they survive a crash.
func (l *Log) Append(recs ...[]byte) error { return l.write(true, recs) }

// Write writes recs without an fsync: they become durable with the next
// Append, Sync or Close, and may be lost to a crash before that.
func (l *Log) Write(recs ...[]byte) error { return l.write(false, recs) }

// Sync fsyncs what Write wrote.
func (l *Log) Sync() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return errClosed
	}
	return l.syncLocked()
}

var errClosed = errors.New("recordlog: log is closed")

// lockFor checks recs against the record limit and locks the open log;
// on success the caller must unlock.
func (l *Log) lockFor(recs [][]byte) error {
	for _, r := range recs {
		if len(r) > l.o.MaxRecord {
			return fmt.Errorf("recordlog: %s: record of %d bytes exceeds the limit of %d", l.o.Name, len(r), l.o.MaxRecord)
		}
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return errClosed
	}
	return nil
}

func (l *Log) write(sync bool, recs [][]byte) error {
	if err := l.lockFor(recs); err != nil {
		return err
	}
	defer l.mu.Unlock()
	l.buf = l.buf[:0]
	for _, r := range recs {
		l.buf = appendFrame(l.buf, r)
	}
	if len(l.buf) > 0 {
		if _, err := l.f.Write(l.buf); err != nil {
			l.m.writeErrors.Inc()
			l.cutBack()
			return fmt.Errorf("recordlog: append to %s: %w", l.o.Path, err)
		}
		l.size += int64(len(l.buf))
		l.unsynced = true
		l.m.appends.Add(float64(len(recs)))
	}
	if !sync {
		return nil
	}
	return l.syncLocked()
}

// cutBack removes a partly written record so the next append follows the
// last whole one.
func (l *Log) cutBack() {
	if err := l.f.Truncate(l.size); err == nil {
		_, _ = l.f.Seek(l.size, 0)
	}
}

func (l *Log) syncLocked() error {
	if !l.unsynced {
		return nil
	}
	if err := l.fsync(l.f); err != nil {
		l.m.writeErrors.Inc()
		return err
	}
	l.unsynced = false
	return nil
}

func (l *Log) fsync(f *os.File) error {
	start := time.Now() // measures the disk, not event logic
	if err := f.Sync(); err != nil {
		return fmt.Errorf("recordlog: fsync %s: %w", l.o.Path, err)
	}
	l.m.fsyncs.Inc()
	l.m.fsyncSeconds.Observe(time.Since(start).Seconds())
	return nil
}

// Rewrite replaces the log's content with recs atomically (temporary
// file, fsync, rename, fsync of the directory): a crash leaves the old
// log or the new one.
func (l *Log) Rewrite(recs [][]byte) error {
	if err := l.lockFor(recs); err != nil {
		return err
	}
	defer l.mu.Unlock()
	return l.rewrite(recs)
}

func (l *Log) rewrite(recs [][]byte) error {
	buf := []byte(Header)
	for _, r := range recs {
		buf = appendFrame(buf, r)
	}
	if err := fileutil.WriteFileAtomic(l.o.Path, buf, 0o600); err != nil {
		return fmt.Errorf("recordlog: rewrite: %w", err)
	}
	f, err := os.OpenFile(l.o.Path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("recordlog: %w", err)
	}
	if _, err := f.Seek(int64(len(buf)), 0); err != nil {
		f.Close()
		return fmt.Errorf("recordlog: %w", err)
	}
	if l.f != nil {
		l.f.Close()
	}
	l.f, l.size, l.unsynced = f, int64(len(buf)), false
	return nil
}

// Close fsyncs what Write left unsynced and closes the file. It is
// idempotent.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	err := l.syncLocked()
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// removeTemps deletes what an interrupted rewrite of path left behind.
func removeTemps(path string) {
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), filepath.Base(path)+".*"+fileutil.TempSuffix))
	for _, m := range matches {
		_ = os.Remove(m)
	}
}

// Scan hands every good record of a log file's content b to fn, in order,
// without changing anything: for tools that read a log another process
// owns. Damage (and a record fn refuses) is skipped and reported in the
// error, a *CorruptError, after the records around it were handed over; a
// torn tail is not (the owner may be in the middle of an append).
func Scan(b []byte, fn func(data []byte) error) error {
	l := &Log{o: Options{MaxRecord: DefaultMaxRecord}, m: newMetrics(nil, "")}
	l.scan(b, fn)
	return l.recovery.Err()
}
