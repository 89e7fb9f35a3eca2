package model

import "testing"

func TestParseRegionCode(t *testing.T) {
	f := func(in string, level RegionLevel, prefix string) {
		t.Helper()
		c, err := ParseRegionCode(in)
		if level == LevelNone {
			if err == nil {
				t.Errorf("%q: accepted as %v", in, c.Level())
			}
			return
		}
		if err != nil || c.Level() != level || c.Prefix() != prefix || c.String() != in {
			t.Errorf("%q: got %v %q %q %v; want %v %q", in, c.Level(), c.Prefix(), c.String(), err, level, prefix)
		}
	}
	f("110000", LevelProvince, "11")
	f("110100", LevelCity, "1101")
	f("110105", LevelCounty, "110105")
	f("110105001", LevelStreet, "110105001")
	f("650102", LevelCounty, "650102")
	f("", LevelNone, "")
	f("11", LevelNone, "")
	f("1101", LevelNone, "")
	f("000000", LevelNone, "")
	f("11010a", LevelNone, "")
	f("110105001001", LevelNone, "")
	f("11010500", LevelNone, "")
	f("1101 5", LevelNone, "")
}

func TestRegionCodeContains(t *testing.T) {
	street := Region("110105001")
	for _, tc := range []struct {
		code string
		want bool
	}{
		{"110000", true}, {"110100", true}, {"110105", true}, {"110105001", true},
		{"110105002", false}, {"110106", false}, {"120000", false}, {"110200", false},
	} {
		if got := MustRegionCode(tc.code).Contains(street); got != tc.want {
			t.Errorf("%s contains %s: %v, want %v", tc.code, street, got, tc.want)
		}
	}
	if !Nationwide().Contains(street) {
		t.Error("the country does not contain a street")
	}
	if (RegionCode{}).Contains(street) {
		t.Error("the zero value grants a street")
	}
	if MustRegionCode("110105").Contains(Region("11010")) {
		t.Error("a malformed facility region is contained")
	}
}

func TestRegionCodeCovers(t *testing.T) {
	county := MustRegionCode("110105")
	if !county.Covers(MustRegionCode("110105001")) || county.Covers(MustRegionCode("110100")) ||
		county.Covers(Nationwide()) || !Nationwide().Covers(county) || (RegionCode{}).Covers(county) ||
		county.Covers(RegionCode{}) || county.Covers(MustRegionCode("110106001")) {
		t.Error("Covers disagrees with the tree")
	}
	if !MustRegionCode("110000").Covers(MustRegionCode("110100")) || MustRegionCode("110100").Covers(MustRegionCode("110000")) {
		t.Error("province and city")
	}
}

func TestRegionCodeTagAndLevels(t *testing.T) {
	r := Region("650102003")
	want := map[RegionLevel][2]string{
		LevelProvince: {"province", "650000"}, LevelCity: {"city", "650100"},
		LevelCounty: {"county", "650102"}, LevelStreet: {"street", "650102003"},
	}
	for l, w := range want {
		name, value, ok := r.Code(l).Tag()
		if !ok || name != w[0] || value != w[1] {
			t.Errorf("%v: %s=%s %v, want %s=%s", l, name, value, ok, w[0], w[1])
		}
		if !r.Code(l).Contains(r) {
			t.Errorf("%v of %s does not contain it", l, r)
		}
	}
	if _, _, ok := Nationwide().Tag(); ok {
		t.Error("the country has a tag condition")
	}
}
