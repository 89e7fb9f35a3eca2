package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/gateway"
	"github.com/cradlewatch/cradlewatch/gateway/decode"
	"github.com/cradlewatch/cradlewatch/gateway/spool"
	"github.com/cradlewatch/cradlewatch/internal/embedbroker"
	"github.com/cradlewatch/cradlewatch/internal/mqttx"
	"github.com/cradlewatch/cradlewatch/internal/testenv"
	"github.com/cradlewatch/cradlewatch/model"
	"github.com/cradlewatch/cradlewatch/registry"
)

// Benchmarks of the gateway's whole path, measured in readings per second
// (docs/performance.md, section "Gateway", quotes them; run with -cpu 1 to
// see what one core of a facility box does):
//
//	go test -run '^$' -bench . -benchtime 2s -cpu 1 ./gateway/
//
// CW_SPOOL_BENCH_DIR puts the spool on another disk (the box's SD card);
// by default it is in the test's temporary directory.

// benchDevices is how many Zigbee2MQTT sensors the benchmarks simulate.
const benchDevices = 100

// z2mPayload is a Zigbee2MQTT temperature/humidity sensor's state as the
// device publishes it (gateway/decode/testdata/zigbee2mqtt): four of its
// keys are readings (temperature, humidity, battery, linkquality).
const z2mPayload = `{"battery":100,"humidity":58.37,"linkquality":120,"power_outage_count":0,"pressure":1009.2,"temperature":24.61,"voltage":3025}`

const z2mReadingsPerMessage = 4

func benchSpoolDir(b *testing.B) string {
	if d := os.Getenv("CW_SPOOL_BENCH_DIR"); d != "" {
		dir, err := os.MkdirTemp(d, "gateway-bench-")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
		return dir
	}
	return b.TempDir()
}

// benchDevice is what the facility file says about one sensor.
type benchDevice struct{ id, room string }

// BenchmarkIngestPath drives the gateway's stages in process without MQTT:
// decode.Set.Decode → device mapping → model.AppendReadingEntry →
// spool.Append (durable, default group commit) and, on another goroutine as
// in the gateway, spool.Read → model.DecodeReadingEntry → model.EncodeBatch →
// spool.Release. An operation is one Zigbee2MQTT message of 4 readings; the
// figure to read is readings/s.
func BenchmarkIngestPath(b *testing.B) {
	set, err := decode.Build([]decode.SourceConfig{{"family": "zigbee2mqtt", "base_topic": "zigbee2mqtt"}},
		decode.Options{Registerer: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	topics := make([]string, benchDevices)
	devices := map[registry.SourceKey]benchDevice{}
	for i := range topics {
		topics[i] = fmt.Sprintf("zigbee2mqtt/th-%03d", i)
		devices[registry.SourceKey{Source: "zigbee2mqtt", Address: fmt.Sprintf("th-%03d", i)}] =
			benchDevice{id: fmt.Sprintf("th-%03d", i), room: fmt.Sprintf("room-%02d", i/4)}
	}
	sp, err := spool.Open(spool.Options{Dir: benchSpoolDir(b), IsState: model.EntryIsState, Registerer: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	spoolDone := make(chan error, 1)
	go func() { spoolDone <- sp.Run(ctx) }()
	defer func() {
		cancel()
		<-spoolDone
		sp.Close()
	}()

	// The uplink's share: read committed records, build and encode batches
	// of at most 1000 readings, release them (as if acknowledged at once).
	var uplinked atomic.Uint64 // release point reached
	var wireBytes, batches atomic.Int64
	upDone := make(chan struct{})
	go func() {
		defer close(upDone)
		next := sp.Stats().Released
		var batch model.Batch
		var buf []byte
		for {
			select {
			case <-ctx.Done():
				return
			case <-sp.Committed():
			}
			for {
				recs, err := sp.Read(next, 1000, 256<<10)
				if err != nil || len(recs) == 0 {
					break
				}
				batch = model.Batch{Gateway: "gw-bench", Facility: "110105001-0001", Region: "110105001", First: next,
					Sent: time.UnixMilli(1764118800000), Readings: batch.Readings[:0]}
				for _, r := range recs {
					batch.Readings = append(batch.Readings, model.Reading{})
					if model.DecodeReadingEntry(r.Data, &batch.Readings[len(batch.Readings)-1]) != nil {
						batch.Readings = batch.Readings[:len(batch.Readings)-1]
					}
				}
				end := recs[len(recs)-1].Index + 1
				batch.Span = end - next
				buf = model.EncodeBatch(buf[:0], &batch)
				wireBytes.Add(int64(len(buf)))
				batches.Add(1)
				if err := sp.Release(end); err != nil {
					b.Error(err)
					return
				}
				next = end
				uplinked.Store(end)
			}
		}
	}()

	payload := []byte(z2mPayload)
	t0 := time.UnixMilli(1764118800000)
	obs := make([]decode.Observation, 0, 8)
	var arena []byte
	recs := make([][]byte, 0, 8)
	offs := make([]int, 0, 8)
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		now := t0.Add(time.Duration(i) * time.Millisecond)
		obs, _ = set.Decode(topics[i%benchDevices], payload, now, obs[:0])
		arena, offs, recs = arena[:0], offs[:0], recs[:0]
		for j := range obs {
			o := &obs[j]
			dev, ok := devices[registry.SourceKey{Source: o.Source, Address: o.Address}]
			if !ok {
				b.Fatalf("unmapped observation %s/%s", o.Source, o.Address)
			}
			r := model.Reading{Device: dev.id, Room: dev.room, Kind: o.Kind, Time: o.Time, Value: o.Value}
			offs = append(offs, len(arena))
			arena = model.AppendReadingEntry(arena, &r)
		}
		for j, off := range offs {
			end := len(arena)
			if j+1 < len(offs) {
				end = offs[j+1]
			}
			recs = append(recs, arena[off:end])
		}
		sp.Append(recs, nil) // copies recs
	}
	// Done when the uplink has encoded everything appended.
	want := sp.Stats().Next
	for uplinked.Load() < want {
		select {
		case <-upDone:
			b.Fatal("uplink stopped")
		case <-time.After(time.Millisecond):
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	readings := float64(b.N * z2mReadingsPerMessage)
	b.ReportMetric(readings/elapsed.Seconds(), "readings/s")
	b.ReportMetric(float64(wireBytes.Load())/readings, "wire-B/reading")
	st := sp.Stats()
	if st.Commits > 0 {
		b.ReportMetric(float64(st.Commits)/elapsed.Seconds(), "fsyncs/s")
		b.ReportMetric(st.FsyncTime.Seconds()/float64(st.Commits)*1e6, "µs/fsync")
	}
}

// BenchmarkGatewayEmbeddedBroker runs a whole gateway in process: sensors
// publish Zigbee2MQTT messages (QoS 1) to the gateway's embedded broker, the
// gateway spools and forwards them to a second embedded broker, where a
// stand-in collector decodes each batch and acknowledges it. The MQTT
// clients, both brokers and the stand-in share the CPU with the gateway, so
// this is context for BenchmarkIngestPath, not the gateway's own cost.
func BenchmarkGatewayEmbeddedBroker(b *testing.B) {
	localAddr, _, received := benchGateway(b, "", "")

	pub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(localAddr).SetClientID("sensors").
		SetConnectRetry(true).SetConnectRetryInterval(50 * time.Millisecond))
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		b.Fatalf("connect to the embedded broker: %v", tok.Error())
	}
	defer pub.Disconnect(100)
	// Warm-up: the gateway must have subscribed before the timed part.
	for received.Load() == 0 {
		pub.Publish("zigbee2mqtt/th-000", 1, false, z2mPayload).WaitTimeout(time.Second)
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	base := received.Load()

	cpu0 := testenv.ProcessCPU()
	b.SetBytes(int64(len(z2mPayload)))
	b.ResetTimer()
	start := time.Now()
	tokens := make([]mqtt.Token, 0, 1000)
	for i := 0; i < b.N; i++ {
		tokens = append(tokens, pub.Publish(fmt.Sprintf("zigbee2mqtt/th-%03d", i%benchDevices), 1, false, z2mPayload))
		if len(tokens) == cap(tokens) {
			for _, t := range tokens {
				t.WaitTimeout(30 * time.Second)
			}
			tokens = tokens[:0]
		}
	}
	for _, t := range tokens {
		t.WaitTimeout(30 * time.Second)
	}
	want := base + int64(b.N*z2mReadingsPerMessage)
	deadline := time.Now().Add(2 * time.Minute)
	for received.Load() < want && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if got := received.Load(); got < want {
		b.Fatalf("centre received %d of %d readings", got-base, want-base)
	}
	b.ReportMetric(float64((testenv.ProcessCPU()-cpu0).Nanoseconds())/float64(b.N*z2mReadingsPerMessage), "cpu-ns/reading")
	b.ReportMetric(float64(b.N*z2mReadingsPerMessage)/elapsed.Seconds(), "readings/s")
}

// benchGateway runs, until the benchmark ends, a centre (an embedded broker
// with a stand-in collector, startAcker) and a gateway of benchDevices
// Zigbee2MQTT sensors th-000.. (and the facility-file device lines extra)
// on localBroker, or on its embedded broker when localBroker is "". It
// returns the URL sensors publish to, the centre's broker and the count of
// readings the centre received.
func benchGateway(b *testing.B, localBroker, extra string) (local, centreAddr string, received *atomic.Int64) {
	dir := b.TempDir()
	centre, err := embedbroker.Start(embedbroker.Config{Listen: "127.0.0.1:0"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { centre.Close() })
	received = new(atomic.Int64)
	ackClient := startAcker(b, centre.Addr(), received)
	b.Cleanup(func() { ackClient.Disconnect(100) })

	facFile := filepath.Join(dir, "facility.yaml")
	fac := "facility: {id: 110105001-0001, name: 测试园, region: \"110105001\"}\nrooms: [{id: r1, name: 乳儿班, type: infant}]\ndevices:\n" + extra
	for i := 0; i < benchDevices; i++ {
		fac += fmt.Sprintf("  - {id: th-%03d, room: r1, source: zigbee2mqtt, address: \"th-%03d\", kinds: [temperature, humidity, battery, linkquality]}\n", i, i)
	}
	if err := os.WriteFile(facFile, []byte(fac), 0o600); err != nil {
		b.Fatal(err)
	}
	cfg := gateway.DefaultConfig()
	cfg.Gateway = "gw-bench"
	cfg.FacilityFile = facFile
	cfg.Local.MQTT.ClientID = "gw-bench-local"
	if localBroker == "" {
		cfg.Local.Embedded = embedbroker.Config{Enabled: true, Listen: freeAddr(b)}
	} else {
		cfg.Local.MQTT.Broker = localBroker
	}
	cfg.Uplink.MQTT = mqttx.Config{Broker: centre.Addr()}
	cfg.Spool.Dir = benchSpoolDir(b)
	cfg.Sources = []map[string]any{{"family": "zigbee2mqtt", "base_topic": "zigbee2mqtt"}}
	cfg.HTTP.Listen = ""
	g, err := gateway.New(gateway.Options{Config: cfg, Registerer: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- g.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-runDone })
	if localBroker == "" {
		localBroker = g.LocalAddr()
	}
	return localBroker, centre.Addr(), received
}

// startAcker is a stand-in collector: it counts the readings of every batch
// it has not seen before and acknowledges the batch as stored.
func startAcker(b testing.TB, broker string, received *atomic.Int64) mqtt.Client {
	seen := map[uint64]bool{} // batch first index; the router goroutine is the only user
	var c mqtt.Client
	opts := mqtt.NewClientOptions().AddBroker(broker).SetClientID("acker").
		SetOnConnectHandler(func(cl mqtt.Client) {
			cl.Subscribe(model.SubscriptionAll(model.SuffixBatch), 1, func(cl mqtt.Client, m mqtt.Message) {
				var batch model.Batch
				if err := model.DecodeBatch(m.Payload(), &batch); err != nil {
					return
				}
				if !seen[batch.First] {
					seen[batch.First] = true
					received.Add(int64(len(batch.Readings)))
				}
				cl.Publish(model.Topic(batch.Facility, batch.Gateway, model.SuffixAck), 1, false,
					model.EncodeAck(model.Ack{First: batch.First, Count: batch.Covers(), Status: model.AckStored}))
			})
		})
	c = mqtt.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		b.Fatalf("acker connect: %v", tok.Error())
	}
	return c
}

// freeAddr returns a loopback address with a port free at the moment.
func freeAddr(b testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestGatewayRSS measures the memory of the real gateway binary at steady
// rates, for docs/performance.md; it is a measurement, not a test of
// behaviour, so it runs only when asked:
//
//	CW_BENCH=1 go test -run TestGatewayRSS -v ./gateway/
//
// For each rate it builds cmd/gateway, starts it against a Mosquitto for
// the sensors and an embedded broker with a stand-in collector for the
// centre, publishes Zigbee2MQTT messages (4 readings each) for
// CW_BENCH_SECONDS (default 30) and reads VmRSS and VmHWM from /proc, and
// the spool's fsync count from the gateway's /metrics.
func TestGatewayRSS(t *testing.T) {
	if os.Getenv("CW_BENCH") != "1" {
		t.Skip("measurement: set CW_BENCH=1 to run")
	}
	secs := 30
	if s := os.Getenv("CW_BENCH_SECONDS"); s != "" {
		fmt.Sscan(s, &secs)
	}
	bin := filepath.Join(t.TempDir(), "gateway")
	build := exec.Command("go", "build", "-o", bin, "github.com/cradlewatch/cradlewatch/cmd/gateway")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	local := testenv.Mosquitto(t)
	for _, rate := range []int{100, 1000} {
		t.Run(fmt.Sprintf("%d_readings_per_s", rate), func(t *testing.T) {
			measureRSS(t, bin, local.Addr(), rate, time.Duration(secs)*time.Second)
		})
	}
}

func measureRSS(t *testing.T, bin, localBroker string, readingsPerSecond int, span time.Duration) {
	dir := t.TempDir()
	centre, err := embedbroker.Start(embedbroker.Config{Listen: "127.0.0.1:0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer centre.Close()
	var received atomic.Int64
	acker := startAcker(t, centre.Addr(), &received)
	defer acker.Disconnect(100)

	gw := fmt.Sprintf("gw-rss-%d", readingsPerSecond)
	fac := "facility: {id: 110105001-0001, name: 测试园, region: \"110105001\"}\nrooms: [{id: r1, name: 乳儿班, type: infant}]\ndevices:\n"
	for i := 0; i < benchDevices; i++ {
		fac += fmt.Sprintf("  - {id: th-%03d, room: r1, source: zigbee2mqtt, address: \"th-%03d\", kinds: [temperature, humidity, battery, linkquality]}\n", i, i)
	}
	httpAddr := freeAddr(t)
	conf := fmt.Sprintf(`gateway_id: %s
facility_file: %s
local:
  mqtt: {broker: %s, client_id: %s-local}
uplink:
  mqtt: {broker: %s}
spool: {dir: %s}
sources:
  - {family: zigbee2mqtt, base_topic: zigbee2mqtt}
http: {listen: %q}
log: {level: warn}
`, gw, filepath.Join(dir, "facility.yaml"), localBroker, gw, centre.Addr(), filepath.Join(dir, "spool"), httpAddr)
	for name, body := range map[string]string{"facility.yaml": fac, "gateway.yaml": conf} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin, "-config", filepath.Join(dir, "gateway.yaml"))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }()

	pub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(localBroker).SetClientID("sensors-" + gw))
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("sensor connect: %v", tok.Error())
	}
	defer pub.Disconnect(100)
	for i := 0; received.Load() == 0; i++ {
		if i == 200 {
			t.Fatal("no reading reached the centre within 10 s")
		}
		pub.Publish("zigbee2mqtt/th-000", 1, false, z2mPayload).WaitTimeout(time.Second)
		time.Sleep(50 * time.Millisecond)
	}

	const tick = 10 * time.Millisecond
	msgsPerTick := float64(readingsPerSecond) / z2mReadingsPerMessage * tick.Seconds()
	fsync0 := scrape(t, httpAddr, "cw_gateway_spool_fsync_duration_seconds_count")
	start := time.Now()
	sent, due := 0, 0.0
	var maxRSS int64
	ticker := time.NewTicker(tick)
	for now := range ticker.C {
		el := now.Sub(start)
		if el >= span {
			break
		}
		for due += msgsPerTick; due >= 1; due-- {
			pub.Publish(fmt.Sprintf("zigbee2mqtt/th-%03d", sent%benchDevices), 1, false, z2mPayload)
			sent++
		}
		if sent%100 == 0 {
			maxRSS = max(maxRSS, procStatus(t, cmd.Process.Pid, "VmRSS"))
		}
	}
	ticker.Stop()
	elapsed := time.Since(start)
	fsyncs := scrape(t, httpAddr, "cw_gateway_spool_fsync_duration_seconds_count") - fsync0
	rss, hwm := procStatus(t, cmd.Process.Pid, "VmRSS"), procStatus(t, cmd.Process.Pid, "VmHWM")
	t.Logf("%d readings/s offered (%d messages in %.1f s): VmRSS %.1f MiB at the end, max sampled %.1f MiB, VmHWM %.1f MiB; %.2f fsyncs/s; centre received %d readings",
		readingsPerSecond, sent, elapsed.Seconds(), float64(rss)/1024, float64(max(maxRSS, rss))/1024, float64(hwm)/1024,
		fsyncs/elapsed.Seconds(), received.Load())
}

// procStatus returns a kB field of /proc/<pid>/status.
func procStatus(t *testing.T, pid int, field string) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// scrape returns the value of an unlabelled sample from a /metrics page.
func scrape(t *testing.T, addr, name string) float64 {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("scrape %s: %v", name, err)
			}
			return f
		}
	}
	t.Fatalf("scrape: no %s in /metrics", name)
	return 0
}
