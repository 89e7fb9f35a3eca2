package powercut_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/cradlewatch/cradlewatch/gateway/spool"
	"github.com/cradlewatch/cradlewatch/gateway/spool/powercut"
	"github.com/cradlewatch/cradlewatch/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The model itself: what survives a cut is what was synced, file data by
// Sync and directory changes by SyncDir.
func TestCutKeepsOnlyWhatWasSynced(t *testing.T) {
	dir := t.TempDir()
	p := powercut.New(powercut.Options{Seed: 1})
	path := func(n string) string { return filepath.Join(dir, n) }
	write := func(name string, flag int, data string, sync bool) spool.File {
		f, err := p.OpenFile(path(name), flag, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write([]byte(data)); err != nil {
			t.Fatal(err)
		}
		if sync {
			if err := f.Sync(); err != nil {
				t.Fatal(err)
			}
		}
		return f
	}
	// durable: synced, and its creation synced.
	write("durable", os.O_CREATE|os.O_WRONLY, "kept", true).Close()
	if err := p.SyncDir(dir); err != nil {
		t.Fatal(err)
	}
	// More data without a sync: lost.
	f := write("durable", os.O_WRONLY, "", false)
	f.Seek(0, 2)
	f.Write([]byte("-lost"))
	// A file synced but whose creation was not: gone.
	write("unlinked", os.O_CREATE|os.O_WRONLY, "data", true).Close()
	// A rename not synced: undone, and the replaced file is back.
	os.WriteFile(path("target"), []byte("old"), 0o644)
	write("target.tmp", os.O_CREATE|os.O_WRONLY, "new", true).Close()
	if err := p.Rename(path("target.tmp"), path("target")); err != nil {
		t.Fatal(err)
	}
	// A removal not synced: the file is back.
	os.WriteFile(path("removed"), []byte("still here"), 0o644)
	if err := p.Remove(path("removed")); err != nil {
		t.Fatal(err)
	}

	r := p.Cut()
	if r.LostBytes != 5 || r.KeptBytes != 0 || r.Undone != 4 {
		t.Errorf("report %+v, want 5 bytes lost, none kept, 4 directory changes undone", r)
	}
	for name, want := range map[string]string{"durable": "kept", "target": "old", "removed": "still here"} {
		if b, err := os.ReadFile(path(name)); err != nil || string(b) != want {
			t.Errorf("%s after the cut: %q %v, want %q", name, b, err, want)
		}
	}
	for _, name := range []string{"unlinked", "target.tmp"} {
		if _, err := os.Stat(path(name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s exists after the cut: %v", name, err)
		}
	}
	if _, err := f.Write([]byte("x")); !errors.Is(err, powercut.ErrPowerCut) {
		t.Errorf("write after the cut: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("close after the cut: %v", err)
	}
	select {
	case <-p.Done():
	default:
		t.Error("Done not closed after the cut")
	}
}

// A cut armed for the next sync tears exactly that sync's writes: some of
// the bytes survive, never all, zeros follow them, and the Sync fails.
func TestCutAtNextSyncTears(t *testing.T) {
	for seed := uint64(0); seed < 50; seed++ {
		dir := t.TempDir()
		p := powercut.New(powercut.Options{Seed: seed})
		f, err := p.OpenFile(filepath.Join(dir, "f"), os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		p.SyncDir(dir)
		f.Write([]byte("synced;"))
		f.Sync()
		p.CutAtNextSync()
		f.Write([]byte("0123456789"))
		if err := f.Sync(); !errors.Is(err, powercut.ErrPowerCut) {
			t.Fatalf("seed %d: armed Sync returned %v", seed, err)
		}
		f.Close()
		b, _ := os.ReadFile(filepath.Join(dir, "f"))
		rest, ok := bytes.CutPrefix(b, []byte("synced;"))
		kept := bytes.TrimRight(rest, "\x00")
		if !ok || len(kept) == len(rest) || len(rest) > len("0123456789") || !bytes.HasPrefix([]byte("0123456789"), kept) || len(kept) == 10 {
			t.Fatalf("seed %d: file after a cut during its sync: %q, want the synced part, part of the rest, then zeros", seed, b)
		}
	}
}

// A cut armed for just after the next sync keeps all of that sync's
// writes, yet the Sync fails: the writer never learns they are safe.
func TestCutAfterNextSyncKeepsTheSyncedWrites(t *testing.T) {
	dir := t.TempDir()
	p := powercut.New(powercut.Options{})
	f, err := p.OpenFile(filepath.Join(dir, "f"), os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	p.SyncDir(dir)
	p.CutAfterNextSync()
	f.Write([]byte("all of it"))
	if err := f.Sync(); !errors.Is(err, powercut.ErrPowerCut) {
		t.Fatalf("armed Sync returned %v", err)
	}
	f.Close()
	if b, _ := os.ReadFile(filepath.Join(dir, "f")); string(b) != "all of it" {
		t.Fatalf("file after the cut: %q", b)
	}
}

// The spool under power cuts: appends in groups from several goroutines,
// with releases moving the checkpoint and removing segments; a cut, during
// one of its fsyncs (odd seeds) or at any moment between its calls (even
// seeds, torn writes in every file); then the directory opened again with
// the ordinary file layer, as a box would after the power came back. Every
// record the spool reported durable and the centre had not released is
// there, at its index; a cut during an fsync left a torn tail, repaired and
// counted.
func TestSpoolKeepsEveryDurableRecordThroughPowerCuts(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { powerCutOnce(t, seed) })
	}
}

func powerCutOnce(t *testing.T, seed uint64) {
	dir := t.TempDir()
	p := powercut.New(powercut.Options{Seed: seed, Torn: true})
	opts := spool.Options{Dir: dir, FS: p, SegmentBytes: 64 << 10, MaxBytes: 1 << 30, CommitBytes: 4 << 10,
		CommitInterval: spool.CommitEveryAppend, CheckpointInterval: -1, Registerer: prometheus.NewRegistry()}
	sp, err := spool.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- sp.Run(ctx) }()

	var mu sync.Mutex
	durable := map[string]uint64{} // record → index, once reported durable
	armed, duringSync := false, seed%2 == 1
	cutNow := make(chan struct{})
	go func() {
		// Between the spool's calls, wherever the committer is: the
		// writers keep it busy, so some writes are usually unsynced.
		select {
		case <-cutNow:
			p.Cut()
		case <-p.Done():
		}
	}()
	var wg sync.WaitGroup
	const writers, perWriter = 4, 400
	cutAfter := 200 + int(seed*37%800) // durable records before the cut is armed
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				recs := [][]byte{fmt.Appendf(nil, "w%d-%04d-a", w, i), fmt.Appendf(nil, "w%d-%04d-b", w, i)}
				done := make(chan struct{})
				sp.Append(recs, func(first uint64, err error) {
					if err == nil {
						mu.Lock()
						for k, r := range recs {
							durable[string(r)] = first + uint64(k)
						}
						if len(durable) >= cutAfter && !armed {
							armed = true
							if duringSync {
								p.CutAtNextSync()
							} else {
								close(cutNow)
							}
						}
						mu.Unlock()
					}
					close(done)
				})
				<-done
				if i%50 == 0 && w == 0 {
					// Checkpoints and segment removals in flight too.
					sp.Release(sp.Stats().Durable / 2)
				}
			}
		}()
	}
	wg.Wait()
	cancel()
	<-runDone // an I/O error after the cut
	sp.Close()
	<-p.Done()

	reg := prometheus.NewRegistry()
	again, err := spool.Open(spool.Options{Dir: dir, SegmentBytes: 64 << 10, MaxBytes: 1 << 30, Registerer: reg})
	if err != nil {
		t.Fatalf("the spool does not open after the cut: %v", err)
	}
	defer again.Close()
	recs, err := again.Read(0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	onDisk := map[string]uint64{}
	for _, r := range recs {
		onDisk[string(r.Data)] = r.Index
	}
	// Records below the persisted release point may be gone: the centre
	// had them. Every other durable record is there, at its index.
	released := again.Stats().Released
	for r, idx := range durable {
		got, ok := onDisk[r]
		switch {
		case !ok && idx >= released:
			t.Fatalf("durable record %s (index %d) lost after the cut; release point %d", r, idx, released)
		case ok && got != idx:
			t.Fatalf("record %s at index %d after the cut, %d before", r, got, idx)
		}
	}
	// Appends are whole after the cut: a record is there only with the
	// other of its append (w-i-a and w-i-b), so that nothing the spool
	// never reported durable comes back in part. A part would be stored a
	// second time when its sender delivers the whole again (a message's
	// readings without the receipt that recognises the redelivery).
	for r, idx := range onDisk {
		other := r[:len(r)-1] + map[byte]string{'a': "b", 'b': "a"}[r[len(r)-1]]
		if _, ok := onDisk[other]; !ok && idx >= released {
			t.Fatalf("record %s (index %d) is on disk without %s, the other record of its append; cut %+v", r, idx, other, p.Report())
		}
	}
	// A cut during a segment's fsync leaves a torn tail to repair; one
	// during the checkpoint's (a Release in flight) a torn temporary file
	// that Open ignores, the release point staying the last one renamed.
	if rep := p.Report(); duringSync {
		want := 0.0
		if strings.HasSuffix(rep.Torn, ".seg") {
			want = 1
		}
		if n := testenv.Metric(t, reg, "cw_gateway_spool_torn_tail_repairs_total"); n != want {
			t.Errorf("%v torn-tail repairs, want %v (the cut fell during the fsync of %q)", n, want, rep.Torn)
		}
	}
	t.Logf("seed %d: %d durable, %d on disk, release point %d, cut %+v", seed, len(durable), len(recs), released, p.Report())
}

// A disk that refuses the data (full) fails the sync, as the ordinary file
// layer fails the write: the layer keeps writes in memory until Sync, and
// a Sync that reported success for data the disk refused would let the
// spool acknowledge readings that are nowhere (found by the chaos suite
// filling a spool's tmpfs under the power-cut build). /dev/full answers
// every write with ENOSPC.
func TestSyncFailsWhenTheDiskRefusesTheData(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full here")
	}
	p := powercut.New(powercut.Options{Seed: 1})
	f, err := p.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write([]byte("a record the disk has no room for")); err != nil {
		t.Fatalf("write (kept in memory until the sync): %v", err)
	}
	if err := f.Sync(); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Sync = %v, want ENOSPC", err)
	}
}
