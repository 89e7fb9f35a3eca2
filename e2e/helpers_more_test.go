package e2e

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/gateway"
	"github.com/cradlewatch/cradlewatch/internal/config"
	"github.com/cradlewatch/cradlewatch/internal/influxd"
	"github.com/cradlewatch/cradlewatch/model"
)

// Helpers of the failure tests (outage, full spool, torn tail, InfluxDB
// down). They add to harness_test.go and kill_test.go without changing them.

// gatewayConf is a gateway configuration with separate local and central
// brokers and a spool that tests size; unset fields take the defaults of
// the e2e tests (64 MiB spool, 1 MiB segments, 50 ms commits, no HTTP).
type gatewayConf struct {
	id, facilityFile  string
	local, uplink     string
	spoolDir          string
	maxBytes, segment int64
	commit            string // spool.commit_interval
	httpListen        string
}

func (c gatewayConf) yaml() string {
	if c.maxBytes == 0 {
		c.maxBytes, c.segment = 64<<20, 1<<20
	}
	if c.commit == "" {
		c.commit = "50ms"
	}
	return fmt.Sprintf(`gateway_id: %s
facility_file: %s
local:
  mqtt: {broker: %s, client_id: %s-local}
uplink:
  mqtt: {broker: %s, username: ignored}
  ack_timeout: 2s
  max_ack_timeout: 4s
spool: {dir: %s, max_bytes: %d, segment_bytes: %d, commit_interval: %s}
sources:
  - family: json
    name: load
    topic: test/+device/state
    time_path: ts
    time_format: unix_ms
    fields: [{path: v, kind: temperature}]
  - family: json
    name: doors
    topic: test/+device/door
    time_path: ts
    time_format: unix_ms
    fields: [{path: open, kind: door}]
status_interval: 2s
http: {listen: %q}
`, c.id, c.facilityFile, c.local, c.id, c.uplink, c.spoolDir, c.maxBytes, c.segment, c.commit, c.httpListen)
}

// facilityDoorsYAML is facilityYAML plus door contacts door-0..door-n-1
// (source doors, addresses d0..).
func facilityDoorsYAML(id, region, gateway string, sensors, doors int) string {
	var b strings.Builder
	b.WriteString(facilityYAML(id, region, gateway, sensors))
	for i := 0; i < doors; i++ {
		fmt.Fprintf(&b, "  - {id: door-%d, room: room-1, source: doors, address: \"d%d\", kinds: [door]}\n", i, i)
	}
	return b.String()
}

// fastSensor publishes QoS 1 without waiting for each PUBACK, so an hour of
// readings takes a second; flush waits for the broker's acknowledgements.
type fastSensor struct {
	t      *testing.T
	c      mqtt.Client
	tokens []mqtt.Token
	acked  int
}

func newFastSensor(t *testing.T, broker, clientID string) *fastSensor {
	o := mqtt.NewClientOptions().AddBroker(broker).SetClientID(clientID).SetAutoReconnect(true)
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("sensor connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return &fastSensor{t: t, c: c}
}

// temperature publishes a reading of device dev (address d<dev>).
func (s *fastSensor) temperature(dev int, ts int64, v float64) {
	s.send(fmt.Sprintf("test/d%d/state", dev), fmt.Sprintf(`{"v": %.1f, "ts": %d}`, v, ts))
}

// door publishes a door contact state (1 open, 0 closed).
func (s *fastSensor) door(dev int, ts int64, open int) {
	s.send(fmt.Sprintf("test/d%d/door", dev), fmt.Sprintf(`{"open": %d, "ts": %d}`, open, ts))
}

func (s *fastSensor) send(topic, payload string) {
	s.tokens = append(s.tokens, s.c.Publish(topic, 1, false, payload))
	if len(s.tokens) >= 1000 {
		s.flush()
	}
}

// flush waits for every outstanding PUBACK and returns the running count
// of messages the broker acknowledged.
func (s *fastSensor) flush() int {
	for _, tok := range s.tokens {
		if tok.WaitTimeout(30*time.Second) && tok.Error() == nil {
			s.acked++
		}
	}
	s.tokens = s.tokens[:0]
	return s.acked
}

// poll checks cond every 100 ms until it holds or deadline passes; the
// deadline bounds the test, the caller asserts on the state it waited for.
func poll(deadline time.Duration, cond func() bool) bool {
	end := time.Now().Add(deadline)
	for {
		if cond() {
			return true
		}
		if time.Now().After(end) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// spoolRecord is one record found in a spool directory by readSpool.
type spoolRecord struct {
	path  string // segment file
	off   int64  // offset of the frame header
	index uint64
	data  []byte
	end   bool // the last record of its Append (always, in a version 1 segment)
}

// Segment framing, as gateway/spool/doc.go documents it; the test reads the
// files with its own code so it checks the format, not the package. In
// version 2 the length's top bit marks the last record of an Append.
const (
	spoolSegHeader   = 8
	spoolFrameHeader = 16
	spoolAppendEnd   = 1 << 31
)

var castagnoliTable = crc32.MakeTable(crc32.Castagnoli)

// readSpool returns the valid records of every segment in dir, in index
// order. It stops reading a segment at its first invalid frame, which is
// what a gateway writing the file at the same moment may leave.
func readSpool(dir string) ([]spoolRecord, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil {
		return nil, err
	}
	sort.Strings(names) // 20-digit names sort like numbers
	var out []spoolRecord
	for _, path := range names {
		data, err := os.ReadFile(path)
		if os.IsNotExist(err) {
			continue // released or dropped meanwhile
		}
		if err != nil {
			return nil, err
		}
		if len(data) < spoolSegHeader || string(data[:7]) != "CWSPOOL" {
			continue
		}
		off := int64(spoolSegHeader)
		for off+spoolFrameHeader <= int64(len(data)) {
			h := data[off : off+spoolFrameHeader]
			n := int64(binary.LittleEndian.Uint32(h[0:4]) &^ spoolAppendEnd)
			if off+spoolFrameHeader+n > int64(len(data)) {
				break
			}
			body := data[off+spoolFrameHeader : off+spoolFrameHeader+n]
			c := crc32.Update(0, castagnoliTable, h[0:4])
			c = crc32.Update(c, castagnoliTable, h[8:16])
			if crc32.Update(c, castagnoliTable, body) != binary.LittleEndian.Uint32(h[4:8]) {
				break
			}
			end := data[spoolSegHeader-1] < 2 || binary.LittleEndian.Uint32(h[0:4])&spoolAppendEnd != 0
			out = append(out, spoolRecord{path: path, off: off, index: binary.LittleEndian.Uint64(h[8:16]), data: body, end: end})
			off += spoolFrameHeader + n
		}
	}
	return out, nil
}

// spoolContents sums up readSpool: readings at or after minMs, and the
// readings gap entries say were dropped.
type spoolContents struct {
	readings, gaps, gapCount int
	bytes                    int64
}

func inspectSpool(t *testing.T, dir string, minMs int64) spoolContents {
	t.Helper()
	recs, err := readSpool(dir)
	if err != nil {
		t.Fatalf("read spool: %v", err)
	}
	var c spoolContents
	for _, rec := range recs {
		switch model.EntryType(rec.data) {
		case model.EntryReading:
			var r model.Reading
			if model.DecodeReadingEntry(rec.data, &r) == nil && r.Time.UnixMilli() >= minMs {
				c.readings++
			}
		case model.EntryGap:
			var g model.Gap
			if model.DecodeGapEntry(rec.data, &g) == nil {
				c.gaps++
				c.gapCount += int(g.Count)
			}
		}
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	for _, n := range names {
		if fi, err := os.Stat(n); err == nil {
			c.bytes += fi.Size()
		}
	}
	return c
}

// arrival is one reading as the centre's broker delivered it.
type arrival struct {
	device string
	ms     int64
}

// centreObserver is an extra subscriber at the central broker, with a
// persistent session so that nothing published while it reconnects is
// missed: it records the order in which readings arrive and every status.
type centreObserver struct {
	c        mqtt.Client
	mu       sync.Mutex
	arrivals []arrival
	statuses []model.Status
	batches  int
}

func newCentreObserver(t *testing.T, broker, facility, gatewayID string) *centreObserver {
	o := &centreObserver{}
	handler := func(_ mqtt.Client, m mqtt.Message) {
		o.mu.Lock()
		defer o.mu.Unlock()
		if strings.HasSuffix(m.Topic(), "/"+model.SuffixStatus) {
			var st model.Status
			if json.Unmarshal(m.Payload(), &st) == nil {
				o.statuses = append(o.statuses, st)
			}
			return
		}
		var b model.Batch
		if err := model.DecodeBatch(m.Payload(), &b); err != nil {
			return
		}
		o.batches++
		for _, r := range b.Readings {
			o.arrivals = append(o.arrivals, arrival{device: r.Device, ms: r.Time.UnixMilli()})
		}
	}
	filters := map[string]byte{
		model.Topic(facility, gatewayID, model.SuffixBatch):  1,
		model.Topic(facility, gatewayID, model.SuffixStatus): 1,
	}
	opts := mqtt.NewClientOptions().AddBroker(broker).SetClientID("observer-" + gatewayID).
		SetCleanSession(false).SetAutoReconnect(true).SetConnectRetry(true).
		SetConnectRetryInterval(200 * time.Millisecond).SetMaxReconnectInterval(time.Second).
		SetDefaultPublishHandler(handler).
		SetOnConnectHandler(func(c mqtt.Client) { c.SubscribeMultiple(filters, handler) })
	o.c = mqtt.NewClient(opts)
	if tok := o.c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("observer connect: %v", tok.Error())
	}
	t.Cleanup(func() { o.c.Disconnect(100) })
	return o
}

func (o *centreObserver) snapshot() ([]arrival, []model.Status) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]arrival(nil), o.arrivals...), append([]model.Status(nil), o.statuses...)
}

// pointTimes returns the time (Unix ms) of every row of an InfluxQL
// SELECT, with the row's first value column.
func pointTimes(t *testing.T, inf *influxd.Server, q string) map[int64]any {
	t.Helper()
	res, err := inf.Query(context.Background(), db, q)
	if err != nil {
		t.Fatalf("query %q: %v", q, err)
	}
	out := map[int64]any{}
	for _, s := range res {
		for _, row := range s.Values {
			ns, err := row[0].(json.Number).Int64()
			if err != nil {
				t.Fatalf("query %q: time %v: %v", q, row[0], err)
			}
			out[ns/1e6] = row[1]
		}
	}
	return out
}

// inProcessGateway runs a gateway from a configuration file in this
// process, so a test can read its metrics and status directly.
func inProcessGateway(t *testing.T, conf string) (*gateway.Gateway, *prometheus.Registry) {
	t.Helper()
	cfg := gateway.DefaultConfig()
	if err := config.Load(conf, &cfg); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	g, err := gateway.New(gateway.Options{Config: cfg, Logger: testLogger(t), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); g.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return g, reg
}

// metricSum is the sum over every series of a metric family (0 if absent).
func metricSum(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			case m.Histogram != nil:
				sum += float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return sum
}
