// Package recordlog is CradleWatch's one append-only log of CRC-framed
// records: the alerting state store's write-ahead log, the notification
// log and the notification outbox all use it. Records are opaque bytes
// here; each user encodes its own (JSON).
//
// # Files
//
// A log is one file, Options.Path. Next to it:
//
//	<path>.quarantine   damaged bytes found by Open, kept with their offset
//	                    (itself a record log, see "Quarantine" below)
//	<path>.*.tmp        a rewrite cut short; removed by Open
//
// # Format
//
// The file starts with the 8-byte header "CWRLOG", a zero byte and the
// version byte (1). Records follow, each framed as
//
//	offset 0   uint32 little endian  length n of the data (at most MaxRecord)
//	offset 4   uint32 little endian  CRC32-Castagnoli of the data
//	offset 8   uint32 little endian  CRC32-Castagnoli of the file header
//	                                 followed by bytes 0-7 (the frame check)
//	offset 12  data (n bytes)
//
// Why so: the frame check covers the length, so a garbage length is
// rejected before it is trusted (it is also bounded by MaxRecord and by the
// bytes left in the file before anything is allocated). Because the check
// is seeded with the file header, an all-zero region (what a file system
// may show after a crash extended a file but lost its data, or a zeroed
// page) never passes as a record. A separate frame check lets Open look
// for the next record after damage at every byte offset cheaply: 12 bytes
// and one CRC per candidate, the data's CRC only when the frame matches
// (a false match has a chance of 2^-32 per offset, and must then also pass
// the data CRC). Castagnoli has hardware support on arm64 and amd64 and is
// what etcd's and Prometheus' write-ahead logs use; little endian is what
// both CPUs use natively.
//
// # Recovery: damage is kept, never truncated with what follows
//
// Open reads the whole file and hands each good record to the caller's
// replay function in order. Where a record does not check out, Open
// searches forward, byte by byte, for the next record that does:
//
//   - If one is found, the bytes in between are mid-file corruption (a
//     flipped bit, a zeroed page, a garbage length): they are copied to the
//     quarantine file with their offset, counted
//     (cw_recordlog_corrupt_regions_total, cw_recordlog_corrupt_bytes_total),
//     reported in Recovery.Err as a *CorruptError, and every good record
//     after them is kept.
//   - If none is found, the damage runs to the end of the file: a torn
//     tail, what a crash in the middle of an append leaves. That is normal:
//     it is repaired (cut off), counted separately
//     (cw_recordlog_torn_tails_total, cw_recordlog_torn_bytes_total), and
//     its bytes are still kept in the quarantine file. Only a record whose
//     append never returned can be in a torn tail.
//   - A record whose CRCs check out but that the caller's replay function
//     refuses (it cannot decode it) is quarantined as "rejected" and
//     counted as corruption; the records after it are kept.
//   - A damaged file header is quarantined like any damaged region.
//
// The quarantine file is fsynced before the log is repaired. Mid-file
// damage is repaired by rewriting the log with its good records (a
// temporary file, fsync, rename, fsync of the directory), so that the next
// Open does not report it again; a torn tail alone is cut off with a
// truncate and an fsync. A quarantine record is: the offset of the damaged
// bytes in the log (uint64 little endian), the kind (1 corrupt, 2 torn, 3
// rejected), then the bytes, split into pieces of at most MaxRecord.
// ReadQuarantine reads it back.
//
// # Durability: fsync per append, or batched
//
// Append writes its records with one write and fsyncs before it returns:
// for records a promise depends on (an outbox notice before the alert is
// marked notified; a delivery before the next one is attempted). Write
// only writes; its records become durable with the next Append, Sync or
// Close. Use it where losing the last records costs nothing that matters
// (a receipt whose loss only makes the path look at a transition again,
// which deduplicates). Several records passed to one Append share its
// fsync. Fsyncs are counted and timed (cw_recordlog_fsyncs_total,
// cw_recordlog_fsync_seconds). A failed write is cut back to the last
// whole record, so a full disk never leaves a half record in the middle of
// the log.
//
// Rewrite replaces the whole log atomically (compaction): the new content
// is written to a temporary file, fsynced and renamed over the log, and
// the directory is fsynced.
//
// Every metric has the label log (Options.Name), so the state store, the
// notification log and the outbox are told apart on one registry.
package recordlog
