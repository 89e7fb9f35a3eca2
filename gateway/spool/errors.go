package spool

import (
	"errors"
	"fmt"
)

// Errors callers may decide on with errors.Is.
var (
	// ErrClosed is returned for appends after Close, or after Run returned.
	ErrClosed = errors.New("spool: closed")
	// ErrTooLarge rejects a record (or an Append) that could never fit in a
	// segment or within MaxBytes.
	ErrTooLarge = errors.New("spool: record too large")
	// ErrFull is returned when MaxBytes cannot be honoured even after the
	// drop policy removed every unreleased record it may remove.
	ErrFull = errors.New("spool: full")
	// ErrReleaseAhead rejects a Release beyond the last durable record: the
	// centre cannot have acknowledged what was never sent.
	ErrReleaseAhead = errors.New("spool: release beyond durable records")
	// ErrRunning is returned by a second call to Run.
	ErrRunning = errors.New("spool: Run already called")
	// ErrLocked is returned by Open when another process (or another Open
	// in this one) holds the spool directory.
	ErrLocked = errors.New("spool: directory in use by another spool")
)

// CorruptError reports damage that truncating the tail cannot repair: a bad
// record in a sealed (not last) segment, or a bad segment name. Sealed
// segments were fsynced before the next one was created and are only ever
// replaced by rename, so damage there is media corruption, not a torn write;
// dropping every later segment to "repair" it would silently throw away data,
// so the decision is left to the operator.
type CorruptError struct {
	Path   string // segment file
	Offset int64  // byte offset of the first bad record
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("spool: corrupt segment %s at offset %d: %s", e.Path, e.Offset, e.Reason)
}
