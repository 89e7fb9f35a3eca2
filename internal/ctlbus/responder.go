package ctlbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/internal/mqttx"
	"github.com/cradlewatch/cradlewatch/model"
)

// MaxPayload bounds a control message; anything larger is malformed.
const MaxPayload = 256 << 10

// DefaultQueue is how many control messages wait for the handler. Commands
// are rare (people acknowledging); a full queue drops and counts, and the
// requester times out and says nothing was applied.
const DefaultQueue = 1024

// logEvery bounds how often one kind of refused message is logged.
const logEvery = time.Minute

// Handler answers one verified, current, owned command. It runs on the
// Responder's goroutine; ID, Shard and V of the reply are filled in.
type Handler func(ctx context.Context, c model.Command) model.Reply

// ResponderOptions configure an alerting instance's side.
type ResponderOptions struct {
	Client     mqtt.Client // subscribe Filter/Handle in its OnConnect
	Shard      int
	Owns       func(facility string) bool // whether this instance watches the facility
	Secret     []byte
	Handler    Handler
	Queue      int
	Clock      func() time.Time
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

type seen struct {
	deadline time.Time
	reply    []byte
	replyTo  string
}

// Responder receives commands for one shard, applies them through the
// handler and answers.
type Responder struct {
	o      ResponderOptions
	m      *responderMetrics
	in     chan []byte
	seen   map[string]seen
	logged map[string]time.Time
}

// NewResponder checks the options.
func NewResponder(o ResponderOptions) (*Responder, error) {
	if err := checkSecret(o.Secret); err != nil {
		return nil, err
	}
	if o.Client == nil || o.Handler == nil || o.Owns == nil {
		return nil, errors.New("ctlbus: responder needs a client, a handler and Owns")
	}
	if o.Queue <= 0 {
		o.Queue = DefaultQueue
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	return &Responder{o: o, m: newResponderMetrics(o.Registerer), in: make(chan []byte, o.Queue),
		seen: map[string]seen{}, logged: map[string]time.Time{}}, nil
}

// Filter is the subscription for this shard's commands and queries.
func (s *Responder) Filter() string { return model.ShardFilter(s.o.Shard) }

// Handle queues a message for Run (paho's router goroutine: never blocks).
func (s *Responder) Handle(_ mqtt.Client, m mqtt.Message) {
	select {
	case s.in <- append([]byte(m.Topic()+"\x00"), m.Payload()...):
	default:
		s.m.commands.WithLabelValues("unknown", resultQueueFull).Inc()
	}
}

// Run applies queued commands until ctx ends.
func (s *Responder) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case b := <-s.in:
			topic, payload, _ := strings.Cut(string(b), "\x00")
			s.process(ctx, topic, []byte(payload))
		}
	}
}

func (s *Responder) process(ctx context.Context, topic string, payload []byte) {
	now := s.o.Clock()
	s.prune(now)
	shard, query, facility, err := model.ParseShardTopic(topic)
	if err != nil || shard != s.o.Shard || len(payload) > MaxPayload {
		s.refuse("unknown", resultMalformed, "control message on an unexpected topic or too large", "topic", topic)
		return
	}
	var c model.Command
	if err := json.Unmarshal(payload, &c); err != nil || c.V != model.WireVersion || c.ID == "" {
		s.refuse("unknown", resultMalformed, "undecodable control message", "topic", topic)
		return
	}
	kind := string(c.Kind)
	if !knownKind(c.Kind) {
		kind = "unknown"
	}
	if err := Verify(s.o.Secret, c); err != nil {
		s.refuse(kind, resultBadMAC, "control message with a wrong MAC: not from the front door", "topic", topic, "id", c.ID)
		return
	}
	if !strings.HasPrefix(c.ReplyTo, model.ControlPrefix+"/reply/") || strings.ContainsAny(c.ReplyTo, "+#") {
		s.refuse(kind, resultMalformed, "control message with a reply topic outside the reply space", "reply_to", c.ReplyTo)
		return
	}
	if now.After(c.Deadline) {
		s.refuse(kind, resultExpired, "control message past its deadline: ignored, the requester was told nothing changed", "id", c.ID, "deadline", c.Deadline)
		return
	}
	if prev, ok := s.seen[c.ID]; ok {
		s.m.commands.WithLabelValues(kind, resultDuplicate).Inc()
		s.publish(ctx, prev.replyTo, prev.reply)
		return
	}
	var rep model.Reply
	switch {
	case query != c.Kind.Query():
		rep = model.Reply{Status: model.ReplyInvalid, Error: fmt.Sprintf("%s is not a %s", c.Kind, map[bool]string{true: "query", false: "command"}[query])}
	case !query && c.Facility != facility:
		rep = model.Reply{Status: model.ReplyInvalid, Error: "the command's facility differs from its topic's"}
	case !query && !s.o.Owns(facility):
		s.m.commands.WithLabelValues(kind, resultNotOwned).Inc()
		rep = model.Reply{Status: model.ReplyNotFound, Error: "this alerting instance does not watch the facility"}
	default:
		rep = s.o.Handler(ctx, c)
	}
	rep.V, rep.ID, rep.Shard = model.WireVersion, c.ID, s.o.Shard
	s.m.commands.WithLabelValues(kind, string(rep.Status)).Inc()
	b, err := json.Marshal(rep)
	if err != nil {
		s.o.Logger.Error("encode control reply", "err", err)
		return
	}
	s.seen[c.ID] = seen{deadline: c.Deadline, reply: b, replyTo: c.ReplyTo}
	s.publish(ctx, c.ReplyTo, b)
}

func (s *Responder) publish(ctx context.Context, topic string, b []byte) {
	if err := mqttx.Wait(ctx, s.o.Client.Publish(topic, 1, false, b), mqttx.OpTimeout); err != nil {
		// The command was applied; the requester will say it does not know.
		s.o.Logger.Warn("control reply not published", "topic", topic, "err", err)
	}
}

// prune forgets commands past their deadline: a redelivery after it is
// expired anyway.
func (s *Responder) prune(now time.Time) {
	for id, x := range s.seen {
		if now.After(x.deadline) {
			delete(s.seen, id)
		}
	}
}

// refuse counts a refused message and logs it at most once per logEvery
// for each kind of refusal.
func (s *Responder) refuse(kind, result, msg string, args ...any) {
	s.m.commands.WithLabelValues(kind, result).Inc()
	now := s.o.Clock()
	if last, ok := s.logged[result]; ok && now.Sub(last) < logEvery {
		return
	}
	s.logged[result] = now
	s.o.Logger.Warn(msg, args...)
}

func knownKind(k model.CommandKind) bool {
	switch k {
	case model.CommandAck, model.CommandSilence, model.CommandUnsilence, model.CommandAlert, model.CommandAlerts, model.CommandSilences,
		model.CommandAckCode:
		return true
	}
	return false
}
