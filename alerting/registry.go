package alerting

import (
	"errors"
	"fmt"
	"time"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/internal/config"
	"github.com/cradlewatch/cradlewatch/model"
	"github.com/cradlewatch/cradlewatch/registry"
)

// CheckFacility is the registry check of the alerting service: a record
// whose opening hours the rule set cannot read is refused (at start-up the
// service stops; on reload the record keeps its last good version).
func CheckFacility(rs *rules.RuleSet) func(*registry.Facility) error {
	return func(f *registry.Facility) error {
		if _, err := rs.Calendar(f.ID, f.Region, f.Location, f.OpeningHours); err != nil {
			return config.Errorf("facility.opening_hours", "%v", err)
		}
		return nil
	}
}

// engineFacility is what the rule engine is told about a facility.
func engineFacility(f *registry.Facility) rules.Facility {
	return rules.Facility{Facility: f.Facility, OpeningHours: f.OpeningHours, Gateways: f.Gateways}
}

// syncRegistry brings the engine to the registry's current snapshot: a
// facility registered while the service runs is added, a changed record is
// applied (rules.Engine.UpdateFacility: what still exists keeps its state,
// what no longer does is resolved), a facility no longer registered is
// removed. It runs on the engine's goroutine (and in New, where it only
// adds). Facilities of other shards are not this instance's; a change of
// the shard count needs a restart (docs/alerting.md, "Sharding").
func (s *Service) syncRegistry() error {
	snap := s.reg.Snapshot()
	if snap.Generation() == s.regGen {
		return nil
	}
	if s.applied == nil {
		s.applied = map[string]*registry.Facility{}
	}
	var errs []error
	for _, f := range snap.Facilities() {
		if rules.ShardOf(f.ID, s.cfg.Shard.Count) != s.cfg.Shard.Index {
			continue
		}
		switch prev := s.applied[f.ID]; {
		case !s.added[f.ID]:
			s.deregistered.Delete(f.ID) // registered again
			if err := s.engine.AddFacility(engineFacility(f)); err != nil {
				s.m.registryChanges.WithLabelValues("failed").Inc()
				errs = append(errs, fmt.Errorf("alerting: facility %s (%s): %w", f.ID, f.Origin, err))
				continue
			}
			s.added[f.ID] = true
			s.m.registryChanges.WithLabelValues("added").Inc()
		case prev != f:
			trs, err := s.engine.UpdateFacility(engineFacility(f))
			if err != nil {
				// The engine keeps the record it has: as the registry keeps a
				// refused record's last good version.
				s.m.registryChanges.WithLabelValues("failed").Inc()
				errs = append(errs, fmt.Errorf("alerting: facility %s (%s): %w", f.ID, f.Origin, err))
				continue
			}
			s.m.registryChanges.WithLabelValues("updated").Inc()
			s.applyRegistry(trs)
		}
		s.applied[f.ID] = f
	}
	for id := range s.added {
		if snap.Facility(id) == nil {
			// Its last record stays known to the notification path, so
			// the resolutions of its alerts reach those who were told.
			s.deregistered.Store(id, s.applied[id])
			s.applyRegistry(s.engine.RemoveFacility(id))
			delete(s.added, id)
			delete(s.applied, id)
			s.m.registryChanges.WithLabelValues("removed").Inc()
			s.log.Info("registry: facility no longer registered; its alerts end", "facility", id)
		}
	}
	// A record the engine refused is tried again at the next change, not at
	// every tick: its error is logged once.
	s.regGen = snap.Generation()
	return errors.Join(errs...)
}

// applyRegistry records the transitions of a registry change (and
// notifies the ones to notify). In New, before the state store is open,
// there are none: the engine has nothing to end yet.
func (s *Service) applyRegistry(trs []rules.Transition) {
	if len(trs) == 0 {
		return
	}
	if s.store == nil {
		s.log.Error("registry change with transitions before the state store is open; not recorded", "transitions", len(trs))
		return
	}
	s.apply(trs, time.Time{})
}

// retireUnlisted ends the restored alerts of devices, gateways and rooms
// the registry dropped while the service was down.
func (s *Service) retireUnlisted() {
	if trs := s.engine.RetireUnlisted(); len(trs) > 0 {
		s.log.Info("restored alerts of what the registry no longer lists end", "alerts", len(trs))
		s.applyRegistry(trs)
	}
}

// keepRegistered drops the readings of devices the facility does not list
// (counted by reason) and gives the others the registry's room.
func (s *Service) keepRegistered(b *model.Batch, snap *registry.Snapshot, f *registry.Facility) {
	kept := b.Readings[:0]
	for _, r := range b.Readings {
		d := f.Device(r.Device)
		if d == nil {
			reason := model.RejectUnregisteredDevice
			if snap.DeviceElsewhere(f.ID, r.Device) {
				reason = model.RejectForeignDevice
			}
			s.m.readingsRejected.WithLabelValues(reason).Inc()
			continue
		}
		r.Room = d.Room
		kept = append(kept, r)
	}
	b.Readings = kept
}

// facility is the registry's current record of a facility, or the
// platform's pseudo-facility for platform alerts (no region, no rooms). A
// facility the registry dropped while this service ran keeps its last
// record here, so that the resolutions of its alerts still name it and
// reach its operators.
func (s *Service) facility(id string) *registry.Facility {
	if id == s.cfg.Platform.ID {
		return s.platform
	}
	if f := s.reg.Snapshot().Facility(id); f != nil {
		return f
	}
	if f, ok := s.deregistered.Load(id); ok {
		return f.(*registry.Facility)
	}
	return nil
}

// operators are a facility's operators as notification contacts, read from
// the registry's current snapshot; the platform's are platform.contacts.
func (s *Service) operators(facility string) []notify.Contact {
	if facility == s.cfg.Platform.ID {
		return append([]notify.Contact(nil), s.cfg.Platform.Contacts...)
	}
	f := s.facility(facility)
	if f == nil {
		return nil
	}
	return operatorContacts(f)
}

// operatorDirectory is the notify directory's operators with today's
// registry filled in for the facilities it does not list, for deciding
// which channels need a notifier.
func (s *Service) operatorDirectory() map[string][]notify.Contact {
	out := map[string][]notify.Contact{}
	for id, cs := range s.cfg.Notify.Directory.Operators {
		out[id] = cs
	}
	for _, f := range s.reg.Snapshot().Facilities() {
		if _, ok := out[f.ID]; !ok {
			out[f.ID] = s.operators(f.ID)
		}
	}
	return out
}
