// Package ctlbus carries commands from the front door (the console and its
// API) to the alerting instance that owns a facility, and the answers back,
// over the central MQTT broker (docs/security.md, "one front door").
//
// The contract is model/control.go: a JSON model.Command on
// cw/ctl/v1/<shard>/cmd/<facility> (or cw/ctl/v1/<shard>/query for a read
// across a shard's facilities), a JSON model.Reply on
// cw/ctl/v1/reply/<requester>/<id>. Why the broker and not HTTP between
// services: it already routes, authenticates services and keeps a
// persistent session for an alerting instance that restarts; an alerting
// instance then serves no port to people at all.
//
// What keeps it safe:
//   - The broker's ACL lets only the front door's account publish commands
//     and only alerting instance n read cw/ctl/v1/<n>/#. On top of that
//     every command carries an HMAC-SHA-256 over its content with a secret
//     the services share (ctl.secret_file), so a broker misconfiguration is
//     not enough to forge an acknowledgement.
//   - A command has a deadline. The owner ignores it afterwards (counted as
//     expired), and the requester waits for the reply until the deadline
//     plus a short grace, so "no answer" always means "not applied".
//   - A command redelivered by the broker (same ID) is not applied twice:
//     the owner remembers IDs until their deadline and sends the same reply
//     again.
//   - Handlers run on the Responder's own goroutine, never on paho's router
//     (PITFALLS.md: a blocking handler stalls keep-alives).
//
// Every outcome is counted: cw_ctl_requests_total{kind,result} on the
// requester, cw_ctl_commands_total{kind,result} on the responder.
package ctlbus
