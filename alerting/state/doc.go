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
// The wal is a record log (package internal/recordlog: CRC-framed records,
// each one JSON object, a transition or a notification receipt). Append
// writes all the transitions of one call with one fsync: a lost transition
// means a forgotten alert or a duplicate SMS. A receipt (MarkNotified) is
// written without its own fsync and becomes durable with the next
// transition or at Close: losing one only hands that transition to the
// notification path again, which recognises what it already holds. Open
// reads the snapshot and the wal; a torn tail is cut off, damage in the
// middle is quarantined in wal.quarantine and the records after it are
// kept (cw_recordlog_*{log="alerting_state"}); then it writes a new
// snapshot and starts an empty wal. A wal in the format used before the
// record log (length, CRC, payload without a file header) is read once and
// converted.
//
// Notifications: a transition with Notify set is "unsent" until
// MarkNotified records that the notification path holds it durably (in
// its outbox). After a restart
// Unsent returns exactly those, so the service re-sends only them.
package state
