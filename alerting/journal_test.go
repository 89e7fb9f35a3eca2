package alerting

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cradlewatch/cradlewatch/alerting/notify"
	"github.com/cradlewatch/cradlewatch/alerting/rules"
	"github.com/cradlewatch/cradlewatch/internal/recordlog"
	"github.com/cradlewatch/cradlewatch/model"
)

// journalRig opens services on one pair of state directories with a clock
// the test moves.
type journalRig struct {
	t     *testing.T
	cfg   Config
	start time.Time
	now   time.Time
}

func newJournalRig(t *testing.T) *journalRig {
	start := time.Date(2026, 5, 12, 8, 0, 0, 0, time.FixedZone("CST", 8*3600))
	return &journalRig{t: t, cfg: testConfig(t), start: start, now: start}
}

func (r *journalRig) open() *Service {
	r.t.Helper()
	nop := notify.NotifierFunc(func(context.Context, notify.Message) (bool, error) { return false, nil })
	s, err := New(Options{Config: r.cfg, Registry: testRegistry(), Registerer: prometheus.NewRegistry(), Clock: func() time.Time { return r.now },
		Notifiers: map[notify.Channel]notify.Notifier{notify.ChannelSMS: nop}})
	if err != nil {
		r.t.Fatal(err)
	}
	return s
}

// co2Message is minute m's CO2 reading of F-chaoyang at v ppm.
func (r *journalRig) co2Message(m int, v float64) message {
	at := r.start.Add(time.Duration(m) * time.Minute)
	bt := model.Batch{Gateway: "gw-F-chaoyang", Facility: "F-chaoyang", Readings: []model.Reading{
		{Device: "co2-1", Room: "r1", Kind: model.KindCO2, Time: at, Value: v}}}
	return message{topic: model.Topic("F-chaoyang", "gw-F-chaoyang", model.SuffixBatch), payload: model.EncodeBatch(nil, &bt), arrived: at}
}

// feed evaluates minutes [from, to) as the engine's goroutine would.
func (r *journalRig) feed(s *Service, from, to int) {
	var b model.Batch
	for m := from; m < to; m++ {
		r.now = r.start.Add(time.Duration(m) * time.Minute)
		s.observe(r.co2Message(m, 1200), &b)
	}
}

func windows(s *Service, at time.Time) []rules.ThresholdState {
	snap := s.engine.SnapshotSeries(at)
	slices.SortFunc(snap.Thresholds, func(a, b rules.ThresholdState) int {
		if a.Fingerprint < b.Fingerprint {
			return -1
		}
		return 1
	})
	return snap.Thresholds
}

// reference is the windows after minutes [0, n) without a crash.
func reference(t *testing.T, n int) []rules.ThresholdState {
	r := newJournalRig(t)
	s := r.open()
	defer s.Close()
	r.feed(s, 0, n)
	return windows(s, r.now)
}

// TestCrashKeepsTheRollingMeans: twenty minutes of CO2 are evaluated and
// the process dies before it saves the rules' memory (no series.json at
// all). The journal brings the windows back: after the restart they are
// those of a run without the crash, the five messages the broker hands
// over again (they were not acknowledged) are not counted twice, and the
// hourly mean fires at minute 29 as without the crash.
func TestCrashKeepsTheRollingMeans(t *testing.T) {
	want := reference(t, 20)

	r := newJournalRig(t)
	s := r.open()
	r.feed(s, 0, 20)
	s.Close() // no snapshot: what a SIGKILL leaves (the page cache keeps what was written)
	if _, err := os.Stat(filepath.Join(r.cfg.StateDir, SeriesFile)); !os.IsNotExist(err) {
		t.Fatalf("series.json exists (%v): the crash is not simulated", err)
	}
	s = r.open()
	defer s.Close()
	if got := windows(s, r.now); !reflect.DeepEqual(got, want) {
		t.Fatalf("windows after the crash:\n%+v\nwant\n%+v", got, want)
	}
	r.feed(s, 15, 20) // handed over again
	if got := windows(s, r.now); !reflect.DeepEqual(got, want) {
		t.Fatal("messages handed over again changed the windows")
	}
	r.feed(s, 20, 35)
	fp := rules.Fingerprint("co2_hourly", "F-chaoyang", "r1", "co2-1")
	if al, ok := s.engine.Alert(fp); !ok || al.State != rules.Firing || !al.FiredAt.Equal(r.start.Add(29*time.Minute)) {
		t.Fatalf("co2_hourly: %s fired at %s, want firing since minute 29", al.State, al.FiredAt.Sub(r.start))
	}
}

// TestJournalFollowsTheSnapshot: a snapshot covers the journals before it,
// which are then deleted; the journal after it is replayed on top of it.
func TestJournalFollowsTheSnapshot(t *testing.T) {
	want := reference(t, 30)

	r := newJournalRig(t)
	s := r.open()
	r.feed(s, 0, 10)
	s.series.save(s.takeSeries()) // the periodic snapshot
	files, _ := journalFiles(r.cfg.StateDir)
	if len(files) != 1 {
		t.Fatalf("journals after a snapshot: %v, want only the current one", files)
	}
	r.feed(s, 10, 30)
	s.Close()
	s = r.open()
	defer s.Close()
	if got := windows(s, r.now); !reflect.DeepEqual(got, want) {
		t.Fatalf("snapshot and journal after a crash:\n%+v\nwant\n%+v", got, want)
	}
}

// TestAckOnlyWhatIsOnDisk runs the engine's and the acknowledger's
// goroutines: every message is acknowledged (batches, statuses, refused
// ones), each once, and a batch only once the journal on disk holds it.
func TestAckOnlyWhatIsOnDisk(t *testing.T) {
	r := newJournalRig(t)
	s := r.open()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, run := range []func(context.Context) error{s.evaluate, s.ackLoop} {
		wg.Add(1)
		go func() { defer wg.Done(); run(ctx) }()
	}
	defer func() { cancel(); wg.Wait(); s.Close() }()
	journalHolds := func(at time.Time) bool {
		files, _ := journalFiles(r.cfg.StateDir)
		for _, path := range files {
			b, _ := os.ReadFile(path)
			found := false
			recordlog.Scan(b, func(rec []byte) error {
				var bt model.Batch
				if model.DecodeBatch(rec[8:], &bt) == nil && len(bt.Readings) > 0 && bt.Readings[0].Time.Equal(at) {
					found = true
				}
				return nil
			})
			if found {
				return true
			}
		}
		return false
	}
	var mu sync.Mutex
	acked := map[int]int{}
	var early []int
	const n = 200
	for m := range n {
		msg := r.co2Message(m, 800)
		switch m % 10 {
		case 3:
			msg.topic = "cw/v1/not-a-topic"
		case 7:
			msg.topic, msg.payload = model.Topic("F-chaoyang", "gw-F-chaoyang", model.SuffixStatus),
				model.EncodeStatus(model.Status{Gateway: "gw-F-chaoyang", Facility: "F-chaoyang", State: model.GatewayOnline})
		}
		batch := m%10 != 3 && m%10 != 7
		at := r.start.Add(time.Duration(m) * time.Minute)
		msg.ack = func() {
			if batch && !journalHolds(at) {
				mu.Lock()
				early = append(early, m)
				mu.Unlock()
			}
			mu.Lock()
			acked[m]++
			mu.Unlock()
		}
		s.in <- msg
	}
	waitFor(t, "every message acknowledged", func() bool { return testutil.ToFloat64(s.acker.acks) >= n })
	mu.Lock()
	defer mu.Unlock()
	if len(early) > 0 {
		t.Fatalf("acknowledged before the journal held them: %v", early)
	}
	for m := range n {
		if acked[m] != 1 {
			t.Fatalf("message %d acknowledged %d times", m, acked[m])
		}
	}
}
