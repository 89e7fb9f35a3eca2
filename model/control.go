package model

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ControlPrefix is the root of the control topics: commands from the front
// door to the alerting instances and their replies. Only CradleWatch's own
// services use them; the broker's ACL keeps gateways out (docs/security.md).
const ControlPrefix = "cw/ctl/v1"

// Control topic kinds.
const (
	controlCommand = "cmd"
	controlQuery   = "query"
	controlReply   = "reply"
)

// CommandTopic is where a command about facility goes: the alerting instance
// that owns it (shard) reads cw/ctl/v1/<shard>/cmd/<facility>.
func CommandTopic(shard int, facility string) string {
	return ControlPrefix + "/" + strconv.Itoa(shard) + "/" + controlCommand + "/" + facility
}

// QueryTopic is where a question for every facility of one shard goes (the
// alerts of a region): cw/ctl/v1/<shard>/query.
func QueryTopic(shard int) string {
	return ControlPrefix + "/" + strconv.Itoa(shard) + "/" + controlQuery
}

// ShardFilter is what alerting instance shard subscribes to: its commands
// and its queries.
func ShardFilter(shard int) string { return ControlPrefix + "/" + strconv.Itoa(shard) + "/#" }

// ReplyTopic is where the answer to request id of requester (the front
// door's MQTT client ID) goes.
func ReplyTopic(requester, id string) string {
	return ControlPrefix + "/" + controlReply + "/" + requester + "/" + id
}

// ReplyFilter is what a requester subscribes to for its answers.
func ReplyFilter(requester string) string {
	return ControlPrefix + "/" + controlReply + "/" + requester + "/+"
}

// ParseShardTopic splits a topic under ShardFilter: the shard, whether it
// is a query, and for a command the facility it is about.
func ParseShardTopic(topic string) (shard int, query bool, facility string, err error) {
	rest, ok := strings.CutPrefix(topic, ControlPrefix+"/")
	if !ok {
		return 0, false, "", fmt.Errorf("topic %q is not under %s/", topic, ControlPrefix)
	}
	parts := strings.Split(rest, "/")
	if len(parts) < 2 {
		return 0, false, "", fmt.Errorf("topic %q: want %s/<shard>/cmd/<facility> or %s/<shard>/query", topic, ControlPrefix, ControlPrefix)
	}
	shard, err = strconv.Atoi(parts[0])
	if err != nil || shard < 0 {
		return 0, false, "", fmt.Errorf("topic %q: shard %q is not a number", topic, parts[0])
	}
	switch {
	case len(parts) == 2 && parts[1] == controlQuery:
		return shard, true, "", nil
	case len(parts) == 3 && parts[1] == controlCommand:
		if err := ValidateID("facility in topic", parts[2]); err != nil {
			return 0, false, "", err
		}
		return shard, false, parts[2], nil
	}
	return 0, false, "", fmt.Errorf("topic %q: want %s/<shard>/cmd/<facility> or %s/<shard>/query", topic, ControlPrefix, ControlPrefix)
}

// CommandKind says what a command asks.
type CommandKind string

// Command kinds. Ack, silence and unsilence change an alerting instance's
// state and go to the facility's owner; the others only read.
const (
	CommandAck       CommandKind = "ack"         // Ref: fingerprint or acknowledgement code
	CommandSilence   CommandKind = "silence"     // Start, End, Reason
	CommandUnsilence CommandKind = "unsilence"   // SilenceID
	CommandAlert     CommandKind = "get_alert"   // Ref: fingerprint; the alert with its history
	CommandAlerts    CommandKind = "list_alerts" // a query: Region or Facilities, State
	CommandSilences  CommandKind = "list_silences"
	// CommandAckCode is an SMS reply's code, sent to every shard (nobody
	// knows which instance issued it): Ref the code, PhoneKey the
	// replying number's pseudonym. The instance that issued the code
	// acknowledges if that number was sent it.
	CommandAckCode CommandKind = "ack_code"
)

// Changes reports whether the command changes state (and so is audited as
// an action rather than a read).
func (k CommandKind) Changes() bool {
	return k == CommandAck || k == CommandSilence || k == CommandUnsilence || k == CommandAckCode
}

// Query reports whether the command goes to every shard's query topic
// rather than to one facility's owner.
func (k CommandKind) Query() bool {
	return k == CommandAlerts || k == CommandSilences || k == CommandAckCode
}

// Actor is who a command acts for: taken by the front door from the
// authenticated identity, never from a request's body.
type Actor struct {
	Kind   string `json:"kind"`             // person, token or service
	ID     string `json:"id"`               // account, token or service name
	Name   string `json:"name,omitempty"`   // display name, for the alert's history
	Role   string `json:"role,omitempty"`   // the role the action was authorised under
	Region string `json:"region,omitempty"` // the role's region code ("" nationwide)
}

// String is the actor as audit records and alert histories name it:
// "person:wang".
func (a Actor) String() string { return a.Kind + ":" + a.ID }

// Command is one request of the front door to an alerting instance, JSON on
// a control topic. The front door has already authorised it; the owner
// checks what only it can (the alert exists, the silence cap over the
// facility's history) and answers with a Reply.
type Command struct {
	V          int         `json:"v"`
	ID         string      `json:"id"` // random; correlates the reply and makes a redelivery harmless
	Kind       CommandKind `json:"kind"`
	Facility   string      `json:"facility,omitempty"`
	Ref        string      `json:"ref,omitempty"`        // fingerprint or acknowledgement code
	Comment    string      `json:"comment,omitempty"`    // ack: what the actor says
	Reason     string      `json:"reason,omitempty"`     // silence: why
	Start      time.Time   `json:"start,omitzero"`       // silence
	End        time.Time   `json:"end,omitzero"`         // silence
	SilenceID  string      `json:"silence_id,omitempty"` // unsilence
	Region     string      `json:"region,omitempty"`     // list: the region code in scope ("" nationwide)
	Facilities []string    `json:"facilities,omitempty"` // list: an operator's facilities
	State      string      `json:"state,omitempty"`      // list: only alerts in this state
	// PhoneKey is ack_code's replying number, pseudonymised with the
	// deployment's phone key (access/audit.PhoneKeyer): the number itself
	// never travels.
	PhoneKey string    `json:"phone_key,omitempty"`
	Actor    Actor     `json:"actor"`
	Issued   time.Time `json:"issued"`
	Deadline time.Time `json:"deadline"` // the owner ignores the command after it
	ReplyTo  string    `json:"reply_to"`
	MAC      string    `json:"mac,omitempty"` // HMAC-SHA-256 of the command without MAC (internal/ctlbus)
}

// ReplyStatus is an alerting instance's verdict on a command.
type ReplyStatus string

// Verdicts.
const (
	ReplyOK       ReplyStatus = "ok"
	ReplyNotFound ReplyStatus = "not_found" // no such open alert or silence
	ReplyRefused  ReplyStatus = "refused"   // a rule of the owner said no (the silence cap)
	ReplyInvalid  ReplyStatus = "invalid"   // the command is malformed
	ReplyFailed   ReplyStatus = "failed"    // the owner could not save it; try again
)

// Reply answers a Command on its ReplyTo topic.
type Reply struct {
	V      int             `json:"v"`
	ID     string          `json:"id"`
	Shard  int             `json:"shard"`
	Status ReplyStatus     `json:"status"`
	Error  string          `json:"error,omitempty"` // for a person: what was wrong, never internal detail
	Body   json.RawMessage `json:"body,omitempty"`  // the answer to a read
}

// ShardOf is the alerting instance (0..n-1) that owns facility: FNV-1a of
// the ID modulo n. Alerting instances keep the facilities of their shard,
// and the front door sends a facility's commands to its owner; both must
// agree, so this is the one definition.
func ShardOf(facility string, n int) int {
	if n <= 1 {
		return 0
	}
	var h uint32 = 2166136261
	for i := 0; i < len(facility); i++ {
		h ^= uint32(facility[i])
		h *= 16777619
	}
	return int(h % uint32(n))
}

// The bodies of replies. Field names are snake_case JSON; times are RFC 3339
// (UTC), absent when zero. What each command's reply carries:
//
//	get_alert      ok: AlertView (with History); not_found: no such alert of the facility
//	list_alerts    ok: []AlertView (History may be empty) of the facilities in scope
//	ack            ok: AlertView after the acknowledgement (an alert already
//	               acknowledged answers ok, unchanged: the first acknowledgement
//	               stands); not_found: no firing or acknowledged alert with that
//	               fingerprint or code
//	silence        ok: SilenceView (its ID set); refused: the owner's silence
//	               cap, Error saying so for a person
//	unsilence      ok: SilenceView ended; not_found: no such current silence
//	list_silences  ok: []SilenceView of the facilities in scope: current and
//	               scheduled ones, and those that ended within the silence cap's
//	               window (access.SilencePolicy.CapWindow), configured ones
//	               included, so the front door can check the cap as the owner will
//	ack_code       ok: AlertView acknowledged (or already acknowledged) by the
//	               code; not_found: no open alert of this shard has the code,
//	               or its number was not sent it
//
// A query (list_alerts, list_silences) is scoped by Region (a region code,
// matched against each facility's registered region; "" is the whole
// country) or by Facilities (an operator's), never both; State narrows
// list_alerts to one state.

// AlertView is one alert as the alerting instance that owns its facility
// holds it.
type AlertView struct {
	Fingerprint string    `json:"fingerprint"` // stable per rule, facility, room and device
	Rule        string    `json:"rule"`
	Severity    string    `json:"severity"` // info, warning, critical
	State       string    `json:"state"`    // pending, firing, acknowledged, resolved
	Facility    string    `json:"facility"`
	Room        string    `json:"room,omitempty"`
	Device      string    `json:"device,omitempty"`
	Kind        string    `json:"kind,omitempty"` // the reading kind (Kind.String()), "" for rules on no reading
	Value       float64   `json:"value"`          // the value that decided the last transition
	Limit       float64   `json:"limit"`
	Unit        string    `json:"unit,omitempty"`      // of Value and Limit: °C, %, ppm, µg/m³, mg/m³ ...
	Message     string    `json:"message"`             // the Chinese description the SMS used
	StartedAt   time.Time `json:"started_at,omitzero"` // the condition began (event time)
	FiredAt     time.Time `json:"fired_at,omitzero"`
	// AcknowledgedAt and AcknowledgedBy (Actor.String(), "person:<id>")
	// with AcknowledgedByName (the display name) say who took it.
	AcknowledgedAt     time.Time         `json:"acknowledged_at,omitzero"`
	AcknowledgedBy     string            `json:"acknowledged_by,omitempty"`
	ResolvedAt         time.Time         `json:"resolved_at,omitzero"`
	History            []AlertTransition `json:"history,omitempty"` // oldest first
	AcknowledgedByName string            `json:"acknowledged_by_name,omitempty"`
}

// AlertTransition is one step of an alert's history.
type AlertTransition struct {
	At        time.Time `json:"at"`
	From      string    `json:"from"` // a state, as AlertView.State
	To        string    `json:"to"`
	Actor     string    `json:"actor,omitempty"`      // Actor.String(); "" for the rule engine
	Note      string    `json:"note,omitempty"`       // an acknowledgement's comment
	ActorName string    `json:"actor_name,omitempty"` // Actor.Name at the time
}

// SilenceView is one silence (maintenance window) of a facility.
type SilenceView struct {
	ID        string    `json:"id"`
	Facility  string    `json:"facility"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"` // as set; EndedAt when ended early
	EndedAt   time.Time `json:"ended_at,omitzero"`
	Reason    string    `json:"reason"`
	CreatedBy string    `json:"created_by,omitempty"` // Actor.String(); "" for a configured silence
	CreatedAt time.Time `json:"created_at,omitzero"`
	// Configured marks a silence of the reviewed configuration file: it
	// cannot be ended at run time.
	Configured bool `json:"configured,omitempty"`
}

// Effective is when the silence stopped or stops silencing: EndedAt when
// it was ended early, else End.
func (s SilenceView) Effective() time.Time {
	if !s.EndedAt.IsZero() && s.EndedAt.Before(s.End) {
		return s.EndedAt
	}
	return s.End
}
