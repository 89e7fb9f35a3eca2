package model

import (
	"fmt"
	"strings"
)

// RegionLevel is a level of the administrative division tree that a
// regulator supervises: the country, a province, a city (prefecture), a
// county (district) or a street (township). Its String is also the InfluxDB
// tag that carries the facility's code at that level (TagProvince ...).
type RegionLevel int

// Levels, from the root down.
const (
	LevelNone     RegionLevel = iota // not a level: the zero value grants nothing
	LevelCountry                     // the whole country: platform administrators, auditors
	LevelProvince                    // 省级卫生健康委
	LevelCity                        // 市级卫生健康委
	LevelCounty                      // 县级卫生健康部门: registers facilities (备案)
	LevelStreet                      // 街道/乡镇: daily supervision (属地管理)
)

// String names the level; for province to street it is the region tag name.
func (l RegionLevel) String() string {
	switch l {
	case LevelCountry:
		return "country"
	case LevelProvince:
		return "province"
	case LevelCity:
		return "city"
	case LevelCounty:
		return "county"
	case LevelStreet:
		return "street"
	}
	return "none"
}

// prefixLen is how many leading digits of a 9-digit street code are
// significant at the level.
func (l RegionLevel) prefixLen() int {
	switch l {
	case LevelProvince:
		return 2
	case LevelCity:
		return 4
	case LevelCounty:
		return 6
	case LevelStreet:
		return 9
	}
	return 0
}

// RegionCode names one node of the division tree: a 6-digit GB/T 2260 code
// (province "110000", city "110100", county "110105"), a 9-digit street code
// ("110105001"), or the whole country (Nationwide). It is the one place
// where CradleWatch decides what a code covers: the alerting API's region
// filter, the roles of the access package, the console, the InfluxQL proxy
// and the monthly report all ask it. The zero value covers nothing.
type RegionCode struct {
	code  string
	level RegionLevel
}

// Nationwide is the root of the tree: every facility.
func Nationwide() RegionCode { return RegionCode{level: LevelCountry} }

// ParseRegionCode reads a 6-digit division code or a 9-digit street code.
// A 6-digit code ending in 0000 is a province, one ending in 00 a city,
// any other a county (GB/T 2260).
func ParseRegionCode(s string) (RegionCode, error) {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return RegionCode{}, fmt.Errorf("region code %q must be digits only", s)
		}
	}
	switch {
	case len(s) == 9:
		return RegionCode{code: s, level: LevelStreet}, nil
	case len(s) != 6:
		return RegionCode{}, fmt.Errorf("region code %q must be a 6-digit division code (province, city or county, GB/T 2260) or a 9-digit street code", s)
	case s[:2] == "00":
		return RegionCode{}, fmt.Errorf("region code %q has no province", s)
	case s[2:] == "0000":
		return RegionCode{code: s, level: LevelProvince}, nil
	case s[4:] == "00":
		return RegionCode{code: s, level: LevelCity}, nil
	}
	return RegionCode{code: s, level: LevelCounty}, nil
}

// MustRegionCode is ParseRegionCode for constants in tests and defaults.
func MustRegionCode(s string) RegionCode {
	c, err := ParseRegionCode(s)
	if err != nil {
		panic(err)
	}
	return c
}

// String is the code as written ("110105"); "" for the country and the
// zero value.
func (c RegionCode) String() string { return c.code }

// Level is the code's level; LevelNone for the zero value.
func (c RegionCode) Level() RegionLevel { return c.level }

// IsZero reports the zero value, which covers nothing.
func (c RegionCode) IsZero() bool { return c.level == LevelNone }

// Prefix is the significant prefix of the street codes the code covers:
// "11" for 110000, "1101" for 110100, "110105", the street code itself,
// and "" for the country.
func (c RegionCode) Prefix() string { return c.code[:c.level.prefixLen()] }

// Contains reports whether the facility region r (a 9-digit street code)
// lies under c.
func (c RegionCode) Contains(r Region) bool {
	switch c.level {
	case LevelNone:
		return false
	case LevelCountry:
		return true
	}
	return len(r) == 9 && strings.HasPrefix(string(r), c.Prefix())
}

// Covers reports whether every facility under o is also under c.
func (c RegionCode) Covers(o RegionCode) bool {
	switch {
	case c.level == LevelNone || o.level == LevelNone:
		return false
	case c.level == LevelCountry:
		return true
	case o.level == LevelCountry || o.level < c.level:
		return false
	}
	return strings.HasPrefix(o.code, c.Prefix())
}

// Tag is the InfluxDB tag and value that select the code's facilities
// (county = '110105'); ok is false for the country, which needs no
// condition, and for the zero value.
func (c RegionCode) Tag() (name, value string, ok bool) {
	if c.level < LevelProvince {
		return "", "", false
	}
	return c.level.String(), c.code, true
}

// Code is the facility region's node at level l: its province, city,
// county or street, or Nationwide.
func (r Region) Code(l RegionLevel) RegionCode {
	switch l {
	case LevelCountry:
		return Nationwide()
	case LevelProvince:
		return RegionCode{code: r.Province(), level: l}
	case LevelCity:
		return RegionCode{code: r.City(), level: l}
	case LevelCounty:
		return RegionCode{code: r.County(), level: l}
	case LevelStreet:
		return RegionCode{code: r.Street(), level: l}
	}
	return RegionCode{}
}
