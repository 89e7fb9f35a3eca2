package access

import (
	"fmt"

	"github.com/cradlewatch/cradlewatch/model"
)

// Role is what a principal is in the supervision chain. Its region level
// is fixed: a street office holds a 9-digit street code, a county, city or
// province health commission a 6-digit code of its level, the platform
// administrator the whole country; an operator holds facilities instead.
type Role string

// The roles. Their powers are in docs/security.md ("What each role may do").
const (
	RoleOperator Role = "operator" // a facility's operator (园长, duty staff): its own facilities
	RoleStreet   Role = "street"   // street or township office (街道/乡镇): its street
	RoleCounty   Role = "county"   // county health commission (县级卫生健康部门): its county
	RoleCity     Role = "city"     // city health commission: its city
	RoleProvince Role = "province" // province health commission: its province
	RoleAdmin    Role = "admin"    // platform administrator: everything, nationwide
	RoleAuditor  Role = "auditor"  // read-only auditor: views and the audit trail of its region
)

// Roles lists every role, from the facility up, then the auditor.
var Roles = []Role{RoleOperator, RoleStreet, RoleCounty, RoleCity, RoleProvince, RoleAdmin, RoleAuditor}

// ParseRole reads a role name.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("unknown role %q (want one of operator, street, county, city, province, admin, auditor)", s)
}

// Level is the region level the role's region code must have. The
// operator has none (it holds facilities); the auditor may hold any level,
// reported as LevelNone.
func (r Role) Level() model.RegionLevel {
	switch r {
	case RoleStreet:
		return model.LevelStreet
	case RoleCounty:
		return model.LevelCounty
	case RoleCity:
		return model.LevelCity
	case RoleProvince:
		return model.LevelProvince
	case RoleAdmin:
		return model.LevelCountry
	}
	return model.LevelNone
}

// acts reports whether the role acknowledges and silences: operators and
// the offices above them do; the auditor only reads.
func (r Role) acts() bool {
	switch r {
	case RoleOperator, RoleStreet, RoleCounty, RoleCity, RoleProvince, RoleAdmin:
		return true
	}
	return false
}

// countyOrAbove reports whether the role may set a silence longer than
// SilencePolicy.LongSilence: a county health commission or above.
func (r Role) countyOrAbove() bool {
	switch r {
	case RoleCounty, RoleCity, RoleProvince, RoleAdmin:
		return true
	}
	return false
}
