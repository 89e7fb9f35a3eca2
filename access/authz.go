package access

import (
	"errors"
	"fmt"
	"slices"

	"github.com/cradlewatch/cradlewatch/model"
)

// Action is what a principal wants to do to a target.
type Action string

// Actions.
const (
	ActionView        Action = "view"        // see a facility, its alerts and history, or a region's list
	ActionAcknowledge Action = "acknowledge" // acknowledge an alert (stops escalation)
	ActionSilence     Action = "silence"     // add or end a maintenance window
	ActionAdminister  Action = "administer"  // accounts, roles, tokens
)

// Actions lists every action.
var Actions = []Action{ActionView, ActionAcknowledge, ActionSilence, ActionAdminister}

// ParseAction reads an action name.
func ParseAction(s string) (Action, error) {
	for _, a := range Actions {
		if string(a) == s {
			return a, nil
		}
	}
	return "", fmt.Errorf("unknown action %q (want view, acknowledge, silence or administer)", s)
}

// ErrDenied is what every refusal of Authorize and SilencePolicy.Check
// matches with errors.Is. The HTTP layer answers 403 and logs the reason;
// the client sees no more than "forbidden".
var ErrDenied = errors.New("access denied")

// Denied is a refusal with its reason, for logs and the audit trail.
type Denied struct {
	Actor  string
	Action Action
	Reason string
}

func (d *Denied) Error() string {
	return fmt.Sprintf("access denied: %s may not %s: %s", d.Actor, d.Action, d.Reason)
}

// Is makes errors.Is(err, ErrDenied) hold.
func (d *Denied) Is(target error) bool { return target == ErrDenied }

// Target is what an action is about: one facility with the region it is
// registered under, or a region (a list, a report).
type Target struct {
	Facility string
	Region   model.Region // the facility's registered 9-digit street code
	Code     model.RegionCode
}

// ForFacility targets one facility. region must come from the registry
// (the facility file), never from the request or the gateway.
func ForFacility(id string, region model.Region) Target {
	return Target{Facility: id, Region: region}
}

// ForRegion targets a region: a list of alerts or facilities, a report.
func ForRegion(code model.RegionCode) Target { return Target{Code: code} }

// Authorize decides whether p may do a to t. It returns nil or a *Denied
// (errors.Is(err, ErrDenied)). The rules:
//
//   - view: an operator its own facilities; an office, the admin and the
//     auditor what lies in their region (a street its street, a county its
//     county); a region target only if their region covers it.
//   - acknowledge, silence: as view, but never the auditor, and only on a
//     facility (a silence also passes SilencePolicy.Check).
//   - administer: the platform administrator only.
//
// A token's Actions narrow this further. An invalid principal gets nothing.
func Authorize(p Principal, a Action, t Target) error {
	deny := func(format string, args ...any) error {
		return &Denied{Actor: p.Actor(), Action: a, Reason: fmt.Sprintf(format, args...)}
	}
	if err := p.Validate(); err != nil {
		return deny("invalid principal: %v", err)
	}
	if _, err := ParseAction(string(a)); err != nil {
		return deny("%v", err)
	}
	if len(p.Actions) > 0 && !slices.Contains(p.Actions, a) {
		return deny("the credential is limited to %v", p.Actions)
	}
	facility := t.Facility != ""
	if facility && !t.Code.IsZero() {
		return deny("a target is a facility or a region, not both")
	}
	if !facility && t.Code.IsZero() {
		return deny("no target")
	}
	switch a {
	case ActionAdminister:
		if p.Role != RoleAdmin {
			return deny("only the platform administrator administers")
		}
		return nil
	case ActionAcknowledge, ActionSilence:
		if !p.Role.acts() {
			return deny("role %s is read-only", p.Role)
		}
		if !facility {
			return deny("%s needs a facility", a)
		}
	}
	if facility {
		return p.inScope(t, deny)
	}
	if p.Role == RoleOperator {
		return deny("an operator sees its facilities, not region %s", describe(t.Code))
	}
	if !p.Region.Covers(t.Code) {
		return deny("region %s is outside %s", describe(t.Code), describe(p.Region))
	}
	return nil
}

func (p Principal) inScope(t Target, deny func(string, ...any) error) error {
	if p.Role == RoleOperator {
		if !p.OwnsFacility(t.Facility) {
			return deny("facility %s is not one of the operator's", t.Facility)
		}
		return nil
	}
	if !p.Region.Contains(t.Region) {
		return deny("facility %s (region %q) is outside %s", t.Facility, t.Region, describe(p.Region))
	}
	return nil
}

// CanGrant reports whether grantor may give a principal the role and scope
// of p (create an account or issue a token for it): the administrator may
// grant anything valid; anyone else only a token for themselves, no wider
// than their own scope and actions. That keeps a leaked console session
// from minting a wider credential.
func CanGrant(grantor, p Principal) error {
	deny := func(format string, args ...any) error {
		return &Denied{Actor: grantor.Actor(), Action: ActionAdminister, Reason: fmt.Sprintf(format, args...)}
	}
	if err := p.Validate(); err != nil {
		return deny("invalid grant: %v", err)
	}
	if err := grantor.Validate(); err != nil {
		return deny("invalid grantor: %v", err)
	}
	if grantor.Role == RoleAdmin {
		return nil
	}
	if p.Role != grantor.Role {
		return deny("may not grant role %s", p.Role)
	}
	if p.Role == RoleOperator {
		for _, f := range p.Facilities {
			if !grantor.OwnsFacility(f) {
				return deny("facility %s is not the grantor's", f)
			}
		}
	} else if !grantor.Region.Covers(p.Region) {
		return deny("region %s is outside %s", describe(p.Region), describe(grantor.Region))
	}
	if len(grantor.Actions) > 0 {
		if len(p.Actions) == 0 {
			return deny("the grantor's credential is limited to %v", grantor.Actions)
		}
		for _, a := range p.Actions {
			if !slices.Contains(grantor.Actions, a) {
				return deny("the grantor may not %s", a)
			}
		}
	}
	return nil
}
