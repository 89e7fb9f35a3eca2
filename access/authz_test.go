package access

import (
	"errors"
	"testing"

	"github.com/cradlewatch/cradlewatch/model"
)

// The region tree of the tests: two counties of one city, a street in
// each, and a county of another province.
var (
	beijing  = model.MustRegionCode("110000")
	bjCity   = model.MustRegionCode("110100")
	chaoyang = model.MustRegionCode("110105")
	fengtai  = model.MustRegionCode("110106")
	street1  = model.MustRegionCode("110105001")
	street2  = model.MustRegionCode("110105002")
	shanghai = model.MustRegionCode("310104")

	facA = ForFacility("fac-a", "110105001") // Chaoyang, street 1
	facB = ForFacility("fac-b", "110105002") // Chaoyang, street 2
	facC = ForFacility("fac-c", "110106003") // Fengtai
	facD = ForFacility("fac-d", "310104004") // Shanghai
	facX = ForFacility("fac-x", "")          // not registered
)

func person(role Role, region model.RegionCode, facilities ...string) Principal {
	return Principal{Kind: KindPerson, ID: string(role) + "-1", Name: string(role), Role: role, Region: region, Facilities: facilities}
}

var (
	operator = person(RoleOperator, model.RegionCode{}, "fac-a")
	streetP  = person(RoleStreet, street1)
	countyP  = person(RoleCounty, chaoyang)
	cityP    = person(RoleCity, bjCity)
	province = person(RoleProvince, beijing)
	admin    = person(RoleAdmin, model.Nationwide())
	auditor  = person(RoleAuditor, model.Nationwide())
	auditorC = person(RoleAuditor, chaoyang)
)

func TestAuthorizeBoundaries(t *testing.T) {
	type row struct {
		name  string
		p     Principal
		a     Action
		t     Target
		allow bool
	}
	rows := []row{
		// Operators: their own facilities, nothing else.
		{"operator views own facility", operator, ActionView, facA, true},
		{"operator acknowledges own facility", operator, ActionAcknowledge, facA, true},
		{"operator silences own facility", operator, ActionSilence, facA, true},
		{"operator: another facility's alert, same street", operator, ActionView, facB, false},
		{"operator: acknowledge another facility", operator, ActionAcknowledge, facB, false},
		{"operator: another county", operator, ActionView, facC, false},
		{"operator: a region list, even its own street", operator, ActionView, ForRegion(street1), false},
		{"operator: administer", operator, ActionAdminister, ForRegion(street1), false},
		{"operator: facility named like its own but other region", operator, ActionView, ForFacility("fac-a ", "110105001"), false},

		// A street sees its street.
		{"street views its facility", streetP, ActionView, facA, true},
		{"street acknowledges in its street", streetP, ActionAcknowledge, facA, true},
		{"street: the next street", streetP, ActionView, facB, false},
		{"street: its own list", streetP, ActionView, ForRegion(street1), true},
		{"street: its county's list", streetP, ActionView, ForRegion(chaoyang), false},
		{"street: another street's list", streetP, ActionView, ForRegion(street2), false},
		{"street: unregistered facility", streetP, ActionView, facX, false},

		// A county sees its county.
		{"county views street 1", countyP, ActionView, facA, true},
		{"county views street 2", countyP, ActionView, facB, true},
		{"county silences in its county", countyP, ActionSilence, facB, true},
		{"county: another county's alert", countyP, ActionView, facC, false},
		{"county: acknowledge in another county", countyP, ActionAcknowledge, facC, false},
		{"county: another county's list", countyP, ActionView, ForRegion(fengtai), false},
		{"county: its city's list", countyP, ActionView, ForRegion(bjCity), false},
		{"county: a street list inside it", countyP, ActionView, ForRegion(street2), true},
		{"county: another province", countyP, ActionView, facD, false},
		{"county: acknowledge a region", countyP, ActionAcknowledge, ForRegion(chaoyang), false},
		{"county: administer", countyP, ActionAdminister, ForRegion(chaoyang), false},

		// City and province.
		{"city views both counties", cityP, ActionView, facC, true},
		{"city: other province", cityP, ActionView, facD, false},
		{"city: province list", cityP, ActionView, ForRegion(beijing), false},
		{"province views its county list", province, ActionView, ForRegion(fengtai), true},
		{"province acknowledges", province, ActionAcknowledge, facC, true},
		{"province: other province list", province, ActionView, ForRegion(shanghai), false},

		// Admin: everything.
		{"admin views anything", admin, ActionView, facD, true},
		{"admin views unregistered", admin, ActionView, facX, true},
		{"admin administers", admin, ActionAdminister, ForRegion(model.Nationwide()), true},
		{"admin acknowledges", admin, ActionAcknowledge, facC, true},

		// The auditor reads and never acts.
		{"auditor views", auditor, ActionView, facD, true},
		{"auditor views the country", auditor, ActionView, ForRegion(model.Nationwide()), true},
		{"auditor may not acknowledge", auditor, ActionAcknowledge, facA, false},
		{"auditor may not silence", auditor, ActionSilence, facA, false},
		{"auditor may not administer", auditor, ActionAdminister, ForRegion(chaoyang), false},
		{"county auditor: inside", auditorC, ActionView, facB, true},
		{"county auditor: outside", auditorC, ActionView, facC, false},

		// Malformed principals and targets get nothing.
		{"no role", Principal{Kind: KindPerson, ID: "x"}, ActionView, facA, false},
		{"county role with a street code", person(RoleCounty, street1), ActionView, facA, false},
		{"street role with a county code", person(RoleStreet, chaoyang), ActionView, facA, false},
		{"province role with a city code", person(RoleProvince, bjCity), ActionView, facA, false},
		{"admin with a region", person(RoleAdmin, chaoyang), ActionView, facA, false},
		{"operator without facilities", person(RoleOperator, model.RegionCode{}), ActionView, facA, false},
		{"operator with a region too", person(RoleOperator, chaoyang, "fac-a"), ActionView, facA, false},
		{"county with facilities too", person(RoleCounty, chaoyang, "fac-c"), ActionView, facC, false},
		{"unknown action", countyP, Action("delete"), facA, false},
		{"empty target", countyP, ActionView, Target{}, false},
		{"both facility and region", countyP, ActionView, Target{Facility: "fac-a", Region: "110105001", Code: chaoyang}, false},
		{"zero region code", countyP, ActionView, ForRegion(model.RegionCode{}), false},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			err := Authorize(r.p, r.a, r.t)
			if r.allow && err != nil {
				t.Fatalf("denied: %v", err)
			}
			if !r.allow {
				if err == nil {
					t.Fatal("allowed")
				}
				if !errors.Is(err, ErrDenied) {
					t.Fatalf("error %v does not match ErrDenied", err)
				}
			}
		})
	}
}

func TestTokenActionsNarrow(t *testing.T) {
	tok := countyP
	tok.Kind, tok.ID = KindToken, "tok1"
	tok.Actions = []Action{ActionView}
	if err := Authorize(tok, ActionView, facA); err != nil {
		t.Fatal(err)
	}
	if err := Authorize(tok, ActionAcknowledge, facA); !errors.Is(err, ErrDenied) {
		t.Fatalf("view-only token acknowledged: %v", err)
	}
	// Actions never widen: an auditor token "allowed" to acknowledge still cannot.
	at := auditor
	at.Actions = []Action{ActionView, ActionAcknowledge}
	if err := Authorize(at, ActionAcknowledge, facA); !errors.Is(err, ErrDenied) {
		t.Fatalf("auditor token acknowledged: %v", err)
	}
	bad := countyP
	bad.Actions = []Action{"everything"}
	if err := Authorize(bad, ActionView, facA); !errors.Is(err, ErrDenied) {
		t.Fatalf("unknown action in a token: %v", err)
	}
}

func TestCanGrant(t *testing.T) {
	narrow := person(RoleCounty, chaoyang)
	narrow.Kind, narrow.Actions = KindToken, []Action{ActionView}
	viewOnlyToken := narrow
	ackToken := person(RoleCounty, chaoyang)
	ackToken.Actions = []Action{ActionAcknowledge}
	cases := []struct {
		name    string
		grantor Principal
		p       Principal
		allow   bool
	}{
		{"admin grants a county", admin, person(RoleCounty, fengtai), true},
		{"admin grants an admin", admin, person(RoleAdmin, model.Nationwide()), true},
		{"admin grants nonsense", admin, person(RoleCounty, street1), false},
		{"county: token for itself", countyP, person(RoleCounty, chaoyang), true},
		{"county: token for another county", countyP, person(RoleCounty, fengtai), false},
		{"county: a street role", countyP, person(RoleStreet, street1), false},
		{"county: an admin", countyP, person(RoleAdmin, model.Nationwide()), false},
		{"operator: own facility", operator, person(RoleOperator, model.RegionCode{}, "fac-a"), true},
		{"operator: another facility", operator, person(RoleOperator, model.RegionCode{}, "fac-a", "fac-b"), false},
		{"view-only token widens to all actions", viewOnlyToken, person(RoleCounty, chaoyang), false},
		{"view-only token stays view-only", viewOnlyToken, narrow, true},
		{"ack token asks for view", ackToken, viewOnlyToken, false},
		{"auditor grants itself", auditor, person(RoleAuditor, chaoyang), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := CanGrant(c.grantor, c.p)
			if c.allow != (err == nil) {
				t.Fatalf("allow %v, got %v", c.allow, err)
			}
			if err != nil && !errors.Is(err, ErrDenied) {
				t.Fatalf("%v is not ErrDenied", err)
			}
		})
	}
}

func TestScope(t *testing.T) {
	if s := operator.Scope(); len(s.Facilities) != 1 || !s.Region.IsZero() {
		t.Fatalf("operator scope %+v", s)
	}
	if s := countyP.Scope(); s.Region != chaoyang || s.Facilities != nil {
		t.Fatalf("county scope %+v", s)
	}
	if operator.Actor() != "person:operator-1" {
		t.Fatal(operator.Actor())
	}
}
