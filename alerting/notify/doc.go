// Package notify is the path from an alert transition to a message in a
// person's hand: SMS and voice calls to facility operators, escalation to
// the street office and the county health commission, and the other
// channels (regulator webhook, DingTalk and WeCom robots, e-mail).
//
// # The path
//
// The rule engine hands Alert transitions to Dispatcher.Handle. The
// Escalator decides who is due (policy steps by severity, reminders for
// unacknowledged critical alerts, nothing after acknowledgement, the
// resolution to everyone the alert reached). Handle writes the notices and
// the escalation changes to the outbox, fsynced, and only then returns: the
// service marks the transition notified after that. Run sends: it is woken
// by Handle and acknowledgements and by a timer set to the next deadline (a
// group's wait, a retry, an escalation step), never by a polling tick.
// Notices to one recipient about one facility, of one kind and severity,
// leave as one message once the first one's wait is over: group_wait for
// warnings and info (30 s), group_wait_critical for critical alerts (0: at
// once), group_wait_rules per rule. Escalation steps and reminders do not
// wait. Each group runs through the stages
//
//	contact → silence → dedup → announced → plan → send → record
//
// The plan stage chooses channels: a critical alert's firing and
// escalation notices go out on every channel the recipient has (SMS
// whatever the budget, voice as soon as an SMS attempt fails or always,
// the robots, webhook and e-mail); other notices on the first channel that
// works (SMS while the number has budget, then the fallbacks). When the
// SMS of an operator's critical notice has finally failed, the street
// office is told at once (Escalator.Expedite). The send stage makes one attempt per channel
// and pass; a transient failure schedules the next attempt (backoff with
// jitter) instead of holding the sender, so a retrying warning never holds
// back a critical alert. Deliveries happen one at a time, the most urgent
// group first.
//
// Each channel is a Notifier in a subpackage (aliyun and tencent for SMS
// and voice, httpsms, logsms, webhook, dingtalk, wecom, email); Failover
// serves one channel with several providers in order. Package setup holds
// the whole notify configuration section and BuildNotifiers.
//
// # Acknowledgements and silences
//
// Notify serves no HTTP. People and machines reach CradleWatch through the
// front door (the console), which authorises them and sends commands to
// the alerting instance that owns the facility over the control bus
// (internal/ctlbus); the instance calls:
//
//   - Ack(fingerprint or code, actor, source): escalation and reminders
//     stop, notices not yet sent are cancelled, OnAck tells the engine.
//   - AckBySMS(code, phone key, actor, source): an SMS reply the front door
//     received (package reply parses the providers' pushes). Each code
//     acknowledges only if the replying number was sent that alert by SMS:
//     numbers are compared by their keyed pseudonym (Options.Phones, the
//     same key at the front door), from the notification log. Codes are
//     AckCodeDigits (8) digits from crypto/rand.
//   - AddSilence, EndSilence, Silences: maintenance windows. Whether a
//     silence is allowed (length, role, the facility's cap) is decided
//     before, by access.SilencePolicy; notify keeps them and mutes.
//
// # State files (Config.StateDir)
//
//   - outbox.log: the outbox, a record log (internal/recordlog). One record
//     per change, fsynced: escalations opened or changed (ack code, next
//     step, reminders, who was reached, acknowledgement), episodes
//     closed, notices added (recipient id, kind, step, the alert, when it
//     may leave) and cancelled. Every record has a sequence number. Closed
//     episodes are remembered for 30 days: a transition the state store
//     hands over again after a restart (its receipt was lost) is
//     recognised and never escalated anew.
//   - escalations.json: the outbox's snapshot, {seq, open, pending, closed},
//     written atomically at every start and when outbox.log passes 1 MiB,
//     after which outbox.log is emptied; records with a sequence number up
//     to seq are already in it (a crash between the two). A JSON array (the
//     format before the outbox) is read as the open escalations.
//   - notifications.log: the notification log, a record log of outcomes,
//     each record a JSON array of entries written at once (a delivery on
//     one channel covers every alert of its message): sent (per channel;
//     partial while a critical notice has channels to go), failed, dead,
//     silenced, cancelled, unannounced, gone, exhausted, acked, and attempt
//     (written before a message goes to a provider that can confirm what it
//     took: the key it is given). It drives
//     dedup across restarts, which channels of a pending notice are done,
//     whether a recipient was told of an episode (before its resolution
//     goes out), which numbers were sent an episode by SMS (replies), and
//     rebuilds per-number SMS budgets. It holds no phone numbers, only the
//     keyed pseudonym of each (HMAC under the deployment's phone key). It
//     is compacted (rewritten atomically) at start and when it has doubled:
//     records younger than 30 days, or of an open escalation or a pending
//     notice, stay (nflog_compact.go). A log in the line format of earlier
//     releases is converted, and one with their unsalted hashes re-keyed
//     at start (rekey.go).
//   - silences.json: maintenance windows added at run time, with who set
//     them, why, and when one was ended early.
//
// Every outcome written to the notification log is also handed to
// Options.OnRecord: the alerting service records it in its audit chain.
//
// Damage in either log is quarantined next to it and the records after it
// are kept (see internal/recordlog).
//
// # After a crash
//
// Every notice in the outbox whose final outcome the notification log does
// not hold is sent, with its group's original deadline; escalations go on
// from where the outbox says. A delivery is recorded (fsynced) before the
// next is attempted. Providers offer no idempotent send: on a channel
// whose provider can confirm what it took (Confirmer: Aliyun, Tencent
// SMS), the attempt is recorded before it is made, and a delivery in doubt
// (an attempt with no answer recorded: a crash, a lost answer) is asked
// about before it is made again; what the provider took is recorded as
// sent, not sent twice. Elsewhere, or when the provider cannot be asked,
// the message is sent again: a possible duplicate, never a lost alarm
// (cw_alerting_notify_in_doubt_total).
package notify
