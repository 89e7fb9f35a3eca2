package collector

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/cradlewatch/cradlewatch/internal/influxwrite"
	"github.com/cradlewatch/cradlewatch/internal/testenv"
	"github.com/cradlewatch/cradlewatch/model"
)

// zigbeeBatch is a batch as a gateway sends it under Zigbee2MQTT load: one
// message per device gives four readings with the same time (temperature,
// humidity, battery, link quality), devices in a few rooms.
func zigbeeBatch(first uint64, readings int) *model.Batch {
	b := &model.Batch{Gateway: "gw-1", Facility: "110105001-0001", Region: "110105001", First: first, Sent: t0}
	kinds := []model.Kind{model.KindTemperature, model.KindHumidity, model.KindBattery, model.KindLinkQuality}
	for i := 0; len(b.Readings) < readings; i++ {
		dev, room := fmt.Sprintf("th-%02d", i%40), fmt.Sprintf("room-%d", i%40/5)
		at := t0.Add(time.Duration(i*37) * time.Millisecond)
		values := []float64{21 + float64(i%30)/10, 45.5 + float64(i%9), float64(100 - i%20), float64(90 + i%120)}
		for k, kind := range kinds {
			b.Readings = append(b.Readings, model.Reading{Device: dev, Room: room, Kind: kind, Time: at, Value: values[k]})
		}
	}
	b.Readings = b.Readings[:readings]
	return b
}

// BenchmarkWritePath is the collector's whole per-reading work short of
// MQTT: decode and check batches, render them as line protocol into one
// write of 5,000 lines, POST it with the InfluxDB sink to a loopback HTTP
// server that discards the body, and record the lag metric. The server runs
// in the same process, so its share (reading the body from the socket) is
// in the figures too.
func BenchmarkWritePath(b *testing.B) {
	for _, gz := range []bool{false, true} {
		b.Run(fmt.Sprintf("gzip=%v", gz), func(b *testing.B) { benchmarkWritePath(b, gz) })
	}
}

func benchmarkWritePath(b *testing.B, gz bool) {
	const perBatch, batches = 1000, 5
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	cfg := influxwrite.DefaultConfig()
	cfg.URL, cfg.Gzip = srv.URL, gz
	sink := influxwrite.NewInfluxSink(cfg)
	defer sink.Close()

	in := newTestIngester()
	m := in.m
	wr := &writer{sink: sink, cfg: in.cfg, m: m, log: slog.New(slog.DiscardHandler),
		sleep: func(context.Context, time.Duration) error { return nil }}
	var msgs []message
	for i := range batches {
		msgs = append(msgs, batchMsg("110105001-0001", zigbeeBatch(uint64(1+i*perBatch), perBatch), new(int)))
	}
	stored := t0.Add(time.Second)
	var w work
	ctx := context.Background()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu0 := testenv.ProcessCPU()
	for b.Loop() {
		w.reset()
		for _, msg := range msgs {
			in.add(&w, msg)
		}
		if _, err := wr.store(ctx, &w); err != nil {
			b.Fatal(err)
		}
		recordLag(m, &w, stored)
	}
	cpu := testenv.ProcessCPU() - cpu0
	runtime.ReadMemStats(&ms1)
	n := float64(b.N * perBatch * batches)
	b.ReportMetric(float64(cpu.Nanoseconds())/n, "cpu-ns/reading")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/reading")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/n, "allocs/reading")
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/n, "B/reading")
}
