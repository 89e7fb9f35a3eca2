package spool

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults; doc.go explains how they were chosen.
const (
	DefaultSegmentBytes       = 4 << 20
	DefaultMaxBytes           = 256 << 20
	DefaultCommitInterval     = 500 * time.Millisecond
	DefaultCommitBytes        = 256 << 10
	DefaultCheckpointInterval = 5 * time.Second
	DefaultQueueRecords       = 16384

	// CommitEveryAppend as CommitInterval fsyncs as soon as the committer
	// sees work, without waiting for more (0 would mean the default).
	CommitEveryAppend time.Duration = -1
)

// Options configure a Spool. Zero values take the defaults above.
type Options struct {
	// Dir holds the segment files and the checkpoint; Open creates it.
	Dir string
	// SegmentBytes is the target size of one segment file; default 4 MiB.
	// It is also the unit the drop policy works in.
	SegmentBytes int64
	// MaxBytes bounds the bytes on disk; default 256 MiB. It must be at
	// least 4 segments.
	MaxBytes int64
	// CommitInterval is the longest an appended record waits for its fsync
	// (group commit); default 500 ms, see doc.go. CommitEveryAppend (any
	// negative value) means no wait.
	CommitInterval time.Duration
	// CommitBytes commits earlier when this many framed bytes are pending;
	// default 256 KiB (at most a quarter segment), at most
	// SegmentBytes.
	CommitBytes int
	// CheckpointInterval batches release-point writes; default 5 s. A crash
	// loses at most this much of Release progress, which only means records
	// are sent again (the centre's writes are idempotent). Negative: write
	// at the first opportunity.
	CheckpointInterval time.Duration
	// QueueRecords bounds the records waiting for the committer; Append
	// blocks beyond it. Default 16384.
	QueueRecords int
	// IsState classifies a record for the drop policy (the gateway passes
	// model.EntryIsState); nil: every record is periodic.
	IsState func(rec []byte) bool
	// OnDrop is called, on the committer goroutine, with the records the drop
	// policy removed so the caller can append a gap entry. It may call
	// Append (which then never blocks) but must not call AppendSync.
	OnDrop func(dropped []Record)
	// Logger receives repairs, drops and I/O errors; nil discards.
	Logger *slog.Logger
	// Registerer receives the spool's metrics; nil keeps them private.
	Registerer prometheus.Registerer
	// Clock times fsyncs and commits; nil is time.Now.
	Clock func() time.Time
	// FS is the file layer; nil is the operating system's (OS). Tests
	// put gateway/spool/powercut here to simulate losing power.
	FS FS
}

// withDefaults fills zero values and checks the combination.
func (o Options) withDefaults() (Options, error) {
	if o.Dir == "" {
		return o, fmt.Errorf("spool: Options.Dir is empty")
	}
	if o.SegmentBytes == 0 {
		o.SegmentBytes = DefaultSegmentBytes
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.CommitInterval == 0 {
		o.CommitInterval = DefaultCommitInterval
	}
	if o.CommitInterval < 0 {
		o.CommitInterval = 0
	}
	if o.CommitBytes == 0 {
		o.CommitBytes = int(min(DefaultCommitBytes, o.SegmentBytes/4))
	}
	if o.CheckpointInterval == 0 {
		o.CheckpointInterval = DefaultCheckpointInterval
	}
	if o.CheckpointInterval < 0 {
		o.CheckpointInterval = 0
	}
	if o.QueueRecords == 0 {
		o.QueueRecords = DefaultQueueRecords
	}
	if o.IsState == nil {
		o.IsState = func([]byte) bool { return false }
	}
	if o.OnDrop == nil {
		o.OnDrop = func([]Record) {}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.FS == nil {
		o.FS = OS
	}
	// A segment must hold at least one maximal record; MaxBytes must leave
	// room to seal the active segment and still hold older ones.
	minSeg := int64(segHeaderSize) + frameSize(1024)
	switch {
	case o.SegmentBytes < minSeg:
		return o, fmt.Errorf("spool: SegmentBytes %d below %d", o.SegmentBytes, minSeg)
	case o.MaxBytes < 4*o.SegmentBytes:
		return o, fmt.Errorf("spool: MaxBytes %d below 4 segments of %d bytes", o.MaxBytes, o.SegmentBytes)
	case o.CommitBytes < 0 || int64(o.CommitBytes) > o.SegmentBytes:
		return o, fmt.Errorf("spool: CommitBytes %d outside [1, SegmentBytes]", o.CommitBytes)
	case o.QueueRecords < 0:
		return o, fmt.Errorf("spool: QueueRecords %d negative", o.QueueRecords)
	}
	return o, nil
}

// maxRecord is the largest record data this configuration accepts.
func (o Options) maxRecord() int {
	m := o.SegmentBytes - segHeaderSize - frameHeaderSize
	if m > MaxRecordBytes {
		m = MaxRecordBytes
	}
	return int(m)
}

// Record is one spooled record: its index and its opaque data.
type Record struct {
	Index uint64
	Data  []byte
}

// Stats is a snapshot of the spool's state.
type Stats struct {
	Depth     int           // unreleased records on disk
	Bytes     int64         // bytes of segment files
	Segments  int           // segment files
	Released  uint64        // release point: every record below it is acknowledged
	Next      uint64        // index the next appended record gets
	Durable   uint64        // every record below it that exists is fsynced
	Queued    int           // records waiting for the committer
	Dropped   uint64        // records removed by the drop policy since Open
	Commits   uint64        // fsynced groups since Open
	FsyncTime time.Duration // total time spent in fsync of appends since Open
}
