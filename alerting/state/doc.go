// Package state keeps the alerting service's alerts and their transitions
// on local disk, so that a restart neither forgets a firing alert nor sends
// its message twice.
//
// Layout of the directory:
//
//	snapshot.json   current alerts and un-notified transitions, JSON;
//	                replaced atomically (temp file, fsync, rename, fsync dir)
//	wal             records appended since the snapshot
//	history.jsonl   every transition ever recorded, one JSON object a line,
//	                appended at compaction (for audit; read back only by
//	                History, for the API)
//
// A wal record is: length (uint32, little endian) of the payload, CRC-32C
// (Castagnoli) of the payload, payload (JSON of one record). Each Append is
// fsynced: transitions are rare, and a lost one means a forgotten alert or
// a duplicate SMS. Open reads the snapshot and the wal, stops at the first
// torn or corrupt record (counted in cw_alerting_state_corrupt_records_total
// and reported as a *CorruptError in the log; the records before it are
// kept), writes a new snapshot and starts an empty wal.
//
// Notifications: a transition with Notify set is "unsent" until
// MarkNotified records that the notifier accepted it. After a restart
// Unsent returns exactly those, so the service re-sends only them.
package state
