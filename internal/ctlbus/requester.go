package ctlbus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/internal/mqttx"
	"github.com/cradlewatch/cradlewatch/model"
)

// DefaultTimeout is how long a command stays valid: long enough for an
// owner that is reconnecting, short enough that a person waiting in front
// of a page gets an answer.
const DefaultTimeout = 15 * time.Second

// replyGrace is how long past a command's deadline the requester still
// waits, for an owner that applied it at the last moment.
const replyGrace = 3 * time.Second

// ErrNoAnswer means the owner did not answer before the deadline: the
// command was not applied (the owner ignores it after the deadline).
var ErrNoAnswer = errors.New("the alerting instance that owns the facility did not answer in time; nothing was changed")

// IncompleteError reports a query that some shards did not answer.
type IncompleteError struct{ Missing []int }

func (e *IncompleteError) Error() string {
	return fmt.Sprintf("alerting instances %v did not answer; the list is incomplete", e.Missing)
}

// RequesterOptions configure the front door's side.
type RequesterOptions struct {
	Client     mqtt.Client // the front door's connection; subscribe Filter/Handle in its OnConnect
	ClientID   string      // its MQTT client ID: replies come to cw/ctl/v1/reply/<ClientID>/+
	Shards     int         // how many alerting instances (shard.count)
	Secret     []byte      // shared with the alerting instances
	Timeout    time.Duration
	Clock      func() time.Time
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Requester sends commands and waits for their replies.
type Requester struct {
	o  RequesterOptions
	m  *requesterMetrics
	mu sync.Mutex
	// waiting holds, per request ID, where its replies go.
	waiting map[string]chan model.Reply
}

// NewRequester checks the options.
func NewRequester(o RequesterOptions) (*Requester, error) {
	if err := checkSecret(o.Secret); err != nil {
		return nil, err
	}
	if o.Client == nil || o.ClientID == "" {
		return nil, errors.New("ctlbus: requester needs a client and its client ID")
	}
	if err := model.ValidateID("requester client ID", o.ClientID); err != nil {
		return nil, fmt.Errorf("ctlbus: %w", err)
	}
	if o.Shards < 1 {
		o.Shards = 1
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
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
	return &Requester{o: o, m: newRequesterMetrics(o.Registerer), waiting: map[string]chan model.Reply{}}, nil
}

// Filter is the subscription for replies.
func (r *Requester) Filter() string { return model.ReplyFilter(r.o.ClientID) }

// Handle is the reply handler (paho's router goroutine: it never blocks).
func (r *Requester) Handle(_ mqtt.Client, m mqtt.Message) {
	var rep model.Reply
	if len(m.Payload()) > MaxPayload || json.Unmarshal(m.Payload(), &rep) != nil {
		r.m.late.Inc()
		return
	}
	r.mu.Lock()
	ch := r.waiting[rep.ID]
	r.mu.Unlock()
	if ch == nil {
		r.m.late.Inc()
		return
	}
	select {
	case ch <- rep:
	default: // more replies than shards: a duplicate
		r.m.late.Inc()
	}
}

// Do sends a command about c.Facility to the instance that owns it and
// returns its reply. ErrNoAnswer means nothing was applied.
func (r *Requester) Do(ctx context.Context, c model.Command) (model.Reply, error) {
	if err := model.ValidateID("facility", c.Facility); err != nil {
		return model.Reply{}, fmt.Errorf("ctlbus: %w", err)
	}
	shard := model.ShardOf(c.Facility, r.o.Shards)
	reps, err := r.send(ctx, &c, []string{model.CommandTopic(shard, c.Facility)}, 1)
	if err != nil {
		return model.Reply{}, err
	}
	if len(reps) == 0 {
		r.m.requests.WithLabelValues(string(c.Kind), resultTimeout).Inc()
		return model.Reply{}, ErrNoAnswer
	}
	r.m.requests.WithLabelValues(string(c.Kind), string(reps[0].Status)).Inc()
	return reps[0], nil
}

// Gather sends a query to every shard and returns the replies that came
// before the deadline, in shard order. A missing shard gives an
// *IncompleteError beside the replies that did come.
func (r *Requester) Gather(ctx context.Context, c model.Command) ([]model.Reply, error) {
	topics := make([]string, r.o.Shards)
	for i := range topics {
		topics[i] = model.QueryTopic(i)
	}
	reps, err := r.send(ctx, &c, topics, r.o.Shards)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(reps, func(a, b model.Reply) int { return a.Shard - b.Shard })
	var missing []int
	for i, j := 0, 0; i < r.o.Shards; i++ {
		if j < len(reps) && reps[j].Shard == i {
			j++
			continue
		}
		missing = append(missing, i)
	}
	if len(missing) > 0 {
		r.m.requests.WithLabelValues(string(c.Kind), resultIncomplete).Inc()
		return reps, &IncompleteError{Missing: missing}
	}
	r.m.requests.WithLabelValues(string(c.Kind), string(model.ReplyOK)).Inc()
	return reps, nil
}

// send fills in the envelope, signs, publishes to every topic and collects
// up to want replies until the deadline plus grace.
func (r *Requester) send(ctx context.Context, c *model.Command, topics []string, want int) ([]model.Reply, error) {
	now := r.o.Clock()
	c.V = model.WireVersion
	c.ID = newID()
	c.Issued = now
	if c.Deadline.IsZero() {
		c.Deadline = now.Add(r.o.Timeout)
	}
	c.ReplyTo = model.ReplyTopic(r.o.ClientID, c.ID)
	if err := Sign(r.o.Secret, c); err != nil {
		return nil, err
	}
	ch := make(chan model.Reply, want)
	r.mu.Lock()
	r.waiting[c.ID] = ch
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.waiting, c.ID)
		r.mu.Unlock()
	}()
	payload, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("ctlbus: encode: %w", err)
	}
	start := time.Now()
	for _, t := range topics {
		if err := mqttx.Wait(ctx, r.o.Client.Publish(t, 1, false, payload), mqttx.OpTimeout); err != nil {
			r.m.requests.WithLabelValues(string(c.Kind), resultPublish).Inc()
			return nil, fmt.Errorf("ctlbus: publish %s: %w", t, err)
		}
	}
	wait := time.NewTimer(c.Deadline.Sub(now) + replyGrace)
	defer wait.Stop()
	var reps []model.Reply
	for len(reps) < want {
		select {
		case rep := <-ch:
			if slices.ContainsFunc(reps, func(x model.Reply) bool { return x.Shard == rep.Shard }) {
				continue // the same shard again (a resent reply)
			}
			reps = append(reps, rep)
		case <-wait.C:
			r.m.seconds.WithLabelValues(string(c.Kind)).Observe(time.Since(start).Seconds())
			return reps, nil
		case <-ctx.Done():
			return reps, ctx.Err()
		}
	}
	r.m.seconds.WithLabelValues(string(c.Kind)).Observe(time.Since(start).Seconds())
	return reps, nil
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail (Go 1.24+)
	return hex.EncodeToString(b[:])
}
