package integration

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/collector"
	"github.com/cradlewatch/cradlewatch/internal/influxql"
	"github.com/cradlewatch/cradlewatch/internal/mqttx"
	"github.com/cradlewatch/cradlewatch/internal/testenv"
	"github.com/cradlewatch/cradlewatch/model"
	"github.com/cradlewatch/cradlewatch/registry"
	"github.com/cradlewatch/cradlewatch/regulator/compliance"
	"github.com/cradlewatch/cradlewatch/regulator/internal/seed"
	"github.com/cradlewatch/cradlewatch/regulator/report"
)

const registeredFacility = `facility: {id: "110105001-0042", name: 朝阳园, region: "110105001", location: {lat: 39.92, lon: 116.44}}
gateways: [gw-42]
rooms: [{id: infant-1, name: 乳儿班, type: infant}]
devices: [{id: th-1, room: infant-1, source: zigbee2mqtt, address: infant-1/th, kinds: [temperature]}]
`

// TestRegisteredRegionWhateverTheGatewaySends: a Beijing facility whose
// gateway claims to be in Urumqi (its status says so, its batches too)
// appears in the dashboards' region variables, the compliance rollup and
// the monthly report under its registered county, 110105, and nowhere
// under Xinjiang. Real Mosquitto, the collector, real influxd.
func TestRegisteredRegionWhateverTheGatewaySends(t *testing.T) {
	broker := testenv.Mosquitto(t)
	inf := testenv.Influx(t)
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "0042.yaml"), []byte(registeredFacility), 0o600); err != nil {
		t.Fatal(err)
	}
	reg, err := registry.OpenDir(ctx, dir, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := collector.DefaultConfig()
	cfg.MQTT = mqttx.Config{Broker: broker.Addr(), ClientID: "collector-registry"}
	cfg.Influx.URL, cfg.Influx.CreateDatabase = inf.URL(), true
	cfg.HTTP.Listen = ""
	col, err := collector.New(collector.Options{Config: cfg, Registry: reg, Registerer: prometheus.NewRegistry(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); col.Run(cctx) }()
	t.Cleanup(func() { cancel(); <-done; col.Close() })

	const fac, gw = "110105001-0042", "gw-42"
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker.Addr()).SetClientID(gw).SetUsername(fac))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	publish := func(suffix string, retained bool, payload []byte) {
		if tok := c.Publish(model.Topic(fac, gw, suffix), 1, retained, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
	acks := make(chan model.Ack, 16)
	if tok := c.Subscribe(model.Topic(fac, gw, model.SuffixAck), 1, func(_ mqtt.Client, m mqtt.Message) {
		if a, err := model.DecodeAck(m.Payload()); err == nil {
			acks <- a
		}
	}); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	// sendUntilAck publishes a batch as a gateway does: again every second
	// until its ack arrives (the collector may still be subscribing).
	sendUntilAck := func(b *model.Batch) model.Ack {
		t.Helper()
		for range 60 {
			publish(model.SuffixBatch, false, model.EncodeBatch(nil, b))
			select {
			case a := <-acks:
				if a.First == b.First {
					return a
				}
			case <-time.After(time.Second):
			}
		}
		t.Fatalf("no ack for batch %d", b.First)
		return model.Ack{}
	}
	now := time.Now().Truncate(time.Millisecond)
	// What the gateway claims: Urumqi, in its status and in a batch.
	publish(model.SuffixStatus, true, model.EncodeStatus(model.Status{Gateway: gw, Facility: fac, Region: "650102001",
		State: model.GatewayOnline, TimeMs: now.UnixMilli(), Lat: 43.8, Lon: 87.6}))
	if a := sendUntilAck(&model.Batch{Gateway: gw, Facility: fac, Region: "650102001", First: 1, Sent: now,
		Readings: []model.Reading{{Device: "th-1", Room: "infant-1", Kind: model.KindTemperature, Time: now, Value: 35}}}); a.Status != model.AckStored ||
		len(a.Ignored) != 1 || a.Ignored[0] != model.RejectRegionMismatch {
		t.Fatalf("ack of the batch claiming Urumqi: %+v", a)
	}
	// And a batch under its own region, so there is data to roll up.
	if a := sendUntilAck(&model.Batch{Gateway: gw, Facility: fac, Region: "110105001", First: 2, Sent: now,
		Readings: []model.Reading{{Device: "th-1", Room: "infant-1", Kind: model.KindTemperature, Time: now.Add(-time.Second), Value: 23}}}); a.Status != model.AckStored {
		t.Fatalf("ack of the registered batch: %+v", a)
	}
	end := time.Now().Add(60 * time.Second)
	for {
		if n, _ := inf.Count(ctx, db, `SELECT count(online) FROM gateway_status`); n >= 1 {
			break
		}
		if time.Now().After(end) {
			t.Fatal("status not stored")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n, _ := inf.Count(ctx, db, `SELECT count(value) FROM temperature WHERE county = '110105'`); n != 2 {
		t.Fatalf("temperature points under 110105: %d; want both, the one sent claiming Urumqi too", n)
	}
	if n, _ := inf.Count(ctx, db, `SELECT count(value) FROM temperature WHERE county = '650102'`); n != 0 {
		t.Fatalf("temperature points under Urumqi: %d", n)
	}
	q := &influxql.Client{URL: inf.URL(), Database: db}
	rs := seed.Rules(t)

	// The dashboards' region variables, as Grafana runs them.
	timeFilter := influxql.TimeRange(now.Add(-time.Hour), now.Add(time.Hour))
	variable := func(name string, vars map[string]string) []string {
		t.Helper()
		for _, dq := range extractQueries(t, rs) {
			if dq.where != "region-overview.json variable "+name {
				continue
			}
			series, err := q.Query(ctx, interpolate(dq.query, vars, timeFilter))
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, s := range series {
				for _, row := range s.Values {
					out = append(out, fmt.Sprint(row[len(row)-1]))
				}
			}
			sort.Strings(out)
			return out
		}
		t.Fatalf("no variable %s", name)
		return nil
	}
	all := map[string]string{"province": ".*", "city": ".*", "county": ".*", "street": ".*"}
	if got := variable("province", all); strings.Join(got, ",") != "110000" {
		t.Errorf("provinces %v, want only 110000", got)
	}
	if got := variable("county", all); strings.Join(got, ",") != "110105" {
		t.Errorf("counties %v, want only 110105", got)
	}
	xj := map[string]string{"province": "650000", "city": ".*", "county": "650102", "street": ".*"}
	if got := variable("facility", xj); len(got) != 0 {
		t.Errorf("facilities under Urumqi: %v", got)
	}
	bj := map[string]string{"province": "110000", "city": "110100", "county": "110105", "street": "110105001"}
	if got := variable("facility", bj); strings.Join(got, ",") != fac {
		t.Errorf("facilities under 110105001: %v, want %s", got, fac)
	}

	// The rollup lists it from the registry, under its registered region.
	client := influxdb2.NewClient(inf.URL(), "")
	defer client.Close()
	roller, err := compliance.New(compliance.Options{Query: q, Writer: client.WriteAPIBlocking("", db+"/autogen"), Rules: rs, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	from := now.Truncate(time.Hour)
	if _, err := roller.Run(ctx, from, from.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	series, err := q.Query(ctx, `SHOW TAG VALUES FROM "compliance_hourly" WITH KEY = "county"`)
	if err != nil || len(series) != 1 || len(series[0].Values) != 1 || series[0].Values[0][1] != "110105" {
		t.Fatalf("compliance_hourly counties %+v %v, want only 110105", series, err)
	}
	// The report's month is the facility's calendar month of that hour
	// (not the machine's zone's, nor UTC's).
	_, loc := weekStart(t)
	local := from.In(loc)
	month := time.Date(local.Year(), local.Month(), 1, 0, 0, 0, 0, loc)
	for region, want := range map[string]int{"110105": 1, "650102": 0, "650000": 0} {
		rep, err := report.Build(ctx, q, rs, region, month, loc)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Facilities) != want {
			t.Errorf("report of %s lists %d facilities, want %d", region, len(rep.Facilities), want)
		}
	}
}
