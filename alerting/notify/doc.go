// Package notify is the path from an alert transition to a message in a
// person's hand: SMS to facility operators, escalation to the street office
// and the county health commission, and fallback channels (regulator
// webhook, DingTalk and WeCom robots, e-mail) when SMS budgets run out.
//
// The rule engine hands Alert transitions to Dispatcher.Handle. The
// Escalator decides who is due (policy steps by severity, reminders for
// unacknowledged critical alerts, nothing after acknowledgement). Due
// notices wait group_wait so that a facility's simultaneous alerts become
// one message, then run through the stages
//
//	silence → dedup → budget → send (retry, fallback) → record
//
// Each channel is a Notifier in a subpackage (aliyun, tencent, httpsms,
// logsms, webhook, dingtalk, wecom, email). Package setup holds the whole
// notify configuration section (this package's Config plus the providers'
// settings) and BuildNotifiers, which builds the configured channels for
// Options.Notifiers.
//
// # HTTP endpoints (authentication belongs in front of them)
//
//   - AckHandler: POST /api/v1/ack {code or fingerprint, actor}.
//   - SilencesHandler: POST /api/v1/silences {facility, start, end,
//     created_by, reason}; GET /api/v1/silences[?facility=&active=true].
//   - AliyunReplyHandler, TencentReplyHandler: SMS replies. A reply
//     acknowledges only if its number was sent the alert's code by SMS;
//     numbers are compared by their hash (escalations.json "sms_to").
//
// # State files (Config.StateDir)
//
//   - notifications.log: the notification log. One record per line,
//     "XXXXXXXX {json}\n" where XXXXXXXX is the CRC-32C (Castagnoli) of the
//     JSON in hex. Appended and fsynced per record. On open the log is read
//     up to the first bad record and truncated there (metric
//     cw_alerting_notify_log_corrupt_total). It drives dedup across
//     restarts and rebuilds per-number SMS budgets; it holds no phone
//     numbers, only a hash of each number.
//   - escalations.json: open alerts with their ack code, next step,
//     reminder count, acknowledgement and the hashes of the numbers sent
//     the code by SMS; replaced atomically (temp file, fsync, rename, fsync
//     directory) on every change of escalation. A re-emitted alert's new
//     value is kept in memory until the next such change.
//   - silences.json: maintenance windows added at run time.
//
// A crash between a provider accepting a message and the log record being
// synced can send that one message again after restart: providers offer no
// idempotent send.
package notify
