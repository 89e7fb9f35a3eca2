package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cradlewatch/cradlewatch/gateway/spool"
	"github.com/cradlewatch/cradlewatch/model"
)

// trickleSpool shows the uplink a real spool up to visible only, so that a
// benchmark can let "live" records appear at the head while the backlog
// drains, without writing during the measurement. Release is recorded, not
// passed on, so every iteration finds the same records.
type trickleSpool struct {
	*spool.Spool
	visible  uint64
	released uint64
}

func (s *trickleSpool) Read(from uint64, maxRecords, maxBytes int) ([]spool.Record, error) {
	// The spool has no holes here: asking for no more than is visible keeps
	// its read cursor where a real head would leave it.
	if from >= s.visible {
		return nil, nil
	}
	recs, err := s.Spool.Read(from, min(maxRecords, int(s.visible-from)), maxBytes)
	n := 0
	for n < len(recs) && recs[n].Index < s.visible {
		n++
	}
	return recs[:n], err
}

func (s *trickleSpool) Release(upTo uint64) error { s.released = upTo; return nil }

func (s *trickleSpool) Stats() spool.Stats {
	st := s.Spool.Stats()
	st.Durable, st.Next, st.Released = s.visible, s.visible, 0
	return st
}

type countingPub struct{ n int }

func (p *countingPub) Publish(string, byte, bool, any) mqtt.Token { p.n++; return &mqtt.DummyToken{} }
func (p *countingPub) IsConnectionOpen() bool                     { return true }

// BenchmarkUplinkDrain drains a backlog of 150,000 readings in 4 MiB
// segments while 10 live readings arrive per acknowledgement round, once
// with one cursor and once with two lanes.
func BenchmarkUplinkDrain(b *testing.B) {
	const total, live, trickle = 152_000, 2_000, 10
	dir := b.TempDir()
	sp, err := spool.Open(spool.Options{Dir: dir, Registerer: prometheus.NewRegistry(), CommitInterval: spool.CommitEveryAppend})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sp.Run(ctx) }()
	defer func() { cancel(); <-done; sp.Close() }()
	old := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	for i := 0; i < total; i += 1000 {
		recs := make([][]byte, 1000)
		for j := range recs {
			r := model.Reading{Device: fmt.Sprintf("th-%02d", (i+j)%50), Room: "room-01", Kind: model.KindTemperature,
				Time: old.Add(time.Duration(i+j) * time.Second), Value: 21.3}
			recs[j] = model.AppendReadingEntry(nil, &r)
		}
		if _, err := sp.AppendSync(ctx, recs); err != nil {
			b.Fatal(err)
		}
	}
	for _, mode := range []struct {
		name  string
		lanes LaneConfig
	}{
		{"one-cursor", LaneConfig{BacklogBatches: 1 << 20, BacklogAge: 1 << 62}},
		{"two-lanes", LaneConfig{}},
	} {
		b.Run(mode.name, func(b *testing.B) {
			b.ReportAllocs()
			var batches int
			for b.Loop() {
				ts := &trickleSpool{Spool: sp, visible: total - live + 1}
				pub := &countingPub{}
				u := &uplink{
					cfg:   UplinkConfig{MaxBatch: 1000, MaxBatchBytes: 256 << 10, Window: 8, AckTimeout: time.Minute, MaxAckTimeout: time.Hour},
					lanes: mode.lanes, gateway: "gw-1", facility: "f-1", region: "110105001",
					sp: ts, pub: pub, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
					now: func() time.Time { return old.Add(48 * time.Hour) }, m: newUplinkMetrics(prometheus.NewRegistry()),
					report: newCentreReport(prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil))),
				}
				u.start()
				for ts.released < total+1 {
					u.fill()
					for _, f := range slices.Concat(u.live.inflight, u.backlog.inflight) {
						u.handleAck(model.Ack{V: model.WireVersion, First: f.first, Count: f.span, Status: model.AckStored})
					}
					ts.visible = min(ts.visible+trickle, total+1)
				}
				batches += pub.n
			}
			b.ReportMetric(float64(batches)/float64(b.N), "batches/op")
		})
	}
}
