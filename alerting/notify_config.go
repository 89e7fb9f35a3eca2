package alerting

import (
	"fmt"
	"maps"
	"slices"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/internal/config"
	"github.com/cradlewatch/cradlewatch/registry"
)

// operatorContacts are a facility's registered operators as contacts of
// the notification path, with stable ids (<facility>/op<n>) and every
// channel the registry lists for them.
func operatorContacts(f *registry.Facility) []notify.Contact {
	out := make([]notify.Contact, 0, len(f.Operators))
	for i, op := range f.Operators {
		out = append(out, notify.Contact{
			ID: fmt.Sprintf("%s/op%d", f.ID, i), Name: op.Name, Phone: op.Phone, Email: op.Email,
			DingTalk: op.DingTalk, WeCom: op.WeCom, Webhook: op.Webhook,
		})
	}
	return out
}

// withFacilityOperators returns dir with the operators of the facility
// files for every facility dir does not list itself (the notify
// section's directory.operators wins for a facility it names).
func withFacilityOperators(dir notify.Directory, facs []*registry.Facility) notify.Directory {
	ops := make(map[string][]notify.Contact, len(dir.Operators)+len(facs))
	for id, cs := range dir.Operators {
		ops[id] = cs
	}
	for _, f := range facs {
		if _, ok := ops[f.ID]; !ok && len(f.Operators) > 0 {
			ops[f.ID] = operatorContacts(f)
		}
	}
	dir.Operators = ops
	return dir
}

// checkNotifyRules fails for a rule named in the notify section that the
// rules file does not define: a misspelt group_wait_rules key would
// otherwise be ignored silently.
func checkNotifyRules(cfg Config, rs *rules.RuleSet) error {
	for _, rule := range slices.Sorted(maps.Keys(cfg.Notify.GroupWaitRules)) {
		if !slices.Contains(rs.Names(), rule) {
			return config.Errorf("notify.group_wait_rules."+rule, "no rule %q in %s", rule, cfg.Rules)
		}
	}
	return nil
}
