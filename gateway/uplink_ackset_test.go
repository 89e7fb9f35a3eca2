package gateway

import (
	"slices"
	"testing"
)

func TestAckSet(t *testing.T) {
	tests := []struct {
		name     string
		add      []indexRange
		want     []indexRange // the set after adding, before advancing
		base     uint64
		wantBase uint64
		left     []indexRange // the set after advancing
	}{
		{name: "empty", base: 5, wantBase: 5},
		{name: "prefix", add: []indexRange{{5, 10}}, want: []indexRange{{5, 10}}, base: 5, wantBase: 10},
		{name: "gap before", add: []indexRange{{6, 10}}, want: []indexRange{{6, 10}}, base: 5, wantBase: 5, left: []indexRange{{6, 10}}},
		{name: "touching merge", add: []indexRange{{10, 20}, {5, 10}, {20, 30}}, want: []indexRange{{5, 30}}, base: 5, wantBase: 30},
		{name: "out of order with hole", add: []indexRange{{30, 40}, {10, 20}, {5, 10}}, want: []indexRange{{5, 20}, {30, 40}},
			base: 5, wantBase: 20, left: []indexRange{{30, 40}}},
		{name: "hole filled last", add: []indexRange{{30, 40}, {5, 10}, {10, 20}, {20, 30}}, want: []indexRange{{5, 40}}, base: 5, wantBase: 40},
		{name: "overlap and inside", add: []indexRange{{10, 20}, {12, 15}, {15, 25}, {1, 11}}, want: []indexRange{{1, 25}}, base: 1, wantBase: 25},
		{name: "spanning several", add: []indexRange{{10, 12}, {14, 16}, {18, 20}, {11, 19}}, want: []indexRange{{10, 20}}, base: 3, wantBase: 3,
			left: []indexRange{{10, 20}}},
		{name: "below base", add: []indexRange{{1, 4}, {8, 9}}, want: []indexRange{{1, 4}, {8, 9}}, base: 6, wantBase: 6, left: []indexRange{{8, 9}}},
		{name: "empty range ignored", add: []indexRange{{7, 7}}, base: 7, wantBase: 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s ackSet
			for _, r := range tt.add {
				s.add(r.first, r.end)
			}
			if !slices.Equal(s.r, tt.want) {
				t.Fatalf("set %v, want %v", s.r, tt.want)
			}
			for _, r := range tt.want {
				if !s.contains(r.first, r.end) || !s.contains(r.first, r.first+1) {
					t.Errorf("contains(%v) false", r)
				}
				if s.contains(r.first, r.end+1) {
					t.Errorf("contains(%d, %d) true past the range", r.first, r.end+1)
				}
			}
			if got := s.advance(tt.base); got != tt.wantBase {
				t.Errorf("advance(%d) = %d, want %d", tt.base, got, tt.wantBase)
			}
			if !slices.Equal(s.r, tt.left) {
				t.Errorf("left %v, want %v", s.r, tt.left)
			}
		})
	}
}
