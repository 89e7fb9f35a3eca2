package console

import (
	"context"
	"slices"
	"time"

	"github.com/cradlewatch/cradlewatch/access"
	"github.com/cradlewatch/cradlewatch/access/audit"
	"github.com/cradlewatch/cradlewatch/model"
	"github.com/cradlewatch/cradlewatch/registry"
)

// The actions on alerts, shared by the pages and the JSON API: each is
// sent to the owner of the facility with the authenticated actor, counted
// in cw_console_actions_total and recorded in the console's audit chain
// with its outcome, refused or not (via: console or api).

// acknowledge acknowledges alert fp of f at its owner.
func (c *Console) acknowledge(ctx context.Context, p access.Principal, f *registry.Facility, fp, comment, via string) (model.AlertView, error) {
	a, err := c.backend.Ack(ctx, f.ID, fp, comment, actor(p))
	res := resultOf(err)
	c.count("ack", res)
	c.audit(p, audit.ActionAcknowledge, f.ID, f.Region, fp, map[string]any{"comment": comment, "outcome": res, "via": via, "state": a.State})
	return a, err
}

// addSilence checks req against the silence policy over the facility's
// silences (the owner checks again over its own history) and sends it to
// the owner. Without the owner's answer to the list, nothing is sent: the
// cap cannot be checked, and the owner would not answer anyway.
func (c *Console) addSilence(ctx context.Context, p access.Principal, f *registry.Facility, req access.SilenceRequest, via string) (model.SilenceView, error) {
	sils, missing, err := c.facilitySilences(ctx, p, f.ID)
	if err == nil && slices.Contains(missing, model.ShardOf(f.ID, c.backend.Shards())) {
		err = ErrUnavailable
	}
	var sv model.SilenceView
	if err == nil {
		history := make([]access.Interval, 0, len(sils))
		for _, s := range sils {
			history = append(history, access.Interval{Start: s.Start, End: s.Effective()})
		}
		if err = c.kit.Silences.Check(p, req, history); err == nil {
			sv, err = c.backend.Silence(ctx, f.ID, req.Start, req.End, req.Reason, actor(p))
		}
	}
	res := resultOf(err)
	c.count("silence", res)
	c.audit(p, audit.ActionSilenceAdd, f.ID, f.Region, sv.ID, map[string]any{"start": req.Start.UTC().Format(time.RFC3339),
		"end": req.End.UTC().Format(time.RFC3339), "reason": req.Reason, "outcome": res, "via": via})
	return sv, err
}

// endSilence ends silence id of f now, at its owner.
func (c *Console) endSilence(ctx context.Context, p access.Principal, f *registry.Facility, id, via string) (model.SilenceView, error) {
	sv, err := c.backend.Unsilence(ctx, f.ID, id, actor(p))
	res := resultOf(err)
	c.count("unsilence", res)
	c.audit(p, audit.ActionSilenceEnd, f.ID, f.Region, id, map[string]any{"outcome": res, "via": via, "end": c.now().UTC().Format(time.RFC3339)})
	return sv, err
}

// facilitySilences are the silences of one facility from the instances,
// and the instances that did not answer.
func (c *Console) facilitySilences(ctx context.Context, p access.Principal, id string) ([]model.SilenceView, []int, error) {
	sils, missing, err := c.backend.Silences(ctx, Scope{Facilities: []string{id}}, actor(p))
	out := []model.SilenceView{}
	for _, s := range sils {
		if s.Facility == id {
			out = append(out, s)
		}
	}
	return out, missing, err
}
