package chaos

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/internal/influxd"
	"github.com/cradlewatch/cradlewatch/internal/testenv"
)

// TestChaos runs the whole system for three minutes (CW_CHAOS_DURATION to
// change it) under a load of numbered readings and a schedule that covers
// every kind of fault at least once (CW_CHAOS_SEED chooses it), and fails
// on any accepted reading lost, duplicated or re-dated, a scripted alert
// not notified or notified twice beyond the documented case, and a hostile
// act that got through. It is what `make chaos` runs, shorter.
func TestChaos(t *testing.T) {
	testenv.MosquittoBinary(t) // skips under -short, fails without mosquitto when integration is required
	testenv.DynsecPlugin(t)
	root, err := influxd.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := influxd.Lookup(root)
	if err != nil && testenv.Required() {
		bin, err = influxd.Binary(t.Context(), root)
	}
	if err != nil {
		if testenv.Required() {
			t.Fatal(err)
		}
		t.Skipf("integration test: %v", err)
	}
	o := Options{Root: root, Influxd: bin, Duration: DefaultDuration, Seed: 1, Out: t.Output(), Dir: t.TempDir()}
	if d, err := time.ParseDuration(os.Getenv("CW_CHAOS_DURATION")); err == nil {
		o.Duration = d
	}
	if s, err := strconv.ParseInt(os.Getenv("CW_CHAOS_SEED"), 10, 64); err == nil {
		o.Seed = s
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := c.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range rep.Missed {
		if k == SpoolFull && os.Geteuid() != 0 {
			t.Logf("%s did not run: mounting a tmpfs needs root", k)
			continue
		}
		t.Errorf("fault %s did not run", k)
	}
	if rep.Failed() {
		t.Fatal(rep.Err())
	}
}
