package rules

import (
	"time"

	"github.com/cradlewatch/cradlewatch/model"
)

// RuleInfo is what a message about a rule's alert needs to know of the rule,
// as the rules file defines it (before per-facility overrides): whether
// its value is a single reading, a rolling mean or a rise, and over what
// span.
type RuleInfo struct {
	Type   string        // threshold, absence, gateway, rise or ventilation
	Kind   model.Kind    // the reading kind the rule reads; KindUnknown for absence and gateway
	Window time.Duration // a threshold's rolling mean; 0 judges each reading
	For    time.Duration // how long the condition must hold
	Within time.Duration // a rise's span
}

// Info describes the rule named name.
func (rs *RuleSet) Info(name string) (RuleInfo, bool) {
	p := rs.defaults[name]
	if p == nil {
		return RuleInfo{}, false
	}
	out := RuleInfo{Kind: p.kind, Window: time.Duration(p.window), For: time.Duration(p.forD), Within: time.Duration(p.within)}
	for n, t := range ruleTypes {
		if t == p.typ {
			out.Type = n
		}
	}
	return out, true
}
