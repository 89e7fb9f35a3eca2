package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cradlewatch/cradlewatch/internal/ctlbus"
	"github.com/cradlewatch/cradlewatch/model"
)

// Scope narrows a list to a region or to an operator's facilities.
type Scope struct {
	Region     model.RegionCode // zero with Facilities
	Facilities []string
}

// Errors of a Backend.
var (
	// ErrNotFound: the owner knows no such alert or silence (or the
	// person may not see it: the pages answer both alike).
	ErrNotFound = errors.New("not found")
	// ErrUnavailable: the owner did not answer; nothing was changed.
	ErrUnavailable = errors.New("the alerting instance did not answer")
)

// RefusedError is the owner's refusal (the silence cap) or a malformed
// command, with the owner's text for a person.
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string { return "refused: " + e.Reason }

// Backend is where the console reads alerts and silences and sends
// acknowledgements and silences: the alerting instances that own the
// facilities, over the control bus (CtlBackend). Missing lists the shards
// that did not answer a list.
type Backend interface {
	Alert(ctx context.Context, facility, fingerprint string, a model.Actor) (model.AlertView, error)
	Alerts(ctx context.Context, s Scope, a model.Actor) (alerts []model.AlertView, missing []int, err error)
	Ack(ctx context.Context, facility, ref, comment string, a model.Actor) (model.AlertView, error)
	Silence(ctx context.Context, facility string, start, end time.Time, reason string, a model.Actor) (model.SilenceView, error)
	Unsilence(ctx context.Context, facility, id string, a model.Actor) (model.SilenceView, error)
	Silences(ctx context.Context, s Scope, a model.Actor) (silences []model.SilenceView, missing []int, err error)
	// AckCode sends an SMS reply's code with the replying number's
	// pseudonym to every instance; acked are the alerts an instance
	// acknowledged with it (none: a wrong code, or one not sent to that
	// number), missing the instances that did not answer.
	AckCode(ctx context.Context, phoneKey, code string, a model.Actor) (acked []model.AlertView, missing []int, err error)
	// Shards is how many alerting instances there are (for naming the
	// missing ones and finding a facility's owner).
	Shards() int
}

// CtlBackend is the Backend over ctlbus.
type CtlBackend struct {
	Requester *ctlbus.Requester
	ShardN    int
	// CommandTimeout and ReadTimeout set each command's deadline.
	CommandTimeout, ReadTimeout time.Duration
	Clock                       func() time.Time
}

// Shards implements Backend.
func (b *CtlBackend) Shards() int { return max(b.ShardN, 1) }

func (b *CtlBackend) deadline(read bool) time.Time {
	if read {
		return b.Clock().Add(b.ReadTimeout)
	}
	return b.Clock().Add(b.CommandTimeout)
}

func (b *CtlBackend) do(ctx context.Context, c model.Command, out any) error {
	c.Deadline = b.deadline(!c.Kind.Changes())
	rep, err := b.Requester.Do(ctx, c)
	switch {
	case errors.Is(err, ctlbus.ErrNoAnswer):
		return ErrUnavailable
	case err != nil:
		return err
	}
	return decodeReply(rep, out)
}

func decodeReply(rep model.Reply, out any) error {
	switch rep.Status {
	case model.ReplyOK:
	case model.ReplyNotFound:
		return ErrNotFound
	case model.ReplyRefused, model.ReplyInvalid:
		return &RefusedError{Reason: rep.Error}
	default:
		return fmt.Errorf("alerting instance %d: %s: %s", rep.Shard, rep.Status, rep.Error)
	}
	if out == nil || len(rep.Body) == 0 {
		return nil
	}
	if err := json.Unmarshal(rep.Body, out); err != nil {
		return fmt.Errorf("alerting instance %d: reply body: %w", rep.Shard, err)
	}
	return nil
}

func (b *CtlBackend) gather(ctx context.Context, c model.Command, each func(model.Reply) error) ([]int, error) {
	c.Deadline = b.deadline(!c.Kind.Changes())
	reps, err := b.Requester.Gather(ctx, c)
	var inc *ctlbus.IncompleteError
	var missing []int
	switch {
	case errors.As(err, &inc):
		missing = inc.Missing
	case err != nil:
		return nil, err
	}
	for _, r := range reps {
		if err := each(r); err != nil {
			return nil, err
		}
	}
	return missing, nil
}

func scoped(c model.Command, s Scope) model.Command {
	if len(s.Facilities) > 0 {
		c.Facilities = s.Facilities
	} else if s.Region.Level() != model.LevelCountry {
		c.Region = s.Region.String()
	}
	return c
}

// Alert implements Backend.
func (b *CtlBackend) Alert(ctx context.Context, facility, fp string, a model.Actor) (model.AlertView, error) {
	var v model.AlertView
	err := b.do(ctx, model.Command{Kind: model.CommandAlert, Facility: facility, Ref: fp, Actor: a}, &v)
	if err == nil && (v.Facility != facility || v.Fingerprint != fp) {
		return model.AlertView{}, ErrNotFound // an answer about something else is no answer
	}
	return v, err
}

// Alerts implements Backend.
func (b *CtlBackend) Alerts(ctx context.Context, s Scope, a model.Actor) ([]model.AlertView, []int, error) {
	var out []model.AlertView
	missing, err := b.gather(ctx, scoped(model.Command{Kind: model.CommandAlerts, Actor: a}, s), func(r model.Reply) error {
		var vs []model.AlertView
		if err := decodeReply(r, &vs); err != nil {
			return err
		}
		out = append(out, vs...)
		return nil
	})
	return out, missing, err
}

// Ack implements Backend.
func (b *CtlBackend) Ack(ctx context.Context, facility, ref, comment string, a model.Actor) (model.AlertView, error) {
	var v model.AlertView
	err := b.do(ctx, model.Command{Kind: model.CommandAck, Facility: facility, Ref: ref, Comment: comment, Actor: a}, &v)
	return v, err
}

// Silence implements Backend.
func (b *CtlBackend) Silence(ctx context.Context, facility string, start, end time.Time, reason string, a model.Actor) (model.SilenceView, error) {
	var v model.SilenceView
	err := b.do(ctx, model.Command{Kind: model.CommandSilence, Facility: facility, Start: start, End: end, Reason: reason, Actor: a}, &v)
	return v, err
}

// Unsilence implements Backend.
func (b *CtlBackend) Unsilence(ctx context.Context, facility, id string, a model.Actor) (model.SilenceView, error) {
	var v model.SilenceView
	err := b.do(ctx, model.Command{Kind: model.CommandUnsilence, Facility: facility, SilenceID: id, Actor: a}, &v)
	return v, err
}

// Silences implements Backend.
func (b *CtlBackend) Silences(ctx context.Context, s Scope, a model.Actor) ([]model.SilenceView, []int, error) {
	var out []model.SilenceView
	missing, err := b.gather(ctx, scoped(model.Command{Kind: model.CommandSilences, Actor: a}, s), func(r model.Reply) error {
		var vs []model.SilenceView
		if err := decodeReply(r, &vs); err != nil {
			return err
		}
		out = append(out, vs...)
		return nil
	})
	return out, missing, err
}

// AckCode implements Backend.
func (b *CtlBackend) AckCode(ctx context.Context, phoneKey, code string, a model.Actor) ([]model.AlertView, []int, error) {
	var out []model.AlertView
	missing, err := b.gather(ctx, model.Command{Kind: model.CommandAckCode, Ref: code, PhoneKey: phoneKey, Actor: a}, func(r model.Reply) error {
		var v model.AlertView
		switch err := decodeReply(r, &v); {
		case errors.Is(err, ErrNotFound):
			return nil // not this instance's code
		case err != nil:
			return err
		}
		out = append(out, v)
		return nil
	})
	return out, missing, err
}
