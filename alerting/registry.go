package alerting

import (
	"fmt"

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

// syncRegistry adds the facilities of this shard that the registry lists
// and the engine does not know yet (a facility registered while the
// service runs). It runs on the engine's goroutine (and in New).
func (s *Service) syncRegistry() error {
	snap := s.reg.Snapshot()
	if snap.Generation() == s.regGen {
		return nil
	}
	for _, f := range snap.Facilities() {
		if s.added[f.ID] || rules.ShardOf(f.ID, s.cfg.Shard.Count) != s.cfg.Shard.Index {
			continue
		}
		if err := s.engine.AddFacility(engineFacility(f)); err != nil {
			return fmt.Errorf("alerting: facility %s (%s): %w", f.ID, f.Origin, err)
		}
		s.added[f.ID] = true
	}
	s.regGen = snap.Generation()
	return nil
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
// platform's pseudo-facility for platform alerts (no region, no rooms).
func (s *Service) facility(id string) *registry.Facility {
	if id == s.cfg.Platform.ID {
		return s.platform
	}
	return s.reg.Snapshot().Facility(id)
}

// operators are a facility's operators as notification contacts, read from
// the registry's current snapshot; the platform's are platform.contacts.
func (s *Service) operators(facility string) []notify.Contact {
	if facility == s.cfg.Platform.ID {
		return append([]notify.Contact(nil), s.cfg.Platform.Contacts...)
	}
	f := s.reg.Snapshot().Facility(facility)
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
