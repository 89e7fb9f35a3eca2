// Package powercut is a file layer for the gateway's spool (spool.FS) that
// simulates losing power: what was written but not fsynced lives only in
// memory, and a cut throws it away.
//
// The operating system keeps written data in its page cache, so killing the
// gateway (SIGKILL) loses nothing it wrote; only a power cut shows whether
// the spool fsyncs what it acknowledges, and in the right order. On a
// development machine the power cannot be cut, so the spool writes through
// this layer instead:
//
//   - File writes and truncations are kept in memory, per open file, until
//     Sync applies them to the real file. Readers that open the file see
//     only what was synced (the spool never reads what it has not fsynced).
//   - Creating, renaming and removing files happen on the real directory at
//     once, but are undone by a cut unless SyncDir came after them.
//   - Cut throws the unsynced writes away, undoes the unsynced directory
//     changes, and fails every later call with ErrPowerCut. With
//     Options.Torn, a random (seeded) prefix of each file's unsynced bytes
//     survives instead, as when a disk wrote some of the pages: that is
//     what makes a torn tail.
//   - CutAtNextSync arms a cut for the next Sync of a file with unsynced
//     writes: the power fails during that fsync, which then fails, and the
//     file keeps part of what it was asked to sync (possibly none) followed
//     by at least one zero byte where the rest should be, as a disk that
//     extended the file but lost the data: the tail is always torn, even
//     where the kept part ends on a record's boundary.
//   - CutAfterNextSync arms a cut for just after the next Sync of a file
//     with unsynced writes: all of it reaches the disk, but the power fails
//     before the caller hears so (the Sync fails). That is the moment
//     between the spool's fsync and the acknowledgements it allows.
//
// After the cut the directory on disk is what a box would find when the
// power comes back: open it with the ordinary file layer (spool.OS) to see
// what survived. A test does that in the same process; a test build of the
// gateway binary (tag cwpowercut, cmd/gateway) does it across processes:
// docs/architecture.md says how.
package powercut

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"

	"github.com/cradlewatch/cradlewatch/gateway/spool"
)

// ErrPowerCut is what every operation returns once the power is off.
var ErrPowerCut = errors.New("powercut: the power is off")

// errUnsyncedRead marks a read this model does not answer: the reader's own
// unsynced writes (the spool never does it; a test would learn it here).
var errUnsyncedRead = errors.New("powercut: reading a file's own unsynced writes is not modelled")

// Options configure an FS.
type Options struct {
	// Seed chooses which unsynced bytes survive a cut (with Torn).
	Seed uint64
	// Torn keeps a random prefix of each file's unsynced writes at a cut,
	// instead of none.
	Torn bool
}

// Report says what a cut did.
type Report struct {
	Files     int   // files that had unsynced writes
	KeptBytes int64 // unsynced bytes that survived (Torn, or the armed sync's file)
	LostBytes int64 // unsynced bytes thrown away
	ZeroBytes int64 // zeros written where the armed sync's data was lost
	Undone    int   // directory changes undone (creations, renames, removals not yet synced)
	// Torn is the file whose Sync the cut fell in (CutAtNextSync): a
	// segment, or the checkpoint's temporary file when the next sync
	// was a checkpoint's. Empty for other cuts.
	Torn string
}

// FS is a spool.FS over the operating system's files that simulates a
// power cut. Its zero value is not usable; call New.
type FS struct {
	o Options

	mu      sync.Mutex
	rng     *rand.Rand
	off     bool               // the power is off
	armed   bool               // CutAtNextSync
	after   bool               // CutAfterNextSync
	dirty   map[*file]struct{} // files with unsynced writes, open or closed
	undo    []undo             // directory changes not yet made durable, oldest first
	report  Report
	cutDone chan struct{}
}

// New returns a file layer with the power on.
func New(o Options) *FS {
	return &FS{o: o, rng: rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)),
		dirty: map[*file]struct{}{}, cutDone: make(chan struct{})}
}

var _ spool.FS = (*FS)(nil)

// undo is one directory change and what restores the state before it.
type undo struct {
	kind      byte // 'c' created, 'r' renamed, 'd' deleted
	path, old string
	content   []byte // 'd': the removed file; 'r': what the rename replaced
	replaced  bool   // 'r': newpath existed before
}

// Cut switches the power off now and reports what was lost.
func (p *FS) Cut() Report {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cutLocked(nil)
	return p.report
}

// CutAtNextSync arms a cut for the next Sync of a file with unsynced
// writes: that Sync keeps part of its writes and fails with ErrPowerCut.
func (p *FS) CutAtNextSync() {
	p.mu.Lock()
	p.armed = true
	p.mu.Unlock()
}

// CutAfterNextSync arms a cut for just after the next Sync of a file with
// unsynced writes: its writes are all kept, and that Sync fails with
// ErrPowerCut.
func (p *FS) CutAfterNextSync() {
	p.mu.Lock()
	p.after = true
	p.mu.Unlock()
}

// Done is closed once the power is off.
func (p *FS) Done() <-chan struct{} { return p.cutDone }

// Report returns what the cut did (zero before it).
func (p *FS) Report() Report {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.report
}

// cutLocked throws unsynced state away; torn, if set, is the file whose
// sync the power failed during. p.mu is held.
func (p *FS) cutLocked(torn *file) {
	if p.off {
		return
	}
	p.off = true
	if torn != nil {
		p.report.Torn = torn.name
	}
	for f := range p.dirty {
		total := f.pendingBytes()
		var keep, zeros int64
		switch {
		case f == torn && total > 0:
			// Some, never all, then zeros: a torn tail for certain.
			keep = p.rng.Int64N(total)
			zeros = 1 + p.rng.Int64N(total-keep)
		case p.o.Torn:
			keep = p.rng.Int64N(total + 1)
		}
		end, _ := f.applyPrefix(keep) // the power is going: what the disk refused is lost with the rest
		if zeros > 0 {
			f.f.WriteAt(make([]byte, zeros), end)
		}
		p.report.Files++
		p.report.KeptBytes += keep
		p.report.LostBytes += total - keep
		p.report.ZeroBytes += zeros
		f.pending = nil
	}
	clear(p.dirty)
	for i := len(p.undo) - 1; i >= 0; i-- {
		u := p.undo[i]
		switch u.kind {
		case 'c':
			os.Remove(u.path)
		case 'r':
			os.Rename(u.path, u.old)
			if u.replaced {
				os.WriteFile(u.path, u.content, 0o644)
			}
		case 'd':
			os.WriteFile(u.path, u.content, 0o644)
		}
		p.report.Undone++
	}
	p.undo = nil
	close(p.cutDone)
}

// MkdirAll implements spool.FS; directories are durable at once.
func (p *FS) MkdirAll(dir string, perm fs.FileMode) error {
	if err := p.check(); err != nil {
		return err
	}
	return os.MkdirAll(dir, perm)
}

// OpenFile implements spool.FS. A file it creates vanishes at a cut unless
// SyncDir came first; O_TRUNC is an unsynced write like any other.
func (p *FS) OpenFile(name string, flag int, perm fs.FileMode) (spool.File, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.off {
		return nil, ErrPowerCut
	}
	_, statErr := os.Stat(name)
	existed := statErr == nil
	f, err := os.OpenFile(name, flag&^os.O_TRUNC, perm)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	pf := &file{p: p, f: f, name: name, size: fi.Size()}
	if !existed {
		p.undo = append(p.undo, undo{kind: 'c', path: name})
	}
	if flag&os.O_TRUNC != 0 && pf.size > 0 {
		pf.pending = append(pf.pending, op{truncate: true, off: 0})
		pf.size = 0
		p.dirty[pf] = struct{}{}
	}
	if flag&os.O_APPEND != 0 {
		f.Close()
		return nil, errors.New("powercut: O_APPEND is not modelled")
	}
	return pf, nil
}

// ReadDir implements spool.FS.
func (p *FS) ReadDir(dir string) ([]fs.DirEntry, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	return os.ReadDir(dir)
}

// ReadFile implements spool.FS: what was synced.
func (p *FS) ReadFile(name string) ([]byte, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	return os.ReadFile(name)
}

// Remove implements spool.FS; a cut before SyncDir brings the file back.
func (p *FS) Remove(name string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.off {
		return ErrPowerCut
	}
	content, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	if err := os.Remove(name); err != nil {
		return err
	}
	p.undo = append(p.undo, undo{kind: 'd', path: name, content: content})
	return nil
}

// Rename implements spool.FS; a cut before SyncDir undoes it.
func (p *FS) Rename(oldpath, newpath string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.off {
		return ErrPowerCut
	}
	prev, err := os.ReadFile(newpath)
	replaced := err == nil
	if err := os.Rename(oldpath, newpath); err != nil {
		return err
	}
	p.undo = append(p.undo, undo{kind: 'r', path: newpath, old: oldpath, content: prev, replaced: replaced})
	return nil
}

// SyncDir implements spool.FS: the directory changes in dir are durable.
func (p *FS) SyncDir(dir string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.off {
		return ErrPowerCut
	}
	keep := p.undo[:0]
	for _, u := range p.undo {
		if filepath.Dir(u.path) != filepath.Clean(dir) && (u.old == "" || filepath.Dir(u.old) != filepath.Clean(dir)) {
			keep = append(keep, u)
		}
	}
	p.undo = keep
	return nil
}

func (p *FS) check() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.off {
		return ErrPowerCut
	}
	return nil
}

// op is one unsynced write (or truncation) of a file.
type op struct {
	off      int64
	data     []byte
	truncate bool // truncate to off
}

// file is an open file whose writes wait in memory for Sync.
type file struct {
	p       *FS
	f       *os.File
	name    string
	pos     int64 // offset of the next Read or Write
	size    int64 // size as the writer sees it, unsynced writes included
	pending []op  // guarded by p.mu
}

func (f *file) pendingBytes() int64 {
	var n int64
	for _, o := range f.pending {
		n += int64(len(o.data))
	}
	return n
}

// applyPrefix writes the first keep bytes of the pending writes (and the
// truncations among them) to the real file, and returns the offset after
// the last byte written (where the first write not kept would have gone)
// and the first error of the real file (a full disk).
func (f *file) applyPrefix(keep int64) (end int64, err error) {
	for _, o := range f.pending {
		if o.truncate {
			if e := f.f.Truncate(o.off); e != nil && err == nil {
				err = e
			}
			end = o.off
			continue
		}
		end = o.off
		if keep <= 0 {
			break
		}
		n := min(int64(len(o.data)), keep)
		if _, e := f.f.WriteAt(o.data[:n], o.off); e != nil && err == nil {
			err = e
		}
		keep -= n
		end = o.off + n
	}
	return end, err
}

func (f *file) Write(b []byte) (int, error) {
	n, err := f.WriteAt(b, f.pos)
	f.pos += int64(n)
	return n, err
}

func (f *file) WriteAt(b []byte, off int64) (int, error) {
	f.p.mu.Lock()
	defer f.p.mu.Unlock()
	if f.p.off {
		return 0, ErrPowerCut
	}
	f.pending = append(f.pending, op{off: off, data: append([]byte(nil), b...)})
	f.size = max(f.size, off+int64(len(b)))
	f.p.dirty[f] = struct{}{}
	return len(b), nil
}

func (f *file) Truncate(size int64) error {
	f.p.mu.Lock()
	defer f.p.mu.Unlock()
	if f.p.off {
		return ErrPowerCut
	}
	f.pending = append(f.pending, op{off: size, truncate: true})
	f.size = size
	f.p.dirty[f] = struct{}{}
	return nil
}

// Sync applies the unsynced writes to the real file, or, if a cut is
// armed, cuts the power during it.
func (f *file) Sync() error {
	f.p.mu.Lock()
	defer f.p.mu.Unlock()
	if f.p.off {
		return ErrPowerCut
	}
	if len(f.pending) == 0 {
		return nil
	}
	if f.p.armed {
		f.p.cutLocked(f)
		return ErrPowerCut
	}
	_, err := f.applyPrefix(f.pendingBytes())
	f.pending = nil
	delete(f.p.dirty, f)
	if err != nil {
		// The disk refused the data (full, failing): the sync fails, as
		// it does over the ordinary file layer, so nobody counts it
		// durable.
		return err
	}
	if f.p.after {
		f.p.cutLocked(nil)
		return ErrPowerCut
	}
	return nil
}

func (f *file) Read(b []byte) (int, error) {
	n, err := f.ReadAt(b, f.pos)
	f.pos += int64(n)
	return n, err
}

func (f *file) ReadAt(b []byte, off int64) (int, error) {
	f.p.mu.Lock()
	defer f.p.mu.Unlock()
	if f.p.off {
		return 0, ErrPowerCut
	}
	if len(f.pending) > 0 {
		return 0, errUnsyncedRead
	}
	return f.f.ReadAt(b, off)
}

func (f *file) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += f.pos
	case io.SeekEnd:
		offset += f.size
	default:
		return 0, fmt.Errorf("powercut: seek whence %d", whence)
	}
	if offset < 0 {
		return 0, fmt.Errorf("powercut: seek to %d", offset)
	}
	f.pos = offset
	return offset, nil
}

// Close closes the real file. Unsynced writes stay in memory, as they
// would in the page cache, until a cut throws them away.
func (f *file) Close() error {
	return f.f.Close()
}

func (f *file) Stat() (fs.FileInfo, error) {
	f.p.mu.Lock()
	defer f.p.mu.Unlock()
	if f.p.off {
		return nil, ErrPowerCut
	}
	fi, err := f.f.Stat()
	if err != nil {
		return nil, err
	}
	return sizedInfo{fi, f.size}, nil
}

// sizedInfo is a FileInfo with the size the writer sees.
type sizedInfo struct {
	fs.FileInfo
	size int64
}

func (s sizedInfo) Size() int64 { return s.size }
