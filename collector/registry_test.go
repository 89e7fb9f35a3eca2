package collector

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cradlewatch/cradlewatch/model"
	"github.com/cradlewatch/cradlewatch/registry"
)

// testFacilityYAML is the registry record of the unit tests' facility:
// gateway gw-1, the devices the tests and benchmarks send.
func testFacilityYAML() string {
	var b strings.Builder
	b.WriteString("facility: {id: \"110105001-0001\", name: 园, region: \"110105001\", location: {lat: 39.92, lon: 116.44}}\n")
	b.WriteString("gateways: [gw-1]\nrooms:\n  - {id: infant-1, name: 乳儿班, type: infant}\n")
	for r := range 8 {
		fmt.Fprintf(&b, "  - {id: room-%d, name: 活动室, type: activity}\n", r)
	}
	b.WriteString("devices:\n")
	seen := map[string]bool{}
	dev := func(id, room string) {
		if seen[id] {
			return
		}
		seen[id] = true
		fmt.Fprintf(&b, "  - {id: %s, room: %q, source: s, address: %s}\n", id, room, id)
	}
	dev("door-1", "")
	dev("d", "")
	for i := range 50 {
		dev(fmt.Sprintf("th-%d", i), "infant-1")
	}
	for i := range 40 {
		dev(fmt.Sprintf("th-%02d", i), fmt.Sprintf("room-%d", i/5))
	}
	return b.String()
}

// otherFacilityYAML is a second facility with a device of its own.
const otherFacilityYAML = `facility: {id: "650102001-0001", name: 乌鲁木齐园, region: "650102001"}
gateways: [gw-x]
rooms: [{id: r1, name: 乳儿班, type: infant}]
devices: [{id: th-x, room: r1, source: s, address: x}]
`

func mustParse(name, body string) *registry.Facility {
	f, err := registry.Parse(name, []byte(body))
	if err != nil {
		panic(err)
	}
	return f
}

// testRegistry is built once: the benchmarks' ingesters share it.
var testRegistry = sync.OnceValue(func() *registry.Registry {
	return registry.Fixed(mustParse("test-0001", testFacilityYAML()), mustParse("test-x", otherFacilityYAML))
})

// TestIngestRegistryBound: what the registry does not list for the
// facility is refused, counted by reason and reported in the ack by reason;
// the registered readings of the same batch are stored, under the
// registry's room and region.
func TestIngestRegistryBound(t *testing.T) {
	in := newTestIngester()
	b := &model.Batch{Gateway: "gw-1", Facility: "110105001-0001", Region: "110105001", First: 1, Sent: t0,
		Readings: []model.Reading{
			{Device: "th-1", Room: "room-3", Kind: model.KindTemperature, Time: t0, Value: 23},     // stored in infant-1
			{Device: "th-x", Room: "r1", Kind: model.KindTemperature, Time: t0, Value: 23},         // another facility's device
			{Device: "th-999", Room: "infant-1", Kind: model.KindTemperature, Time: t0, Value: 23}, // listed nowhere
			{Device: "th-2", Kind: model.KindCO2, Time: t0.Add(-2 * 365 * 24 * time.Hour), Value: 800},
			{Device: "th-2", Kind: model.KindCO2, Time: t0, Value: 800},
		},
		Gaps: []model.Gap{{From: t0.Add(-time.Hour), To: t0, Count: 2, Devices: []string{"th-1", "th-x", "ghost"}}},
	}
	var w work
	in.add(&w, batchMsg(b.Facility, b, new(int)))
	want := `temperature,city=110100,county=110105,device=th-1,facility=110105001-0001,province=110000,room=infant-1,street=110105001 value=23 1764118800000
co2,city=110100,county=110105,device=th-2,facility=110105001-0001,province=110000,room=infant-1,street=110105001 value=800 1764118800000
gap,city=110100,county=110105,facility=110105001-0001,gateway=gw-1,province=110000,street=110105001 count=2,from_ms=1764115200000,to_ms=1764118800000,devices="th-1" 1764115200000
`
	if got := string(w.buf); got != want {
		t.Fatalf("lines:\n%s\nwant:\n%s", got, want)
	}
	a := w.pending[0].ack
	if a.Status != model.AckStored || a.Rejected != 3 || a.Rejections[model.RejectForeignDevice] != 1 ||
		a.Rejections[model.RejectUnregisteredDevice] != 1 || a.Rejections[model.RejectTooOld] != 1 {
		t.Fatalf("ack %+v", a)
	}
	for reason, n := range map[string]float64{model.RejectForeignDevice: 1, model.RejectUnregisteredDevice: 3, model.RejectTooOld: 1} {
		if got := testutil.ToFloat64(in.m.rejected.WithLabelValues(reason)); got != n {
			t.Errorf("rejected{%s} = %v, want %v", reason, got, n)
		}
	}
	// th-1 sent as room-3 and th-2 sent without a room: both stored in
	// the registry's infant-1.
	if got := testutil.ToFloat64(in.m.reattributed); got != 2 {
		t.Errorf("reattributed %v, want 2", got)
	}
}

// TestIngestRejectsWholeBatches: a batch from a facility the registry does
// not know, or from a gateway not registered to the facility, stores
// nothing and is told why.
func TestIngestRejectsWholeBatches(t *testing.T) {
	for _, c := range []struct {
		name, facility, gateway string
		region                  model.Region
		reason                  string
	}{
		{"unknown facility", "110105001-0009", "gw-1", "110105001", model.RejectUnknownFacility},
		{"unregistered gateway", "110105001-0001", "gw-invented-17", "110105001", model.RejectUnregisteredGateway},
		{"another facility's gateway", "110105001-0001", "gw-x", "110105001", model.RejectUnregisteredGateway},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := newTestIngester()
			b := &model.Batch{Gateway: c.gateway, Facility: c.facility, Region: c.region, First: 5, Sent: t0,
				Readings: []model.Reading{{Device: "th-1", Kind: model.KindTemperature, Time: t0, Value: 22},
					{Device: "th-2", Kind: model.KindTemperature, Time: t0, Value: 22}}}
			var w work
			in.add(&w, batchMsg(c.facility, b, new(int)))
			if w.lines() != 0 {
				t.Fatalf("stored %q", w.buf)
			}
			a := w.pending[0].ack
			if a.Status != model.AckRejected || a.Reason != c.reason || a.Rejected != 2 || a.Rejections[c.reason] != 2 {
				t.Fatalf("ack %+v", a)
			}
			if got := testutil.ToFloat64(in.m.rejected.WithLabelValues(c.reason)); got != 2 {
				t.Fatalf("rejected{%s} = %v", c.reason, got)
			}
		})
	}
}

// TestStatusTakesRegistryRegionAndCoordinates: a status claiming another
// region and other coordinates is written with the registry's; a status of
// a gateway not registered to the facility is not written at all.
func TestStatusTakesRegistryRegionAndCoordinates(t *testing.T) {
	in := newTestIngester()
	var w work
	status := func(gw string, at time.Time) message {
		st := model.Status{Gateway: gw, Facility: "110105001-0001", Region: "650102001", State: model.GatewayOnline,
			TimeMs: at.UnixMilli(), Lat: 43.8, Lon: 87.6}
		return message{topic: model.Topic(st.Facility, gw, model.SuffixStatus), payload: model.EncodeStatus(st), ack: func() {}}
	}
	in.add(&w, status("gw-1", t0))
	want := "gateway_status,city=110100,county=110105,facility=110105001-0001,gateway=gw-1,province=110000,street=110105001 online=1,spool_depth=0,dropped=0,oldest_unsent_ms=0,unregistered=0,no_device_time=0,rate_limited=0,centre_rejected=0,centre_ignored=0,lat=39.92,lon=116.44 1764118800000\n"
	if got := string(w.buf); got != want {
		t.Fatalf("status line:\n%s\nwant:\n%s", got, want)
	}
	// What the gateway reports of its device times, its rate limit and the
	// centre's refusals is written too: counts, never the names.
	var full work
	msg := status("gw-1", t0)
	st, _ := model.DecodeStatus(msg.payload)
	st.NoDeviceTime, st.RateLimited = []string{"zigbee2mqtt", "json:aircube"}, 17
	st.CentreRejected = map[string]uint64{model.RejectUnregisteredDevice: 40, model.RejectTooOld: 2}
	st.CentreIgnored, st.CentreReportMs = []string{model.RejectRegionMismatch}, t0.UnixMilli()
	msg.payload = model.EncodeStatus(st)
	in.add(&full, msg)
	if got := string(full.buf); !strings.Contains(got, ",no_device_time=2,rate_limited=17,centre_rejected=42,centre_ignored=1,") {
		t.Fatalf("status line with reports:\n%s", got)
	}
	for _, gw := range []string{"gw-invented", "gw-x"} { // unknown, and another facility's
		acked := 0
		msg := status(gw, t0)
		msg.ack = func() { acked++ }
		in.add(&w, msg)
		if acked != 1 || w.lines() != 1 {
			t.Fatalf("%s: acked %d lines %d", gw, acked, w.lines())
		}
	}
	in.add(&w, status("gw-1", t0.Add(-2*365*24*time.Hour)))
	if w.lines() != 1 {
		t.Fatal("a two-year-old status was written")
	}
	if got := testutil.ToFloat64(in.m.statusRejected.WithLabelValues(model.RejectUnregisteredGateway)); got != 2 {
		t.Fatalf("status rejected{unregistered_gateway} = %v", got)
	}
	if got := testutil.ToFloat64(in.m.statusRejected.WithLabelValues(model.RejectTooOld)); got != 1 {
		t.Fatalf("status rejected{too_old} = %v", got)
	}
}

// TestIngestFollowsRegistryReload: a device added to the facility file is
// accepted once the registry reloaded, with no new ingester.
func TestIngestFollowsRegistryReload(t *testing.T) {
	dir := t.TempDir()
	body := testFacilityYAML()
	write := func(s string) {
		if err := os.WriteFile(filepath.Join(dir, "f.yaml.tmp"), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(dir, "f.yaml.tmp"), filepath.Join(dir, "f.yaml")); err != nil {
			t.Fatal(err)
		}
	}
	write(body)
	reg, err := registry.OpenDir(context.Background(), dir, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	in := newTestIngester()
	in.reg = reg
	b := &model.Batch{Gateway: "gw-1", Facility: "110105001-0001", Region: "110105001", First: 1, Sent: t0,
		Readings: []model.Reading{{Device: "co2-new", Kind: model.KindCO2, Time: t0, Value: 900}}}
	var w work
	in.add(&w, batchMsg(b.Facility, b, new(int)))
	if w.lines() != 0 || w.pending[0].ack.Rejections[model.RejectUnregisteredDevice] != 1 {
		t.Fatalf("before: lines %d ack %+v", w.lines(), w.pending[0].ack)
	}
	write(body + "  - {id: co2-new, room: room-2, source: s, address: co2-new}\n")
	if changed, err := reg.Reload(context.Background()); !changed || err != nil {
		t.Fatalf("reload: %v %v", changed, err)
	}
	w.reset()
	in.add(&w, batchMsg(b.Facility, b, new(int)))
	if w.lines() != 1 || w.pending[0].ack.Rejected != 0 || !strings.Contains(string(w.buf), "room=room-2") {
		t.Fatalf("after: %q ack %+v", w.buf, w.pending[0].ack)
	}
}

func TestConfigDefaultsProtectHistory(t *testing.T) {
	c := DefaultConfig()
	if c.Ingest.MaxAge != 30*24*time.Hour || c.Ingest.MaxFutureSkew != 5*time.Minute {
		t.Fatalf("max_age %v max_future_skew %v", c.Ingest.MaxAge, c.Ingest.MaxFutureSkew)
	}
	c.Registry.Dir = ""
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "registry.dir") {
		t.Fatalf("err %v", err)
	}
}

// TestCloseReleasesWhatNewAcquired: a collector built and never run (a
// failed start of the demo or of a test) gives its port back on Close,
// and Close can be called again.
func TestCloseReleasesWhatNewAcquired(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f.yaml"), []byte(testFacilityYAML()), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Registry.Dir = dir
	cfg.HTTP.Listen = "127.0.0.1:0"
	reg := prometheus.NewRegistry()
	c, err := New(Options{Config: cfg, Registerer: reg, Gatherer: reg})
	if err != nil {
		t.Fatal(err)
	}
	addr := c.HTTPAddr()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("port %s still held after Close: %v", addr, err)
	}
	ln.Close()
	// A registry that fails to load fails New before anything is bound.
	cfg.Registry.Dir = filepath.Join(dir, "missing")
	cfg.HTTP.Listen = addr
	if _, err := New(Options{Config: cfg, Registerer: prometheus.NewRegistry(), Gatherer: reg}); err == nil {
		t.Fatal("New with a missing registry succeeded")
	}
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("a failed New holds %s: %v", addr, err)
	}
	ln.Close()
}

// TestIngestIgnoresRegionClaims: a batch claiming another (or a malformed)
// region is stored under the registry's region, and the ack says the claim
// was ignored: a typo in a facility's file must neither lose its readings
// nor move them into another county.
func TestIngestIgnoresRegionClaims(t *testing.T) {
	for _, c := range []struct {
		name   string
		region model.Region
		claim  string
	}{
		{"another region", "650102001", model.RejectRegionMismatch},
		{"malformed region", "1101", model.RejectBadRegion},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := newTestIngester()
			b := &model.Batch{Gateway: "gw-1", Facility: "110105001-0001", Region: c.region, First: 5, Sent: t0,
				Readings: []model.Reading{{Device: "th-1", Kind: model.KindTemperature, Time: t0, Value: 22}}}
			var w work
			in.add(&w, batchMsg("110105001-0001", b, new(int)))
			if w.lines() != 1 || !strings.Contains(string(w.buf), "province=110000") || strings.Contains(string(w.buf), "650") {
				t.Fatalf("stored %q; want one line under the registry's region", w.buf)
			}
			a := w.pending[0].ack
			if a.Status != model.AckStored || a.Rejected != 0 || len(a.Ignored) != 1 || a.Ignored[0] != c.claim {
				t.Fatalf("ack %+v", a)
			}
			if got := testutil.ToFloat64(in.m.claimsIgnored.WithLabelValues(c.claim)); got != 1 {
				t.Fatalf("claims_ignored{%s} = %v", c.claim, got)
			}
		})
	}
}
