package registry

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/cradlewatch/cradlewatch/internal/config"
)

// racyWindow is how close to its last read a file's modification time may
// be before the file is read again at the next poll whatever its stat says:
// coarser than any file system's timestamp resolution (ext4 and XFS have
// nanoseconds, FAT two seconds), so an edit in the same tick as the read is
// caught.
const racyWindow = 2 * time.Second

// Dir is a Source reading every *.yaml (or *.yml) file of a folder, one
// facility each. Files whose names start with "." are skipped (editors'
// and atomic writers' temporary files, Kubernetes' ..data).
type Dir struct {
	path  string
	now   func() time.Time
	files map[string]*dirFile
}

type dirFile struct {
	info   os.FileInfo
	readAt time.Time
	sum    [sha256.Size]byte
	entry  Entry
}

// NewDir returns the source of the folder at path.
func NewDir(path string) *Dir {
	return &Dir{path: path, now: time.Now, files: map[string]*dirFile{}}
}

// String names the source.
func (d *Dir) String() string { return "dir " + d.path }

// Entries implements Source: one entry per facility file. A file whose
// name, size and modification time are unchanged (and not racily close to
// its last read) is not read again; a file read again with the same
// content keeps its entry.
func (d *Dir) Entries(ctx context.Context) ([]Entry, error) {
	des, err := os.ReadDir(d.path)
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	seen := make(map[string]bool, len(des))
	out := make([]Entry, 0, len(des))
	for _, de := range des {
		name := de.Name()
		if strings.HasPrefix(name, ".") || !(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p := filepath.Join(d.path, name)
		info, err := os.Stat(p) // follows symlinks (ConfigMap volumes)
		if err != nil {
			if os.IsNotExist(err) {
				continue // removed since ReadDir
			}
			return nil, fmt.Errorf("registry: %w", err)
		}
		if info.IsDir() {
			continue
		}
		seen[p] = true
		out = append(out, d.entry(p, info))
	}
	for p := range d.files {
		if !seen[p] {
			delete(d.files, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Origin < out[j].Origin })
	return out, nil
}

func (d *Dir) entry(p string, info os.FileInfo) Entry {
	old := d.files[p]
	if old != nil && os.SameFile(old.info, info) && old.info.Size() == info.Size() &&
		old.info.ModTime().Equal(info.ModTime()) && old.readAt.Sub(info.ModTime()) > racyWindow {
		return old.entry
	}
	now := d.now()
	b, err := os.ReadFile(p)
	if err != nil {
		e := Entry{Origin: p, Err: &config.Error{File: p, Reason: fmt.Sprintf("cannot read: %v", err)}}
		if old != nil && old.entry.Err != nil && old.entry.Err.Error() == e.Err.Error() {
			e = old.entry // the same refusal: the registry counts it once
		}
		d.files[p] = &dirFile{info: info, readAt: now, entry: e}
		return e
	}
	sum := sha256.Sum256(b)
	if old != nil && old.sum == sum {
		old.info, old.readAt = info, now
		return old.entry
	}
	e := Entry{Origin: p}
	if f, err := Parse(p, b); err != nil {
		e.Err = err
	} else {
		e.Facility = f
	}
	d.files[p] = &dirFile{info: info, readAt: now, sum: sum, entry: e}
	return e
}
