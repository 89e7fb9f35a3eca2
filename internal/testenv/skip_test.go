package testenv

import (
	"errors"
	"testing"
)

// recorder is a testing.TB that records Skipf and Fatalf instead of ending
// the test, so the skipping rule can be checked both ways.
type recorder struct {
	testing.TB
	skipped, failed bool
}

func (r *recorder) Helper()               {}
func (r *recorder) Skipf(string, ...any)  { r.skipped = true }
func (r *recorder) Fatalf(string, ...any) { r.failed = true }

func TestMissing(t *testing.T) {
	tests := []struct {
		require             string
		wantSkip, wantFatal bool
	}{
		{require: "", wantSkip: true},
		{require: "0", wantSkip: true},
		{require: "1", wantFatal: true},
	}
	for _, tt := range tests {
		t.Run("require="+tt.require, func(t *testing.T) {
			t.Setenv(EnvRequire, tt.require)
			r := &recorder{TB: t}
			missing(r, "mosquitto", errors.New("not found"))
			if r.skipped != tt.wantSkip || r.failed != tt.wantFatal {
				t.Errorf("skipped=%v failed=%v, want %v %v", r.skipped, r.failed, tt.wantSkip, tt.wantFatal)
			}
		})
	}
}
