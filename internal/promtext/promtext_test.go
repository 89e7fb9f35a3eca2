package promtext

import (
	"strings"
	"testing"
)

func TestSum(t *testing.T) {
	const page = `# HELP cw_x_total x
# TYPE cw_x_total counter
cw_x_total{outcome="batch",lane="live"} 3
cw_x_total{outcome="batch",lane="urgent"} 2
cw_x_total{outcome="status"} 7
cw_x_total_other 100
cw_y 1.5e+01
`
	tests := []struct {
		name   string
		labels []string
		want   float64
		found  bool
	}{
		{"cw_x_total", nil, 12, true},
		{"cw_x_total", []string{`outcome="batch"`}, 5, true},
		{"cw_x_total", []string{`outcome="batch"`, `lane="urgent"`}, 2, true},
		{"cw_x_total", []string{`outcome="none"`}, 0, false},
		{"cw_y", nil, 15, true},
		{"cw_x", nil, 0, false}, // a prefix of another name is not that name
	}
	for _, tt := range tests {
		got, found, err := Sum(strings.NewReader(page), tt.name, tt.labels...)
		if err != nil || got != tt.want || found != tt.found {
			t.Errorf("Sum(%s, %v) = %v, %v, %v; want %v, %v", tt.name, tt.labels, got, found, err, tt.want, tt.found)
		}
	}
}
