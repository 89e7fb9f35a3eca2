package regmetrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cradlewatch/cradlewatch/registry"
)

func TestRegister(t *testing.T) {
	f, err := registry.Parse("mem", []byte("facility: {id: f-1, name: 园, region: \"110105001\"}\ngateways: [gw-1]\n"))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if err := Register(reg, registry.Fixed(f)); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP cw_registry_facilities Facilities in the current registry snapshot.
# TYPE cw_registry_facilities gauge
cw_registry_facilities 1
# HELP cw_registry_rejected_total Registry records refused (invalid, or claiming another record's facility or gateway ID); each version counted once. The last good version stays in force.
# TYPE cw_registry_rejected_total counter
cw_registry_rejected_total 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "cw_registry_facilities", "cw_registry_rejected_total"); err != nil {
		t.Fatal(err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %v", problems, err)
	}
}
