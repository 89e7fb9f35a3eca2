package spool

import (
	"errors"
	"testing"
	"time"
)

// An urgent record does not wait for the group commit: with a commit
// interval of an hour, AppendNow is durable at once, and so is everything
// queued before it (in index order, in the same fsync). Appends after it
// wait for the interval again.
func TestAppendNowDoesNotWaitForTheGroupCommit(t *testing.T) {
	h := start(t, Options{CommitInterval: time.Hour})
	var before [3]chan uint64
	for i := range before {
		before[i] = make(chan uint64, 1)
		ch := before[i]
		h.Append([][]byte{rec(i)}, func(first uint64, err error) {
			if err != nil {
				t.Error(err)
			}
			ch <- first
		})
	}
	urgent := make(chan uint64, 1)
	h.AppendNow([][]byte{[]byte("smoke")}, func(first uint64, err error) {
		if err != nil {
			t.Error(err)
		}
		urgent <- first
	})
	// A deadline only so that a broken spool fails instead of hanging:
	// the hour-long interval is what the assertion is about.
	var got uint64
	select {
	case got = <-urgent:
	case <-time.After(time.Minute):
		t.Fatal("AppendNow waited for the group commit")
	}
	for i, ch := range before {
		select {
		case idx := <-ch:
			if idx != uint64(i+1) {
				t.Errorf("record %d got index %d", i, idx)
			}
		default:
			t.Errorf("record %d queued before the urgent one is not durable with it", i)
		}
	}
	if got != 4 {
		t.Errorf("urgent record got index %d, want 4 (after the three queued before it)", got)
	}
	if n := h.metric(t, "cw_gateway_spool_commits_total"); n != 1 {
		t.Errorf("%v commits, want 1 (one fsync for all four)", n)
	}
	if n := h.metric(t, "cw_gateway_spool_immediate_commits_total"); n != 1 {
		t.Errorf("%v immediate commits, want 1", n)
	}
	later := make(chan struct{})
	h.Append([][]byte{rec(9)}, func(uint64, error) { close(later) })
	if st := h.Stats(); st.Queued != 1 || st.Durable != 5 {
		t.Errorf("an ordinary append after the urgent one: queued %d, durable below %d", st.Queued, st.Durable)
	}
	if recs := readAll(t, h.Spool, 1); len(recs) != 4 || string(recs[3].Data) != "smoke" {
		t.Errorf("read %d records, last %q", len(recs), recs[len(recs)-1].Data)
	}
	h.stop(t) // commits the ordinary append on the way out
	<-later
}

// Two spools never share a directory: the second Open fails with ErrLocked
// until the first is closed, and a failed Open holds nothing.
func TestOpenLocksTheDirectory(t *testing.T) {
	dir := t.TempDir()
	first, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(Options{Dir: dir}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	again, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	again.Close()
}
