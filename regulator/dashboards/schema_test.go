package dashboards

import (
	"errors"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/cradlewatch/cradlewatch/regulator/internal/seed"
)

// TestDashboardsFollowGrafanaSchema reads every generated dashboard back
// with the SDK's strict decoder (unknown or mistyped fields are errors)
// and runs its schema validation.
func TestDashboardsFollowGrafanaSchema(t *testing.T) {
	plugins.RegisterDefaultPlugins()
	files, err := Render(seed.Rules(t))
	if err != nil {
		t.Fatal(err)
	}
	for name, raw := range files {
		var d dashboard.Dashboard
		// The SDK returns a nil cog.BuildErrors inside a non-nil error when
		// all is well: only a non-empty list is a finding.
		if err := d.UnmarshalJSONStrict(raw); err != nil {
			var be cog.BuildErrors
			if errors.As(err, &be) && len(be) == 0 {
				err = nil
			}
			if errors.As(err, &be) {
				for _, e := range be {
					t.Errorf("%s: %s: %s", name, e.Path, e.Message)
				}
			}
			if err != nil {
				t.Errorf("%s: not a Grafana dashboard by the SDK's schema: %v", name, err)
				continue
			}
		}
		if err := d.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
