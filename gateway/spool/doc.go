// Package spool is the gateway's durable queue between local sensors and the
// centre.
//
// Every reading the gateway accepts is appended here; the local MQTT broker
// gets its acknowledgement only after the record is fsynced; the uplink reads
// records, sends them in batches and releases them once the centre reports
// that InfluxDB stored them. The gateway is an ARM box on an SD card that
// loses power without warning, so the format assumes any write can be cut
// short and any unsynced byte can vanish. Records are opaque bytes here (the
// gateway stores model.AppendReadingEntry / AppendGapEntry output).
//
// # Indexes
//
// Each record gets an index: 1 in an empty spool, then +1 per record, never
// reused, across restarts too. On Open the next index is the largest of: the
// last record's index + 1, the newest segment's name, the persisted release
// point. The drop policy only rewrites sealed segments, so the newest
// segment's name always lies above every dropped index.
//
// # Files
//
// Dir holds segment files and one checkpoint:
//
//	00000000000000000001.seg   records from index 1
//	00000000000000004711.seg   records from index 4711 (the active segment)
//	release.ckpt               release point
//	*.tmp                      a rewrite or checkpoint cut short; removed by Open
//	LOCK                       held (flock) by the open spool
//
// Open takes an exclusive flock on LOCK and Close releases it (so does the
// kernel when the process dies): a second spool on the same directory, a
// second gateway started by mistake, fails with ErrLocked instead of
// interleaving its writes with the first.
//
// A segment is named by the first index it may hold, 20 decimal digits so
// that names sort like numbers and any uint64 fits. Every record in segment
// N has an index >= N and below the next segment's name. A segment is sealed
// (never written again) once the next one exists; only the newest, the
// active segment, is appended to. A new segment is created when the next
// record would take the active one past SegmentBytes.
//
// A segment starts with the 8-byte header "CWSPOOL" plus a version byte (2;
// segments of version 1 are still read), followed by records, each framed as
//
//	offset 0  uint32 little endian  length of data (at most MaxRecordBytes);
//	                                top bit (version 2): last record of its Append
//	offset 4  uint32 little endian  CRC32-Castagnoli of bytes 0-3, 8-15 and data
//	offset 8  uint64 little endian  index
//	offset 16 data
//
// Why so: a fixed 16-byte header is read and bounds-checked in one step, and
// the length is checked against MaxRecordBytes and the bytes left before
// anything is allocated, so a corrupt length cannot make a reader allocate
// much or skip elsewhere (the CRC covers the length and the index too).
// Castagnoli is the CRC with hardware support on arm64 (CRC32 instructions)
// and amd64 (SSE4.2) and detects more error patterns than IEEE; etcd's WAL
// and Prometheus' WAL use it for the same reasons. Little endian is what
// both CPUs use natively. The index in every record makes the holes the drop
// policy leaves explicit and lets a reader reject a record that is out of
// place. An all-zero region (what a file system may show after a crash
// extended a file but lost its data) fails the CRC and the index check. The
// 16 bytes cost about 27 % on a 60-byte reading; SD card wear is driven by
// the number of synced writes far more than by their size, so a compact
// variable-length header was not worth its complexity.
//
// The checkpoint is 20 bytes: "CWRELEA" plus a version byte (1), the release
// point (uint64 little endian: every record below it is acknowledged), and a
// CRC32-Castagnoli of the first 16 bytes. It is replaced atomically: write
// release.ckpt.tmp, fsync, rename, fsync the directory. An unreadable
// checkpoint is ignored (release point 0, counted in
// cw_gateway_spool_checkpoint_corrupt_total): the worst outcome is sending
// acknowledged records again, which the centre absorbs because a point's
// identity is its series and its timestamp.
//
// # Crash recovery
//
// Appends are written to the active segment and fsynced, one fsync per group
// (below); only then run the done callbacks. After a crash the active
// segment may end in a torn record or in garbage. Open reads every segment;
// in the last segment, the first record that fails (short header, length out
// of range, short data, CRC mismatch, index not increasing or out of the
// segment's range) and everything after it are truncated, the truncation is
// fsynced, logged, and counted (cw_gateway_spool_torn_tail_repairs_total,
// cw_gateway_spool_truncated_bytes_total). Open returns no error then: only
// records never reported durable can be in a torn tail. A bad record in a
// sealed segment cannot come from a torn write (sealed segments were fsynced
// before the next was created and are only replaced by rename), so it is a
// *CorruptError and the operator decides; the spool does not silently throw
// away everything after it.
//
// Recovery keeps whole Appends only: a tail that holds an Append's first
// records without its last (the mark in the length field) is cut back to
// the end of the previous Append. Such an Append was never reported
// durable, so its sender still has it and delivers it again; a part kept
// would be stored twice then (a message's readings without the receipt that
// recognises the redelivery). For the same reason an Append that does not
// fit in the active segment starts the next one, so that a sealed segment
// (never cut back) ends with a whole Append; only an Append larger than a
// segment spans two.
//
// # Group commit and the default CommitInterval
//
// A record waits at most CommitInterval (default 500 ms) before the fsync
// that makes it durable, or less when CommitBytes (default 256 KiB) are
// pending. One fsync on ext4 writes the data block and a journal commit; on
// an SD card each is at least one flash page program, and cheap cards
// rewrite much more (read-modify-write of their allocation unit). So the
// wear is proportional to the number of fsyncs, not to the bytes: the
// interval bounds it to 2 fsyncs per second however many sensors report
// (about 170,000 a day), against several per second with one fsync per
// reading at a few readings per second. The cost is latency: the broker's
// acknowledgement and the reading's departure to the centre wait up to
// 500 ms, small against SMS delivery (seconds) and against every averaging
// window of the safety rules (10 minutes or more). Shorter intervals wear the
// card faster; longer ones hold more unacknowledged QoS 1 messages in the
// broker (mosquitto's max_inflight_messages, 20 by default, caps the
// gateway at 20 messages per commit interval unless raised). An idle
// gateway does not fsync at all.
//
// An append that must not wait (AppendNow: a smoke alarm, a door opening)
// is committed at once, together with everything queued before it, so the
// indexes stay in order; such commits are counted in
// cw_gateway_spool_immediate_commits_total. They are rare by design (state
// changes, not samples), so they add little to the card's wear.
//
// # Release
//
// Release(upTo) moves the release point at once in memory; the committer
// persists it at most every CheckpointInterval (default 5 s) and then
// deletes sealed segments whose records are all below it. The active segment
// is deleted only after it is sealed. A crash before the checkpoint means
// those records are sent again.
//
// # Drop policy
//
// MaxBytes bounds the segment files on disk. Before a group is written, if
// it would not fit, the committer, repeatedly until it fits:
//
//  1. deletes sealed segments whose records are all released;
//  2. rewrites the oldest sealed segment that holds periodic records so it
//     keeps only its unreleased state records (temp file, fsync, rename,
//     fsync directory), or deletes it if none are left;
//  3. if only the active segment still holds periodic records, seals it (a
//     new active segment starts) and continues with 2;
//  4. when no periodic record is left, deletes the oldest sealed segment,
//     state records included, sealing the active one if needed;
//  5. when nothing is left to drop, fails the group with ErrFull.
//
// So periodic samples go oldest first, a whole segment at a time, and state
// changes (doors, camera and device online, alarms, gaps: whatever
// Options.IsState says) are kept until no periodic sample is left. Only
// durable, unreleased records are ever dropped, never the group being
// appended. Dropped records are counted by class
// (cw_gateway_spool_dropped_records_total{class="periodic|state"}) and
// passed to Options.OnDrop, which the gateway uses to append a gap entry so
// the centre learns what it will never receive. SegmentBytes is the drop
// granularity: smaller segments drop less at a time but make more files.
//
// # Cost per record
//
// The gateway appends the readings of a group of MQTT messages in one call
// and the uplink reads up to 1000 records at a time, so the work per record
// is kept to the frame itself. Append frames the records into one buffer
// of its request (index and CRC left zero; requests and buffers are reused
// once committed); the committer numbers the frames, computes their CRCs
// in place and copies each request to the write buffer in one piece. It
// keeps the next index in a local variable and publishes it once per
// flush, and describes the frames waiting for their fsync by a first index
// and a count, since indexes within a group are consecutive. IsState is
// asked about records only until a segment has a periodic one, because the
// drop policy only asks whether a segment has any. Readers check frames
// where they lie in a pooled 64 KiB read buffer and copy each record once;
// Read sizes its result from the segment metadata, and ReadInto reuses the
// caller's ReadBuffer so that forward reads do not allocate at all.
//
// # File layer and power cuts
//
// Every file operation goes through Options.FS (the operating system's by
// default). A SIGKILL loses nothing the spool wrote, because the kernel's
// page cache survives the process; a power cut loses what was not
// fsynced, which is the case the format is built for. The package
// gateway/spool/powercut is a file layer that keeps unsynced writes in
// memory and throws them away (or keeps a torn part of them) at a
// simulated cut, and undoes directory changes not yet fsynced; its tests
// cut the power under load and check that everything reported durable
// survives and that Open repairs the torn tail.
//
// # Concurrency
//
// Run is the only goroutine that writes files. Append hands records to it
// through a bounded queue; Read and ReadInto open segment files themselves
// under a read lock and see only fsynced records; renames and removals take
// the write lock.
package spool
