package spool

import (
	"fmt"
	"io"
	"io/fs"
	"os"
)

// FS is the file layer the spool writes and reads through. Options.FS nil
// is the operating system's (OS). The seam exists so that a test, or a test
// build of the gateway, can put a layer underneath that keeps unsynced
// writes in memory and throws them away at a simulated power cut
// (gateway/spool/powercut): the spool's promise is about what survives
// losing power, and only such a layer can show it.
//
// Every file operation of the spool goes through it, including the atomic
// replacement of the checkpoint and of rewritten segments, which is why the
// spool keeps its own write-fsync-rename-fsync sequence (writeFileAtomic)
// instead of internal/fileutil's, which works on the operating system only.
// The directory lock (lock.go) does not: it is about processes, not data.
type FS interface {
	// MkdirAll is os.MkdirAll.
	MkdirAll(dir string, perm fs.FileMode) error
	// OpenFile is os.OpenFile.
	OpenFile(name string, flag int, perm fs.FileMode) (File, error)
	// ReadDir is os.ReadDir.
	ReadDir(dir string) ([]fs.DirEntry, error)
	// ReadFile is os.ReadFile.
	ReadFile(name string) ([]byte, error)
	// Remove is os.Remove.
	Remove(name string) error
	// Rename is os.Rename.
	Rename(oldpath, newpath string) error
	// SyncDir makes the creations, renames and removals in dir durable.
	SyncDir(dir string) error
}

// File is an open file of an FS; *os.File is one.
type File interface {
	io.Reader
	io.ReaderAt
	io.Writer
	io.WriterAt
	io.Seeker
	io.Closer
	Sync() error
	Truncate(size int64) error
	Stat() (fs.FileInfo, error)
}

// OS is the operating system's file layer, the spool's default.
var OS FS = osFS{}

type osFS struct{}

func (osFS) MkdirAll(dir string, perm fs.FileMode) error { return os.MkdirAll(dir, perm) }

func (osFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return f, nil
}

func (osFS) ReadDir(dir string) ([]fs.DirEntry, error) { return os.ReadDir(dir) }
func (osFS) ReadFile(name string) ([]byte, error)      { return os.ReadFile(name) }
func (osFS) Remove(name string) error                  { return os.Remove(name) }
func (osFS) Rename(oldpath, newpath string) error      { return os.Rename(oldpath, newpath) }

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDir makes renames, creations and removals in dir durable.
func (s *Spool) syncDir() error {
	if err := s.fs.SyncDir(s.opts.Dir); err != nil {
		return fmt.Errorf("spool: fsync dir %s: %w", s.opts.Dir, err)
	}
	return nil
}

// writeTemp writes data to a new file and fsyncs it, ready to be renamed.
func (s *Spool) writeTemp(path string, data []byte) error {
	f, err := s.fs.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("spool: create %s: %w", path, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		s.fs.Remove(path)
		return fmt.Errorf("spool: write %s: %w", path, err)
	}
	return nil
}

// writeFileAtomic replaces path (in the spool's directory) with data so
// that after a crash either the old or the new content is there, never a
// mix: temp file, fsync, rename, fsync directory.
func (s *Spool) writeFileAtomic(path string, data []byte) error {
	tmp := path + tmpSuffix
	if err := s.writeTemp(tmp, data); err != nil {
		return err
	}
	if err := s.fs.Rename(tmp, path); err != nil {
		return fmt.Errorf("spool: rename %s: %w", tmp, err)
	}
	return s.syncDir()
}
