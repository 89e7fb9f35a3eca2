package collector_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/internal/influxd"
	"github.com/cradlewatch/cradlewatch/internal/testenv"
	"github.com/cradlewatch/cradlewatch/model"
)

// The registry of the registry-bound tests: a Beijing facility and an
// Urumqi one, each with its own gateway and devices.
const (
	beijing = "110105001-0001"
	urumqi  = "650102001-0001"
)

func beijingYAML(extraDevices string) string {
	return `facility: {id: "110105001-0001", name: 朝阳园, region: "110105001", location: {lat: 39.9219, lon: 116.4436}}
gateways: [gw-bj]
rooms:
  - {id: infant-1, name: 乳儿班, type: infant}
  - {id: toddler-1, name: 托小班, type: toddler}
devices:
  - {id: th-1, room: infant-1, source: zigbee2mqtt, address: infant-1/th}
  - {id: co2-1, room: toddler-1, source: zigbee2mqtt, address: toddler-1/air}
` + extraDevices
}

const urumqiYAML = `facility: {id: "650102001-0001", name: 天山园, region: "650102001", location: {lat: 43.8, lon: 87.6}}
gateways: [gw-xj]
rooms: [{id: infant-1, name: 乳儿班, type: infant}]
devices: [{id: th-xj, room: infant-1, source: zigbee2mqtt, address: infant-1/th}]
`

// TestRegistryBoundIngest runs the collector on real Mosquitto (with the
// production ACL pattern, which any facility login passes with an invented
// client ID) and real influxd: a gateway claiming another region, another
// facility's device, an unregistered device, an unregistered gateway ID and
// a two-year-old reading are each rejected, counted and reported in the
// ack by reason, while the registered readings of the same batch are
// stored; statuses are written with the registry's region and
// coordinates; and a device added to the registry file is accepted without
// a restart.
func TestRegistryBoundIngest(t *testing.T) {
	broker := testenv.Mosquitto(t,
		testenv.WithUser(beijing, testPassword), testenv.WithUser("collector", testPassword),
		testenv.WithACL(testenv.GatewayACLPattern,
			"user collector", "topic read cw/v1/+/+/batch", "topic read cw/v1/+/+/status", "topic write cw/v1/+/+/ack"))
	inf := testenv.Influx(t)
	dir := writeRegistry(t, map[string]string{"0001.yaml": beijingYAML(""), "xj.yaml": urumqiYAML})
	reg := startCollector(t, broker.Addr(), inf, dir)
	gw := newFakeGateway(t, broker.Addr(), beijing, "gw-bj")
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond)

	// One batch: two registered readings, and four that must not be stored.
	mixed := &model.Batch{Gateway: "gw-bj", Facility: beijing, Region: "110105001", First: 1, Sent: now,
		Readings: []model.Reading{
			{Device: "th-1", Room: "toddler-1", Kind: model.KindTemperature, Time: now, Value: 22.5}, // room from the registry: infant-1
			{Device: "co2-1", Room: "toddler-1", Kind: model.KindCO2, Time: now, Value: 850},
			{Device: "th-xj", Room: "infant-1", Kind: model.KindTemperature, Time: now, Value: 30}, // Urumqi's device
			{Device: "ghost-7", Room: "infant-1", Kind: model.KindTemperature, Time: now, Value: 31},
			{Device: "th-1", Room: "infant-1", Kind: model.KindTemperature, Time: now.AddDate(-2, 0, 0), Value: 5},
			{Device: "co2-1", Room: "toddler-1", Kind: model.KindCO2, Time: now.Add(time.Hour), Value: 900}, // gateway clock ahead
		}}
	a, ok := gw.sendUntilAck(beijing, mixed, 30*time.Second)
	want := map[string]uint64{model.RejectForeignDevice: 1, model.RejectUnregisteredDevice: 1, model.RejectTooOld: 1, model.RejectFuture: 1}
	if !ok || a.Status != model.AckStored || a.Rejected != 4 || fmt.Sprint(a.Rejections) != fmt.Sprint(want) {
		t.Fatalf("ack %+v (received %v), want stored with rejections %v", a, ok, want)
	}
	if n, _ := inf.Count(ctx, db, `SELECT count(value) FROM temperature WHERE room = 'infant-1' AND device = 'th-1' AND county = '110105'`); n != 1 {
		t.Fatalf("th-1 points %d, want 1 (under the registry's room)", n)
	}
	if n, _ := inf.Count(ctx, db, `SELECT count(value) FROM co2 WHERE device = 'co2-1'`); n != 1 {
		t.Fatalf("co2-1 points %d, want 1", n)
	}
	series := showSeries(t, inf)
	for _, never := range []string{"th-xj", "ghost-7", "650102", "room=toddler-1,street=110105001,device=th-1"} {
		if strings.Contains(series, never) {
			t.Fatalf("series contain %q:\n%s", never, series)
		}
	}

	// A batch claiming another region is stored under the registry's, and
	// the ack says the claim was ignored.
	xj := &model.Batch{Gateway: "gw-bj", Facility: beijing, Region: "650102001", First: 100, Sent: now,
		Readings: []model.Reading{{Device: "th-1", Kind: model.KindTemperature, Time: now.Add(time.Second), Value: 23}}}
	if a, ok := gw.sendUntilAck(beijing, xj, 30*time.Second); !ok || a.Status != model.AckStored || a.Rejected != 0 ||
		len(a.Ignored) != 1 || a.Ignored[0] != model.RejectRegionMismatch {
		t.Fatalf("region claim: ack %+v (received %v)", a, ok)
	}

	// An invented gateway ID on the facility's own login: the broker lets
	// it publish, the collector refuses it and says so on its ack topic.
	invented := newFakeGateway(t, broker.Addr(), beijing, "gw-invented-7")
	b := &model.Batch{Gateway: "gw-invented-7", Facility: beijing, Region: "110105001", First: 1, Sent: now,
		Readings: []model.Reading{{Device: "th-1", Kind: model.KindTemperature, Time: now.Add(2 * time.Second), Value: 24}}}
	if a, ok := invented.sendUntilAck(beijing, b, 30*time.Second); !ok || a.Status != model.AckRejected || a.Reason != model.RejectUnregisteredGateway {
		t.Fatalf("invented gateway: ack %+v (received %v)", a, ok)
	}
	if n, _ := inf.Count(ctx, db, `SELECT count(value) FROM temperature WHERE county = '110105'`); n != 2 {
		t.Fatalf("temperature points in 110105: %d, want th-1's two (one sent claiming Urumqi)", n)
	}
	if n, _ := inf.Count(ctx, db, `SELECT count(value) FROM temperature`); n != 2 {
		t.Fatalf("temperature points %d, want only th-1's two", n)
	}

	// Statuses: the registered gateway's is written with the registry's
	// region and coordinates whatever it claims; the invented one's not at
	// all.
	invented.status(model.Status{Gateway: "gw-invented-7", Facility: beijing, State: model.GatewayOffline, TimeMs: now.UnixMilli()})
	// The gateway reports what its acks said (the rejections and the
	// ignored claim above), its untimed sources and rate-limited readings.
	gw.status(model.Status{Gateway: "gw-bj", Facility: beijing, Region: "650102001", State: model.GatewayOnline,
		TimeMs: now.UnixMilli(), Lat: 43.8, Lon: 87.6, NoDeviceTime: []string{"zigbee2mqtt"}, RateLimited: 3,
		CentreRejected: a.Rejections, CentreIgnored: []string{model.RejectRegionMismatch}, CentreReportMs: now.UnixMilli()})
	waitFor(t, "the registered gateway's status", func() bool {
		n, _ := inf.Count(ctx, db, `SELECT count(online) FROM gateway_status`)
		return n >= 1
	})
	res, err := inf.Query(ctx, db, `SELECT last(lat), last(lon) FROM gateway_status WHERE county = '110105' AND street = '110105001' AND gateway = 'gw-bj'`)
	if err != nil || len(res) != 1 || fmt.Sprint(res[0].Values[0][1:]) != "[39.9219 116.4436]" {
		t.Fatalf("status coordinates: %+v %v", res, err)
	}
	res, err = inf.Query(ctx, db, `SELECT last(no_device_time), last(rate_limited), last(centre_rejected), last(centre_ignored) FROM gateway_status WHERE gateway = 'gw-bj'`)
	if err != nil || len(res) != 1 || fmt.Sprint(res[0].Values[0][1:]) != "[1 3 4 1]" {
		t.Fatalf("status reports: %+v %v", res, err)
	}
	if s := showSeries(t, inf); strings.Contains(s, "gw-invented-7") || strings.Contains(s, "province=650000") {
		t.Fatalf("series:\n%s", s)
	}

	for reason, min := range map[string]float64{model.RejectForeignDevice: 1, model.RejectUnregisteredDevice: 1, model.RejectTooOld: 1,
		model.RejectFuture: 1, model.RejectUnregisteredGateway: 1} {
		if n := counter(t, reg, "cw_collector_readings_rejected_total", map[string]string{"reason": reason}); n < min {
			t.Errorf("rejected{%s} = %v, want at least %v", reason, n, min)
		}
	}
	if n := counter(t, reg, "cw_collector_claims_ignored_total", map[string]string{"reason": model.RejectRegionMismatch}); n != 1 {
		t.Errorf("claims_ignored{region_mismatch} = %v, want 1", n)
	}
	waitFor(t, "the invented gateway's status counted", func() bool {
		return counter(t, reg, "cw_collector_status_rejected_total", map[string]string{"reason": model.RejectUnregisteredGateway}) >= 1
	})

	// A device added to the registry file while the collector runs: its
	// readings are accepted once the collector's poll saw the file.
	writeAtomic(t, filepath.Join(dir, "0001.yaml"), beijingYAML("  - {id: co2-new, room: infant-1, source: zigbee2mqtt, address: infant-1/air}\n"))
	first := uint64(1000)
	waitFor(t, "co2-new accepted after the registry changed", func() bool {
		first++
		nb := &model.Batch{Gateway: "gw-bj", Facility: beijing, Region: "110105001", First: first, Sent: now,
			Readings: []model.Reading{{Device: "co2-new", Kind: model.KindCO2, Time: now.Add(3 * time.Second), Value: 700}}}
		a, ok := gw.sendUntilAck(beijing, nb, 30*time.Second)
		return ok && a.Status == model.AckStored && a.Rejected == 0
	})
	if n, _ := inf.Count(ctx, db, `SELECT count(value) FROM co2 WHERE device = 'co2-new' AND room = 'infant-1'`); n != 1 {
		t.Fatalf("co2-new points %d, want 1", n)
	}
	if n := counter(t, reg, "cw_registry_reloads_total", nil); n < 1 {
		t.Fatalf("registry reloads %v", n)
	}
}

// status publishes a retained status as the gateway would.
func (g *fakeGateway) status(st model.Status) {
	tok := g.c.Publish(model.Topic(g.facility, g.gateway, model.SuffixStatus), 1, true, model.EncodeStatus(st))
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		g.t.Fatalf("publish status: %v", tok.Error())
	}
}

func showSeries(t *testing.T, inf *influxd.Server) string {
	t.Helper()
	res, err := inf.Query(context.Background(), db, "SHOW SERIES")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range res {
		for _, v := range s.Values {
			out = append(out, fmt.Sprint(v[0]))
		}
	}
	return strings.Join(out, "\n")
}

// waitFor polls cond until it holds; the deadline bounds the test, the
// assertion is on cond.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("%s: not within the test's deadline", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
