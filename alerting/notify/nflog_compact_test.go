package notify

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cradlewatch/cradlewatch/internal/recordlog"
)

// TestNflogCompactionKeepsWhatIsNeeded: the log keeps what is younger than
// the retention and what an open escalation or a pending notice needs;
// the rest goes, and the indexes forget it with the file.
func TestNflogCompactionKeepsWhatIsNeeded(t *testing.T) {
	path := filepath.Join(t.TempDir(), LogFile)
	l, err := openNflog(path, nil, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	old, recent := t0, t0.Add(40*24*time.Hour)
	for _, e := range []LogEntry{
		{At: old, Outcome: OutcomeSent, Key: "closed@1|firing|operator|0|op1", Episode: "closed@1", Kind: KindFiring, Recipient: "op1", Channel: ChannelSMS, PhoneKey: "pk1"},
		{At: old, Outcome: OutcomeSent, Key: "open@1|firing|operator|0|op1", Episode: "open@1", Kind: KindFiring, Recipient: "op1", Channel: ChannelSMS, PhoneKey: "pk1"},
		{At: old, Outcome: OutcomeSent, Key: "pending@1|firing|operator|0|op1", Channel: ChannelDingTalk, Partial: true},
		{At: old, Outcome: OutcomeAcked, Episode: "closed@1", Detail: "http: 园长"},
		{At: recent, Outcome: OutcomeSent, Key: "new@2|firing|operator|0|op1", Episode: "new@2", Kind: KindFiring, Recipient: "op1", Channel: ChannelSMS, PhoneKey: "pk1"},
	} {
		if err := l.append(e); err != nil {
			t.Fatal(err)
		}
	}
	// Two entries in one record, one of them old: the record stays whole.
	if err := l.append(LogEntry{At: old, Outcome: OutcomeSent, Key: "closed@1|resolved|operator|0|op1"},
		LogEntry{At: recent, Outcome: OutcomeSent, Key: "new@2|escalation|street|0|street"}); err != nil {
		t.Fatal(err)
	}
	before := l.size()
	keep := func(e LogEntry) bool { return e.Episode == "open@1" || e.Key == "pending@1|firing|operator|0|op1" }
	st, err := l.compact(recent.Add(-logRetention), keep)
	if err != nil || st.dropped != 2 || st.kept != 4 {
		t.Fatalf("compact: %+v %v, want 2 dropped (the closed episode's firing and its ack), 4 kept", st, err)
	}
	if l.size() >= before {
		t.Errorf("size %d, was %d", l.size(), before)
	}
	if l.done("closed@1|firing|operator|0|op1") || l.sentSMS("closed@1", "pk1") {
		t.Error("the index still holds a dropped record")
	}
	if !l.done("open@1|firing|operator|0|op1") || !l.sentSMS("open@1", "pk1") || !l.told("open@1", "op1") ||
		!l.sent("pending@1|firing|operator|0|op1", ChannelDingTalk) || !l.done("new@2|firing|operator|0|op1") ||
		!l.done("closed@1|resolved|operator|0|op1") {
		t.Error("the index lost a kept record")
	}
	if err := l.append(LogEntry{At: recent, Outcome: OutcomeSent, Key: "after"}); err != nil {
		t.Fatal(err)
	}
	l.close()
	entries, err := ReadLog(path)
	if err != nil || len(entries) != 6 {
		t.Fatalf("log after compaction: %d entries (%v), want 6", len(entries), err)
	}
	// Nothing to drop: nothing is rewritten.
	l, err = openNflog(path, nil, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	fi, _ := os.Stat(path)
	if st, err := l.compact(recent.Add(-logRetention), keep); err != nil || st.dropped != 0 {
		t.Fatalf("second compaction %+v %v", st, err)
	}
	if fj, _ := os.Stat(path); !os.SameFile(fi, fj) {
		t.Error("a compaction with nothing to drop rewrote the log")
	}
}

// TestDispatcherCompactsLogAtStart: a warning closed 40 days ago, a
// critical alert still open since then, a warning of today. After a
// restart the log holds the open alert's and today's records, not the
// closed one's: the open alert is not notified again when its transition
// comes again, its SMS recipient can still acknowledge by reply, and
// today's SMS still counts in the number's budget.
func TestDispatcherCompactsLogAtStart(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{now: t0}
	sms, dt := &recorder{}, &recorder{}
	cfg := testConfig(dir)
	cfg.Budget = BudgetConfig{PerDay: 1, PerWindow: 10, Window: time.Second}
	cfg.GroupWait = time.Second
	r := newRig(t, cfg, clock, sms, dt)

	closed := co2w(StateFiring)
	closed.Fingerprint = "fp-closed"
	r.handle(t, closed)
	r.step(t, 2*time.Second)
	res := closed
	res.State, res.At = StateResolved, clock.Now()
	r.handle(t, res)
	r.step(t, 2*time.Second)
	open := co2(StateFiring) // critical: on every channel, whatever the budget
	open.Fingerprint, open.StartsAt, open.At = "fp-open", clock.Now(), clock.Now()
	r.handle(t, open)
	r.step(t, 0)
	if _, err := r.d.Ack(open.Fingerprint, "园长", "http"); err != nil {
		t.Fatal(err)
	}
	clock.advance(40 * 24 * time.Hour)
	today := co2w(StateFiring)
	today.Fingerprint, today.StartsAt, today.At = "fp-today", clock.Now(), clock.Now()
	r.handle(t, today)
	r.step(t, 2*time.Second)
	smsBefore := sms.count()

	path := filepath.Join(dir, LogFile)
	before, err := ReadLog(path)
	if err != nil {
		t.Fatal(err)
	}
	r.d.Close()
	r = newRig(t, cfg, clock, sms, dt)
	after, err := ReadLog(path)
	if err != nil {
		t.Fatal(err)
	}
	fps := func(es []LogEntry) map[string]int {
		out := map[string]int{}
		for _, e := range es {
			out[strings.SplitN(e.Key+e.Episode, "@", 2)[0]]++
		}
		return out
	}
	b, a := fps(before), fps(after)
	if b["fp-closed"] == 0 || a["fp-closed"] != 0 || a["fp-open"] != b["fp-open"] || a["fp-today"] != b["fp-today"] {
		t.Fatalf("records by alert before %v, after %v: want the closed alert's gone, the others whole", b, a)
	}
	if got := testutil.ToFloat64(r.d.log.compacted); got == 0 {
		t.Error("no compaction counted")
	}
	// The open alert's firing again (the engine's restart): nothing sent.
	r.handle(t, open)
	r.step(t, 0)
	if !r.d.log.sentSMS(open.episode(), r.d.phones.Key("13812341234")) {
		t.Error("the open alert's SMS recipient is forgotten: a reply could not acknowledge it")
	}
	// Another warning today: op1's one SMS a day is spent (today's).
	more := co2w(StateFiring)
	more.Fingerprint, more.StartsAt, more.At = "fp-more", clock.Now(), clock.Now()
	r.handle(t, more)
	r.step(t, 2*time.Second)
	if sms.count() != smsBefore {
		t.Fatalf("SMS after the restart: %v (the open alert again, or today's budget forgotten)", recipients(sms.sent[smsBefore:]))
	}
}

// TestNflogCompactionSurvivesACrash: a child process appends to the log
// and compacts it in a loop; it is killed (SIGKILL) at random moments,
// inside compactions among others. After every kill the log opens with
// every record that must stay (those of the seed that are young, and
// every append the child reported durable), no temporary file is left,
// and nothing but a torn tail is ever found damaged.
func TestNflogCompactionSurvivesACrash(t *testing.T) {
	if os.Getenv("CW_NFLOG_CHILD") != "" {
		t.Skip("the child's own run")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, LogFile)
	now := time.Now()
	// A seed of 20,000 young records (about 2 MB), so that a compaction
	// takes long enough to be hit.
	seed := make([][]byte, 0, 20000)
	for i := range cap(seed) {
		b, _ := json.Marshal([]LogEntry{{At: now, Outcome: OutcomeSent, Key: fmt.Sprintf("seed-%05d", i), Detail: strings.Repeat("x", 60)}})
		seed = append(seed, b)
	}
	l, err := recordlog.Open(recordlog.Options{Path: path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Rewrite(seed); err != nil {
		t.Fatal(err)
	}
	l.Close()
	rng := rand.New(rand.NewPCG(6, 2026))
	durable := map[int]bool{}
	compactions := 0
	rounds := 12
	if testing.Short() {
		rounds = 4
	}
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestNflogCompactionChild$", "-test.v")
		cmd.Env = append(os.Environ(), "CW_NFLOG_CHILD="+path, fmt.Sprintf("CW_NFLOG_FROM=%d", round*1000))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill after a random number of the child's steps, plus a random
		// fraction of a compaction.
		steps := 1 + rng.IntN(8)
		sc := bufio.NewScanner(out)
		for sc.Scan() && steps > 0 {
			f := strings.Fields(sc.Text())
			if len(f) == 2 && f[0] == "durable" {
				i, _ := strconv.Atoi(f[1])
				durable[i] = true
				steps--
			}
			if len(f) == 2 && f[0] == "compacted" {
				compactions++
			}
		}
		time.Sleep(time.Duration(rng.IntN(20_000)) * time.Microsecond) // where the kill lands; not a synchronisation
		cmd.Process.Signal(syscall.SIGKILL)
		for sc.Scan() { // what the child said before it died
			if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "durable" {
				i, _ := strconv.Atoi(f[1])
				durable[i] = true
			}
		}
		cmd.Wait()

		n, err := openNflog(path, nil, nil, nil, nil)
		if err != nil {
			t.Fatalf("round %d: open after the kill: %v", round, err)
		}
		for i := range cap(seed) {
			if !n.done(fmt.Sprintf("seed-%05d", i)) {
				t.Fatalf("round %d: seed record %d lost", round, i)
			}
		}
		for i := range durable {
			if !n.done(fmt.Sprintf("keep-%d", i)) {
				t.Fatalf("round %d: durable record keep-%d lost", round, i)
			}
		}
		if r := n.l.Recovery(); r.Err() != nil {
			t.Fatalf("round %d: damage beyond a torn tail: %v", round, r.Err())
		}
		n.close()
		if tmp, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(tmp) != 0 {
			t.Fatalf("round %d: temporary files left: %v", round, tmp)
		}
	}
	if compactions == 0 || len(durable) == 0 {
		t.Fatalf("weak run: %d compactions, %d durable appends", compactions, len(durable))
	}
	// The log the kills left compacts like any other.
	n, err := openNflog(path, nil, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.close()
	if _, err := n.compact(now.Add(-logRetention), func(LogEntry) bool { return false }); err != nil {
		t.Fatal(err)
	}
	entries, err := ReadLog(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := cap(seed) + len(durable); len(entries) < want || slices.ContainsFunc(entries, func(e LogEntry) bool { return strings.HasPrefix(e.Key, "old-") }) {
		t.Fatalf("after a last compaction: %d entries, want at least %d and no old one", len(entries), want)
	}
}

// TestNflogCompactionChild is the child of TestNflogCompactionSurvivesACrash:
// it appends a record too old to keep and one to keep, says the latter is
// durable, compacts, says so, and again, until it is killed.
func TestNflogCompactionChild(t *testing.T) {
	path := os.Getenv("CW_NFLOG_CHILD")
	if path == "" {
		t.Skip("run by TestNflogCompactionSurvivesACrash")
	}
	from, _ := strconv.Atoi(os.Getenv("CW_NFLOG_FROM"))
	l, err := openNflog(path, nil, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	none := func(LogEntry) bool { return false }
	for i := from; ; i++ {
		if err := l.append(LogEntry{At: now.Add(-60 * 24 * time.Hour), Outcome: OutcomeSent, Key: fmt.Sprintf("old-%d", i)}); err != nil {
			t.Fatal(err)
		}
		if err := l.append(LogEntry{At: now, Outcome: OutcomeSent, Key: fmt.Sprintf("keep-%d", i)}); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("durable %d\n", i)
		if _, err := l.compact(now.Add(-logRetention), none); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("compacted %d\n", i)
		if i-from > 1000 {
			return
		}
	}
}
